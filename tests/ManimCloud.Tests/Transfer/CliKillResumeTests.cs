using Amazon.S3.Model;
using ManimCloud.Local;
using ManimCloud.Tests.Support;
using ManimCloud.Transfer;

namespace ManimCloud.Tests.Transfer;

/// <summary>
/// Issue 3 through the real CLI: `kill -9` of `manimcloud video put` during a ≥150 MB upload, then
/// `uploads resume` — identical bytes, stored parts not sent again, no incomplete multipart upload left.
/// </summary>
public class CliKillResumeTests
{
    /// <summary>A large `video put` through a proxy that slows parts, stopped once some parts are journaled.</summary>
    private sealed class InterruptedPut : IAsyncDisposable
    {
        public required TestCloud Cloud { get; init; }
        public required FaultProxy Proxy { get; init; }
        public required TempDir Home { get; init; }
        public required Dictionary<string, string> Env { get; init; }
        public required string Video { get; init; }
        public required string File { get; init; }
        public required CliRunner.Running Put { get; init; }

        public static async Task<InterruptedPut> StartAsync(int partsBeforeStop)
        {
            var cloud = await TestCloud.CreateAsync();
            var proxy = new FaultProxy(cloud.Endpoint);
            var home = new TempDir();
            var env = cloud.Environment(home.Path);
            env["AWS_ENDPOINT_URL"] = proxy.Endpoint;
            var file = TransferHarness.LargeVideo();
            Assert.True(new FileInfo(file).Length >= 150_000_000);
            var id = (string)CliRunner.Run(env, "video", "create", "--project", "big", "--title", "large", "--json").Json["video_id"]!;
            // Slow parts a little so the interruption lands mid-upload.
            proxy.Latency = r => r.IsUploadPart ? TimeSpan.FromMilliseconds(150) : TimeSpan.Zero;
            var put = CliRunner.Start(env, "video", "put", file, "--video", id, "--full", "--json");
            var journal = new UploadJournal(new Catalog(Path.Combine(home.Path, "catalog.db")));
            var deadline = DateTime.UtcNow.AddSeconds(120);
            while (journal.List() is not [{ PartsDone: var done }] || done < partsBeforeStop)
            {
                if (put.Process.HasExited) Assert.Fail($"video put ended before it could be interrupted: {put.Stderr.Result}");
                Assert.True(DateTime.UtcNow < deadline, "no parts journaled within 120 s");
                await Task.Delay(20);
            }
            return new InterruptedPut { Cloud = cloud, Proxy = proxy, Home = home, Env = env, Video = id, File = file, Put = put };
        }

        public async ValueTask DisposeAsync()
        {
            if (!Put.Process.HasExited) Put.Process.Kill(entireProcessTree: true);
            await Proxy.DisposeAsync();
            Home.Dispose();
        }
    }
    [Fact]
    public async Task A_killed_video_put_resumes_with_uploads_resume_sending_only_the_missing_parts()
    {
        await using var scene = await InterruptedPut.StartAsync(partsBeforeStop: 4);
        var (cloud, proxy, env, id, video, put) = (scene.Cloud, scene.Proxy, scene.Env, scene.Video, scene.File, scene.Put);
        put.Process.Kill(); // SIGKILL
        put.Process.WaitForExit();
        await Task.Delay(500);

        var listed = CliRunner.Run(env, "uploads", "list", "--json");
        var entry = Assert.Single(listed.Json["uploads"]!.AsArray())!;
        var uploadId = (string)entry["upload_id"]!;
        using var aws = cloud.Clients();
        var storedBefore = (await aws.S3.ListPartsAsync(new ListPartsRequest { BucketName = cloud.VideoBucket, Key = (string)entry["key"]!, UploadId = uploadId }))
            .Parts?.Select(p => p.PartNumber ?? 0).ToList() ?? [];
        Assert.NotEmpty(storedBefore);
        var sentBefore = proxy.Forwarded.Count(r => r.IsUploadPart && r.UploadId == uploadId);
        proxy.Latency = null;

        var resume = CliRunner.Run(env, "uploads", "resume", "--json");
        Assert.True(resume.ExitCode == 0, resume.Stderr);
        var sentByResume = proxy.Forwarded.Where(r => r.IsUploadPart && r.UploadId == uploadId).Skip(sentBefore).Select(r => r.PartNumber).ToList();
        Assert.Empty(sentByResume.Intersect(storedBefore));          // stored parts were not sent again
        Assert.NotEmpty(sentByResume);

        Assert.Empty((await aws.S3.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = cloud.VideoBucket })).MultipartUploads ?? []);
        Assert.Empty(CliRunner.Run(env, "uploads", "list", "--json").Json["uploads"]!.AsArray());
        Assert.Equal(0, (int)CliRunner.Run(env, "status", "--json").Json["pending"]!);
        // The record points at it, and it comes back byte for byte (read by a fresh workspace).
        using var other = new TempDir();
        var get = CliRunner.Run(cloud.Environment(other.Path), "video", "get", "--video", id, "--full", "--out", other.File("back.mp4"), "--json");
        Assert.True(get.ExitCode == 0, get.Stderr);
        Assert.Equal(TransferHarness.Sha256(video), TransferHarness.Sha256(other.File("back.mp4")));
    }

    [Fact]
    public async Task Ctrl_C_during_video_put_keeps_the_operation_queued_and_uploads_resume_finishes_it()
    {
        await using var scene = await InterruptedPut.StartAsync(partsBeforeStop: 3);
        var (proxy, env, id, video, put) = (scene.Proxy, scene.Env, scene.Video, scene.File, scene.Put);
        using (var interrupt = System.Diagnostics.Process.Start("kill", ["-INT", put.Process.Id.ToString()])) interrupt!.WaitForExit();
        var interrupted = put.Finish();
        Assert.Equal(130, interrupted.ExitCode);
        Assert.Contains("uploads resume", interrupted.Stderr);
        Assert.Equal(1, (int)CliRunner.Run(env, "status", "--json").Json["pending"]!);
        proxy.Latency = null;

        var resume = CliRunner.Run(env, "uploads", "resume", "--json");
        Assert.True(resume.ExitCode == 0, resume.Stderr);
        Assert.Equal(1, (int)resume.Json["synced"]!);
        var show = CliRunner.Run(env, "video", "show", id, "--json");
        Assert.Equal((string)show.Json["media"]!["full"]!["sha256"]!, TransferHarness.Sha256(video));
        Assert.Equal(0, (int)CliRunner.Run(env, "status", "--json").Json["pending"]!);
    }
}
