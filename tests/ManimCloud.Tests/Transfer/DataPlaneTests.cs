using System.Diagnostics;
using System.IO.Hashing;
using Amazon.S3;
using ManimCloud.Aws;
using ManimCloud.Domain;
using ManimCloud.Storage;
using ManimCloud.Tests.Support;
using ManimCloud.Transfer;

namespace ManimCloud.Tests.Transfer;

/// <summary>The full-object CRC32 arithmetic and the lean S3 data plane (UploadPart / ranged GET on HttpClient + SigV4SigningHandler).</summary>
public class DataPlaneTests
{
    private const long MiB = 1 << 20;

    [Theory]
    [InlineData(new[] { 0 })]
    [InlineData(new[] { 0, 0, 0 })]
    [InlineData(new[] { 1 })]
    [InlineData(new[] { 1, 1, 1, 1 })]
    [InlineData(new[] { 0, 7, 0, 3 })]
    [InlineData(new[] { 5, 0, 64, 1, 4095, 4096, 4097 })]
    [InlineData(new[] { 1 << 20, 13, (1 << 20) + 1, 0 })]
    public void Combined_part_CRCs_equal_the_CRC32_of_the_concatenation(int[] lengths)
    {
        var random = new Random(lengths.Sum() + lengths.Length);
        var pieces = lengths.Select(n => { var b = new byte[n]; random.NextBytes(b); return b; }).ToList();
        var whole = pieces.SelectMany(p => p).ToArray();

        var combined = Crc32Math.Combine(pieces.Select(p => (Crc32Math.Of(p), (long)p.Length)));

        Assert.Equal(Crc32.HashToUInt32(whole), combined);
        Assert.Equal(Convert.ToBase64String(Crc32.Hash(whole).Reverse().ToArray()), Crc32Math.ToBase64(combined));
    }

    [Fact]
    public void Combine_handles_long_second_pieces_and_parses_only_plain_CRC32_values()
    {
        // crc(A ‖ zeros(n)) from crc(A), crc(zeros(n)) for a length with many bits set.
        var a = new byte[1000];
        new Random(3).NextBytes(a);
        var zeros = new byte[(5 << 20) + 12345];
        Assert.Equal(Crc32.HashToUInt32([.. a, .. zeros]), Crc32Math.Combine(Crc32Math.Of(a), Crc32Math.Of(zeros), zeros.Length));
        Assert.Equal(0x12345678u, Crc32Math.TryParse(Crc32Math.ToBase64(0x12345678), out var c) ? c : 0);
        Assert.False(Crc32Math.TryParse("YTJumg==-3", out _));
        Assert.False(Crc32Math.TryParse("AAAAAAAAAAA=", out _)); // 8 bytes: CRC64NVME, not CRC32
        Assert.False(Crc32Math.TryParse(null, out _));
    }

    [Fact]
    public async Task An_upload_through_the_lean_data_plane_is_read_back_by_the_AWS_CLI_with_our_full_object_CRC32()
    {
        await using var h = new TransferHarness();
        Assert.NotNull(HttpS3DataPlane.For(h.S3));
        var file = h.RandomFile("full.mp4", 23 * MiB + 4321, 81);
        const string key = "videos/p/v/v1/full.mp4";

        var result = await h.Engine().UploadFileAsync(h.Bucket, key, file, new UploadOptions { PartSize = 5 * MiB, Concurrency = 3 }, null, CancellationToken.None);

        Assert.Equal(TransferHarness.Crc32(file), result.Crc32);
        // The parts went out as plain HTTP requests with a signed SHA-256 and a CRC32 each (no SDK chunk signing).
        var parts = h.Proxy.Forwarded.Where(r => r.IsUploadPart).ToList();
        Assert.Equal(5, parts.Count);
        Assert.All(parts, r => Assert.DoesNotContain("STREAMING", r.Headers.GetValueOrDefault("x-amz-content-sha256") ?? "", StringComparison.Ordinal));
        // Signed with the SDK client's credentials and scope (key id, date, region, service).
        static string Scope(ProxiedRequest r) => System.Text.RegularExpressions.Regex.Match(
            r.Headers.First(kv => kv.Key.Equals("Authorization", StringComparison.OrdinalIgnoreCase)).Value, "Credential=([^,]+)").Groups[1].Value;
        var create = h.Proxy.Forwarded.First(r => r.Method == "POST" && r.Query("uploads") is not null);
        Assert.All(parts, r => Assert.Equal(Scope(create), Scope(r)));
        Assert.EndsWith("/s3/aws4_request", Scope(create));
        var head = await AwsCli.JsonAsync("s3api", "head-object", "--bucket", h.Bucket, "--key", key, "--checksum-mode", "ENABLED");
        Assert.Equal("FULL_OBJECT", (string)head["ChecksumType"]!);
        Assert.Equal(result.Crc32, (string)head["ChecksumCRC32"]!);
        Assert.Equal(new FileInfo(file).Length, (long)head["ContentLength"]!);
        var back = Path.Combine(h.Folder, "cli-back.mp4");
        var get = await AwsCli.RunAsync("s3api", "get-object", "--bucket", h.Bucket, "--key", key, back);
        Assert.True(get.ExitCode == 0, get.Stderr);
        Assert.Equal(TransferHarness.Sha256(file), TransferHarness.Sha256(back));
    }

