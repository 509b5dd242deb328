using System.Xml.Linq;
using ManimCloud.Delivery;
using ManimCloud.Delivery.CloudFront;
using ManimCloud.Domain;
using ManimCloud.Sync;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Delivery;

/// <summary>
/// SPEC R5 "invalidation of exactly the paths that changed", on moto's CloudFront: `delivery invalidate` drops a
/// version's manifests, poster and storyboard (never its segments) in one invalidation, read back by the AWS CLI; asked
/// again — from this workspace or another — it is the same invalidation (moto itself does not deduplicate by
/// CallerReference); offline it waits in the outbox and `sync` sends it; followed until Completed; refused clearly when
/// no distribution is provisioned.
/// </summary>
public sealed class InvalidationTests
{
    private static readonly ProjectId Project = ProjectId.Parse("cdn-inv");

    private static async Task<JsonNodeInvalidation> ReadBackAsync(DeliveryDeployment d, string id)
    {
        var inv = (await AwsCli.JsonAsync("cloudfront", "get-invalidation", "--distribution-id", d.DistributionId, "--id", id))["Invalidation"]!;
        var batch = inv["InvalidationBatch"]!;
        return new JsonNodeInvalidation((string)inv["Status"]!, (string)batch["CallerReference"]!,
            batch["Paths"]!["Items"]!.AsArray().Select(p => (string)p!).Order(StringComparer.Ordinal).ToList());
    }

    private sealed record JsonNodeInvalidation(string Status, string CallerReference, List<string> Paths);

    [Fact]
    public void A_batch_folds_only_folders_of_rewritable_files_and_its_reference_follows_what_was_published()
    {
        var video = new VideoRecord
        {
            Id = VideoId.New(), Project = Project, Title = "t", CreatedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow,
        };
        var v = ObjectLayout.RenditionFolder(Project, video.Id, 3);
        var set = new RenditionSet
        {
            Version = 3, Engine = "local", LadderFingerprint = "f", Rungs = [], StartedAt = DateTimeOffset.UnixEpoch, FinishedAt = DateTimeOffset.UnixEpoch.AddHours(1),
            HlsMasterKey = v + "hls/master.m3u8", DashManifestKey = v + "dash/manifest.mpd", PosterKey = v + "poster.jpg",
            StoryboardKeys = [v + "storyboard/storyboard.vtt", v + "storyboard/sprite_001.jpg"],
            Manifests = new Dictionary<string, string>
            {
                [v + "hls/master.m3u8"] = "a", [v + "hls/720p.m3u8"] = "b", [v + "hls/480p.m3u8"] = "c", [v + "hls/audio.m3u8"] = "d", [v + "dash/manifest.mpd"] = "e",
            },
        };
        var all = InvalidationBatch.For("E1", video, set, set.RewrittenInPlaceKeys);
        // Four playlists are one wildcard path; the storyboard's two files and the lone MPD stay exact; no segment anywhere.
        Assert.Equal(["/" + v + "dash/manifest.mpd", "/" + v + "hls/*", "/" + v + "poster.jpg", "/" + v + "storyboard/sprite_001.jpg", "/" + v + "storyboard/storyboard.vtt"],
            all.Paths);
        Assert.Equal(1, all.WildcardCount);
        Assert.Equal(8, all.Keys.Count);
        // Two changed playlists are cheaper as two paths than a wildcard that counts against the 15 in progress.
        var two = InvalidationBatch.For("E1", video, set, [v + "hls/master.m3u8", v + "hls/720p.m3u8"]);
        Assert.Equal(["/" + v + "hls/720p.m3u8", "/" + v + "hls/master.m3u8"], two.Paths);

        // The same change asked again is the same reference; a re-publish of the version (new manifests) is a new one.
        Assert.Equal(all.CallerReference, InvalidationBatch.For("E1", video, set, set.RewrittenInPlaceKeys.Reverse().ToList()).CallerReference);
        var republished = set with { Manifests = new Dictionary<string, string>(set.Manifests) { [v + "hls/master.m3u8"] = "a2" } };
        Assert.NotEqual(all.CallerReference, InvalidationBatch.For("E1", video, republished, set.RewrittenInPlaceKeys).CallerReference);
        Assert.NotEqual(all.CallerReference, InvalidationBatch.For("E2", video, set, set.RewrittenInPlaceKeys).CallerReference);
        Assert.NotEqual(all.CallerReference, two.CallerReference);

        // Keys of another version (or a segment folder of an earlier one) are refused, not invalidated.
        var other = ObjectLayout.RenditionFolder(Project, video.Id, 2) + "hls/master.m3u8";
        Assert.Throws<ManimCloudException>(() => InvalidationBatch.For("E1", video, set, [other]));
    }

