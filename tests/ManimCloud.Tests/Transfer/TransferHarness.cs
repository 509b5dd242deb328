using System.Diagnostics;
using Amazon.S3;
using Amazon.S3.Model;
using ManimCloud.Aws;
using ManimCloud.Local;
using ManimCloud.Resilience;
using ManimCloud.Storage;
using ManimCloud.Tests.Support;
using ManimCloud.Transfer;
using ManimCloud.Workspace;
using ChecksumMode = ManimCloud.Workspace.ChecksumMode;

namespace ManimCloud.Tests.Transfer;

/// <summary>
/// A workspace (catalog + upload journal), a fresh bucket on moto, and a fault proxy in front of moto. The engine
/// talks through the proxy; checks (listing uploads, reading back) talk to moto directly so faults never blur them.
/// </summary>
public sealed class TransferHarness : IAsyncDisposable
{
    public string Folder { get; } = Directory.CreateTempSubdirectory("manimcloud-transfer-").FullName;
    public string Bucket { get; } = Names.Unique("transfer");
    public FaultProxy Proxy { get; }
    public Catalog Catalog { get; }
    public UploadJournal Journal { get; }
    public RetryPipeline Retry { get; }
    public List<RetryEvent> Retries { get; } = [];
    private readonly AwsClients _direct;
    private readonly AwsClients _proxied;

    public TransferHarness(double faultRate = 0, ChecksumMode checksumMode = ChecksumMode.WhenSupported, TimeSpan? retryBudget = null)
    {
        var moto = MotoServer.Endpoint;
        Proxy = new FaultProxy(moto, faultRate);
        _direct = new AwsClients(new ManimCloudOptions { Home = Folder, EndpointUrl = moto, Region = "us-east-1" });
        _proxied = new AwsClients(new ManimCloudOptions { Home = Folder, EndpointUrl = Proxy.Endpoint, Region = "us-east-1", ChecksumMode = checksumMode });
        Catalog = new Catalog(Path.Combine(Folder, "catalog.db"));
        Journal = new UploadJournal(Catalog);
        Retry = new RetryPipeline(AwsErrors.Classify, retryBudget ?? TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(50),
            e => { lock (Retries) Retries.Add(e); });
        Direct.PutBucketAsync(Bucket).GetAwaiter().GetResult();
    }

    /// <summary>Talks to moto without faults.</summary>
    public IAmazonS3 Direct => _direct.S3;
    /// <summary>Talks through the fault proxy.</summary>
    public IAmazonS3 S3 => _proxied.S3;

    public TransferEngine Engine() => new(S3, Retry, Journal);
    public Uploads Uploads() => new(S3, Retry, Journal);

    /// <summary>Starts an upload and cancels it once <paramref name="afterParts"/> parts are stored, as Ctrl+C would.</summary>
    public async Task InterruptUploadAsync(string key, string file, UploadOptions options, int afterParts)
    {
        using var cts = new CancellationTokenSource();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Engine().UploadFileAsync(Bucket, key, file, options,
            new SyncProgress(p => { if (p.PartsDone >= afterParts) cts.Cancel(); }), cts.Token));
        // A part already handed to the proxy still reaches S3: let it land before anyone looks.
        await Proxy.WaitIdleAsync();
    }

    public string RandomFile(string name, long size, int seed)
    {
        var path = Path.Combine(Folder, name);
        var random = new Random(seed);
        var buffer = new byte[1 << 20];
        using var fs = File.Create(path);
        for (long left = size; left > 0; left -= buffer.Length)
        {
            random.NextBytes(buffer);
            fs.Write(buffer, 0, (int)Math.Min(buffer.Length, left));
        }
        return path;
    }

    public static string Sha256(string path) => ContentHash.OfFileAsync(path, CancellationToken.None).GetAwaiter().GetResult().Sha256;

    /// <summary>The file's CRC32 in S3's base64 form, computed in one pass (independently of the engine's part combination).</summary>
    public static string Crc32(string path)
    {
        var crc = new System.IO.Hashing.Crc32();
        using (var fs = File.OpenRead(path)) crc.Append(fs);
        return Convert.ToBase64String(crc.GetCurrentHash().Reverse().ToArray());
    }

    /// <summary>The object's bytes as moto holds them, hashed.</summary>
    public async Task<string> StoredSha256Async(string key)
    {
        using var response = await Direct.GetObjectAsync(Bucket, key);
        return await ContentHash.Sha256HexAsync(response.ResponseStream, CancellationToken.None);
    }

    public async Task<List<MultipartUpload>> OpenUploadsAsync(string prefix = "") =>
        (await Direct.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = Bucket, Prefix = prefix })).MultipartUploads ?? [];

    public async Task<List<int>> StoredPartsAsync(string key, string uploadId) =>
        ((await Direct.ListPartsAsync(new ListPartsRequest { BucketName = Bucket, Key = key, UploadId = uploadId })).Parts ?? [])
            .Select(p => p.PartNumber ?? 0).ToList();

    /// <summary>Part numbers of <paramref name="uploadId"/> that reached moto through the proxy.</summary>
    public List<int> PartsSentThroughProxy(string uploadId) =>
        Proxy.Forwarded.Where(r => r.IsUploadPart && r.UploadId == uploadId).Select(r => r.PartNumber).ToList();

    /// <summary>
    /// A real MP4 of about 190 MB (1080p test pattern). Made once and kept in the temp folder for later runs: it is
    /// a fixture, and making it costs seconds of CPU.
    /// </summary>
    public static string LargeVideo()
    {
        lock (VideoGate)
        {
            var path = Path.Combine(Path.GetTempPath(), "manimcloud-test-video-1080p30-40s.mp4");
            if (File.Exists(path) && new FileInfo(path).Length >= 150_000_000) return path;
            var made = $"{path}.{Environment.ProcessId}.mp4";
            var psi = new ProcessStartInfo("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30", "-t", "40",
                "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "40M", made]) { RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            var err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0) throw new InvalidOperationException($"ffmpeg failed ({p.ExitCode}): {err}");
            File.Move(made, path, overwrite: true);
            return path;
        }
    }

    private static readonly object VideoGate = new();

    public async ValueTask DisposeAsync()
    {
        await Proxy.DisposeAsync();
        _direct.Dispose();
        _proxied.Dispose();
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Collects progress reports synchronously (Progress&lt;T&gt; would post them to the thread pool, out of order).</summary>
public sealed class ProgressLog : IProgress<TransferProgress>
{
    public List<TransferProgress> Reports { get; } = [];
    public void Report(TransferProgress value) { lock (Reports) Reports.Add(value); }
}
