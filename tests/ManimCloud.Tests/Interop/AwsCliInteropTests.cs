using System.Text;
using ManimCloud.Domain;
using ManimCloud.Storage;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Interop;

/// <summary>What ManimCloud writes, the AWS CLI reads; what the AWS CLI writes, ManimCloud reads.</summary>
public class AwsCliInteropTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public async Task The_AWS_CLI_reads_objects_and_records_written_by_ManimCloud()
    {
        var cloud = await TestCloud.CreateAsync();
        using var home = new TempDir();
        using var client = ManimCloudClient.Open(cloud.Options(home.Path));
        var video = (await client.CreateVideoAsync(ProjectId.Parse("interop"), "Interop ✓", "written by ManimCloud", ["a", "b"], Ct)).Value;
        var code = Encoding.UTF8.GetBytes("# ünïcödé comment\nclass Interop: pass\n");
        var version = (await client.PutCodeAsync(video.Id, code, "ada", null, Ct)).Value;
        await new Rendering.TestRenderer().RenderClipAsync(home.File("clip.mp4"), 2, 0.5, Ct);
        var media = (await client.PutMediaAsync(video.Id, MediaSlot.ForScene(2), home.File("clip.mp4"), Ct)).Value;

        // Code object: exact key, bytes, metadata and encryption, seen by another client.
        Assert.Equal($"code/interop/{video.Id}/{video.Id}_v1.py", version.Key);
        var (rc, _, err) = AwsCli.Run("s3api", "get-object", "--bucket", cloud.CodeBucket, "--key", version.Key, home.File("code-back.py"));
        Assert.True(rc == 0, err);
        Assert.Equal(code, await File.ReadAllBytesAsync(home.File("code-back.py")));
        var head = AwsCli.Json("s3api", "head-object", "--bucket", cloud.CodeBucket, "--key", version.Key);
        Assert.Equal("AES256", (string)head["ServerSideEncryption"]!);
        Assert.Equal("interop", (string)head["Metadata"]!["project"]!);
        Assert.Equal(video.Id.ToString(), (string)head["Metadata"]!["video"]!);
        Assert.Equal("1", (string)head["Metadata"]!["version"]!);
        Assert.Equal(ContentHash.Sha256Hex(code), (string)head["Metadata"]!["sha256"]!);

        // Clip: layout, storage class for clips, scene metadata.
        Assert.Equal($"videos/interop/{video.Id}/v1/scene_002.mp4", media.Key);
        var clipHead = AwsCli.Json("s3api", "head-object", "--bucket", cloud.VideoBucket, "--key", media.Key);
        Assert.Equal("2", (string)clipHead["Metadata"]!["scene"]!);
        Assert.Equal("INTELLIGENT_TIERING", (string)clipHead["StorageClass"]!);
        AwsCli.Run("s3api", "get-object", "--bucket", cloud.VideoBucket, "--key", media.Key, home.File("clip-back.mp4"));
        Assert.Equal(await File.ReadAllBytesAsync(home.File("clip.mp4")), await File.ReadAllBytesAsync(home.File("clip-back.mp4")));

        // Metadata: native attributes, readable field by field.
        var item = AwsCli.Json("dynamodb", "get-item", "--table-name", cloud.Table,
            "--key", $$$"""{"pk":{"S":"video#{{{video.Id}}}"},"sk":{"S":"meta"}}""")["Item"]!;
        Assert.Equal("Interop ✓", (string)item["title"]!["S"]!);
        Assert.Equal("code_ready", (string)item["status"]!["S"]!);
        Assert.Equal("1", (string)item["current_version"]!["N"]!);
        Assert.Equal(media.Key, (string)item["media"]!["M"]!["scene_002"]!["M"]!["key"]!["S"]!);
        var versionItem = AwsCli.Json("dynamodb", "get-item", "--table-name", cloud.Table,
            "--key", $$$"""{"pk":{"S":"video#{{{video.Id}}}"},"sk":{"S":"code#000001"}}""")["Item"]!;
        Assert.Equal("ada", (string)versionItem["author"]!["S"]!);
    }

    [Fact]
    public async Task ManimCloud_reads_records_and_objects_written_by_the_AWS_CLI()
    {
        var cloud = await TestCloud.CreateAsync();
        using var home = new TempDir();
        var id = Guid.NewGuid().ToString();
        var code = "# written by the AWS CLI\nclass FromCli: pass\n"u8.ToArray();
        await File.WriteAllBytesAsync(home.File("v1.py"), code);
        var sha = ContentHash.Sha256Hex(code);
        var key = $"code/cli-proj/{id}/{id}_v1.py";
        var put = AwsCli.Run("s3api", "put-object", "--bucket", cloud.CodeBucket, "--key", key, "--body", home.File("v1.py"),
            "--metadata", $"sha256={sha},project=cli-proj,video={id},version=1");
        Assert.True(put.ExitCode == 0, put.Stderr);
        var now = DateTimeOffset.UtcNow.ToString("O");
        var sortable = DateTimeOffset.UtcNow.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'");
        var video = $$$"""
            {"pk":{"S":"video#{{{id}}}"},"sk":{"S":"meta"},"gsi1pk":{"S":"cli-proj"},"gsi1sk":{"S":"{{{sortable}}}#{{{id}}}"},
             "kind":{"S":"video"},"video_id":{"S":"{{{id}}}"},"project_id":{"S":"cli-proj"},"title":{"S":"Made by the CLI"},
             "description":{"S":""},"tags":{"L":[{"S":"cli"}]},"status":{"S":"code_ready"},"created_at":{"S":"{{{now}}}"},
             "updated_at":{"S":"{{{now}}}"},"current_version":{"N":"1"},"code_paths":{"M":{"1":{"S":"{{{key}}}"} } },
             "media":{"M":{}},"renditions":{"L":[]},"stats":{"M":{}},"revision":{"N":"1"}}
            """;
        Assert.Equal(0, AwsCli.Run("dynamodb", "put-item", "--table-name", cloud.Table, "--item", video).ExitCode);
        var version = $$$"""
            {"pk":{"S":"video#{{{id}}}"},"sk":{"S":"code#000001"},"kind":{"S":"code_version"},"video_id":{"S":"{{{id}}}"},
             "version":{"N":"1"},"key":{"S":"{{{key}}}"},"size":{"N":"{{{code.Length}}}"},"sha256":{"S":"{{{sha}}}"},
             "created_at":{"S":"{{{now}}}"},"author":{"S":"cli"},"lock":{"S":"none"},"operation_id":{"S":"cli-1"}}
            """;
        Assert.Equal(0, AwsCli.Run("dynamodb", "put-item", "--table-name", cloud.Table, "--item", version).ExitCode);

        var env = cloud.Environment(home.Path);
        var show = CliRunner.Run(env, "video", "show", id, "--json");
        Assert.True(show.ExitCode == 0, show.Stderr);
        Assert.Equal("Made by the CLI", (string)show.Json["title"]!);
        var list = CliRunner.Run(env, "video", "list", "--project", "cli-proj", "--json");
        Assert.Equal(id, (string)list.Json["videos"]![0]!["video_id"]!);
        var get = CliRunner.Run(env, "code", "get", "--video", id, "--json");
        Assert.True(get.ExitCode == 0, get.Stderr);
        Assert.Equal(Encoding.UTF8.GetString(code), (string)get.Json["content"]!);

        // ManimCloud continues the history the CLI started: the next version is 2.
        File.WriteAllText(home.File("v2.py"), "# v2\n");
        var put2 = CliRunner.Run(env, "code", "put", home.File("v2.py"), "--video", id, "--json");
        Assert.True(put2.ExitCode == 0, put2.Stderr);
        Assert.Equal(2, (int)put2.Json["version"]!);
    }
}
