using System.Security.Cryptography;
using System.Text;
using Amazon.S3.Model;
using ManimCloud.Domain;
using ManimCloud.Storage;
using ManimCloud.Streaming;
using ManimCloud.Streaming.MediaConvert;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Streaming.MediaConvert;

/// <summary>
/// The MediaConvert engine in cloud mode on moto's S3 with the loopback MediaConvert: a version's scenes become one
/// job each, the joined manifests land at the version's keys and name only objects that exist, a new version that
/// changes one scene encodes one scene, and a failed job publishes nothing.
/// </summary>
public sealed class MediaConvertEngineTests
{
    private const string Role = "arn:aws:iam::123456789012:role/manimcloud-test-mediaconvert";

    private sealed class Setup : IAsyncDisposable
    {
        public required TempDir Home { get; init; }
        public required ManimCloudClient Client { get; init; }
        public required FakeMediaConvert Fake { get; init; }
        public required ManimCloud.Aws.AwsHttpService Service { get; init; }
        public required TestCloud Cloud { get; init; }
        public Dictionary<string, ClipFacts> Facts { get; } = [];

        public MediaConvertEngine Engine() => new(new MediaConvertClient(Service), Client.Cloud!.Videos, Cloud.VideoBucket, Role,
            _ => Task.FromResult<string?>(null), (s, _) => Task.FromResult(Facts[s.Sha256]), new JobLedger(Client.Catalog))
        {
            Watch = new JobWatch(new MediaConvertClient(Service)) { FirstPoll = TimeSpan.FromMilliseconds(20), LongestPoll = TimeSpan.FromMilliseconds(100) },
        };

        public async ValueTask DisposeAsync()
        {
            Service.Dispose();
            Client.Dispose();
            await Fake.DisposeAsync();
            Home.Dispose();
        }
    }

    private static async Task<Setup> SetUpAsync()
    {
        var cloud = await TestCloud.CreateAsync();
        var home = new TempDir();
        var client = ManimCloudClient.Open(cloud.Options(home.Path) with { MediaConvertRole = Role });
        using var aws = cloud.Clients();
        var fake = new FakeMediaConvert(client.Aws!.S3);
        return new Setup { Home = home, Client = client, Fake = fake, Service = MediaConvertClientTests.Service(fake.Endpoint), Cloud = cloud };
    }

    /// <summary>Stores a stand-in clip (MediaConvert's fake does not decode it) and returns it as a transcode source.</summary>
    private static async Task<TranscodeSource> ClipAsync(Setup s, ProjectId project, VideoId video, int version, int scene, string content, ClipFacts facts)
    {
        var bytes = Encoding.UTF8.GetBytes(content);
        var sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        var key = ObjectLayout.ClipKey(project, video, version, scene);
        using var body = new MemoryStream(bytes);
        await s.Client.Cloud!.Videos.PutAsync(new ObjectWrite(key, ObjectKind.SceneClip, "video/mp4", new Dictionary<string, string>(), sha, bytes.Length), body, CancellationToken.None);
        s.Facts[sha] = facts;
        return new TranscodeSource(scene, key, sha, bytes.Length, null);
    }

    private static VideoRecord Video(ProjectId project, VideoId id) => new()
    {
        Id = id, Project = project, Title = "engine test", CreatedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow,
    };

    private static async Task<bool> ExistsAsync(Setup s, string key) => await s.Client.Cloud!.Videos.HeadAsync(key, CancellationToken.None) is not null;