    [Fact]
    public async Task Invalidate_drops_the_versions_manifests_poster_and_storyboard_once_however_often_it_is_asked()
    {
        using var d = await DeliveryDeployment.CreateAsync();
        using var dir = new TempDir();
        VideoRecord video;
        using (var client = ManimCloudClient.Open(d.Options())) video = await DeliveryDeployment.PublishAsync(client, "cdn-inv", dir);
        var set = video.Renditions[1];
        Assert.Empty(await d.InvalidationIdsAsync());

        var env = d.Environment();
        var run = CliRunner.Run(env, "delivery", "invalidate", video.Id.ToString(), "--json");
        Assert.True(run.ExitCode == 0, run.Stderr);
        var j = run.Json;
        Assert.Equal("Completed", (string)j["status"]!); // moto completes at once; followed to Completed all the same
        Assert.Equal("created", (string)j["how"]!);
        Assert.Equal(1, (int)j["version"]!);
        var id = (string)j["invalidation_id"]!;

        // What CloudFront holds, read by the AWS CLI: the version's rewritable files, never a segment or init segment.
        var held = await ReadBackAsync(d, id);
        Assert.Equal((string)j["caller_reference"]!, held.CallerReference);
        Assert.Equal(j["paths"]!.AsArray().Select(p => (string)p!).Order(StringComparer.Ordinal), held.Paths);
        var folder = "/" + ObjectLayout.RenditionFolder(Project, video.Id, 1);
        Assert.All(held.Paths, p => Assert.StartsWith(folder, p));
        Assert.DoesNotContain(held.Paths, p => p.Contains("/cmaf/") || p.EndsWith(".m4s") || p.EndsWith("init.mp4") || p == folder + "*");
        Assert.Contains("/" + set.DashManifestKey, held.Paths);
        Assert.Contains("/" + set.PosterKey, held.Paths);
        // Every rewritable key is covered: exactly, or by a folder wildcard (hls/ holds playlists only).
        Assert.All(set.RewrittenInPlaceKeys, k => Assert.Contains(held.Paths, p => p == "/" + k || (p.EndsWith('*') && ("/" + k).StartsWith(p[..^1]))));
        Assert.Contains(folder + "hls/*", held.Paths);

        // Asked again from this workspace: remembered, and CloudFront is not asked for a second one.
        var again = CliRunner.Run(env, "delivery", "invalidate", video.Id.ToString(), "--version", "1", "--json");
        Assert.True(again.ExitCode == 0, again.Stderr);
        Assert.Equal(id, (string)again.Json["invalidation_id"]!);
        Assert.Equal("remembered", (string)again.Json["how"]!);
        // Asked from another machine (an empty workspace): found among the distribution's invalidations by its reference.
        using var other = new TempDir();
        var elsewhere = CliRunner.Run(d.Environment(other.Path), "delivery", "invalidate", video.Id.ToString(), "--json");
        Assert.True(elsewhere.ExitCode == 0, elsewhere.Stderr);
        Assert.Equal(id, (string)elsewhere.Json["invalidation_id"]!);
        Assert.Equal("found", (string)elsewhere.Json["how"]!);
        Assert.Equal([id], await d.InvalidationIdsAsync());

        var text = CliRunner.Run(env, "delivery", "invalidate", video.Id.ToString());
        Assert.True(text.ExitCode == 0, text.Stderr);
        Assert.Contains($"invalidation {id}", text.Stdout);
        Assert.Contains("not a second one", text.Stdout);
    }

