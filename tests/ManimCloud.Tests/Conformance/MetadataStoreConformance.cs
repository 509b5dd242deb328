using ManimCloud.Code;
using ManimCloud.Domain;
using ManimCloud.Metadata;

namespace ManimCloud.Tests.Conformance;

/// <summary>One metadata contract (SPEC R2, R3), run unchanged against SQLite and DynamoDB.</summary>
public abstract class MetadataStoreConformance : IAsyncLifetime
{
    protected IBackendUnderTest Subject = null!;
    protected abstract Task<IBackendUnderTest> CreateAsync();
    private IMetadataStore Store => Subject.Backend.Metadata;
    private static readonly CancellationToken Ct = CancellationToken.None;

    public async Task InitializeAsync() => Subject = await CreateAsync();
    public async Task DisposeAsync() => await Subject.DisposeAsync();

    private static VideoRecord NewVideo(string project = "proj-a", DateTimeOffset? created = null, string title = "Title") => new()
    {
        Id = VideoId.New(), Project = ProjectId.Parse(project), Title = title, Description = "d",
        Tags = ["t1", "t2"], CreatedAt = created ?? DateTimeOffset.UtcNow, UpdatedAt = created ?? DateTimeOffset.UtcNow,
        Media = new Dictionary<string, MediaFile> { ["scene_001"] = new("videos/x/scene_001.mp4", 10, "ab", 1, DateTimeOffset.UtcNow) },
        Stats = new Dictionary<string, double> { ["render_seconds"] = 1.5 },
    };

    private static CodeVersion Version(VideoId video, int n, string op) => new()
    {
        Video = video, Version = n, Key = $"code/p/{video}/{video}_v{n}.py", Size = n, Sha256 = new string('a', 64),
        CreatedAt = DateTimeOffset.UtcNow, Author = "me", OperationId = op,
    };

    [Fact]
    public async Task A_created_video_reads_back_field_for_field()
    {
        var v = NewVideo();
        var stored = await Store.CreateVideoAsync(v, Ct);
        Assert.Equal(1, stored.Revision);
        var back = await Store.GetVideoAsync(v.Id, Ct);
        Assert.NotNull(back);
        Assert.Equal(RecordJson.ToJson(stored).ToJsonString(), RecordJson.ToJson(back!).ToJsonString());
    }

    /// <summary>A published ladder as the streaming capability records it: two versions, the second reusing a scene of the first.</summary>
    public static RenditionSet SampleRenditions(VideoRecord v, int version, string? playbackBaseUrl = null)
    {
        var folder = ObjectLayout.RenditionFolder(v.Project, v.Id, version);
        var master = ObjectLayout.HlsMasterKey(v.Project, v.Id, version);
        var mpd = ObjectLayout.DashManifestKey(v.Project, v.Id, version);
        return new RenditionSet
        {
            Version = version, Engine = "local", LadderFingerprint = "0123456789ab",
            Rungs = [new("1080p", 1920, 1080, 5_912_345, 4_100_000, 29.97, "avc1.640028"), new("720p", 1280, 720, 3_400_000, 2_400_000, 60, "avc1.640020")],
            Audio = new RenditionAudio("mp4a.40.2", 128_000, 48_000, 2),
            HlsMasterKey = master, DashManifestKey = mpd,
            Manifests = new Dictionary<string, string> { [master] = new string('1', 64), [mpd] = new string('2', 64) },
            SegmentCount = 7, DurationSeconds = 13.533333333333333, Bytes = 1_234_567_890_123, JobId = version == 1 ? null : "1700000000000-abc123",
            StartedAt = DateTimeOffset.Parse("2026-12-01T22:00:00.1234567+00:00"), FinishedAt = DateTimeOffset.Parse("2026-12-01T22:00:09.5+00:00"),
            EncodeSeconds = 8.25, PosterKey = ObjectLayout.PosterKey(v.Project, v.Id, version),
            StoryboardKeys = [ObjectLayout.StoryboardVttKey(v.Project, v.Id, version), ObjectLayout.StoryboardSpriteKey(v.Project, v.Id, version, 1)],
            PlaybackBaseUrl = playbackBaseUrl,
            Scenes =
            [
                new(1, new string('a', 64), $"{ObjectLayout.RenditionFolder(v.Project, v.Id, 1)}cmaf/aaaaaaaaaaaaaaaa-0123456789ab/", 3, 6.5, 400_000, 1),
                new(2, new string('b', 64), $"{folder}cmaf/bbbbbbbbbbbbbbbb-0123456789ab/", 4, 7.033333333333333, 500_000, version),
            ],
        };
    }

