using Amazon.S3.Model;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Transfer;

/// <summary>`uploads list` and `uploads abort --all` also see and clean multipart uploads no workspace knows.</summary>
public class CliUploadsAbortTests
{
    [Fact]
    public async Task Abort_all_cleans_uploads_the_workspace_never_journaled()
    {
        var cloud = await TestCloud.CreateAsync();
        using var home = new TempDir();
        var env = cloud.Environment(home.Path);
        // Another tool (or a process killed before it journaled anything) left an upload behind.
        var started = AwsCli.Json("s3api", "create-multipart-upload", "--bucket", cloud.VideoBucket, "--key", "videos/p/v/v1/full.mp4");
        var uploadId = (string)started["UploadId"]!;

        var listed = CliRunner.Run(env, "uploads", "list", "--json");
        Assert.True(listed.ExitCode == 0, listed.Stderr);
        Assert.Empty(listed.Json["uploads"]!.AsArray());
        Assert.Contains(listed.Json["unknown_in_buckets"]!.AsArray(), u => (string)u!["upload_id"]! == uploadId);

        var refused = CliRunner.Run(env, "uploads", "abort", "--json");
        Assert.Equal(2, refused.ExitCode); // neither an id nor --all

        var aborted = CliRunner.Run(env, "uploads", "abort", "--all", "--json");
        Assert.True(aborted.ExitCode == 0, aborted.Stderr);
        Assert.Equal(1, (int)aborted.Json["aborted_unknown"]!);
        using var aws = cloud.Clients();
        Assert.Empty((await aws.S3.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = cloud.VideoBucket })).MultipartUploads ?? []);
    }
}