    [Fact]
    public async Task A_version_of_three_scenes_becomes_three_jobs_and_a_rendition_set_whose_every_key_is_in_S3()
    {
        await using var s = await SetUpAsync();
        var project = ProjectId.Parse("mc-engine");
        var video = VideoId.New();
        var hd = new ClipFacts(1920, 1080, HasAudio: true, 7.5);
        var silent = hd with { HasAudio = false };
        var sources = new List<TranscodeSource>
        {
            await ClipAsync(s, project, video, 1, 1, "scene one", hd),
            await ClipAsync(s, project, video, 1, 2, "scene two (silent)", silent),
            await ClipAsync(s, project, video, 1, 3, "scene three", hd),
        };
        var progress = new List<TranscodeProgress>();
        var outcome = await s.Engine().TranscodeAsync(new TranscodeRequest(Video(project, video), 1, Ladder.Default, sources, []),
            new Progress<TranscodeProgress>(p => { lock (progress) progress.Add(p); }), CancellationToken.None);

        var set = outcome.Set;
        Assert.Equal("mediaconvert", set.Engine);
        Assert.Equal(new TranscodeCounts(3, 0, 0), outcome.Counts);
        Assert.Equal(3, s.Fake.JobsCreated);
        Assert.Equal(3, set.JobId!.Split(',').Length);
        Assert.Equal(ObjectLayout.HlsMasterKey(project, video, 1), set.HlsMasterKey);
        Assert.Equal(ObjectLayout.DashManifestKey(project, video, 1), set.DashManifestKey);
        Assert.Equal(["1080p", "720p", "480p"], set.Rungs.Select(r => r.Name));
        Assert.NotNull(set.Audio);
        Assert.Equal(22.5, set.DurationSeconds, 3);
        Assert.Equal(3, set.Scenes.Count);
        Assert.Empty(s.Fake.SignatureProblems);
        // The silent scene got the silence stand-in; the others their own audio.
        var inputs = s.Fake.CreateBodies.Select(b => b["settings"]!["inputs"]![0]!).ToList();
        Assert.Single(inputs, i => i["audioSelectors"]?[SceneJob.AudioSelector]?["externalAudioFileInput"] is not null);
        Assert.True(await ExistsAsync(s, SilentAudio.Key(48000, 2)));

        // Every manifest recorded exists, and every URI in the joined manifests resolves to an object in S3.
        foreach (var key in set.Manifests.Keys) Assert.True(await ExistsAsync(s, key), key + " is not in S3");
        Assert.True(await ExistsAsync(s, set.PosterKey!));
        var folder = ObjectLayout.RenditionFolder(project, video, 1);
        foreach (var track in new[] { "1080p", "720p", "480p", "audio" })
        {
            var playlistKey = ObjectLayout.HlsVariantKey(project, video, 1, track);
            var playlist = await ReadAsync(s, playlistKey);
            Assert.Contains("#EXT-X-PLAYLIST-TYPE:VOD", playlist);
            Assert.Contains("#EXT-X-INDEPENDENT-SEGMENTS", playlist);
            Assert.Equal(2, playlist.Split('\n').Count(l => l == "#EXT-X-DISCONTINUITY"));
            foreach (var uri in playlist.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#'))
                         .Concat(playlist.Split('\n').Where(l => l.StartsWith("#EXT-X-MAP:")).Select(l => l.Split('"')[1])))
                Assert.True(await ExistsAsync(s, Resolve(folder + "hls/", uri)), $"{playlistKey} names {uri}, which is not in S3");
        }
        var master = await ReadAsync(s, set.HlsMasterKey);
        Assert.Contains("1080p.m3u8", master);
        Assert.Contains("URI=\"audio.m3u8\"", master);
        var mpd = System.Xml.Linq.XDocument.Parse(await ReadAsync(s, set.DashManifestKey)).Root!;
        Assert.Equal(3, mpd.Elements().Count(e => e.Name.LocalName == "Period"));
        Assert.Equal("PT22.5S", mpd.Attribute("mediaPresentationDuration")!.Value);
        foreach (var baseUrl in mpd.Descendants().Where(e => e.Name.LocalName == "BaseURL"))
        {
            var template = baseUrl.Parent!.Descendants().First(e => e.Name.LocalName == "SegmentTemplate");
            Assert.True(await ExistsAsync(s, Resolve(folder + "dash/", baseUrl.Value + template.Attribute("initialization")!.Value)));
        }
        Assert.Contains(progress, p => p.Stage.Contains("PROGRESSING"));

        // Read back by the AWS CLI: the manifests the engine wrote are short-cached, the poster immutable.
        string CacheControl(string key) =>
            (string)AwsCli.Json("s3api", "head-object", "--bucket", s.Cloud.VideoBucket, "--key", key)["CacheControl"]!;
        Assert.Equal(RenditionObjects.ManifestCacheControl, CacheControl(set.HlsMasterKey));
        Assert.Equal(RenditionObjects.ManifestCacheControl, CacheControl(set.DashManifestKey));
        Assert.Equal(RenditionObjects.ImmutableCacheControl, CacheControl(set.PosterKey!));
    }

    [Fact]
    public async Task A_new_version_that_changes_one_scene_of_three_submits_one_job_and_points_at_the_others_segments()
    {
        await using var s = await SetUpAsync();
        var project = ProjectId.Parse("mc-engine");
        var video = VideoId.New();
        var facts = new ClipFacts(1280, 720, HasAudio: false, 6);
        var v1 = new List<TranscodeSource>();
        for (var k = 1; k <= 3; k++) v1.Add(await ClipAsync(s, project, video, 1, k, $"scene {k}", facts));
        var first = await s.Engine().TranscodeAsync(new TranscodeRequest(Video(project, video), 1, Ladder.Default, v1, []), null, CancellationToken.None);
        Assert.Null(first.Set.Audio);

        var v2 = new List<TranscodeSource> { v1[0] with { }, await ClipAsync(s, project, video, 2, 2, "scene 2, edited", facts), v1[2] };
        var second = await s.Engine().TranscodeAsync(new TranscodeRequest(Video(project, video), 2, Ladder.Default, v2, [first.Set]), null, CancellationToken.None);
        Assert.Equal(new TranscodeCounts(1, 2, 0), second.Counts);
        Assert.Equal(4, s.Fake.JobsCreated);
        Assert.Equal(first.Set.Scenes[0].FolderKey, second.Set.Scenes[0].FolderKey);
        Assert.Equal(1, second.Set.Scenes[0].EncodedInVersion);
        Assert.Equal(2, second.Set.Scenes[1].EncodedInVersion);
        var playlist = await ReadAsync(s, ObjectLayout.HlsVariantKey(project, video, 2, "720p"));
        Assert.Contains("../../v1/cmaf/", playlist);
        Assert.Contains("\n../cmaf/", playlist); // the edited scene, encoded for v2 itself
    }

