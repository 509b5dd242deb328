using System.Text.Json.Nodes;
using ManimCloud.Rendering;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Streaming;

/// <summary>
/// Renditions in cloud mode on the suite's moto: published through the outbox to S3 with the content types and
/// Cache-Control players and CDNs need (read back by the AWS CLI, an independent client), recorded in DynamoDB; made
/// offline, they wait in the outbox and reach S3 with `sync`.
/// </summary>
public sealed class CloudTranscodeTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    private static JsonNode Head(TestCloud cloud, string key)
    {
        var r = AwsCli.Run("s3api", "head-object", "--bucket", cloud.VideoBucket, "--key", key);
        Assert.True(r.ExitCode == 0, $"{key}: {r.Stderr}");
        return JsonNode.Parse(r.Stdout)!;
    }

    private static async Task<string> PutScenesAsync(Dictionary<string, string> env, TempDir dir, string project)
    {
        var id = (string)CliRunner.Run(env, "video", "create", "--project", project, "--title", "cloud", "--json").Json["video_id"]!;
        var render = new TestRenderer();
        for (var s = 1; s <= 2; s++)
        {
            var clip = dir.File($"s{s}.mp4");
            await render.RenderClipAsync(clip, s, 1.0 + s / 2.0, Ct, "426x240", 30, audio: s == 1);
            var put = CliRunner.Run(env, "video", "put", clip, "--video", id, "--scene", s.ToString());
            Assert.True(put.ExitCode == 0, put.Stderr);
        }
        return id;
    }

    [Fact]
    public async Task Renditions_reach_S3_with_their_content_types_and_cache_headers_and_the_record_reaches_DynamoDB()
    {
        var cloud = await TestCloud.CreateAsync();
        using var home = new TempDir();
        using var dir = new TempDir();
        var env = cloud.Environment(home.Path);
        var id = await PutScenesAsync(env, dir, "cloud-a");

        var run = CliRunner.Run(env, "video", "transcode", id, "--engine", "local", "--wait", "--json");
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.True((bool)run.Json["synced"]!, run.Stdout);
        var set = run.Json["renditions"]!;
        var master = (string)set["hls_master_key"]!;
        var mpd = (string)set["dash_manifest_key"]!;

        var m = Head(cloud, master);
        Assert.Equal("application/vnd.apple.mpegurl", (string)m["ContentType"]!);
        Assert.Equal("public, max-age=10", (string)m["CacheControl"]!);
        Assert.Equal("application/dash+xml", (string)Head(cloud, mpd)["ContentType"]!);
        var folder = (string)set["scenes"]![0]!["folder_key"]!;
        var segment = Head(cloud, $"{folder}240p/seg_00001.m4s");
        Assert.Equal("video/iso.segment", (string)segment["ContentType"]!);
        Assert.Equal("public, max-age=31536000, immutable", (string)segment["CacheControl"]!);
        Assert.Equal("video/mp4", (string)Head(cloud, $"{folder}240p/init.mp4")["ContentType"]!);
        var poster = Head(cloud, (string)set["poster_key"]!);
        Assert.Equal("image/jpeg", (string)poster["ContentType"]!);
        Assert.Equal("public, max-age=31536000, immutable", (string)poster["CacheControl"]!);
        Assert.StartsWith("text/vtt", (string)Head(cloud, (string)set["storyboard_keys"]![0]!)["ContentType"]!);

        // The master playlist S3 holds is the one the workspace made, byte for byte.
        var get = AwsCli.Run("s3", "cp", $"s3://{cloud.VideoBucket}/{master}", dir.File("master.m3u8"));
        Assert.True(get.ExitCode == 0, get.Stderr);
        Assert.StartsWith("#EXTM3U", await File.ReadAllTextAsync(dir.File("master.m3u8")));
        Assert.Equal((string)set["manifests"]![master]!, Storage.ContentHash.Sha256Hex(await File.ReadAllBytesAsync(dir.File("master.m3u8"))));

        // Another machine (a fresh workspace on the same cloud) sees the set from DynamoDB.
        using var other = new TempDir();
        var seen = CliRunner.Run(cloud.Environment(other.Path), "video", "renditions", id, "--version", "1", "--json");
        Assert.True(seen.ExitCode == 0, seen.Stderr);
        Assert.Equal("ready", (string)seen.Json["status"]!);
        Assert.Equal(master, (string)seen.Json["renditions"]![0]!["hls_master_key"]!);
    }

    [Fact]
    public async Task A_transcode_made_while_the_cloud_is_away_is_queued_and_sync_publishes_it()
    {
        var cloud = await TestCloud.CreateAsync();
        using var home = new TempDir();
        using var dir = new TempDir();
        var env = cloud.Environment(home.Path);
        var id = await PutScenesAsync(env, dir, "cloud-b");

        var away = new Dictionary<string, string>(env) { ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9", ["MANIMCLOUD_RETRY_SECONDS"] = "1" };
        var run = CliRunner.Run(away, "video", "transcode", id, "--json");
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.False((bool)run.Json["synced"]!);
        var master = (string)run.Json["renditions"]!["hls_master_key"]!;
        Assert.NotEqual(0, AwsCli.Run("s3api", "head-object", "--bucket", cloud.VideoBucket, "--key", master).ExitCode);

        var sync = CliRunner.Run(env, "sync", "--json");
        Assert.True(sync.ExitCode == 0, sync.Stderr);
        Assert.Equal("application/vnd.apple.mpegurl", (string)Head(cloud, master)["ContentType"]!);
        var seen = CliRunner.Run(env, "video", "renditions", id, "--json");
        Assert.Equal("ready", (string)seen.Json["status"]!);
        Assert.Single(seen.Json["renditions"]!.AsArray());
    }
}