    /// <summary>
    /// The real client, except that CloudFront's answer to GetInvalidation says InProgress the first few times, as AWS
    /// does for a minute or more (moto completes at once), so the follow-up loop is seen polling.
    /// </summary>
    private sealed class SlowToComplete(ICloudFront inner, int inProgressReads) : ICloudFront
    {
        private int _reads;
        public async Task<CloudFrontInvalidation?> GetInvalidationAsync(string distributionId, string id, CancellationToken ct)
        {
            var real = await inner.GetInvalidationAsync(distributionId, id, ct);
            return real is not null && Interlocked.Increment(ref _reads) <= inProgressReads ? real with { Status = "InProgress" } : real;
        }
        public async Task<CloudFrontInvalidation> CreateInvalidationAsync(string distributionId, IReadOnlyList<string> paths, string callerReference, CancellationToken ct) =>
            (await inner.CreateInvalidationAsync(distributionId, paths, callerReference, ct)) with { Status = "InProgress" };
        public Task<IReadOnlyList<CloudFrontInvalidation>> ListInvalidationsAsync(string distributionId, CancellationToken ct) => inner.ListInvalidationsAsync(distributionId, ct);
        public Task<CloudFrontDistribution> CreateDistributionAsync(XElement c, IReadOnlyDictionary<string, string> t, CancellationToken ct) => inner.CreateDistributionAsync(c, t, ct);
        public Task<CloudFrontDistribution?> GetDistributionAsync(string id, CancellationToken ct) => inner.GetDistributionAsync(id, ct);
        public Task<(XElement Config, string ETag)?> GetDistributionConfigAsync(string id, CancellationToken ct) => inner.GetDistributionConfigAsync(id, ct);
        public Task<CloudFrontDistribution> UpdateDistributionAsync(string id, XElement c, string m, CancellationToken ct) => inner.UpdateDistributionAsync(id, c, m, ct);
        public IAsyncEnumerable<DistributionSummary> ListDistributionsAsync(CancellationToken ct) => inner.ListDistributionsAsync(ct);
        public Task<IReadOnlyDictionary<string, string>> ListTagsAsync(string arn, CancellationToken ct) => inner.ListTagsAsync(arn, ct);
        public Task<OriginAccessControl> CreateOriginAccessControlAsync(string n, string d, CancellationToken ct) => inner.CreateOriginAccessControlAsync(n, d, ct);
        public Task<OriginAccessControl?> GetOriginAccessControlAsync(string id, CancellationToken ct) => inner.GetOriginAccessControlAsync(id, ct);
        public Task<IReadOnlyList<OriginAccessControl>> ListOriginAccessControlsAsync(CancellationToken ct) => inner.ListOriginAccessControlsAsync(ct);
        public Task<CloudFrontPublicKey> CreatePublicKeyAsync(string n, string p, string r, string c, CancellationToken ct) => inner.CreatePublicKeyAsync(n, p, r, c, ct);
        public Task<IReadOnlyList<CloudFrontPublicKey>> ListPublicKeysAsync(CancellationToken ct) => inner.ListPublicKeysAsync(ct);
        public Task<CloudFrontKeyGroup> CreateKeyGroupAsync(string n, IReadOnlyList<string> k, string c, CancellationToken ct) => inner.CreateKeyGroupAsync(n, k, c, ct);
        public Task<CloudFrontKeyGroup?> GetKeyGroupAsync(string id, CancellationToken ct) => inner.GetKeyGroupAsync(id, ct);
        public Task<IReadOnlyList<CloudFrontKeyGroup>> ListKeyGroupsAsync(CancellationToken ct) => inner.ListKeyGroupsAsync(ct);
        public Task<CloudFrontKeyGroup> UpdateKeyGroupAsync(string id, string n, IReadOnlyList<string> k, string c, string m, CancellationToken ct) => inner.UpdateKeyGroupAsync(id, n, k, c, m, ct);
        public Task<CloudFrontPolicy> CreateCachePolicyAsync(XElement c, CancellationToken ct) => inner.CreateCachePolicyAsync(c, ct);
        public Task<IReadOnlyList<CloudFrontPolicy>> ListCachePoliciesAsync(CancellationToken ct) => inner.ListCachePoliciesAsync(ct);
        public Task<CloudFrontPolicy> CreateResponseHeadersPolicyAsync(XElement c, CancellationToken ct) => inner.CreateResponseHeadersPolicyAsync(c, ct);
        public Task<IReadOnlyList<CloudFrontPolicy>> ListResponseHeadersPoliciesAsync(CancellationToken ct) => inner.ListResponseHeadersPoliciesAsync(ct);
    }

    private sealed class Collect : IProgress<string>
    {
        public List<string> Lines { get; } = [];
        public void Report(string value) { lock (Lines) Lines.Add(value); }
    }

