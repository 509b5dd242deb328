using System.Diagnostics;
using Amazon.S3.Model;
using ManimCloud.Aws;
using ManimCloud.Domain;
using ManimCloud.Tests.Support;
using ManimCloud.Transfer;
using ManimCloud.Workspace;

namespace ManimCloud.Tests.Transfer;

public class UploadTests
{
    private const long MiB = 1 << 20;

    [Fact]
    public async Task Uploads_through_ten_to_twenty_percent_faults_arrive_byte_identical_and_download_back_verified()
    {
        await using var h = new TransferHarness(faultRate: 0.15);
        var engine = h.Engine();
        var files = new[] { (Size: 40 * MiB + 12345, Seed: 1), (Size: 56 * MiB, Seed: 2), (Size: 72 * MiB + 1, Seed: 3) }
            .Select(f => h.RandomFile($"clip{f.Seed}.bin", f.Size, f.Seed)).ToList();

        var uploads = await Task.WhenAll(files.Select((file, i) => engine.UploadFileAsync(h.Bucket, $"videos/p/v/scene_{i:D3}.mp4", file,
            new UploadOptions { PartSize = 6 * MiB, Concurrency = 4 }, null, CancellationToken.None)));

        for (var i = 0; i < files.Count; i++)
        {
            // No SHA-256 was given, so none is computed: the full-object CRC32 is the whole-object check.
            Assert.Null(uploads[i].Sha256);
            Assert.Equal(TransferHarness.Crc32(files[i]), uploads[i].Crc32);
            Assert.Equal(TransferHarness.Sha256(files[i]), await h.StoredSha256Async($"videos/p/v/scene_{i:D3}.mp4"));
            var back = Path.Combine(h.Folder, $"back{i}.bin");
            var download = await engine.DownloadFileAsync(h.Bucket, $"videos/p/v/scene_{i:D3}.mp4", null, back,
                new DownloadOptions { PartSize = 6 * MiB, Concurrency = 4 }, null, CancellationToken.None);
            Assert.Equal(uploads[i].Crc32, download.Crc32);
            Assert.Equal(TransferHarness.Sha256(files[i]), TransferHarness.Sha256(back));
        }
        Assert.Empty(await h.OpenUploadsAsync());
        Assert.Empty(h.Journal.List());
        // The faults really happened, of every kind, and the one pipeline retried them (not the SDK on its own).
        Assert.Contains(h.Retries, r => r.Kind == ErrorKind.Transient);
        Assert.Contains(h.Retries, r => r.Kind == ErrorKind.Throttled);
        Assert.True(h.Proxy.Injected(Fault.InternalError) > 0 && h.Proxy.Injected(Fault.SlowDown) > 0 && h.Proxy.Injected(Fault.Reset) > 0,
            $"500: {h.Proxy.Injected(Fault.InternalError)}, 503: {h.Proxy.Injected(Fault.SlowDown)}, resets: {h.Proxy.Injected(Fault.Reset)}");
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(1L)]
    [InlineData(5L << 20)]
    [InlineData((5L << 20) + 1)]
    public async Task Edge_sizes_go_up_and_come_back_identical(long size)
    {
        await using var h = new TransferHarness();
        var file = h.RandomFile("edge.bin", size, 5);
        var engine = h.Engine();

        var up = await engine.UploadFileAsync(h.Bucket, "videos/p/v/edge.mp4", file, new UploadOptions { PartSize = 5 * MiB }, null, CancellationToken.None);
        var back = Path.Combine(h.Folder, "edge.back");
        var down = await engine.DownloadFileAsync(h.Bucket, "videos/p/v/edge.mp4", null, back, new DownloadOptions { PartSize = 5 * MiB }, null, CancellationToken.None);

        Assert.Equal(size, new FileInfo(back).Length);
        Assert.Equal(TransferHarness.Crc32(file), up.Crc32);
        Assert.Equal(up.Crc32, down.Crc32);
        Assert.Equal(TransferHarness.Sha256(file), TransferHarness.Sha256(back));
    }