    [Fact]
    public async Task Renditions_per_version_and_the_status_reason_read_back_field_for_field()
    {
        var v = await Store.CreateVideoAsync(NewVideo() with { Status = VideoStatus.Error, StatusReason = "scene_002.mp4: truncated (moov atom not found)" }, Ct);
        var withSets = v with
        {
            Status = VideoStatus.Ready, StatusReason = null,
            Renditions = new Dictionary<int, RenditionSet> { [1] = SampleRenditions(v, 1), [2] = SampleRenditions(v, 2, "https://d111.cloudfront.net/") },
        };
        var stored = await Store.UpdateVideoAsync(withSets, v.Revision, Ct);
        var back = (await Store.GetVideoAsync(v.Id, Ct))!;
        Assert.Equal(RecordJson.ToJson(stored).ToJsonString(), RecordJson.ToJson(back).ToJsonString());
        Assert.Equal(2, back.Renditions.Count);
        var r2 = back.Renditions[2];
        Assert.Equal(ObjectLayout.HlsMasterKey(v.Project, v.Id, 2), r2.HlsMasterKey);
        Assert.Equal("https://d111.cloudfront.net/", r2.PlaybackBaseUrl);
        Assert.Null(back.Renditions[1].PlaybackBaseUrl);
        Assert.Equal(1, r2.Scenes[0].EncodedInVersion);
        Assert.Equal(29.97, r2.Rungs[0].FrameRate);
        Assert.Equal(13.533333333333333, r2.DurationSeconds);
        Assert.Null(back.StatusReason);
        // Listing returns the same shape.
        var listed = (await Store.ListVideosAsync(v.Project, 1000, null, Ct)).Items.Single(x => x.Id == v.Id);
        Assert.Equal(RecordJson.ToJson(back).ToJsonString(), RecordJson.ToJson(listed).ToJsonString());
        // The reason of an error survives too.
        var failed = await Store.UpdateVideoAsync(back with { Status = VideoStatus.Error, StatusReason = "ffmpeg: no video stream" }, back.Revision, Ct);
        Assert.Equal("ffmpeg: no video stream", (await Store.GetVideoAsync(v.Id, Ct))!.StatusReason);
        Assert.Equal(failed.Revision, (await Store.GetVideoAsync(v.Id, Ct))!.Revision);
    }

    [Fact]
    public async Task Creating_the_same_id_twice_is_a_conflict()
    {
        var v = NewVideo();
        await Store.CreateVideoAsync(v, Ct);
        var e = await Assert.ThrowsAnyAsync<ManimCloudException>(() => Store.CreateVideoAsync(v with { Title = "other" }, Ct));
        Assert.Equal(ErrorKind.Conflict, e.Kind);
        Assert.Equal("Title", (await Store.GetVideoAsync(v.Id, Ct))!.Title);
    }

    [Fact]
    public async Task A_stale_update_is_detected_and_never_overwrites()
    {
        var v = await Store.CreateVideoAsync(NewVideo(), Ct);
        var first = await Store.UpdateVideoAsync(v with { Title = "first" }, v.Revision, Ct);
        Assert.Equal(2, first.Revision);
        // A second writer that read revision 1 tries to write: refused, and the first write stays.
        await Assert.ThrowsAsync<ConcurrencyConflictException>(() => Store.UpdateVideoAsync(v with { Title = "stale" }, v.Revision, Ct));
        Assert.Equal("first", (await Store.GetVideoAsync(v.Id, Ct))!.Title);
    }

    [Fact]
    public async Task Updating_a_missing_video_is_refused()
    {
        await Assert.ThrowsAsync<ConcurrencyConflictException>(() => Store.UpdateVideoAsync(NewVideo(), 1, Ct));
    }

