using ManimCloud.Domain;
using ManimCloud.Streaming;

namespace ManimCloud.Tests.Streaming;

/// <summary>The ladder model (SPEC R6): rungs never upscaled, odd and non-16:9 sources, a fingerprint that tracks every setting.</summary>
public sealed class LadderTests
{
    [Fact]
    public void A_1080p_source_gets_three_rungs_at_their_sizes()
    {
        var plan = Ladder.Default.For(1920, 1080);
        Assert.Equal(["1080p", "720p", "480p"], plan.Select(p => p.Name));
        Assert.Equal([(1920, 1080), (1280, 720), (854, 480)], plan.Select(p => (p.Width, p.Height)));
        Assert.All(plan, p => Assert.True(p.PeakBitrate > p.AverageBitrate));
        Assert.Equal(6_000_000, plan[0].PeakBitrate);
    }

    [Theory]
    [InlineData(854, 480, new[] { "480p" })]
    [InlineData(1280, 720, new[] { "720p", "480p" })]
    [InlineData(1440, 1080, new[] { "1080p", "720p", "480p" })] // 4:3
    [InlineData(1080, 1080, new[] { "1080p", "720p", "480p" })] // square
    [InlineData(320, 180, new[] { "180p" })]                    // below every rung: one rendition at its own size
    public void Rungs_are_never_upscaled(int w, int h, string[] names)
    {
        var plan = Ladder.Default.For(w, h);
        Assert.Equal(names, plan.Select(p => p.Name));
        Assert.All(plan, p => Assert.True(p.Width <= w && p.Height <= h, $"{p.Name} {p.Width}x{p.Height} upscales {w}x{h}"));
        Assert.All(plan, p => Assert.True(p.Width % 2 == 0 && p.Height % 2 == 0));
    }

    [Fact]
    public void Odd_and_non_16_9_sizes_keep_their_aspect_in_even_dimensions()
    {
        var square = Ladder.Default.For(1080, 1080);
        Assert.Equal((1080, 1080), (square[0].Width, square[0].Height));
        Assert.Equal((720, 720), (square[1].Width, square[1].Height));
        Assert.True(square[0].PeakBitrate < 6_000_000, "fewer pixels than the 16:9 box get fewer bits");
        var odd = Ladder.Default.For(427, 241);
        Assert.Equal((426, 240), (odd.Single().Width, odd.Single().Height));
        var fourThree = Ladder.Default.For(1440, 1080);
        Assert.Equal((960, 720), (fourThree[1].Width, fourThree[1].Height));
        Assert.Equal((640, 480), (fourThree[2].Width, fourThree[2].Height));
    }

    [Fact]
    public void The_fingerprint_is_stable_and_changes_with_any_setting()
    {
        Assert.Equal(new Ladder().Fingerprint, Ladder.Default.Fingerprint);
        Assert.Matches("^[0-9a-f]{12}$", Ladder.Default.Fingerprint);
        var variants = new[]
        {
            Ladder.Default with { Preset = "medium" },
            Ladder.Default with { Tune = "stillimage" },
            Ladder.Default with { SegmentSeconds = 4 },
            Ladder.Default with { KeyframeIntervalSeconds = 1 },
            Ladder.Default with { AudioBitrate = 96_000 },
            Ladder.Default with { Rungs = Ladder.Default.Rungs.Take(2).ToList() },
        };
        Assert.Equal(variants.Length + 1, variants.Select(v => v.Fingerprint).Append(Ladder.Default.Fingerprint).Distinct().Count());
    }

    [Fact]
    public void A_tiny_picture_is_refused()
    {
        var e = Assert.Throws<ManimCloudException>(() => Ladder.Default.For(1, 1));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
    }

    [Fact]
    public void Changed_manifests_are_exactly_those_whose_content_differs()
    {
        RenditionSet Set(params (string Key, string Sha)[] m) => new()
        {
            Version = 1, Engine = "local", LadderFingerprint = "x", Rungs = [], HlsMasterKey = "m", DashManifestKey = "d",
            StartedAt = DateTimeOffset.UnixEpoch, FinishedAt = DateTimeOffset.UnixEpoch,
            Manifests = m.ToDictionary(x => x.Key, x => x.Sha),
        };
        var before = Set(("a/master.m3u8", "1"), ("a/720p.m3u8", "2"), ("a/manifest.mpd", "3"), ("a/1080p.m3u8", "4"));
        var after = Set(("a/master.m3u8", "1"), ("a/720p.m3u8", "9"), ("a/manifest.mpd", "8"), ("a/480p.m3u8", "7"));
        Assert.Equal(["a/1080p.m3u8", "a/480p.m3u8", "a/720p.m3u8", "a/manifest.mpd"], RenditionSet.ChangedManifests(before, after));
        Assert.Equal(4, RenditionSet.ChangedManifests(null, after).Count);
    }
}