    [Fact]
    public async Task Over_HTTPS_parts_go_unsigned_with_their_CRC32_and_the_object_is_whole()
    {
        // The production path: a TLS endpoint (a TLS-terminating proxy in front of moto, trusted by the child
        // process through SSL_CERT_FILE), where the lean data plane sends UNSIGNED-PAYLOAD and the part CRC32.
        await using var h = new TransferHarness();
        using var certificate = SelfSignedLoopbackCertificate();
        var pem = Path.Combine(h.Folder, "proxy-ca.pem");
        await File.WriteAllTextAsync(pem, certificate.ExportCertificatePem());
        await using var tls = new FaultProxy(MotoServer.Endpoint, tls: certificate);
        var file = h.RandomFile("tls.mp4", 12 * MiB + 777, 91);
        const string key = "videos/p/v/v1/tls.mp4";

        var probe = Path.Combine(AppContext.BaseDirectory, "ManimCloud.TransferProbe.dll");
        var host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
        var psi = new ProcessStartInfo(host, [probe, tls.Endpoint, Path.Combine(h.Folder, "tls-catalog.db"), h.Bucket, key, file, (5 * MiB).ToString(), "3"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            Environment = { ["SSL_CERT_FILE"] = pem },
        };
        using var child = Process.Start(psi)!;
        var stderr = child.StandardError.ReadToEndAsync();
        var stdout = await child.StandardOutput.ReadToEndAsync();
        await child.WaitForExitAsync();
        Assert.True(child.ExitCode == 0, $"{stdout}\n{await stderr}");

        var parts = tls.Forwarded.Where(r => r.IsUploadPart).ToList();
        Assert.Equal(3, parts.Count);
        Assert.All(parts, r =>
        {
            Assert.Equal("UNSIGNED-PAYLOAD", r.Headers.First(kv => kv.Key.Equals("x-amz-content-sha256", StringComparison.OrdinalIgnoreCase)).Value);
            Assert.Contains(r.Headers, kv => kv.Key.Equals("x-amz-checksum-crc32", StringComparison.OrdinalIgnoreCase));
            Assert.Contains(r.Headers, kv => kv.Key.Equals("Authorization", StringComparison.OrdinalIgnoreCase));
        });
        var head = await AwsCli.JsonAsync("s3api", "head-object", "--bucket", h.Bucket, "--key", key, "--checksum-mode", "ENABLED");
        Assert.Equal("FULL_OBJECT", (string)head["ChecksumType"]!);
        Assert.Equal(TransferHarness.Crc32(file), (string)head["ChecksumCRC32"]!);
        var back = Path.Combine(h.Folder, "tls-back.mp4");
        Assert.Equal(0, (await AwsCli.RunAsync("s3api", "get-object", "--bucket", h.Bucket, "--key", key, back)).ExitCode);
        Assert.Equal(TransferHarness.Sha256(file), TransferHarness.Sha256(back));
    }

    private static System.Security.Cryptography.X509Certificates.X509Certificate2 SelfSignedLoopbackCertificate()
    {
        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=127.0.0.1", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
        var names = new System.Security.Cryptography.X509Certificates.SubjectAlternativeNameBuilder();
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new System.Security.Cryptography.X509Certificates.X509BasicConstraintsExtension(true, false, 0, true));
        using var made = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        // Exported and loaded again so that SslStream on Linux can use the private key.
        return System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12(made.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pfx), null);
    }

    [Fact]
    public async Task MANIMCLOUD_DATA_PLANE_sdk_keeps_the_transfer_on_the_AWS_SDK_with_the_same_result()
    {
        await using var h = new TransferHarness();
        var options = ManimCloud.Workspace.ManimCloudOptions.Load(new Dictionary<string, string?>
        {
            ["MANIMCLOUD_HOME"] = h.Folder, ["MANIMCLOUD_DATA_PLANE"] = "sdk", ["AWS_ENDPOINT_URL"] = h.Proxy.Endpoint, ["AWS_REGION"] = "us-east-1",
        });
        Assert.False(options.LeanDataPlane);
        using var clients = new AwsClients(options);
        Assert.Null(HttpS3DataPlane.For(clients.S3));
        var file = h.RandomFile("sdk.mp4", 11 * MiB + 5, 17);

        var result = await new TransferEngine(clients.S3, h.Retry).UploadFileAsync(h.Bucket, "videos/p/v/v1/sdk.mp4", file,
            new UploadOptions { PartSize = 5 * MiB, Concurrency = 2 }, null, CancellationToken.None);

        Assert.Equal(TransferHarness.Crc32(file), result.Crc32);
        // The SDK's own requests (its invocation id header), not the lean plane's.
        Assert.All(h.Proxy.Forwarded.Where(r => r.IsUploadPart), r => Assert.Contains(r.Headers, kv => kv.Key.Equals("amz-sdk-invocation-id", StringComparison.OrdinalIgnoreCase)));
        var back = Path.Combine(h.Folder, "sdk-back.mp4");
        await new TransferEngine(clients.S3, h.Retry).DownloadFileAsync(h.Bucket, "videos/p/v/v1/sdk.mp4", null, back, new DownloadOptions(), null, CancellationToken.None);
        Assert.Equal(TransferHarness.Sha256(file), TransferHarness.Sha256(back));
    }

    [Fact]
    public async Task A_small_object_goes_up_in_one_PUT_signed_with_its_known_SHA256_and_reads_back_whole_with_the_AWS_CLI()
    {
        await using var h = new TransferHarness();
        var store = new S3ObjectStore(h.S3, h.Bucket, new S3StoreSettings(null, true, FlexibleChecksums: true), h.Retry);
        var bytes = System.Text.Encoding.UTF8.GetBytes("from manim import *\n# ✓ lean put\n");
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
        const string key = "code/p/v/v_v1.py";
        var write = new ObjectWrite(key, ObjectKind.Code, "text/x-python; charset=utf-8",
            new Dictionary<string, string> { ["project"] = "p", ["version"] = "1" }, sha, bytes.Length) { CreateOnly = true };

        await store.PutAsync(write, new MemoryStream(bytes), CancellationToken.None);

        var put = Assert.Single(h.Proxy.Forwarded, r => r.Method == "PUT" && r.Target.Contains(key));
        Assert.Equal(sha, put.Headers.First(kv => kv.Key.Equals("x-amz-content-sha256", StringComparison.OrdinalIgnoreCase)).Value);
        Assert.Equal("*", put.Headers.First(kv => kv.Key.Equals("If-None-Match", StringComparison.OrdinalIgnoreCase)).Value);
        var head = await AwsCli.JsonAsync("s3api", "head-object", "--bucket", h.Bucket, "--key", key, "--checksum-mode", "ENABLED");
        Assert.Equal("text/x-python; charset=utf-8", (string)head["ContentType"]!);
        Assert.Equal("AES256", (string)head["ServerSideEncryption"]!);
        Assert.Equal(Convert.ToBase64String(Convert.FromHexString(sha)), (string)head["ChecksumSHA256"]!);
        Assert.Equal(sha, (string)head["Metadata"]!["sha256"]!);
        Assert.Equal("p", (string)head["Metadata"]!["project"]!);
        var back = Path.Combine(h.Folder, "back.py");
        Assert.Equal(0, (await AwsCli.RunAsync("s3api", "get-object", "--bucket", h.Bucket, "--key", key, back)).ExitCode);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(back));

        // Create-only: a second write of the key is refused by the store, as a conflict, and the first stays.
        var again = await Assert.ThrowsAsync<ManimCloudException>(() => store.PutAsync(write, new MemoryStream(bytes), CancellationToken.None));
        Assert.Equal(ErrorKind.Conflict, again.Kind);
        Assert.Equal(sha, (await store.HeadAsync(key, CancellationToken.None))!.Sha256);
    }

    [Fact]
    public async Task A_download_whose_bytes_do_not_match_the_full_object_CRC32_fails_naming_the_object_and_leaves_no_file()
    {
        await using var h = new TransferHarness();
        var file = h.RandomFile("scene.mp4", 12 * MiB, 82);
        const string key = "videos/p/v/v1/scene_003.mp4";
        await h.Engine().UploadFileAsync(h.Bucket, key, file, new UploadOptions { PartSize = 5 * MiB }, null, CancellationToken.None);
        // The second range's body arrives with one byte flipped.
        var gets = 0;
        h.Proxy.Rule = r => r.Method == "GET" && r.Headers.Keys.Any(k => k.Equals("Range", StringComparison.OrdinalIgnoreCase))
            && Interlocked.Increment(ref gets) == 2 ? Fault.CorruptBody : null;
        var destination = Path.Combine(h.Folder, "out", "scene.mp4");

        var e = await Assert.ThrowsAsync<ManimCloudException>(() => h.Engine().DownloadFileAsync(h.Bucket, key, null, destination,
            new DownloadOptions { PartSize = 4 * MiB, Concurrency = 1 }, null, CancellationToken.None));

        Assert.Equal(ErrorKind.Fatal, e.Kind);
        Assert.Contains($"s3://{h.Bucket}/{key}", e.Message);
        Assert.Contains("CRC32", e.Message);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(destination)!));

        // Undamaged, the same download passes.
        h.Proxy.Rule = null;
        var ok = await h.Engine().DownloadFileAsync(h.Bucket, key, null, destination, new DownloadOptions { PartSize = 4 * MiB }, null, CancellationToken.None);
        Assert.Equal(TransferHarness.Crc32(file), ok.Crc32);
        Assert.Equal(TransferHarness.Sha256(file), TransferHarness.Sha256(destination));
    }

    [Fact]
    public async Task S3_errors_through_the_data_plane_are_the_SDK_exceptions_and_classify_the_same()
    {
        await using var h = new TransferHarness(retryBudget: TimeSpan.FromSeconds(30));
        var plane = HttpS3DataPlane.For(h.S3)!;
        var body = new byte[1024];

        // NoSuchUpload: 404 with S3's XML error (as S3 answers; moto answers 500 here, so the proxy plays S3), not retried.
        h.Proxy.Rule = r => r.IsUploadPart ? Fault.NoSuchUpload : null;
        var clock = Stopwatch.StartNew();
        var noUpload = await Assert.ThrowsAsync<ManimCloudException>(() => AwsCall.RunAsync(h.Retry, "Uploading part 1/1 of", "s3://x/y",
            t => plane.UploadPartAsync(new PartUpload(h.Bucket, "videos/p/v/x.mp4", "no-such-upload-id", 1, body, true,
                Crc32Math.ToBase64(Crc32Math.Of(body)), null, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(body))), t),
            CancellationToken.None));
        Assert.Equal(ErrorKind.NotFound, noUpload.Kind);
        var s3e = Assert.IsType<AmazonS3Exception>(noUpload.InnerException);
        Assert.Equal("NoSuchUpload", s3e.ErrorCode);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, s3e.StatusCode);
        Assert.False(string.IsNullOrEmpty(s3e.RequestId));
        Assert.Equal(Amazon.Runtime.ErrorType.Sender, s3e.ErrorType);
        h.Proxy.Rule = null;

        // NoSuchBucket on a ranged GET: fails fast too.
        var noBucket = await Assert.ThrowsAsync<ManimCloudException>(() => AwsCall.RunAsync(h.Retry, "Downloading part 1/1 of", "s3://x/y", async t =>
        {
            await plane.ReadRangeAsync(new RangeRead("no-such-bucket-" + h.Bucket, "k", null, null, 0, 10), new byte[10], (_, _) => { }, t);
            return true;
        }, CancellationToken.None));
        Assert.Equal(ErrorKind.NotFound, noBucket.Kind);
        Assert.Contains("NoSuchBucket", noBucket.Message);
        Assert.Contains("provision", noBucket.Hint);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.Empty(h.Retries);

        // 503 SlowDown on the first two parts: throttled, retried, and the upload completes.
        var slow = 0;
        h.Proxy.Rule = r => r.IsUploadPart && Interlocked.Increment(ref slow) <= 2 ? Fault.SlowDown : null;
        var file = h.RandomFile("scene.mp4", 11 * MiB, 83);
        var result = await h.Engine().UploadFileAsync(h.Bucket, "videos/p/v/v1/scene_004.mp4", file,
            new UploadOptions { PartSize = 5 * MiB }, null, CancellationToken.None);
        Assert.Equal(TransferHarness.Crc32(file), result.Crc32);
        Assert.Equal(2, h.Retries.Count(r => r.Kind == ErrorKind.Throttled));
    }
}
