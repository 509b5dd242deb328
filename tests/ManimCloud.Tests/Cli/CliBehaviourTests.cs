using Amazon.KeyManagementService;
using Amazon.KeyManagementService.Model;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Cli;

public class CliBehaviourTests
{
    [Fact]
    public void The_demo_runs_on_the_embedded_default_and_verifies_every_byte()
    {
        using var home = new TempDir();
        var r = CliRunner.Run(CliRunner.LocalEnv(home.Path), "demo", "--scenes", "2", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("local", (string)r.Json["mode"]!);
        var verified = r.Json["verified"]!.AsArray();
        // Per version: 2 clips, the full video, the HLS master and the DASH MPD; and the code versions.
        Assert.Equal(2 * 5 + 1, verified.Count);
        Assert.All(verified, v => Assert.True((bool)v!["equal"]!));
        // A prompt, then an edit of one scene: the edit renders and encodes that scene only.
        var runs = r.Json["runs"]!.AsArray();
        Assert.Equal(["estimate", "create", "code", "reuse", "render", "upload", "transcode", "publish"], runs[0]!["steps"]!.AsArray().Select(s => (string)s!["step"]!));
        var editLadder = runs[1]!["steps"]!.AsArray().Single(s => (string)s!["step"]! == "transcode")!["details"]!;
        Assert.Equal(1, (int)editLadder["scenes_encoded"]!);
        Assert.Equal(1, (int)editLadder["scenes_reused"]!);
        var v1 = (string)r.Json["player"]!["v1"]!;
        Assert.Contains("/watch/", v1);
        Assert.Contains("Signature=", v1);
        Assert.Contains("v=2&", (string)r.Json["player"]!["v2"]!);
        Assert.Equal(2, (int)r.Json["video"]!["current_version"]!);
        Assert.Equal("ready", (string)r.Json["video"]!["status"]!); // the demo ends with a published ladder
        Assert.Equal(["720p", "480p"], r.Json["renditions"]!["rungs"]!.AsArray().Select(g => (string)g!["name"]!));
        Assert.Contains("pipeline run:", r.Stderr); // progress goes to stderr, never into the JSON
    }

    [Fact]
    public void A_stale_update_through_the_CLI_is_refused_with_exit_code_4()
    {
        using var home = new TempDir();
        var env = CliRunner.LocalEnv(home.Path);
        var id = (string)CliRunner.Run(env, "video", "create", "--project", "occ", "--title", "first", "--json").Json["video_id"]!;
        var ok = CliRunner.Run(env, "video", "update", id, "--title", "second", "--if-revision", "1", "--json");
        Assert.True(ok.ExitCode == 0, ok.Stderr);
        Assert.Equal(2, (int)ok.Json["revision"]!);
        var stale = CliRunner.Run(env, "video", "update", id, "--title", "third", "--if-revision", "1", "--json");
        Assert.Equal(4, stale.ExitCode);
        Assert.Contains("revision 2, not 1", stale.Stderr);
        Assert.Equal("second", (string)CliRunner.Run(env, "video", "show", id, "--json").Json["title"]!);
    }

    [Fact]
    public void Video_list_pages_newest_first_with_a_continuation_token()
    {
        using var home = new TempDir();
        var env = CliRunner.LocalEnv(home.Path);
        var ids = Enumerable.Range(0, 5).Select(i =>
            (string)CliRunner.Run(env, "video", "create", "--project", "paged", "--title", $"v{i}", "--tag", "x", "--json").Json["video_id"]!).ToList();
        var page1 = CliRunner.Run(env, "video", "list", "--project", "paged", "--limit", "3", "--json").Json;
        var next = (string)page1["next"]!;
        var page2 = CliRunner.Run(env, "video", "list", "--project", "paged", "--limit", "3", "--next", next, "--json").Json;
        Assert.Null(page2["next"]);
        var listed = page1["videos"]!.AsArray().Concat(page2["videos"]!.AsArray()).Select(v => (string)v!["video_id"]!).ToList();
        Assert.Equal(Enumerable.Reverse(ids), listed);
    }

    [Fact]
    public async Task With_a_KMS_key_configured_objects_are_written_with_SSE_KMS()
    {
        var cloud = await TestCloud.CreateAsync();
        using var kms = new AmazonKeyManagementServiceClient(new AmazonKeyManagementServiceConfig { ServiceURL = MotoServer.Endpoint });
        var key = (await kms.CreateKeyAsync(new CreateKeyRequest { Description = "manimcloud test" })).KeyMetadata.Arn;
        using var home = new TempDir();
        var env = cloud.Environment(home.Path);
        env["MANIMCLOUD_KMS_KEY"] = key;
        var id = (string)CliRunner.Run(env, "video", "create", "--project", "kms", "--title", "t", "--json").Json["video_id"]!;
        File.WriteAllText(home.File("s.py"), "print('secret')\n");
        var put = CliRunner.Run(env, "code", "put", home.File("s.py"), "--video", id, "--json");
        Assert.True(put.ExitCode == 0, put.Stderr);
        var head = AwsCli.Json("s3api", "head-object", "--bucket", cloud.CodeBucket, "--key", (string)put.Json["key"]!);
        Assert.Equal("aws:kms", (string)head["ServerSideEncryption"]!);
        Assert.Equal(key, (string)head["SSEKMSKeyId"]!);
        var get = CliRunner.Run(env, "code", "get", "--video", id, "--json");
        Assert.Equal("print('secret')\n", (string)get.Json["content"]!);
    }

    [Fact]
    public void Help_names_every_command_of_the_contract()
    {
        using var home = new TempDir();
        var help = CliRunner.Run(CliRunner.LocalEnv(home.Path), "--help");
        foreach (var verb in new[] { "init", "doctor", "config", "video", "code", "sync", "status", "demo" })
            Assert.Contains(verb, help.Stdout);
        var video = CliRunner.Run(CliRunner.LocalEnv(home.Path), "video", "--help");
        foreach (var verb in new[] { "create", "put", "get", "show", "list", "update" }) Assert.Contains(verb, video.Stdout);
    }
}

public class DoctorTests
{
    [Fact]
    public async Task Doctor_names_a_missing_bucket_and_passes_when_everything_is_reachable()
    {
        var cloud = await TestCloud.CreateAsync();
        using var home = new TempDir();
        var env = cloud.Environment(home.Path);
        var healthy = CliRunner.Run(env, "doctor", "--json");
        Assert.True(healthy.ExitCode == 0, healthy.Stdout + healthy.Stderr);
        Assert.All(healthy.Json["checks"]!.AsArray().Where(c => (string)c!["name"]! is "video bucket" or "code bucket" or "metadata table"),
            c => Assert.True((bool)c!["ok"]!));

        env["MANIMCLOUD_CODE_BUCKET"] = cloud.CodeBucket + "-gone";
        var broken = CliRunner.Run(env, "doctor", "--json");
        Assert.Equal(1, broken.ExitCode);
        var code = broken.Json["checks"]!.AsArray().Single(c => (string)c!["name"]! == "code bucket")!;
        Assert.False((bool)code["ok"]!);
        Assert.Contains("NoSuchBucket", (string)code["detail"]!);
        Assert.Contains("provision", (string)code["detail"]!);
    }
}

public class ServiceEndpointTests
{
    [Fact]
    public async Task S3_and_DynamoDB_can_live_at_different_endpoints()
    {
        // As with Ceph RGW or MinIO for objects and DynamoDB elsewhere: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_DYNAMODB.
        var cloud = await TestCloud.CreateAsync();
        await using var s3Only = new Transfer.FaultProxy(cloud.Endpoint);
        using var home = new TempDir();
        var env = cloud.Environment(home.Path);
        env.Remove("AWS_ENDPOINT_URL");
        env["AWS_ENDPOINT_URL_S3"] = s3Only.Endpoint;
        env["AWS_ENDPOINT_URL_DYNAMODB"] = cloud.Endpoint;
        var demo = CliRunner.Run(env, "demo", "--scenes", "1", "--json");
        Assert.True(demo.ExitCode == 0, demo.Stderr);
        Assert.Equal("aws", (string)demo.Json["mode"]!);
        Assert.NotEmpty(s3Only.Forwarded);
        // DynamoDB requests are POSTs to "/" with an X-Amz-Target header; none went through the S3 endpoint.
        Assert.DoesNotContain(s3Only.Forwarded, r => r.Headers.Keys.Any(k => k.Equals("X-Amz-Target", StringComparison.OrdinalIgnoreCase)));
    }
}
