using ManimCloud.Domain;
using ManimCloud.Storage;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Sync;

/// <summary>Issue 4: synced blobs are evicted LRU within MANIMCLOUD_CACHE_LIMIT; unsynced ones never; evicted ones come back equal.</summary>
public class CacheEvictionTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public async Task Eviction_keeps_the_cache_within_budget_never_drops_unsynced_blobs_and_refetches_evicted_ones()
    {
        var cloud = await TestCloud.CreateAsync();
        using var link = new CuttableLink(cloud.Endpoint);
        using var home = new TempDir();
        var renderer = new Rendering.TestRenderer();
        var clips = new List<(string Path, string Sha)>();
        for (var i = 1; i <= 6; i++)
        {
            var path = home.File($"clip{i}.mp4");
            await renderer.RenderClipAsync(path, i, 0.6, Ct);
            clips.Add((path, (await ContentHash.OfFileAsync(path, Ct)).Sha256));
        }
        // Room for the two most recent of the first four clips, not for all four.
        var limit = new FileInfo(clips[2].Path).Length + new FileInfo(clips[3].Path).Length + 1;
        using var client = ManimCloudClient.Open(cloud.Options(home.File("ws")) with
        {
            EndpointUrl = link.Endpoint, CacheLimitBytes = limit, RetryBudget = TimeSpan.FromSeconds(1),
        });
        var id = (await client.CreateVideoAsync(ProjectId.Parse("cache"), "cache", null, null, Ct)).Value.Id;

        for (var i = 0; i < 4; i++) Assert.True((await client.PutMediaAsync(id, MediaSlot.ForScene(i + 1), clips[i].Path, Ct)).Synced);
        Assert.True(client.Cache.CachedBytes() <= limit);
        Assert.False(client.Blobs.Contains(clips[0].Sha)); // least recently used went first
        Assert.True(client.Blobs.Contains(clips[3].Sha));

        // Offline: new clips are not in the cloud yet, so they stay even though the cache is over budget.
        link.Cut();
        Assert.False((await client.PutMediaAsync(id, MediaSlot.ForScene(5), clips[4].Path, Ct)).Synced);
        Assert.False((await client.PutMediaAsync(id, MediaSlot.ForScene(6), clips[5].Path, Ct)).Synced);
        client.Cache.Evict();
        Assert.True(client.Blobs.Contains(clips[4].Sha));
        Assert.True(client.Blobs.Contains(clips[5].Sha));

        // An evicted clip cannot be read while offline — the message says why and what to do.
        var offline = await Assert.ThrowsAnyAsync<ManimCloudException>(() => client.GetMediaAsync(id, MediaSlot.ForScene(1), null, home.File("x.mp4"), Ct));
        Assert.Contains("not in the workspace (evicted from the local cache) and the cloud is unreachable", offline.Message);
        Assert.False(File.Exists(home.File("x.mp4")));

        link.Restore();
        await client.SyncAsync(Ct);
        Assert.True(client.Cache.CachedBytes() <= limit);
        // Reading an evicted clip fetches it again, transparently and verified.
        await client.GetMediaAsync(id, MediaSlot.ForScene(1), null, home.File("back1.mp4"), Ct);
        Assert.Equal(await File.ReadAllBytesAsync(clips[0].Path), await File.ReadAllBytesAsync(home.File("back1.mp4")));
        Assert.True(client.Cache.CachedBytes() <= limit);
    }

    [Fact]
    public async Task In_local_only_mode_nothing_is_ever_evicted()
    {
        using var home = new TempDir();
        using var client = ManimCloudClient.Open(new Workspace.ManimCloudOptions { Home = home.Path, CacheLimitBytes = 1 });
        var id = (await client.CreateVideoAsync(ProjectId.Parse("cache"), "cache", null, null, Ct)).Value.Id;
        await new Rendering.TestRenderer().RenderClipAsync(home.File("c.mp4"), 1, 0.3, Ct);
        var m = (await client.PutMediaAsync(id, MediaSlot.ForScene(1), home.File("c.mp4"), Ct)).Value;
        Assert.Equal(0, client.Cache.Evict().Evicted);
        Assert.True(client.Blobs.Contains(m.Sha256));
    }
}
