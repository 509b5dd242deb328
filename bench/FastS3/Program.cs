using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using FastS3;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

// FastS3: a loopback S3-compatible endpoint for the transfer benchmark (issue 3). moto tops out near 35 MB/s,
// which hides the differences between clients; this server streams to disk at memory speed.
//   FastS3 [--port N] [--root DIR] [--log] [--md5-etags] [--verify-sha256] [--tls [--ca-out FILE]] [--transport large-reads|kestrel] [--no-reuse]
// --no-reuse: unlink deleted objects' files instead of writing new objects over them (see Storage.NewDataPath).
// --transport: large-reads (default) receives up to 256 KiB per call (LargeReadTransport.cs); kestrel is Kestrel's
// own socket transport, which receives in 4 KiB blocks.
// Port 0 (the default) picks a free one. The first line on stdout is the endpoint URL.
// --tls serves HTTPS with a self-signed certificate for 127.0.0.1/localhost made at start; its PEM goes to FILE
// (default ROOT/fasts3-ca.pem) and the second line on stdout is that path. Clients trust it through
// SSL_CERT_FILE (.NET and OpenSSL on Linux) or AWS_CA_BUNDLE (AWS CLI).
// Part ETags are XxHash128 of the body unless --md5-etags (MD5 is the server's biggest cost, ~0.9 GB/s here); single
// PUTs keep MD5 ETags (AWSSDK .NET checks them on GET) unless SSE-KMS/SSE-C; a request with Content-MD5 always gets
// its MD5 computed and checked. --verify-sha256 checks a hex x-amz-content-sha256.
var port = 0;
string? root = null;
var log = false;
var options = new ServerOptions();
var tls = false;
long keepFree = 8L << 30;
var largeReads = true;
string? caOut = null;
const string usage = "Usage: FastS3 [--port N] [--root DIR] [--log] [--md5-etags] [--verify-sha256] [--tls [--ca-out FILE]] [--transport large-reads|kestrel] [--no-reuse]";
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--port": port = int.Parse(args[++i]); break;
        case "--root": root = args[++i]; break;
        case "--log": log = true; break;
        case "--md5-etags": options = options with { Md5ETags = true }; break;
        case "--verify-sha256": options = options with { VerifySha256 = true }; break;
        case "--tls": tls = true; break;
        case "--no-reuse": keepFree = 0; break;
        case "--ca-out": caOut = args[++i]; break;
        case "--transport": largeReads = args[++i] switch { "kestrel" => false, "large-reads" => true, var t => throw new ArgumentException($"--transport {t}: kestrel or large-reads") }; break;
        default:
            Console.Error.WriteLine($"Unknown argument '{args[i]}'. {usage}");
            return 2;
    }
}
var temporary = root is null;
root ??= Path.Combine(Path.GetTempPath(), "fasts3-" + Guid.NewGuid().ToString("N")[..8]);
Directory.CreateDirectory(root);
X509Certificate2? certificate = null;
if (tls)
{
    certificate = SelfSigned.Create();
    caOut = Path.GetFullPath(caOut ?? Path.Combine(root, "fasts3-ca.pem"));
    File.WriteAllText(caOut, certificate.ExportCertificatePem() + "\n");
}

var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
if (largeReads)
    builder.WebHost.ConfigureServices(services =>
    {
        foreach (var d in services.Where(d => d.ServiceType == typeof(Microsoft.AspNetCore.Connections.IConnectionListenerFactory)).ToList()) services.Remove(d);
        services.AddSingleton<Microsoft.AspNetCore.Connections.IConnectionListenerFactory, LargeReadTransportFactory>();
    });
builder.WebHost.ConfigureKestrel(k =>
{
    k.Listen(IPAddress.Loopback, port, listen =>
    {
        if (certificate is null) return;
        // HTTP/1.1 only, as over plain HTTP: the clients open parallel connections, not HTTP/2 streams.
        listen.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1;
        listen.UseHttps(certificate);
    });
    k.AddServerHeader = false;
    k.Limits.MaxRequestBodySize = null;
    k.Limits.MinRequestBodyDataRate = null;
    k.Limits.MinResponseDataRate = null;
    k.Limits.MaxRequestHeadersTotalSize = 64 * 1024;
});
var app = builder.Build();
var api = new S3Api(new Storage(root, keepFree), options);
if (log)
{
    // One line per request on stderr: what a client actually sends (methods, ranges, checksum headers).
    app.Use(async (ctx, next) =>
    {
        await next(ctx);
        var h = ctx.Request.Headers;
        Console.Error.WriteLine($"{ctx.Request.Method} {ctx.Request.Path}{ctx.Request.QueryString} {ctx.Response.StatusCode} " +
            $"range={h.Range} enc={h.ContentEncoding} trailer={h["x-amz-trailer"]} sdk-alg={h["x-amz-sdk-checksum-algorithm"]} mpu-alg={h["x-amz-checksum-algorithm"]} " +
            $"checksum-mode={h["x-amz-checksum-mode"]} checksum-type={h["x-amz-checksum-type"]} content-sha256={h["x-amz-content-sha256"]} " +
            $"md5={h["Content-MD5"]} if-none-match={h.IfNoneMatch} len={ctx.Request.ContentLength}");
    });
}
app.Run(api.HandleAsync);
await app.StartAsync();

var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
Console.WriteLine(address);
if (caOut is not null && tls) Console.WriteLine(caOut);
Console.Error.WriteLine($"FastS3 serving {address}, storing under {root}; part ETags {(options.Md5ETags ? "MD5" : "XxHash128")}" +
    (tls ? $"; TLS certificate (PEM) at {caOut} — trust it with SSL_CERT_FILE / AWS_CA_BUNDLE" : ""));
await app.WaitForShutdownAsync();
if (temporary) Directory.Delete(root, recursive: true);
return 0;

/// <summary>A self-signed certificate for the loopback endpoint, its own trust anchor (hence CA:true).</summary>
static class SelfSigned
{
    public static X509Certificate2 Create()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=FastS3 loopback", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build(critical: false));
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyCertSign, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false)); // serverAuth
        var ski = new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false);
        request.CertificateExtensions.Add(ski);
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromSubjectKeyIdentifier(ski));
        var now = DateTimeOffset.UtcNow;
        using var cert = request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(7));
        // Round-trip through PKCS#12 so the key is usable by the TLS stack on every platform.
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pkcs12), null);
    }
}
