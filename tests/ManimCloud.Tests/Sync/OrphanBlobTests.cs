using ManimCloud.Domain;
using ManimCloud.Storage;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Sync;

/// <summary>Issue 14: the bytes of a write the cloud refused do not stay in the workspace; what anything still needs stays.</summary>
public class OrphanBlobTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public async Task A_write_the_cloud_refuses_leaves_no_blob_unless_another_write_needs_the_same_bytes()
    {
        var cloud = await TestCloud.CreateAsync();
        using var home = new TempDir();
        var renderer = new Rendering.TestRenderer();
        await renderer.RenderClipAsync(home.File("shared.mp4"), 1, 0.4, Ct);
        await renderer.RenderClipAsync(home.File("alone.mp4"), 2, 0.4, Ct);
        var shared = (await ContentHash.OfFileAsync(home.File("shared.mp4"), Ct)).Sha256;
        var alone = (await ContentHash.OfFileAsync(home.File("alone.mp4"), Ct)).Sha256;

        var options = cloud.Options(home.File("ws"));
        VideoId id;
        using (var good = ManimCloudClient.Open(options))
        {
            id = (await good.CreateVideoAsync(ProjectId.Parse("orphans"), "orphans", null, null, Ct)).Value.Id;
            Assert.True((await good.PutMediaAsync(id, MediaSlot.ForScene(1), home.File("shared.mp4"), Ct)).Synced);
        }

        // The same workspace pointed at a video bucket that does not exist: S3 refuses for good, the write is withdrawn.
        using var refused = ManimCloudClient.Open(options with { VideoBucket = cloud.VideoBucket + "-gone" });
        var e = await Assert.ThrowsAnyAsync<ManimCloudException>(() => refused.PutMediaAsync(id, MediaSlot.ForScene(2), home.File("alone.mp4"), Ct));
        Assert.Contains("NoSuchBucket", e.Message + e.Hint);
        Assert.False(refused.Blobs.Contains(alone));
        Assert.False(File.Exists(refused.Blobs.PathOf(alone)));

        // Bytes that a stored clip of the same content also uses are kept.
        await Assert.ThrowsAnyAsync<ManimCloudException>(() => refused.PutMediaAsync(id, MediaSlot.ForScene(3), home.File("shared.mp4"), Ct));
        Assert.True(refused.Blobs.Contains(shared));
        Assert.Empty(refused.Outbox.List());
    }

    [Fact]
    public async Task The_sweep_removes_old_unreferenced_blobs_and_keeps_stored_and_queued_ones()
    {
        var cloud = await TestCloud.CreateAsync();
        using var link = new CuttableLink(cloud.Endpoint);
        using var home = new TempDir();
        using var client = ManimCloudClient.Open(cloud.Options(home.File("ws")) with { EndpointUrl = link.Endpoint, RetryBudget = TimeSpan.FromSeconds(1) });
        var id = (await client.CreateVideoAsync(ProjectId.Parse("orphans"), "sweep", null, null, Ct)).Value.Id;
        var renderer = new Rendering.TestRenderer();
        await renderer.RenderClipAsync(home.File("stored.mp4"), 1, 0.4, Ct);
        await renderer.RenderClipAsync(home.File("queued.mp4"), 2, 0.4, Ct);
        var stored = (await client.PutMediaAsync(id, MediaSlot.ForScene(1), home.File("stored.mp4"), Ct)).Value.Sha256;
        link.Cut();
        var queued = await client.PutMediaAsync(id, MediaSlot.ForScene(2), home.File("queued.mp4"), Ct);
        Assert.False(queued.Synced);

        // A blob nothing refers to: what a crash between storing the bytes and recording the write leaves.
        var (orphan, size) = await client.Blobs.AddAsync(new MemoryStream("left behind"u8.ToArray()), null, Ct);
        client.Cache.Touch(orphan, size, synced: false);

        var report = client.Cache.CollectOrphans(TimeSpan.Zero);
        Assert.Equal(1, report.Evicted);
        Assert.False(client.Blobs.Contains(orphan));
        Assert.True(client.Blobs.Contains(stored));
        Assert.True(client.Blobs.Contains(queued.Value.Sha256));

        // A young orphan is left to the writer that may still be at work.
        var (young, youngSize) = await client.Blobs.AddAsync(new MemoryStream("still being written"u8.ToArray()), null, Ct);
        client.Cache.Touch(young, youngSize, synced: false);
        Assert.Equal(0, client.Cache.CollectOrphans(TimeSpan.FromHours(1)).Evicted);
        Assert.True(client.Blobs.Contains(young));

        link.Restore();
        await client.SyncAsync(Ct);
        await client.GetMediaAsync(id, MediaSlot.ForScene(2), null, home.File("back.mp4"), Ct);
        Assert.Equal(await File.ReadAllBytesAsync(home.File("queued.mp4")), await File.ReadAllBytesAsync(home.File("back.mp4")));
    }
}