    [Fact]
    public async Task A_run_killed_while_its_jobs_work_picks_them_up_instead_of_submitting_again()
    {
        await using var s = await SetUpAsync();
        var project = ProjectId.Parse("mc-engine");
        var video = VideoId.New();
        var source = await ClipAsync(s, project, video, 1, 1, "scene", new ClipFacts(854, 480, false, 3));
        s.Fake.Script = _ => new JobScript { SubmittedPolls = 1000 };
        using (var stop = new CancellationTokenSource())
        {
            var engine = s.Engine();
            var run = engine.TranscodeAsync(new TranscodeRequest(Video(project, video), 1, Ladder.Default, [source], []),
                new Progress<TranscodeProgress>(p => { if (p.Stage.Contains("SUBMITTED")) stop.Cancel(); }), stop.Token);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        }
        // Ctrl-C cancels the job it was waiting for: the next run starts a new attempt, not the canceled job.
        Assert.Equal("CANCELED", s.Fake.Jobs.Single()["status"]!.ToString());
        s.Fake.Script = _ => new JobScript();
        var outcome = await s.Engine().TranscodeAsync(new TranscodeRequest(Video(project, video), 1, Ladder.Default, [source], []), null, CancellationToken.None);
        Assert.Equal(2, s.Fake.JobsCreated);
        Assert.Single(outcome.Set.Rungs);

        // A third run finds the folder complete (as after a kill between the job's end and the publish) and submits nothing.
        var again = await s.Engine().TranscodeAsync(new TranscodeRequest(Video(project, video), 1, Ladder.Default, [source], []), null, CancellationToken.None);
        Assert.Equal(new TranscodeCounts(0, 0, 1), again.Counts);
        Assert.Equal(2, s.Fake.JobsCreated);
    }

    [Fact]
    public async Task A_failed_job_names_the_error_in_plain_words_and_no_version_manifest_is_written()
    {
        await using var s = await SetUpAsync();
        var project = ProjectId.Parse("mc-engine");
        var video = VideoId.New();
        s.Fake.Script = _ => new JobScript { ErrorCode = 1434, ErrorMessage = "Unable to assume role" };
        var source = await ClipAsync(s, project, video, 1, 1, "scene", new ClipFacts(1920, 1080, true, 4));
        var e = await Assert.ThrowsAsync<ManimCloudException>(() =>
            s.Engine().TranscodeAsync(new TranscodeRequest(Video(project, video), 1, Ladder.Default, [source], []), null, CancellationToken.None));
        Assert.Equal(ErrorKind.Auth, e.Kind);
        Assert.Contains("1434", e.Message);
        Assert.Contains("Unable to assume role", e.Message);
        Assert.Contains("mediaconvert.amazonaws.com", e.Hint);
        Assert.False(await ExistsAsync(s, ObjectLayout.HlsMasterKey(project, video, 1)));
        Assert.False(await ExistsAsync(s, ObjectLayout.DashManifestKey(project, video, 1)));
    }

    [Fact]
    public async Task A_clip_not_yet_in_S3_is_refused_before_any_job_is_submitted()
    {
        await using var s = await SetUpAsync();
        var project = ProjectId.Parse("mc-engine");
        var video = VideoId.New();
        var missing = new TranscodeSource(1, ObjectLayout.ClipKey(project, video, 1, 1), new string('c', 64), 10, null);
        s.Facts[missing.Sha256] = new ClipFacts(1920, 1080, false, 2);
        var e = await Assert.ThrowsAsync<ManimCloudException>(() =>
            s.Engine().TranscodeAsync(new TranscodeRequest(Video(project, video), 1, Ladder.Default, [missing], []), null, CancellationToken.None));
        Assert.Equal(ErrorKind.NotFound, e.Kind);
        Assert.Contains("manimcloud sync", e.Hint);
        Assert.Equal(0, s.Fake.JobsCreated);
    }

    private static async Task<string> ReadAsync(Setup s, string key)
    {
        await using var stream = await s.Client.Cloud!.Videos.OpenReadAsync(key, null, CancellationToken.None);
        return await new StreamReader(stream).ReadToEndAsync();
    }

    private static string Resolve(string folder, string relative)
    {
        var parts = folder.TrimEnd('/').Split('/').ToList();
        foreach (var part in relative.Split('/'))
        {
            if (part == "..") parts.RemoveAt(parts.Count - 1);
            else parts.Add(part);
        }
        return string.Join('/', parts);
    }
}