    [Fact]
    public async Task Throttling_lowers_concurrency_and_the_upload_still_completes()
    {
        await using var h = new TransferHarness();
        var throttled = 0;
        // The first eight part uploads are answered with 503 SlowDown.
        h.Proxy.Rule = r => r.IsUploadPart && Interlocked.Increment(ref throttled) <= 8 ? Fault.SlowDown : null;
        var file = h.RandomFile("full.mp4", 48 * MiB, 7);
        var progress = new ProgressLog();

        var result = await h.Engine().UploadFileAsync(h.Bucket, "videos/p/v/full.mp4", file,
            new UploadOptions { PartSize = 5 * MiB, Concurrency = 8 }, progress, CancellationToken.None);

        Assert.Equal(TransferHarness.Sha256(file), await h.StoredSha256Async("videos/p/v/full.mp4"));
        Assert.Equal(TransferHarness.Crc32(file), result.Crc32);
        Assert.Contains(progress.Reports, p => p.Concurrency < 8);
        Assert.Contains(h.Retries, r => r.Kind == ErrorKind.Throttled);
        var last = progress.Reports[^1];
        Assert.Equal(48 * MiB, last.BytesDone);
        Assert.Equal(last.PartsTotal, last.PartsDone);
        Assert.True(progress.Reports.Any(p => p.BytesPerSecond > 0 && p.Eta is not null), "progress carries a rate and an ETA");
    }

    [Fact]
    public async Task Lost_answers_to_create_and_complete_leave_one_object_and_no_stray_upload()
    {
        await using var h = new TransferHarness();
        int creates = 0, completes = 0;
        // S3 creates the upload and completes it, but the first answer to each never arrives.
        h.Proxy.Rule = r => r.Method != "POST" ? null
            : r.Query("uploads") is not null ? (Interlocked.Increment(ref creates) == 1 ? Fault.LostResponse : null)
            : r.UploadId is not null ? (Interlocked.Increment(ref completes) == 1 ? Fault.LostResponse : null)
            : null;
        var file = h.RandomFile("scene.mp4", 12 * MiB, 13);

        var result = await h.Engine().UploadFileAsync(h.Bucket, "videos/p/v/scene_009.mp4", file,
            new UploadOptions { PartSize = 5 * MiB }, null, CancellationToken.None);

        Assert.Equal((2, 2), (creates, completes));
        Assert.Equal(TransferHarness.Sha256(file), await h.StoredSha256Async("videos/p/v/scene_009.mp4"));
        Assert.Equal(TransferHarness.Crc32(file), result.Crc32);
        Assert.Empty(await h.OpenUploadsAsync());
        Assert.Empty(h.Journal.List());
    }

    [Fact]
    public async Task Cancelled_upload_keeps_its_state_and_a_plain_rerun_sends_only_the_missing_parts()
    {
        await using var h = new TransferHarness();
        var file = h.RandomFile("scene.mp4", 40 * MiB, 11);
        var options = new UploadOptions { PartSize = 5 * MiB, Concurrency = 2 };
        await h.InterruptUploadAsync("videos/p/v/scene_001.mp4", file, options, afterParts: 3);

        var entry = Assert.Single(h.Journal.List());
        Assert.True(entry.PartsDone >= 3);
        var storedBefore = await h.StoredPartsAsync(entry.Key, entry.UploadId);
        Assert.Equal(8, entry.PartCount);

        var result = await h.Engine().UploadFileAsync(h.Bucket, "videos/p/v/scene_001.mp4", file, options, null, CancellationToken.None);

        Assert.Equal(entry.UploadId, result.ResumedUploadId);
        Assert.Equal(8, result.PartsSent + result.PartsResumed);
        Assert.Equal(storedBefore.Count, result.PartsResumed);
        // Every part S3 held before the rerun (journaled, or in flight at the cancel) went over the wire once only.
        Assert.All(storedBefore, n => Assert.Single(h.PartsSentThroughProxy(entry.UploadId), m => m == n));
        Assert.Equal(TransferHarness.Sha256(file), await h.StoredSha256Async("videos/p/v/scene_001.mp4"));
        Assert.Empty(await h.OpenUploadsAsync());
        Assert.Empty(h.Journal.List());
    }