    [Fact]
    public async Task Project_listing_is_newest_first_and_pages_cover_everything_once()
    {
        var start = DateTimeOffset.UtcNow.AddHours(-1);
        var created = new List<VideoRecord>();
        for (var i = 0; i < 23; i++) created.Add(await Store.CreateVideoAsync(NewVideo("proj-list", start.AddSeconds(i)), Ct));
        await Store.CreateVideoAsync(NewVideo("proj-other"), Ct);

        var seen = new List<VideoId>();
        string? token = null;
        var pages = 0;
        do
        {
            var page = await Store.ListVideosAsync(ProjectId.Parse("proj-list"), 5, token, Ct);
            Assert.True(page.Items.Count <= 5);
            seen.AddRange(page.Items.Select(v => v.Id));
            token = page.NextToken;
            pages++;
        } while (token is not null && pages < 20);

        Assert.Equal(created.OrderByDescending(v => v.CreatedAt).Select(v => v.Id), seen);
    }

    [Fact]
    public async Task A_foreign_page_token_is_refused_clearly()
    {
        var e = await Assert.ThrowsAnyAsync<ManimCloudException>(() => Store.ListVideosAsync(ProjectId.Parse("p"), 5, "not-a-token!", Ct));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
    }

    [Fact]
    public async Task Bulk_import_stores_every_record()
    {
        var videos = Enumerable.Range(0, 60).Select(i => NewVideo("proj-bulk", title: $"bulk {i}")).ToList();
        await Store.PutVideosAsync(videos, Ct);
        foreach (var v in videos) Assert.Equal(v.Title, (await Store.GetVideoAsync(v.Id, Ct))!.Title);
    }

    [Fact]
    public async Task A_version_number_is_claimed_once_and_never_overwritten()
    {
        var video = VideoId.New();
        Assert.True(await Store.TryAddCodeVersionAsync(Version(video, 1, "op-a"), Ct));
        Assert.False(await Store.TryAddCodeVersionAsync(Version(video, 1, "op-b"), Ct));
        Assert.Equal("op-a", (await Store.GetCodeVersionAsync(video, 1, Ct))!.OperationId);
        Assert.True(await Store.TryAddCodeVersionAsync(Version(video, 2, "op-b"), Ct));
        Assert.Equal([1, 2], (await Store.ListCodeVersionsAsync(video, Ct)).Select(v => v.Version));
    }

    [Fact]
    public async Task A_batch_claim_is_all_or_nothing()
    {
        var video = VideoId.New();
        Assert.True(await Store.TryAddCodeVersionsAsync([Version(video, 1, "a"), Version(video, 2, "b")], Ct));
        // 3 is free but 2 is taken: nothing of this batch may be claimed.
        Assert.False(await Store.TryAddCodeVersionsAsync([Version(video, 3, "c"), Version(video, 2, "d")], Ct));
        Assert.Null(await Store.GetCodeVersionAsync(video, 3, Ct));
        Assert.Equal("b", (await Store.GetCodeVersionAsync(video, 2, Ct))!.OperationId);
    }

    [Fact]
    public async Task Racing_batch_claims_and_single_claims_never_share_a_number()
    {
        var video = VideoId.New();
        var batches = Enumerable.Range(0, 6).Select(b => Task.Run(async () =>
            await CodeVersioning.ClaimManyAsync(Store, Enumerable.Range(0, 5).Select(i => Version(video, 0, $"batch-{b}-{i}")).ToList(),
                n => $"k{n}", [], Ct)));
        var singles = Enumerable.Range(0, 6).Select(i => Task.Run(async () =>
            (IReadOnlyList<CodeVersion>)[await CodeVersioning.ClaimAsync(Store, Version(video, 0, $"single-{i}"), n => $"k{n}", null, Ct)]));
        var claims = (await Task.WhenAll(batches.Concat(singles))).SelectMany(c => c).ToList();
        Assert.Equal(Enumerable.Range(1, 36), claims.Select(c => c.Version).OrderBy(n => n));
        var stored = await Store.ListCodeVersionsAsync(video, Ct);
        Assert.Equal(claims.Select(c => c.OperationId).Order(), stored.Select(v => v.OperationId).Order());
        // A batch's numbers are consecutive and in its order.
        foreach (var batch in claims.Where(c => c.OperationId.StartsWith("batch")).GroupBy(c => c.OperationId[..7]))
            Assert.Equal(batch.OrderBy(c => c.OperationId).Select(c => c.Version), batch.Select(c => c.Version).Order());
    }

