using Amazon.S3;
using TransferBench.Clients;
#if TRANSFER_ENGINE
using ManimCloud.Transfer;
#else
using ManimCloud.Aws;
using ManimCloud.Resilience;
using ManimCloud.Storage;
#endif

/// <summary>
/// The one place the benchmark calls ManimCloud's transfer code. With src/ManimCloud/Transfer/TransferEngine.cs
/// present (issue 3) it calls the engine; before that it measures S3ObjectStore, the upload path the engine
/// replaces, so the benchmark runs end to end on every branch.
/// </summary>
static class EngineCall
{
#if TRANSFER_ENGINE
    public const string Name = "TransferEngine";

    private static TransferEngine Engine(IAmazonS3 s3) => new(s3, new ManimCloud.Resilience.RetryPipeline(ManimCloud.Aws.AwsErrors.Classify));

    private static ManimCloud.Workspace.ChecksumMode Mode(ClientArgs a) =>
        a.WhenRequired ? ManimCloud.Workspace.ChecksumMode.WhenRequired : ManimCloud.Workspace.ChecksumMode.WhenSupported;

    public static Task UploadAsync(IAmazonS3 s3, ClientArgs a, CancellationToken ct) =>
        Engine(s3).UploadFileAsync(a.Bucket, a.Key, a.File, new UploadOptions { ChecksumMode = Mode(a), RequestEncryption = a.Sse }, null, ct);

    public static Task DownloadAsync(IAmazonS3 s3, ClientArgs a, CancellationToken ct) =>
        Engine(s3).DownloadFileAsync(a.Bucket, a.Key, null, a.File, new DownloadOptions(), null, ct);
#else
    public const string Name = "S3ObjectStore";

    private static S3ObjectStore Store(IAmazonS3 s3, ClientArgs a) =>
        new(s3, a.Bucket, new S3StoreSettings(null, false, FlexibleChecksums: !a.WhenRequired), new RetryPipeline(AwsErrors.Classify));

    public static async Task UploadAsync(IAmazonS3 s3, ClientArgs a, CancellationToken ct)
    {
        var (sha256, size) = await ContentHash.OfFileAsync(a.File, ct);
        await using var file = new FileStream(a.File, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous);
        await Store(s3, a).PutAsync(new ObjectWrite(a.Key, ObjectKind.FullVideo, "video/mp4", new Dictionary<string, string>(), sha256, size), file, ct);
    }

    public static async Task DownloadAsync(IAmazonS3 s3, ClientArgs a, CancellationToken ct)
    {
        // OpenReadAsync verifies the SHA-256 recorded at upload as the last byte passes.
        await using var body = await Store(s3, a).OpenReadAsync(a.Key, null, ct);
        await using var file = new FileStream(a.File, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20, FileOptions.Asynchronous);
        await body.CopyToAsync(file, 1 << 20, ct);
    }
#endif
}