    [Fact]
    public async Task A_file_changed_between_attempts_starts_over_and_the_old_upload_is_aborted()
    {
        await using var h = new TransferHarness();
        var file = h.RandomFile("scene.mp4", 30 * MiB, 21);
        var options = new UploadOptions { PartSize = 5 * MiB, Concurrency = 2 };
        await h.InterruptUploadAsync("videos/p/v/scene_002.mp4", file, options, afterParts: 2);
        Assert.Single(h.Journal.List());

        // The renderer wrote the clip again: same size, different bytes.
        using (var fs = new FileStream(file, FileMode.Open, FileAccess.Write)) { fs.Position = 1000; fs.Write("re-rendered"u8); }

        var result = await h.Engine().UploadFileAsync(h.Bucket, "videos/p/v/scene_002.mp4", file, options, null, CancellationToken.None);

        Assert.Null(result.ResumedUploadId);
        Assert.Equal(6, result.PartsSent);
        Assert.Equal(TransferHarness.Sha256(file), await h.StoredSha256Async("videos/p/v/scene_002.mp4"));
        Assert.Empty(await h.OpenUploadsAsync());
        Assert.Empty(h.Journal.List());
    }

    [Fact]
    public async Task A_rerun_with_different_object_metadata_starts_over_so_the_object_carries_the_new_metadata()
    {
        await using var h = new TransferHarness();
        var file = h.RandomFile("scene.mp4", 15 * MiB, 23);
        await h.InterruptUploadAsync("videos/p/v/scene_007.mp4", file,
            new UploadOptions { PartSize = 5 * MiB, Concurrency = 1, Metadata = new Dictionary<string, string> { ["author"] = "first" } }, afterParts: 1);

        var result = await h.Engine().UploadFileAsync(h.Bucket, "videos/p/v/scene_007.mp4", file,
            new UploadOptions { PartSize = 5 * MiB, Metadata = new Dictionary<string, string> { ["author"] = "second" } }, null, CancellationToken.None);

        Assert.Null(result.ResumedUploadId);
        Assert.Equal("second", (await h.Direct.GetObjectMetadataAsync(h.Bucket, "videos/p/v/scene_007.mp4")).Metadata["x-amz-meta-author"]);
        Assert.Empty(await h.OpenUploadsAsync());
    }

    [Fact]
    public async Task Abort_by_id_and_abort_all_leave_no_multipart_upload_behind()
    {
        await using var h = new TransferHarness();
        var file = h.RandomFile("scene.mp4", 20 * MiB, 31);
        await h.InterruptUploadAsync("videos/p/v/scene_003.mp4", file, new UploadOptions { PartSize = 5 * MiB, Concurrency = 1 }, afterParts: 1);
        var uploads = h.Uploads();
        var entry = Assert.Single(await uploads.ListAsync(CancellationToken.None));
        Assert.Single(await h.OpenUploadsAsync("videos/"));

        await uploads.AbortAsync(entry.Id, CancellationToken.None);

        Assert.Empty(await h.OpenUploadsAsync());
        Assert.Empty(await uploads.ListAsync(CancellationToken.None));

        // Uploads the journal never knew (a process died before journaling; another machine) are found in S3.
        await h.Direct.InitiateMultipartUploadAsync(h.Bucket, "videos/p/v/orphan.mp4");
        await h.Direct.InitiateMultipartUploadAsync(h.Bucket, "videos/p/w/orphan.mp4");
        await h.Direct.InitiateMultipartUploadAsync(h.Bucket, "code/p/v/elsewhere.py");
        var listed = await uploads.ListInBucketAsync(h.Bucket, "videos/", CancellationToken.None);
        Assert.Equal(2, listed.Count);
        Assert.All(listed, u => Assert.Null(u.JournalId));

        var summary = await uploads.AbortAllAsync(h.Bucket, "videos/", null, CancellationToken.None);

        Assert.Equal(new AbortSummary(0, 2), summary);
        Assert.Empty(await h.OpenUploadsAsync("videos/"));
        Assert.Single(await h.OpenUploadsAsync("code/"));
        await Assert.ThrowsAsync<ManimCloudException>(() => uploads.AbortAsync("nope", CancellationToken.None));
    }

