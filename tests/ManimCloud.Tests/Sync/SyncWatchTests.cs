using System.Diagnostics;
using ManimCloud.Domain;
using ManimCloud.Sync;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Sync;

/// <summary>Issue 4: `sync --watch` (the hosted SyncService) keeps draining, backing off while AWS stays away.</summary>
public class SyncWatchTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public async Task A_watcher_started_while_offline_drains_the_queue_by_itself_when_the_link_returns()
    {
        var cloud = await TestCloud.CreateAsync();
        using var link = new CuttableLink(cloud.Endpoint);
        using var home = new TempDir();
        VideoId id;
        using (var client = ManimCloudClient.Open(cloud.Options(home.Path) with { EndpointUrl = link.Endpoint, RetryBudget = TimeSpan.FromSeconds(1) }))
        {
            id = (await client.CreateVideoAsync(ProjectId.Parse("watch"), "watched", null, null, Ct)).Value.Id;
            link.Cut();
            for (var i = 0; i < 3; i++) Assert.False((await client.PutCodeAsync(id, "# offline\n"u8.ToArray(), "me", null, Ct)).Synced);
        }

        var env = cloud.Environment(home.Path);
        env["AWS_ENDPOINT_URL"] = link.Endpoint;
        env["MANIMCLOUD_RETRY_SECONDS"] = "1";
        int Attempts() => CliRunner.Run(env, "status", "--json").Json["operations"]!.AsArray().Sum(o => (int)o!["attempts"]!);
        var before = Attempts(); // the put that found the link cut counts as one
        var watcher = CliRunner.Start(env, "sync", "--watch");
        try
        {
            // Wait until the watcher has tried and failed at least once while the link is cut.
            var cut = Stopwatch.StartNew();
            while (Attempts() == before)
            {
                if (watcher.Process.HasExited) Assert.Fail($"the watcher stopped: {watcher.Stderr.Result}");
                Assert.True(cut.Elapsed < TimeSpan.FromSeconds(60), "the watcher made no attempt within 60 s");
                await Task.Delay(300);
            }
            Assert.Equal(3, (int)CliRunner.Run(env, "status", "--json").Json["pending"]!);

            link.Restore();
            var clock = Stopwatch.StartNew();
            var pending = -1;
            while (clock.Elapsed < TimeSpan.FromSeconds(90))
            {
                pending = (int)CliRunner.Run(env, "status", "--json").Json["pending"]!;
                if (pending == 0) break;
                await Task.Delay(500);
            }
            Assert.Equal(0, pending);
        }
        finally
        {
            if (!watcher.Process.HasExited) watcher.Process.Kill(entireProcessTree: true);
            watcher.Process.WaitForExit();
        }
        var stderr = watcher.Stderr.Result;
        Assert.Contains("Cloud unreachable", stderr);   // it said why it was waiting
        Assert.Contains("Synced 3 operations", stderr);

        using var readerHome = new TempDir();
        using var reader = ManimCloudClient.Open(cloud.Options(readerHome.Path));
        Assert.Equal([1, 2, 3], (await reader.CodeHistoryAsync(id, Ct)).Select(v => v.Version));
    }
}
