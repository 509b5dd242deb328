using System.Text;
using System.Text.RegularExpressions;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Operations;

/// <summary>
/// SPEC R8 "never in logs": a full run in cloud mode, with credentials, a session token, an API key and a signing
/// key that are easy to spot, leaves none of them in anything it printed, logged, audited, shipped or saved.
/// </summary>
public sealed class SecretScanTests
{
    private const string AccessKey = "AKIAMANIMCLOUDSCAN01";
    private const string SecretKey = "mcScanSecret/Key+Never+Printed/0123456789";
    private const string SessionToken = "mcScanSessionToken//FQoGZXIvYXdzENr+never+logged";
    private const string ApiKey = "sk-mcscan-0123456789abcdefNEVERLOGGED";

    [Fact]
    public async Task No_secret_appears_in_any_output_log_audit_entry_or_shipped_object_of_a_full_run()
    {
        using var home = new TempDir();
        using var keys = new TempDir();
        var pem = keys.File("signing.pem");
        using (var rsa = System.Security.Cryptography.RSA.Create(2048)) File.WriteAllText(pem, rsa.ExportRSAPrivateKeyPem());
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(pem, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var keyBody = File.ReadAllLines(pem)[1]; // a line of the key itself

        var cloud = await TestCloud.CreateAsync(create: false);
        var env = cloud.Environment(home.Path);
        env["AWS_ACCESS_KEY_ID"] = AccessKey;
        env["AWS_SECRET_ACCESS_KEY"] = SecretKey;
        env["AWS_SESSION_TOKEN"] = SessionToken;
        env["OPENAI_API_KEY"] = ApiKey;
        env["MANIMCLOUD_CDN_PRIVATE_KEY"] = pem;
        env["MANIMCLOUD_CDN_KEY_PAIR_ID"] = "K2MCSCANTEST";

        var outputs = new StringBuilder();
        void Run(params string[] args)
        {
            foreach (var json in new[] { true, false })
            {
                var r = CliRunner.Run(env, json ? [.. args, "--json"] : args);
                outputs.Append(r.Stdout).Append(r.Stderr);
            }
        }
        Run("provision");
        Run("demo", "--scenes", "1");
        Run("status");
        Run("config", "validate");
        Run("doctor");
        Run("audit", "list");
        Run("audit", "ship");
        Run("audit", "verify");
        Run("cost", "estimate", "--duration", "1m");
        Run("video", "list", "--project", "demo");
        Run("code", "put", "/nonexistent/file.py", "--video", Guid.NewGuid().ToString()); // a failure's message too

        // Everything the tool wrote: the workspace (config, catalog with the audit trail, logs) and what it shipped.
        foreach (var file in Directory.EnumerateFiles(home.Path, "*", SearchOption.AllDirectories).Where(f => !f.Contains("/blobs/")))
            outputs.Append(Encoding.UTF8.GetString(File.ReadAllBytes(file)));
        var shipped = await AwsCli.JsonAsync("s3api", "list-objects-v2", "--bucket", cloud.CodeBucket, "--prefix", "audit/");
        Assert.NotEmpty(shipped["Contents"]!.AsArray());
        foreach (var o in shipped["Contents"]!.AsArray())
        {
            using var dir = new TempDir();
            await AwsCli.OkAsync("s3", "cp", $"s3://{cloud.CodeBucket}/{(string)o!["Key"]!}", dir.File("copy"));
            outputs.Append(File.ReadAllText(dir.File("copy")));
        }

        var all = outputs.ToString();
        Assert.Contains("demo", all); // the scan read real output
        foreach (var secret in new[] { AccessKey, SecretKey, SessionToken, ApiKey, keyBody, "PRIVATE KEY-----" })
            Assert.DoesNotContain(secret, all);
        Assert.DoesNotMatch(new Regex("AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}"), all);
    }
}