    [Fact]
    public async Task An_invalidation_in_progress_is_followed_until_CloudFront_reports_it_completed()
    {
        using var d = await DeliveryDeployment.CreateAsync();
        using var dir = new TempDir();
        using var client = ManimCloudClient.Open(d.Options());
        var video = await DeliveryDeployment.PublishAsync(client, "cdn-poll", dir);
        var invalidations = client.Delivery.Invalidations!;
        invalidations.CloudFront = new SlowToComplete(invalidations.CloudFront, inProgressReads: 2);
        invalidations.PollInterval = TimeSpan.FromMilliseconds(20);

        var asked = await invalidations.InvalidateVersionAsync(video.Id, 1, default);
        Assert.True(asked.Synced);
        Assert.Equal("InProgress", asked.Status); // as AWS answers CreateInvalidation
        var progress = new Collect();
        var done = await invalidations.WaitAsync(asked, progress, default);
        Assert.True(done.IsCompleted);
        Assert.Equal(3, progress.Lines.Count);
        Assert.Contains("InProgress", progress.Lines[0]);
        Assert.Contains("InProgress", progress.Lines[1]);
        Assert.Contains("Completed", progress.Lines[2]);
        Assert.Equal("Completed", invalidations.Ledger.Find(d.DistributionId, asked.Batch.CallerReference)!.Status);

        // Given up after MaxWait: reported as it stands (CloudFront goes on), not as completed.
        invalidations.CloudFront = new SlowToComplete(CloudFrontClient.Create(client.Aws!), inProgressReads: 1000);
        invalidations.MaxWait = TimeSpan.FromMilliseconds(100);
        var stuck = await invalidations.WaitAsync(asked with { Status = "InProgress" }, null, default);
        Assert.Equal("InProgress", stuck.Status);
        Assert.False(stuck.IsCompleted);
    }

    [Fact]
    public async Task Offline_an_invalidation_waits_in_the_outbox_and_sync_sends_it_once()
    {
        using var d = await DeliveryDeployment.CreateAsync();
        using var dir = new TempDir();
        using var link = new CuttableLink(d.Cloud.Endpoint);
        // CloudFront through a link the test cuts; S3 and DynamoDB directly.
        var options = d.Options() with
        {
            ServiceEndpointUrls = new Dictionary<string, string> { ["CLOUDFRONT"] = link.Endpoint }, RetryBudget = TimeSpan.FromSeconds(1),
        };
        using var client = ManimCloudClient.Open(options);
        var video = await DeliveryDeployment.PublishAsync(client, "cdn-offline", dir);

        link.Cut();
        var queued = await client.Delivery.Invalidations!.InvalidateVersionAsync(video.Id, null, default);
        Assert.False(queued.Synced);
        Assert.Equal("Queued", queued.Status);
        var entry = Assert.Single(client.Outbox.List(), e => e.Operation is InvalidateCdn);
        Assert.Equal(queued.Batch.CallerReference, ((InvalidateCdn)entry.Operation).CallerReference);
        Assert.Empty(await d.InvalidationIdsAsync());

        link.Restore();
        var report = await client.SyncAsync(default);
        Assert.Empty(report.Failures);
        Assert.DoesNotContain(client.Outbox.List(), e => e.Operation is InvalidateCdn);
        var id = Assert.Single(await d.InvalidationIdsAsync());
        Assert.Equal(queued.Batch.Paths.Order(StringComparer.Ordinal), (await ReadBackAsync(d, id)).Paths);
        // A second sync, or the command again, does not make another.
        await client.SyncAsync(default);
        var again = await client.Delivery.Invalidations.InvalidateVersionAsync(video.Id, null, default);
        Assert.Equal(id, again.InvalidationId);
        Assert.Equal([id], await d.InvalidationIdsAsync());
    }

    [Fact]
    public async Task Without_a_provisioned_distribution_invalidate_and_stats_say_so_and_what_to_do()
    {
        using var local = new TempDir();
        var r = CliRunner.Run(CliRunner.LocalEnv(local.Path), "delivery", "invalidate", VideoId.New().ToString(), "--json");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("Delivery is not provisioned", (string)r.Json["error"]!["message"]!);
        Assert.Contains("local-only", (string)r.Json["error"]!["message"]!);

        var cloud = await TestCloud.CreateAsync();
        using var home = new TempDir();
        var noCdn = CliRunner.Run(cloud.Environment(home.Path), "delivery", "stats", "--json");
        Assert.Equal(2, noCdn.ExitCode);
        Assert.Contains("no CloudFront distribution is configured", (string)noCdn.Json["error"]!["message"]!);
        Assert.Contains("delivery provision", (string)noCdn.Json["error"]!["hint"]!);
        var off = cloud.Environment(home.Path);
        off["MANIMCLOUD_CDN"] = "off";
        off["MANIMCLOUD_DISTRIBUTION_ID"] = "E2QWRUHEXAMPLE";
        var offRun = CliRunner.Run(off, "delivery", "invalidate", VideoId.New().ToString());
        Assert.Equal(2, offRun.ExitCode);
        Assert.Contains("MANIMCLOUD_CDN=off", offRun.Stderr);
    }
}
