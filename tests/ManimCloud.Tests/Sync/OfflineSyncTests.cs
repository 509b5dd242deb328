using System.Text;
using ManimCloud.Domain;
using ManimCloud.Storage;
using ManimCloud.Sync;
using ManimCloud.Tests.Support;
using ManimCloud.Workspace;

namespace ManimCloud.Tests.Sync;

/// <summary>SPEC R10 / issue 4: work goes on while AWS is unreachable and reaches it, once and in order, when it returns.</summary>
public class OfflineSyncTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    static OfflineSyncTests() => CloudHealth.Quarantine = TimeSpan.FromSeconds(30);

    private static ManimCloudOptions Through(CuttableLink link, TestCloud cloud, string home, ConflictPolicy policy = ConflictPolicy.LatestWins) =>
        cloud.Options(home) with { EndpointUrl = link.Endpoint, RetryBudget = TimeSpan.FromSeconds(1), ConflictPolicy = policy };

    /// <summary>Workspace A reaches the cloud through a link the test cuts; workspace B talks to it directly.</summary>
    private sealed class TwoWorkspaces : IDisposable
    {
        public required CuttableLink Link { get; init; }
        public required ManimCloudClient A { get; init; }
        public required ManimCloudClient B { get; init; }
        public required VideoId Video { get; init; }

        public static async Task<TwoWorkspaces> CreateAsync(string project, ConflictPolicy policy = ConflictPolicy.LatestWins)
        {
            var cloud = await TestCloud.CreateAsync();
            var link = new CuttableLink(cloud.Endpoint);
            var homeA = new TempDir();
            var homeB = new TempDir();
            var a = ManimCloudClient.Open(Through(link, cloud, homeA.Path, policy));
            var b = ManimCloudClient.Open(cloud.Options(homeB.Path));
            var id = (await a.CreateVideoAsync(ProjectId.Parse(project), "original", null, null, Ct)).Value.Id;
            return new TwoWorkspaces { Link = link, A = a, B = b, Video = id, HomeA = homeA, HomeB = homeB };
        }

        public required TempDir HomeA { get; init; }
        public required TempDir HomeB { get; init; }

        public void Dispose()
        {
            A.Dispose(); B.Dispose(); Link.Dispose(); HomeA.Dispose(); HomeB.Dispose();
        }
    }

    private static async Task<byte[]> RenderAsync(string path, int scene)
    {
        await new Rendering.TestRenderer().RenderClipAsync(path, scene, 0.4, Ct);
        return await File.ReadAllBytesAsync(path);
    }

    [Fact]
    public async Task Offline_work_succeeds_locally_and_catches_up_with_equal_bytes_and_metadata()
    {
        var cloud = await TestCloud.CreateAsync();
        using var link = new CuttableLink(cloud.Endpoint);
        using var home = new TempDir();
        using var client = ManimCloudClient.Open(Through(link, cloud, home.Path));

        link.Cut();
        var created = await client.CreateVideoAsync(ProjectId.Parse("offline"), "made offline", null, ["train"], Ct);
        Assert.False(created.Synced);
        var id = created.Value.Id;
        var v1 = await client.PutCodeAsync(id, "# v1 offline\n"u8.ToArray(), "me", null, Ct);
        var v2 = await client.PutCodeAsync(id, "# v2 offline\n"u8.ToArray(), "me", null, Ct);
        var clip = await RenderAsync(home.File("clip.mp4"), 1);
        var media = await client.PutMediaAsync(id, MediaSlot.ForScene(1), home.File("clip.mp4"), Ct);
        var edit = await client.UpdateVideoAsync(id, "renamed offline", null, null, VideoStatus.Uploaded, null, Ct);
        Assert.All(new[] { v1.Synced, v2.Synced, media.Synced, edit.Synced }, Assert.False);
        Assert.Equal([1, 2], new[] { v1.Value.Version, v2.Value.Version });

        // Meanwhile the workspace answers reads.
        Assert.Equal("renamed offline", (await client.GetVideoAsync(id, Ct)).Title);
        Assert.Equal("# v2 offline\n", Encoding.UTF8.GetString((await client.GetCodeAsync(id, null, Ct)).Content));
        Assert.Equal(5, client.Outbox.List(Outbox.Pending).Count);

        link.Restore();
        var report = await client.SyncAsync(Ct);
        Assert.Equal(5, report.Applied);
        Assert.Equal(0, report.StillPending);

        // A second workspace that talks to the cloud directly sees exactly what was made offline.
        using var otherHome = new TempDir();
        using var other = ManimCloudClient.Open(cloud.Options(otherHome.Path));
        var record = await other.GetVideoAsync(id, Ct);
        Assert.Equal("renamed offline", record.Title);
        Assert.Equal(VideoStatus.Uploaded, record.Status);
        Assert.Equal(2, record.CurrentVersion);
        Assert.Equal("# v1 offline\n", Encoding.UTF8.GetString((await other.GetCodeAsync(id, 1, Ct)).Content));
        Assert.Equal("# v2 offline\n", Encoding.UTF8.GetString((await other.GetCodeAsync(id, 2, Ct)).Content));
        await other.GetMediaAsync(id, MediaSlot.ForScene(1), null, otherHome.File("back.mp4"), Ct);
        Assert.Equal(clip, await File.ReadAllBytesAsync(otherHome.File("back.mp4")));
        // The workspace's own copy equals the cloud's.
        Assert.Equal(Metadata.RecordJson.ToJson(record).ToJsonString(), Metadata.RecordJson.ToJson((await client.Local.Metadata.GetVideoAsync(id, Ct))!).ToJsonString());
    }

    [Fact]
    public async Task Offline_code_of_many_videos_catches_up_in_a_few_metadata_writes_and_a_taken_number_still_moves_up()
    {
        var cloud = await TestCloud.CreateAsync();
        await using var proxy = new Transfer.FaultProxy(cloud.Endpoint);
        using var link = new CuttableLink(proxy.Endpoint);
        using var home = new TempDir();
        using var otherHome = new TempDir();
        using var a = ManimCloudClient.Open(Through(link, cloud, home.Path));
        using var b = ManimCloudClient.Open(cloud.Options(otherHome.Path));
        var videos = new List<VideoId>();
        for (var i = 0; i < 6; i++) videos.Add((await a.CreateVideoAsync(ProjectId.Parse("bulk"), $"video {i}", null, null, Ct)).Value.Id);
        Assert.Equal(1, (await a.PutCodeAsync(videos[1], "# online v1\n"u8.ToArray(), "a", null, Ct)).Value.Version);

        link.Cut();
        string Text(int video, int n) => $"# video {video} offline {n} ✓\n";
        for (var i = 0; i < videos.Count; i++)
            for (var n = 1; n <= 4; n++)
            {
                var w = await a.PutCodeAsync(videos[i], Encoding.UTF8.GetBytes(Text(i, n)), "a", null, Ct);
                Assert.False(w.Synced);
                Assert.Equal(i == 1 ? n + 1 : n, w.Value.Version); // provisional: above what the workspace knows
            }
        // Meanwhile another workspace stores version 1 of the first video.
        Assert.Equal(1, (await b.PutCodeAsync(videos[0], "# theirs\n"u8.ToArray(), "b", null, Ct)).Value.Version);

        link.Restore();
        var forwarded = proxy.Forwarded.Count;
        var report = await a.SyncAsync(Ct);
        Assert.Equal(24, report.Applied);
        Assert.Equal(0, report.StillPending);
        Assert.Empty(report.Failures);
        // Only the first video met a taken number: its four versions moved up one, reported against what the user was told.
        Assert.Equal(Enumerable.Range(1, 4).Select(n => new Renumbering(videos[0], n, n + 1)), report.Renumbered);

        // Five videos' 20 versions took one claim write (after one refused for the first video) and one record write;
        // the first video went the one-video way (a look-up, a claim, a record read and write, a mirror).
        var dynamo = proxy.Forwarded.Skip(forwarded).Select(r => r.Headers.FirstOrDefault(h => h.Key.Equals("X-Amz-Target", StringComparison.OrdinalIgnoreCase)).Value)
            .OfType<string>().GroupBy(t => t[(t.IndexOf('.') + 1)..]).ToDictionary(g => g.Key, g => g.Count());
        Assert.True(dynamo.GetValueOrDefault("TransactWriteItems") <= 4, string.Join(", ", dynamo));
        Assert.True(dynamo.GetValueOrDefault("PutItem") + dynamo.GetValueOrDefault("GetItem") + dynamo.GetValueOrDefault("Query") <= 6, string.Join(", ", dynamo));

        for (var i = 0; i < videos.Count; i++)
        {
            var history = await b.CodeHistoryAsync(videos[i], Ct);
            var expected = (i switch { 0 => ["# theirs\n"], 1 => ["# online v1\n"], _ => new List<string>() }).Concat(Enumerable.Range(1, 4).Select(n => Text(i, n))).ToList();
            Assert.Equal(Enumerable.Range(1, expected.Count), history.Select(v => v.Version));
            for (var n = 1; n <= expected.Count; n++)
                Assert.Equal(expected[n - 1], Encoding.UTF8.GetString((await b.GetCodeAsync(videos[i], n, Ct)).Content));
            var record = await b.GetVideoAsync(videos[i], Ct);
            Assert.Equal(expected.Count, record.CurrentVersion);
            Assert.Equal(VideoStatus.CodeReady, record.Status);
            // The workspace holds the same record and the same numbered history as the cloud.
            Assert.Equal(Metadata.RecordJson.ToJson(record).ToJsonString(), Metadata.RecordJson.ToJson((await a.Local.Metadata.GetVideoAsync(videos[i], Ct))!).ToJsonString());
            Assert.Equal(history.Select(v => (v.Version, v.Sha256)), (await a.Local.Metadata.ListCodeVersionsAsync(videos[i], Ct)).Select(v => (v.Version, v.Sha256)));
        }
    }

    [Fact]
    public async Task A_code_version_made_offline_takes_the_next_free_number_and_the_renumbering_is_reported()
    {
        using var scene = await TwoWorkspaces.CreateAsync("two-ws");
        var (link, a, b, id) = (scene.Link, scene.A, scene.B, scene.Video);
        Assert.Equal(1, (await a.PutCodeAsync(id, "# A1\n"u8.ToArray(), "a", null, Ct)).Value.Version);

        link.Cut();
        var offline = await a.PutCodeAsync(id, "# A2 offline\n"u8.ToArray(), "a", null, Ct);
        var offline2 = await a.PutCodeAsync(id, "# A3 offline\n"u8.ToArray(), "a", null, Ct);
        Assert.Equal([2, 3], new[] { offline.Value.Version, offline2.Value.Version }); // provisional
        Assert.Equal(2, (await b.PutCodeAsync(id, "# B2 online\n"u8.ToArray(), "b", null, Ct)).Value.Version);

        link.Restore();
        var report = await a.SyncAsync(Ct);
        Assert.Equal([new Renumbering(id, 2, 3), new Renumbering(id, 3, 4)], report.Renumbered);

        foreach (var (n, text) in new[] { (1, "# A1\n"), (2, "# B2 online\n"), (3, "# A2 offline\n"), (4, "# A3 offline\n") })
        {
            Assert.Equal(text, Encoding.UTF8.GetString((await b.GetCodeAsync(id, n, Ct)).Content));
            Assert.Equal(text, Encoding.UTF8.GetString((await a.GetCodeAsync(id, n, Ct)).Content));
        }
        // The workspace's history now matches the cloud's, number for number.
        var local = await a.Local.Metadata.ListCodeVersionsAsync(id, Ct);
        Assert.Equal([1, 2, 3, 4], local.Select(v => v.Version));
        Assert.Equal((await b.CodeHistoryAsync(id, Ct)).Select(v => v.Sha256), local.Select(v => v.Sha256));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Under_latest_wins_the_later_edit_of_a_field_wins_whichever_side_made_it(bool offlineEditIsLater)
    {
        using var scene = await TwoWorkspaces.CreateAsync("lww");
        var (link, a, b, id) = (scene.Link, scene.A, scene.B, scene.Video);

        link.Cut();
        if (offlineEditIsLater)
        {
            await b.UpdateVideoAsync(id, "online title", null, null, null, null, Ct);
            await Task.Delay(20);
            await a.UpdateVideoAsync(id, "offline title", "offline description", null, null, null, Ct);
        }
        else
        {
            await a.UpdateVideoAsync(id, "offline title", "offline description", null, null, null, Ct);
            await Task.Delay(20);
            await b.UpdateVideoAsync(id, "online title", null, null, null, null, Ct);
        }
        link.Restore();
        var report = await a.SyncAsync(Ct);
        Assert.Equal(0, report.StillPending);
        var final = await b.GetVideoAsync(id, Ct);
        Assert.Equal(offlineEditIsLater ? "offline title" : "online title", final.Title);
        if (!offlineEditIsLater) Assert.Single(report.Discarded);
        Assert.Equal(final.Title, (await a.GetVideoAsync(id, Ct)).Title);
    }

    [Fact]
    public async Task Under_manual_policy_a_conflict_is_kept_listed_and_settled_by_resolve()
    {
        using var scene = await TwoWorkspaces.CreateAsync("manual", ConflictPolicy.Manual);
        var (link, a, b, id) = (scene.Link, scene.A, scene.B, scene.Video);

        link.Cut();
        await a.UpdateVideoAsync(id, "mine", null, null, null, null, Ct);
        await a.PutCodeAsync(id, "# independent change\n"u8.ToArray(), "a", null, Ct);
        await b.UpdateVideoAsync(id, "theirs", null, null, null, null, Ct);
        link.Restore();

        var report = await a.SyncAsync(Ct);
        Assert.Equal(1, report.Conflicts);
        Assert.Equal(1, report.Applied); // the code version went through regardless
        var conflict = Assert.Single(a.Conflicts());
        Assert.Equal("mine", (string)conflict.Conflict!["local"]!["title"]!);
        Assert.Equal("theirs", (string)conflict.Conflict!["cloud"]!["title"]!);
        Assert.Equal("theirs", (await b.GetVideoAsync(id, Ct)).Title);

        await a.ResolveConflictAsync(conflict.Operation.Id, keepLocal: true, Ct);
        Assert.Empty(a.Conflicts());
        Assert.Equal("mine", (await b.GetVideoAsync(id, Ct)).Title);
    }

    [Fact]
    public async Task An_operation_that_can_never_succeed_is_parked_with_its_reason_and_does_not_block_others()
    {
        var cloud = await TestCloud.CreateAsync();
        using var link = new CuttableLink(cloud.Endpoint);
        using var home = new TempDir();
        using var client = ManimCloudClient.Open(Through(link, cloud, home.Path));
        var doomed = (await client.CreateVideoAsync(ProjectId.Parse("parked"), "doomed", null, null, Ct)).Value.Id;
        var fine = (await client.CreateVideoAsync(ProjectId.Parse("parked"), "fine", null, null, Ct)).Value.Id;
        link.Cut();
        await client.PutCodeAsync(doomed, "# never arrives\n"u8.ToArray(), "me", null, Ct);
        await client.PutCodeAsync(fine, "# arrives\n"u8.ToArray(), "me", null, Ct);
        // While offline, the doomed video's record disappears from the cloud (someone deleted it).
        using (var aws = cloud.Clients())
            await aws.DynamoDB.DeleteItemAsync(cloud.Table, new() { ["pk"] = new($"video#{doomed}"), ["sk"] = new("meta") });
        link.Restore();

        var report = await client.SyncAsync(Ct);
        Assert.Equal(1, report.Parked);
        Assert.Equal(1, report.Applied);
        var parked = Assert.Single(client.Outbox.List(Outbox.Parked));
        Assert.Contains("does not exist", parked.LastError);
        Assert.Equal(doomed, parked.Operation.Video);
        // A later pass does not try it again until asked to.
        Assert.Equal(0, (await client.SyncAsync(Ct)).Applied);
    }

    [Fact]
    public async Task Sync_leaves_an_operation_a_live_process_is_applying_and_replays_it_once_that_process_is_gone()
    {
        var cloud = await TestCloud.CreateAsync();
        using var link = new CuttableLink(cloud.Endpoint);
        using var home = new TempDir();
        using var client = ManimCloudClient.Open(Through(link, cloud, home.Path));
        var id = (await client.CreateVideoAsync(ProjectId.Parse("owned"), "owned", null, null, Ct)).Value.Id;
        link.Cut();
        await client.PutCodeAsync(id, "# in flight elsewhere\n"u8.ToArray(), "me", null, Ct);
        link.Restore();

        // Another process (here: a sleeping one) holds the entry, as a CLI command does while it applies it.
        using var other = System.Diagnostics.Process.Start("sleep", "60")!;
        var owner = $"{other.Id}:{other.StartTime.ToUniversalTime().Ticks}";
        client.Catalog.InTransaction((c, tx) =>
        {
            using var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = "UPDATE outbox SET owner = $o";
            cmd.Parameters.AddWithValue("$o", owner);
            return cmd.ExecuteNonQuery();
        });
        var whileAlive = await client.SyncAsync(Ct);
        Assert.Equal(0, whileAlive.Applied);
        Assert.Equal(1, whileAlive.StillPending);

        other.Kill();
        other.WaitForExit();
        var afterDeath = await client.SyncAsync(Ct);
        Assert.Equal(1, afterDeath.Applied);
        using var readerHome = new TempDir();
        using var reader = ManimCloudClient.Open(cloud.Options(readerHome.Path));
        Assert.Single(await reader.CodeHistoryAsync(id, Ct));
    }
}
