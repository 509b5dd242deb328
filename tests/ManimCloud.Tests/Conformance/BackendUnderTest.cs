using ManimCloud.Aws;
using ManimCloud.Local;
using ManimCloud.Resilience;
using ManimCloud.Storage;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Conformance;

/// <summary>A backend for the conformance suite, with a way to damage stored bytes (to prove reads verify).</summary>
public interface IBackendUnderTest : IAsyncDisposable
{
    Backend Backend { get; }
    /// <summary>Replaces the stored bytes of <paramref name="key"/> in the code store, keeping its recorded SHA-256.</summary>
    Task TamperAsync(string key, byte[] replacement);
}

public sealed class LocalBackendUnderTest : IBackendUnderTest
{
    private readonly TempDir _dir = new();
    private readonly Catalog _catalog;
    private readonly BlobFolder _blobs;

    public LocalBackendUnderTest()
    {
        _catalog = new Catalog(_dir.File("catalog.db"));
        _blobs = new BlobFolder(_dir.File("blobs"));
        Backend = new Backend("workspace", new LocalObjectStore(_catalog, _blobs, "videos"), new LocalObjectStore(_catalog, _blobs, "code"),
            new SqliteMetadataStore(_catalog));
    }

    public Backend Backend { get; }

    public async Task TamperAsync(string key, byte[] replacement)
    {
        var head = await Backend.Code.HeadAsync(key, CancellationToken.None);
        await File.WriteAllBytesAsync(_blobs.PathOf(head!.Sha256!), replacement);
    }

    public ValueTask DisposeAsync() { _dir.Dispose(); return ValueTask.CompletedTask; }
}

public sealed class AwsBackendUnderTest : IBackendUnderTest
{
    private readonly TestCloud _cloud;
    private readonly AwsClients _clients;

    private AwsBackendUnderTest(TestCloud cloud)
    {
        _cloud = cloud;
        _clients = cloud.Clients();
        var retry = new RetryPipeline(AwsErrors.Classify, TimeSpan.FromSeconds(20));
        var settings = new S3StoreSettings(null, true, true);
        Backend = new Backend("aws", new S3ObjectStore(_clients.S3, cloud.VideoBucket, settings, retry),
            new S3ObjectStore(_clients.S3, cloud.CodeBucket, settings, retry),
            new DynamoMetadataStore(_clients.DynamoDB, cloud.Table, retry));
    }

    public static async Task<AwsBackendUnderTest> CreateAsync() => new(await TestCloud.CreateAsync());

    public Backend Backend { get; }

    public async Task TamperAsync(string key, byte[] replacement)
    {
        // Another tool overwrites the object but copies the old checksum metadata: only a verifying read can tell.
        var head = await Backend.Code.HeadAsync(key, CancellationToken.None);
        using var tmp = new TempDir();
        await File.WriteAllBytesAsync(tmp.File("x"), replacement);
        var (code, _, err) = AwsCli.Run("s3api", "put-object", "--bucket", _cloud.CodeBucket, "--key", key, "--body", tmp.File("x"),
            "--metadata", $"sha256={head!.Sha256}");
        if (code != 0) throw new InvalidOperationException(err);
    }

    public ValueTask DisposeAsync() { _clients.Dispose(); return ValueTask.CompletedTask; }
}
