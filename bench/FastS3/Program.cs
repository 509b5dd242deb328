using System.Net;
using FastS3;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

// FastS3: a loopback S3-compatible endpoint for the transfer benchmark (issue 3). moto tops out near 35 MB/s,
// which hides the differences between clients; this server streams to disk at memory speed.
//   FastS3 [--port N] [--root DIR] [--log] [--md5-etags] [--verify-sha256]
// Port 0 (the default) picks a free one. The first line on stdout is the endpoint URL.
// Part ETags are XxHash128 of the body unless --md5-etags (MD5 is the server's biggest cost, ~0.9 GB/s here); single
// PUTs keep MD5 ETags (AWSSDK .NET checks them on GET) unless SSE-KMS/SSE-C; a request with Content-MD5 always gets
// its MD5 computed and checked. --verify-sha256 checks a hex x-amz-content-sha256.
var port = 0;
string? root = null;
var log = false;
var options = new ServerOptions();
const string usage = "Usage: FastS3 [--port N] [--root DIR] [--log] [--md5-etags] [--verify-sha256]";
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--port": port = int.Parse(args[++i]); break;
        case "--root": root = args[++i]; break;
        case "--log": log = true; break;
        case "--md5-etags": options = options with { Md5ETags = true }; break;
        case "--verify-sha256": options = options with { VerifySha256 = true }; break;
        default:
            Console.Error.WriteLine($"Unknown argument '{args[i]}'. {usage}");
            return 2;
    }
}
var temporary = root is null;
root ??= Path.Combine(Path.GetTempPath(), "fasts3-" + Guid.NewGuid().ToString("N")[..8]);
Directory.CreateDirectory(root);

var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(k =>
{
    k.Listen(IPAddress.Loopback, port);
    k.AddServerHeader = false;
    k.Limits.MaxRequestBodySize = null;
    k.Limits.MinRequestBodyDataRate = null;
    k.Limits.MinResponseDataRate = null;
    k.Limits.MaxRequestHeadersTotalSize = 64 * 1024;
});
var app = builder.Build();
var api = new S3Api(new Storage(root), options);
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
Console.Error.WriteLine($"FastS3 serving {address}, storing under {root}; part ETags {(options.Md5ETags ? "MD5" : "XxHash128")}");
await app.WaitForShutdownAsync();
if (temporary) Directory.Delete(root, recursive: true);
return 0;