    [Fact]
    public async Task A_claim_across_videos_names_the_videos_with_taken_numbers_and_claims_nothing()
    {
        var (a, b, c) = (VideoId.New(), VideoId.New(), VideoId.New());
        Assert.Empty(await Store.TryAddCodeVersionsAcrossAsync([Version(a, 1, "a1"), Version(a, 2, "a2"), Version(b, 1, "b1")], Ct));
        Assert.Equal(2, (await Store.ListCodeVersionsAsync(a, Ct)).Count);
        // b's 1 is taken: the whole write is refused, b is named, c's free number stays free.
        var taken = await Store.TryAddCodeVersionsAcrossAsync([Version(c, 1, "c1"), Version(b, 1, "b1-again"), Version(a, 3, "a3")], Ct);
        Assert.Equal([b], taken);
        Assert.Null(await Store.GetCodeVersionAsync(c, 1, Ct));
        Assert.Null(await Store.GetCodeVersionAsync(a, 3, Ct));
        Assert.Equal("b1", (await Store.GetCodeVersionAsync(b, 1, Ct))!.OperationId);
        // Without b the rest goes through.
        Assert.Empty(await Store.TryAddCodeVersionsAcrossAsync([Version(c, 1, "c1"), Version(a, 3, "a3")], Ct));
        Assert.Equal("c1", (await Store.GetCodeVersionAsync(c, 1, Ct))!.OperationId);
    }

    [Fact]
    public async Task Several_records_read_and_update_together_and_a_stale_one_blocks_all()
    {
        var x = await Store.CreateVideoAsync(NewVideo(title: "x"), Ct);
        var y = await Store.CreateVideoAsync(NewVideo(title: "y"), Ct);
        var missing = VideoId.New();
        var read = await Store.GetVideosAsync([x.Id, y.Id, missing], Ct);
        Assert.Equal(2, read.Count);
        Assert.Equal("y", read[y.Id].Title);
        Assert.False(read.ContainsKey(missing));

        Assert.Empty(await Store.TryUpdateVideosAsync([(x with { Title = "x2" }, x.Revision), (y with { Title = "y2" }, y.Revision)], Ct));
        var after = await Store.GetVideosAsync([x.Id, y.Id], Ct);
        Assert.Equal(("x2", 2L), (after[x.Id].Title, after[x.Id].Revision));
        Assert.Equal(("y2", 2L), (after[y.Id].Title, after[y.Id].Revision));

        // y is written again at revision 1 (stale) next to a good x: y is named and x is not written either.
        var moved = await Store.TryUpdateVideosAsync([(x with { Title = "x3" }, 2), (y with { Title = "stale" }, 1)], Ct);
        Assert.Equal([y.Id], moved);
        Assert.Equal("x2", (await Store.GetVideoAsync(x.Id, Ct))!.Title);
        Assert.Equal("y2", (await Store.GetVideoAsync(y.Id, Ct))!.Title);
    }

    [Fact]
    public async Task Only_the_claiming_operation_can_withdraw_a_version()
    {
        var video = VideoId.New();
        await Store.TryAddCodeVersionAsync(Version(video, 1, "op-a"), Ct);
        await Store.RemoveCodeVersionAsync(video, 1, "op-b", Ct);
        Assert.NotNull(await Store.GetCodeVersionAsync(video, 1, Ct));
        await Store.RemoveCodeVersionAsync(video, 1, "op-a", Ct);
        Assert.Null(await Store.GetCodeVersionAsync(video, 1, Ct));
    }

    [Fact]
    public async Task Sixteen_racing_claims_get_sixteen_distinct_numbers()
    {
        var video = VideoId.New();
        var claims = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(() =>
            CodeVersioning.ClaimAsync(Store, Version(video, 0, $"op-{i}"), n => $"k{n}", null, Ct))));
        Assert.Equal(Enumerable.Range(1, 16), claims.Select(c => c.Version).OrderBy(n => n));
        var stored = await Store.ListCodeVersionsAsync(video, Ct);
        Assert.Equal(16, stored.Select(v => v.OperationId).Distinct().Count());
    }
}

public sealed class SqliteMetadataStoreConformance : MetadataStoreConformance
{
    protected override Task<IBackendUnderTest> CreateAsync() => Task.FromResult<IBackendUnderTest>(new LocalBackendUnderTest());
}

public sealed class DynamoMetadataStoreConformance : MetadataStoreConformance
{
    protected override async Task<IBackendUnderTest> CreateAsync() => await AwsBackendUnderTest.CreateAsync();
}
