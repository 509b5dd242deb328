using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using ManimCloud.Domain;

namespace ManimCloud.Streaming;

/// <summary>A rung of the ladder as designed: the box it fits in and its bitrate caps (bits per second).</summary>
public sealed record Rung(string Name, int Width, int Height, int PeakBitrate, int AverageBitrate);

/// <summary>
/// The adaptive-bitrate ladder (SPEC R6): the one model every engine encodes from — the local ffmpeg command lines and
/// the MediaConvert job are both derived from it, and its <see cref="Fingerprint"/> goes into the segment folders'
/// names, so a change of any setting here is a new path and never overwrites what was published.
/// </summary>
public sealed record Ladder
{
    /// <summary>
    /// Caps in the spirit of Apple's HLS authoring specification, lowered for Manim's flat backgrounds and clean
    /// edges (about 6 / 3.5 / 1.5 Mb/s peak).
    /// </summary>
    public IReadOnlyList<Rung> Rungs { get; init; } =
    [
        new("1080p", 1920, 1080, 6_000_000, 4_500_000),
        new("720p", 1280, 720, 3_500_000, 2_500_000),
        new("480p", 854, 480, 1_500_000, 1_000_000),
    ];

    /// <summary>H.264 profile of every rung (avc1.64xxxx).</summary>
    public string VideoProfile { get; init; } = "high";
    public string PixelFormat { get; init; } = "yuv420p";
    /// <summary>
    /// x264 speed preset. "veryfast" keeps a 1080p30 ladder within real time on two cores; Manim's flat content
    /// loses little to the slower presets at these bitrates.
    /// </summary>
    public string Preset { get; init; } = "veryfast";
    /// <summary>x264 tune: "animation" suits Manim (flat areas, sharp edges: more reference frames, deblocking tuned for it).</summary>
    public string Tune { get; init; } = "animation";

    public int AudioBitrate { get; init; } = 128_000;
    public int AudioSampleRate { get; init; } = 48_000;
    public int AudioChannels { get; init; } = 2;
    /// <summary>RFC 6381 codec string of AAC-LC.</summary>
    public const string AudioCodecs = "mp4a.40.2";

    /// <summary>A keyframe every this many seconds, by time (not frame count), so 15, 30 and 60 fps align alike; GOPs closed.</summary>
    public double KeyframeIntervalSeconds { get; init; } = 2;
    /// <summary>Target segment length; a multiple of the keyframe interval, so every segment starts on a keyframe.</summary>
    public double SegmentSeconds { get; init; } = 6;

    /// <summary>Raised when the packaging changes in a way that makes old segments not equal to new ones.</summary>
    private const int PackagingRevision = 1;

    public static Ladder Default { get; } = new();

    /// <summary>
    /// Twelve hex characters of the SHA-256 of every setting that shapes the output. Equal fingerprint, equal clip:
    /// equal segments, so they may be reused across versions.
    /// </summary>
    public string Fingerprint => ComputeFingerprint(); // not cached: `with` copies fields, a cache would outlive a changed setting

    private string ComputeFingerprint()
    {
        var c = CultureInfo.InvariantCulture;
        var canonical = new StringBuilder()
            .Append(c, $"cmaf/{PackagingRevision};h264/{VideoProfile}/{PixelFormat}/{Preset}/{Tune};")
            .Append(c, $"gop={KeyframeIntervalSeconds:R};seg={SegmentSeconds:R};")
            .Append(c, $"aac/{AudioBitrate}/{AudioSampleRate}/{AudioChannels};")
            .AppendJoin(";", Rungs.Select(r => string.Create(c, $"{r.Name}={r.Width}x{r.Height}/{r.PeakBitrate}/{r.AverageBitrate}")))
            .ToString();
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)))[..12];
    }

    /// <summary>
    /// The rungs for a source of this size, never upscaled: each rung whose box the source fills (scaled down to fit
    /// the box, aspect kept, even dimensions); a source smaller than every rung gets one rendition at its own size
    /// (rounded down to even), with the smallest rung's caps scaled by its pixel count.
    /// </summary>
    public IReadOnlyList<PlannedRendition> For(int sourceWidth, int sourceHeight)
    {
        if (sourceWidth < 2 || sourceHeight < 2)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"A {sourceWidth}x{sourceHeight} picture is too small to stream.",
                "Render the scene at a real size (Manim's lowest quality is 854x480).");
        var planned = new List<PlannedRendition>();
        foreach (var rung in Rungs.OrderByDescending(r => r.Width * r.Height))
        {
            var scale = Math.Min((double)rung.Width / sourceWidth, (double)rung.Height / sourceHeight);
            if (scale > 1) continue; // the source does not fill this rung's box: that would be an upscale
            planned.Add(Planned(rung, Math.Min(rung.Width, sourceWidth), Math.Min(rung.Height, sourceHeight), sourceWidth * scale, sourceHeight * scale));
        }
        if (planned.Count == 0)
        {
            var smallest = Rungs.MinBy(r => r.Width * r.Height)!;
            planned.Add(Planned(smallest with { Name = $"{Even(sourceHeight, sourceHeight)}p" }, sourceWidth, sourceHeight, sourceWidth, sourceHeight));
        }
        return planned;
    }

    private static PlannedRendition Planned(Rung rung, int maxWidth, int maxHeight, double width, double height)
    {
        int w = Even(width, maxWidth), h = Even(height, maxHeight);
        // A 4:3 or square picture in a 16:9 box has fewer pixels: fewer bits for the same quality (never below 30 %).
        var share = Math.Clamp((double)w * h / (rung.Width * rung.Height), 0.3, 1.0);
        return new PlannedRendition(rung.Name, w, h, (int)Math.Round(rung.PeakBitrate * share), (int)Math.Round(rung.AverageBitrate * share));
    }

    /// <summary>The nearest even size (H.264 4:2:0 needs even dimensions), never above <paramref name="max"/>.</summary>
    private static int Even(double v, int max)
    {
        var even = (int)Math.Round(v / 2, MidpointRounding.AwayFromZero) * 2;
        return Math.Max(2, even > max ? max / 2 * 2 : even);
    }
}

/// <summary>A rendition the ladder plans for one source: output size and the bitrate caps the encoder gets.</summary>
public sealed record PlannedRendition(string Name, int Width, int Height, int PeakBitrate, int AverageBitrate);
