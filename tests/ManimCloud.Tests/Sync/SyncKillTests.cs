using System.Text;
using ManimCloud.Domain;
using ManimCloud.Storage;
using ManimCloud.Sync;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Sync;

/// <summary>Issue 4: kill -9 of `sync` at random instants, repeated, then a final sync — no operation lost, none applied twice.</summary>
public class SyncKillTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public async Task Killing_sync_repeatedly_then_syncing_applies_every_operation_exactly_once()
    {
        var cloud = await TestCloud.CreateAsync();
        using var link = new CuttableLink(cloud.Endpoint);
        using var home = new TempDir();
        var expected = new Dictionary<VideoId, List<string>>();
        var clips = new Dictionary<VideoId, byte[]>();
        await new Rendering.TestRenderer().RenderClipAsync(home.File("clip.mp4"), 3, 0.4, Ct);
        using (var client = ManimCloudClient.Open(cloud.Options(home.Path) with { EndpointUrl = link.Endpoint, RetryBudget = TimeSpan.FromSeconds(1) }))
        {
            link.Cut();
            for (var v = 0; v < 3; v++)
            {
                var id = (await client.CreateVideoAsync(ProjectId.Parse("kill-sync"), $"video {v}", null, null, Ct)).Value.Id;
                expected[id] = [];
                for (var i = 0; i < 8; i++)
                {
                    var text = $"# video {v} version {i}\n";
                    expected[id].Add(text);
                    await client.PutCodeAsync(id, Encoding.UTF8.GetBytes(text), "me", null, Ct);
                }
                await client.PutMediaAsync(id, MediaSlot.ForScene(1), home.File("clip.mp4"), Ct);
                clips[id] = await File.ReadAllBytesAsync(home.File("clip.mp4"));
            }
            Assert.Equal(3 * 10, client.Outbox.List(Outbox.Pending).Count);
        }
        link.Restore();

        var env = cloud.Environment(home.Path);
        env["AWS_ENDPOINT_URL"] = link.Endpoint;
        var random = new Random(42);
        for (var round = 0; round < 6; round++)
        {
            var run = CliRunner.Start(env, "sync", "--json");
            await Task.Delay(random.Next(300, 1500));
            if (!run.Process.HasExited) run.Process.Kill(entireProcessTree: true);
            run.Process.WaitForExit();
        }
        var final = CliRunner.Run(env, "sync", "--json");
        Assert.True(final.ExitCode == 0, final.Stdout + final.Stderr);
        Assert.Equal(0, (int)CliRunner.Run(env, "status", "--json").Json["pending"]!);

        using var readerHome = new TempDir();
        using var reader = ManimCloudClient.Open(cloud.Options(readerHome.Path));
        foreach (var (id, texts) in expected)
        {
            var history = await reader.CodeHistoryAsync(id, Ct);
            // Each operation applied exactly once, in the order it was made.
            Assert.Equal(Enumerable.Range(1, 8), history.Select(h => h.Version));
            for (var i = 0; i < 8; i++)
                Assert.Equal(texts[i], Encoding.UTF8.GetString((await reader.GetCodeAsync(id, i + 1, Ct)).Content));
            await reader.GetMediaAsync(id, MediaSlot.ForScene(1), null, readerHome.File($"{id}.mp4"), Ct);
            Assert.Equal(clips[id], await File.ReadAllBytesAsync(readerHome.File($"{id}.mp4")));
            Assert.Equal(8, (await reader.GetVideoAsync(id, Ct)).CurrentVersion);
        }
    }
}