    [Fact]
    public async Task A_missing_bucket_fails_fast_with_a_clear_message_without_spending_the_retry_budget()
    {
        await using var h = new TransferHarness(retryBudget: TimeSpan.FromSeconds(30));
        var file = h.RandomFile("scene.mp4", 6 * MiB, 41);
        var clock = Stopwatch.StartNew();

        var e = await Assert.ThrowsAsync<ManimCloudException>(() => h.Engine().UploadFileAsync("no-such-bucket-" + h.Bucket, "videos/p/v/full.mp4",
            file, new UploadOptions(), null, CancellationToken.None));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed} of a 30 s budget");
        Assert.Empty(h.Retries);
        Assert.Equal(ErrorKind.NotFound, e.Kind);
        Assert.Contains("no-such-bucket-" + h.Bucket, e.Message);
        Assert.Contains("NoSuchBucket", e.Message);
        Assert.Contains("provision", e.Hint);
        Assert.Empty(h.Journal.List());
    }

    [Theory]
    [InlineData(Fault.BadDigest, ErrorKind.ClientError, "BadDigest", "nothing writes the file")]
    [InlineData(Fault.AccessDenied, ErrorKind.Auth, "AccessDenied", "IAM policy")]
    public async Task A_part_refused_for_good_fails_fast_naming_the_object_and_keeps_the_upload_for_resuming(
        Fault refusal, ErrorKind kind, string code, string hint)
    {
        await using var h = new TransferHarness(retryBudget: TimeSpan.FromSeconds(30));
        h.Proxy.Rule = r => r.IsUploadPart && r.PartNumber == 2 ? refusal : null;
        var file = h.RandomFile("scene.mp4", 12 * MiB, 17);
        var clock = Stopwatch.StartNew();

        var e = await Assert.ThrowsAsync<ManimCloudException>(() => h.Engine().UploadFileAsync(h.Bucket, "videos/p/v/scene_008.mp4", file,
            new UploadOptions { PartSize = 5 * MiB, Concurrency = 1 }, null, CancellationToken.None));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed} of a 30 s budget");
        Assert.Empty(h.Retries);
        Assert.Equal(kind, e.Kind);
        Assert.Contains($"part 2/3 of s3://{h.Bucket}/videos/p/v/scene_008.mp4", e.Message);
        Assert.Contains(code, e.Message);
        Assert.Contains(hint, e.Hint);
        // Part 1 is journaled and stays in S3: fixing the cause and running again sends parts 2 and 3 only.
        Assert.Equal(1, Assert.Single(h.Journal.List()).PartsDone);
        h.Proxy.Rule = null;
        var result = await h.Engine().UploadFileAsync(h.Bucket, "videos/p/v/scene_008.mp4", file,
            new UploadOptions { PartSize = 5 * MiB }, null, CancellationToken.None);
        Assert.Equal((2, 1), (result.PartsSent, result.PartsResumed));
        Assert.Equal(TransferHarness.Sha256(file), await h.StoredSha256Async("videos/p/v/scene_008.mp4"));
    }

    [Fact]
    public async Task When_required_mode_for_Ceph_like_stores_sends_no_flexible_checksums_and_signs_each_parts_SHA256()
    {
        await using var h = new TransferHarness(checksumMode: ChecksumMode.WhenRequired);
        var file = h.RandomFile("scene.mp4", 17 * MiB, 51);

        var result = await h.Engine().UploadFileAsync(h.Bucket, "videos/p/v/scene_004.mp4", file,
            new UploadOptions { PartSize = 5 * MiB, Concurrency = 3, ChecksumMode = ChecksumMode.WhenRequired }, null, CancellationToken.None);

        // No SHA-256 was given, and none is computed: the whole file's CRC32 is recorded instead, and downloads check it.
        Assert.Null(result.Sha256);
        var head = await h.S3.GetObjectMetadataAsync(h.Bucket, "videos/p/v/scene_004.mp4");
        Assert.Equal(Crc32Math.ToBase64(Crc32Math.Of(File.ReadAllBytes(file))), head.Metadata["x-amz-meta-crc32"]);
        var back = Path.Combine(h.Folder, "back.mp4");
        var download = await h.Engine().DownloadFileAsync(h.Bucket, "videos/p/v/scene_004.mp4", null, back,
            new DownloadOptions { PartSize = 3 * MiB }, null, CancellationToken.None);
        Assert.Equal(head.Metadata["x-amz-meta-crc32"], download.Crc32);
        Assert.Equal(TransferHarness.Sha256(file), TransferHarness.Sha256(back));
        var parts = h.Proxy.Forwarded.Where(r => r.IsUploadPart).ToList();
        Assert.Equal(4, parts.Count);
        Assert.All(parts, r =>
        {
            // Plain http: the part's SHA-256 is the signed payload hash, which the store verifies.
            Assert.Matches("^[0-9a-f]{64}$", Header(r, "x-amz-content-sha256"));
            Assert.DoesNotContain(r.Headers.Keys, k => k.StartsWith("x-amz-checksum-", StringComparison.OrdinalIgnoreCase));
        });
    }

    [Fact]
    public async Task Flexible_checksum_mode_sends_a_CRC32_per_part_with_a_signed_payload_hash_over_http()
    {
        await using var h = new TransferHarness();
        var file = h.RandomFile("scene.mp4", 11 * MiB, 61);

        await h.Engine().UploadFileAsync(h.Bucket, "videos/p/v/scene_005.mp4", file, new UploadOptions { PartSize = 5 * MiB }, null, CancellationToken.None);

        var parts = h.Proxy.Forwarded.Where(r => r.IsUploadPart).ToList();
        Assert.Equal(3, parts.Count);
        Assert.All(parts, r =>
        {
            Assert.Matches("^[A-Za-z0-9+/]{6}==$", Header(r, "x-amz-checksum-crc32"));
            Assert.Matches("^[0-9a-f]{64}$", Header(r, "x-amz-content-sha256"));
        });
        Assert.Equal(TransferHarness.Sha256(file), await h.StoredSha256Async("videos/p/v/scene_005.mp4"));
    }

    private static string Header(ProxiedRequest r, string name) =>
        r.Headers.FirstOrDefault(kv => string.Equals(kv.Key, name, StringComparison.OrdinalIgnoreCase)).Value ?? "";

    [Fact]
    public async Task A_download_whose_bytes_do_not_match_the_recorded_crc32_fails_and_leaves_no_file()
    {
        await using var h = new TransferHarness();
        // As a WhenRequired upload stores it: no flexible checksum, the whole file's CRC32 as metadata (here a wrong one).
        using var plain = new AwsClients(new ManimCloudOptions { Home = h.Folder, EndpointUrl = MotoServer.Endpoint, Region = "us-east-1",
            ChecksumMode = ChecksumMode.WhenRequired });
        var body = new string('x', 3_000_000);
        var wrong = Crc32Math.Of(System.Text.Encoding.ASCII.GetBytes(body)) ^ 1;
        await plain.S3.PutObjectAsync(new PutObjectRequest
        {
            BucketName = h.Bucket, Key = "videos/p/v/full.mp4", ContentBody = body, Metadata = { ["crc32"] = Crc32Math.ToBase64(wrong) },
        });
        var destination = Path.Combine(h.Folder, "out", "full.mp4");

        var e = await Assert.ThrowsAsync<ManimCloudException>(() => h.Engine().DownloadFileAsync(h.Bucket, "videos/p/v/full.mp4", null,
            destination, new DownloadOptions { PartSize = 1 << 20 }, null, CancellationToken.None));

        Assert.Equal(ErrorKind.Fatal, e.Kind);
        Assert.Contains("recorded CRC32", e.Message);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(destination)!));
    }

    [Fact]
    public async Task A_download_whose_bytes_do_not_match_the_recorded_sha256_fails_naming_the_object_and_leaves_no_file()
    {
        await using var h = new TransferHarness();
        // Stored without a flexible checksum, so the download falls back to the recorded SHA-256.
        using var plain = new AwsClients(new ManimCloudOptions { Home = h.Folder, EndpointUrl = MotoServer.Endpoint, Region = "us-east-1",
            ChecksumMode = ChecksumMode.WhenRequired });
        await plain.S3.PutObjectAsync(new PutObjectRequest
        {
            BucketName = h.Bucket, Key = "videos/p/v/full.mp4", ContentBody = new string('x', 3_000_000),
            Metadata = { ["sha256"] = new string('0', 64) },
        });
        var destination = Path.Combine(h.Folder, "out", "full.mp4");

        var e = await Assert.ThrowsAsync<ManimCloudException>(() => h.Engine().DownloadFileAsync(h.Bucket, "videos/p/v/full.mp4", null,
            destination, new DownloadOptions { PartSize = 1 << 20 }, null, CancellationToken.None));

        Assert.Equal(ErrorKind.Fatal, e.Kind);
        Assert.Contains($"s3://{h.Bucket}/videos/p/v/full.mp4", e.Message);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(destination)!));
    }
}

/// <summary>Reports on the calling thread, so a test can react at an exact point.</summary>
public sealed class SyncProgress(Action<TransferProgress> report) : IProgress<TransferProgress>
{
    public void Report(TransferProgress value) => report(value);
}
