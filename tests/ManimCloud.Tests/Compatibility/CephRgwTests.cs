using System.Text.Json.Nodes;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Compatibility;

/// <summary>
/// ManimCloud on Ceph RGW 16 (SPEC §4: S3-compatible stores are real targets), as a user of such a store meets it:
/// objects on the gateway, metadata on moto's DynamoDB, the CLI as shipped. RGW has no server-side encryption set up,
/// no Intelligent-Tiering, refuses every write while BlockPublicAcls is on, and refuses AWSSDK 4.x's flexible checksums.
/// </summary>
public sealed class CephRgwTests
{
    private static Dictionary<string, string> Environment(string home, string video, string code, string table) => new()
    {
        ["MANIMCLOUD_HOME"] = home, ["MANIMCLOUD_VIDEO_BUCKET"] = video, ["MANIMCLOUD_CODE_BUCKET"] = code, ["MANIMCLOUD_TABLE"] = table,
        ["AWS_ENDPOINT_URL_S3"] = CephRgw.EnsureUp(), ["AWS_ENDPOINT_URL_DYNAMODB"] = MotoServer.Endpoint, ["AWS_REGION"] = "us-east-1",
        ["AWS_ACCESS_KEY_ID"] = CephRgw.AccessKey, ["AWS_SECRET_ACCESS_KEY"] = CephRgw.SecretKey,
        // The settings docs/runbook.md gives for Ceph RGW.
        ["MANIMCLOUD_CHECKSUM_MODE"] = "when-required", ["MANIMCLOUD_REQUEST_ENCRYPTION"] = "off", ["MANIMCLOUD_STORAGE_CLASSES"] = "off",
    };

    [CephFact]
    public void Provision_then_the_demo_writes_and_reads_back_every_byte_on_Ceph_RGW()
    {
        using var dir = new TempDir();
        var env = Environment(dir.File("home"), Names.Unique("cv"), Names.Unique("cc"), Names.Unique("ct"));

        // Provision skips what the store lacks, says so, and does not fail.
        var provision = CliRunner.Run(env, "provision", "--json");
        Assert.True(provision.ExitCode == 0, provision.Stderr + provision.Stdout);
        var steps = provision.Json["steps"]!.AsArray().Select(s => s!.AsObject()).ToList();
        Assert.Equal(0, (int)provision.Json["blocked"]!);
        var unsupported = steps.Where(s => (string?)s["action"] == "unsupported").ToList();
        Assert.Contains(unsupported, s => (string?)s["setting"] == "encryption" && ((string?)s["note"])!.Contains("does not support default encryption"));
        Assert.Contains(unsupported, s => (string?)s["setting"] == "public_access_block" && ((string?)s["note"])!.Contains("BlockPublicAcls"));
        Assert.Equal(unsupported.Count, (int)provision.Json["unsupported"]!);
        Assert.DoesNotContain(steps, s => s["error"] is not null);

        // A second run changes nothing it could change the first time (the skipped ones are reported again).
        var again = CliRunner.Run(env, "provision", "--json");
        Assert.True(again.ExitCode == 0, again.Stderr + again.Stdout);
        Assert.All(again.Json["steps"]!.AsArray().Select(s => s!.AsObject()).Where(s => (string?)s["setting"] is "versioning" or "lifecycle" or "policy" or "object_lock"),
            s => Assert.Equal("unchanged", (string?)s["action"]));

        // The demo's writes and reads: code versions, clips, the full video, read back and compared.
        var demo = CliRunner.Run(env, "demo", "--project", "ceph-demo");
        Assert.True(demo.ExitCode == 0, demo.Stderr + demo.Stdout);
        Assert.Contains("all bytes equal", demo.Stdout + demo.Stderr);
        var status = CliRunner.Run(env, "status", "--json");
        Assert.Equal(0, (int)status.Json["pending"]!);

        // With encryption requested (the default), the first refused write names the cause and the fix.
        var withSse = new Dictionary<string, string>(env) { ["MANIMCLOUD_REQUEST_ENCRYPTION"] = "on" };
        var created = CliRunner.Run(withSse, "video", "create", "--project", "ceph-demo", "--title", "SSE", "--json");
        Assert.True(created.ExitCode == 0, created.Stderr);
        var code = dir.File("scene.py");
        File.WriteAllText(code, "from manim import *\n");
        var refused = CliRunner.Run(withSse, "code", "put", code, "--video", (string)created.Json["video_id"]!);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("refuses server-side encryption", refused.Stderr);
        Assert.Contains("MANIMCLOUD_REQUEST_ENCRYPTION=off", refused.Stderr);
    }
}
