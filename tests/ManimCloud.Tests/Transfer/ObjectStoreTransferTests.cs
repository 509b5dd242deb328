using ManimCloud.Aws;
using ManimCloud.Storage;
using ManimCloud.Transfer;

namespace ManimCloud.Tests.Transfer;

public class ObjectStoreTransferTests
{
    private const long MiB = 1 << 20;

    [Fact]
    public async Task The_S3_store_sends_large_files_through_the_engine_and_reads_them_back_verified()
    {
        await using var h = new TransferHarness(faultRate: 0.1);
        var settings = new S3StoreSettings(null, UseStorageClasses: true, FlexibleChecksums: true)
        {
            MultipartThreshold = 8 * MiB, PartSize = 5 * MiB, Concurrency = 4,
        };
        var store = new S3ObjectStore(h.S3, h.Bucket, settings, h.Retry, h.Journal);
        var file = h.RandomFile("scene_001.mp4", 23 * MiB + 7, 71);
        var sha = TransferHarness.Sha256(file);
        var metadata = new Dictionary<string, string> { ["project"] = "p", ["video"] = "v", ["scene"] = "1", ["version"] = "1" };
        var progress = new ProgressLog();

        StoredObject stored;
        await using (var content = File.OpenRead(file))
            stored = await store.PutAsync(new ObjectWrite("videos/p/v/v1/scene_001.mp4", ObjectKind.SceneClip, "video/mp4", metadata, sha, content.Length),
                content, progress, CancellationToken.None);

        var head = await h.Direct.GetObjectMetadataAsync(h.Bucket, "videos/p/v/v1/scene_001.mp4");
        Assert.EndsWith("-5\"", head.ETag); // five parts: it went multipart
        Assert.Equal("INTELLIGENT_TIERING", head.StorageClass?.Value);
        Assert.Equal(sha, (await store.HeadAsync(stored.Key, CancellationToken.None))!.Sha256);
        Assert.Equal("p", head.Metadata["x-amz-meta-project"]);
        Assert.Equal(5, progress.Reports[^1].PartsDone);
        await using (var read = await store.OpenReadAsync(stored.Key, null, CancellationToken.None))
            Assert.Equal(sha, await ContentHash.Sha256HexAsync(read, CancellationToken.None));
        var back = Path.Combine(h.Folder, "back.mp4");
        var download = await store.GetFileAsync(stored.Key, null, back, null, CancellationToken.None);
        Assert.Equal(sha, download.Sha256);
        Assert.Equal(sha, TransferHarness.Sha256(back));
        Assert.Empty(await h.OpenUploadsAsync());
    }

    [Fact]
    public async Task A_file_whose_bytes_do_not_match_the_given_sha256_is_not_completed_in_when_required_mode()
    {
        // WhenRequired (no full-object CRC32) verifies a given SHA-256 while the parts go up; WhenSupported records it
        // as given (workspace blobs are content-addressed) and relies on the FULL_OBJECT CRC32 for the bytes.
        await using var h = new TransferHarness();
        var settings = new S3StoreSettings(null, UseStorageClasses: false, FlexibleChecksums: false) { MultipartThreshold = 5 * MiB, PartSize = 5 * MiB };
        var store = new S3ObjectStore(h.S3, h.Bucket, settings, h.Retry, h.Journal);
        var file = h.RandomFile("scene_002.mp4", 12 * MiB, 72);
        var wrong = new string('a', 64);

        await using var content = File.OpenRead(file);
        var e = await Assert.ThrowsAsync<Domain.ManimCloudException>(() => store.PutAsync(
            new ObjectWrite("videos/p/v/v1/scene_002.mp4", ObjectKind.SceneClip, "video/mp4", new Dictionary<string, string>(), wrong, content.Length),
            content, CancellationToken.None));

        Assert.Contains(wrong, e.Message);
        Assert.Null(await store.HeadAsync("videos/p/v/v1/scene_002.mp4", CancellationToken.None));
        Assert.Empty(await h.OpenUploadsAsync());
        Assert.Empty(h.Journal.List());
    }
}
