using Amazon.S3.Model;
using ManimCloud.Domain;
using ManimCloud.Rendering;
using ManimCloud.Tests.Streaming.MediaConvert;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Operations;

/// <summary>
/// SPEC R9 "cost before it is spent", through the real CLI: `video transcode` on MediaConvert (faked on loopback, S3 on
/// moto) and `pipeline run|edit` / `render` print what the job will cost and are refused above MANIMCLOUD_COST_LIMIT
/// without --yes, naming the limit and the estimate, with nothing submitted, stored or moved.
/// </summary>
public sealed class CostLimitCommandTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private const string Role = "arn:aws:iam::123456789012:role/manimcloud-test-mediaconvert";

    private static string NewVideo(Dictionary<string, string> env, string project)
    {
        var created = CliRunner.Run(env, "video", "create", "--project", project, "--title", "cost", "--json");
        Assert.True(created.ExitCode == 0, created.Stderr);
        return (string)created.Json["video_id"]!;
    }

    [Fact]
    public async Task Video_transcode_on_MediaConvert_prints_the_per_output_estimate_and_is_refused_above_the_limit_until_yes()
    {
        var cloud = await TestCloud.CreateAsync();
        using var home = new TempDir();
        using var dir = new TempDir();
        using var aws = cloud.Clients();
        await using var fake = new FakeMediaConvert(aws.S3) { Script = _ => new JobScript { SubmittedPolls = 0, ProgressingPolls = 0, DurationSeconds = 4 } };
        var env = cloud.Environment(home.Path);
        env["MANIMCLOUD_MEDIACONVERT_ROLE"] = Role;
        env["AWS_ENDPOINT_URL_MEDIACONVERT"] = fake.Endpoint;
        env["MANIMCLOUD_COST_LIMIT"] = "0.001";

        var clip = dir.File("scene.mp4");
        await new TestRenderer().RenderClipAsync(clip, 1, 4, Ct, "1280x720", 30, audio: true);
        var id = NewVideo(env, "cost-mc");
        var put = CliRunner.Run(env, "video", "put", clip, "--video", id, "--scene", "1", "--json");
        Assert.True(put.ExitCode == 0, put.Stderr);

        var before = (string)CliRunner.Run(env, "video", "show", id, "--json").Json["status"]!;
        var refused = CliRunner.Run(env, "video", "transcode", id, "--json");
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("MANIMCLOUD_COST_LIMIT (0.0010 USD)", refused.Stderr);
        Assert.Contains("is estimated at", refused.Stderr);
        Assert.Contains("--yes", refused.Stderr);
        Assert.Contains("MediaConvert output 720p", refused.Stderr); // the estimate, line by line, before the refusal
        Assert.Contains("MediaConvert output 480p", refused.Stderr);
        Assert.Equal(0, fake.JobsCreated);
        var shown = CliRunner.Run(env, "video", "show", id, "--json");
        Assert.Equal(before, (string)shown.Json["status"]!);
        var listed = await aws.S3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = cloud.VideoBucket, Prefix = ObjectLayout.TranscodedPrefix });
        Assert.Empty(listed.S3Objects ?? []);

        var accepted = CliRunner.Run(env, "video", "transcode", id, "--yes", "--json");
        Assert.True(accepted.ExitCode == 0, accepted.Stderr);
        Assert.Equal(1, fake.JobsCreated);
        var lines = accepted.Json["estimate"]!["lines"]!.AsArray();
        var outputs = lines.Where(l => ((string)l!["price_key"]!).StartsWith("mediaconvert")).ToList();
        // A 720p clip of 4 s: the 720p (HD) and 480p (SD) rungs and the audio, each billed 4/60 min:
        // 4/60 x (0.015 + 0.0075 + 0.003) = 0.0017 USD; above the 0.001 limit with the storage and requests beside it.
        Assert.Equal(["mediaconvert.basic.hd.per_output_minute", "mediaconvert.basic.sd.per_output_minute", "mediaconvert.audio.per_output_minute"],
            outputs.Select(l => (string)l!["price_key"]!));
        Assert.All(outputs, l => Assert.Equal(4 / 60.0, (double)l!["quantity"]!, 2));
        Assert.Equal(0.0017m, Math.Round(outputs.Sum(l => (decimal)l!["cost"]!), 4));
        Assert.True((decimal)accepted.Json["estimate"]!["total"]! > 0.001m);

        // The same version again: its clip's segments exist, so nothing is encoded or billed and the limit is not reached.
        var again = CliRunner.Run(env, "video", "transcode", id, "--json");
        Assert.True(again.ExitCode == 0, again.Stderr);
        Assert.Equal(1, fake.JobsCreated);
        Assert.All(again.Json["estimate"]!["lines"]!.AsArray().Where(l => ((string)l!["price_key"]!).StartsWith("mediaconvert")),
            l => Assert.Equal(0m, (decimal)l!["cost"]!));
    }

    private const string TwoScenes = """
        from manim import *

        class Intro(Scene):
            def construct(self):
                self.play(Write(Text("cost")))
                self.wait(2)

        class Outro(Scene):
            def construct(self):
                self.play(FadeIn(Circle()))
                self.wait()
        """;

    [Fact]
    public void Pipeline_run_edit_and_render_are_refused_above_the_limit_with_nothing_written_and_go_ahead_with_yes()
    {
        using var home = new TempDir();
        using var dir = new TempDir();
        var env = CliRunner.LocalEnv(home.Path);
        env["MANIMCLOUD_RENDERER"] = "test";
        env["MANIMCLOUD_COST_LIMIT"] = "0.000001";
        File.WriteAllText(dir.File("video.py"), TwoScenes);

        var refused = CliRunner.Run(env, "pipeline", "run", "--project", "cost-run", "--title", "t", "--code", dir.File("video.py"), "--json");
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("Pipeline run of a new video: 2 scene(s)", refused.Stderr);
        Assert.Contains("above MANIMCLOUD_COST_LIMIT (0.0000 USD)", refused.Stderr);
        Assert.Contains("nothing was started", refused.Stderr);
        var none = CliRunner.Run(env, "video", "list", "--project", "cost-run", "--json");
        Assert.Empty(none.Json["videos"]!.AsArray());

        var run = CliRunner.Run(env, "pipeline", "run", "--project", "cost-run", "--title", "t", "--code", dir.File("video.py"), "--yes", "--json");
        Assert.True(run.ExitCode == 0, run.Stderr);
        var estimate = run.Json["steps"]!.AsArray().Single(s => (string)s!["step"]! == "estimate")!["details"]!;
        Assert.True((decimal)estimate["total"]! > 0.000001m);
        Assert.Equal(0.000001m, (decimal)estimate["cost_limit"]!);
        var id = (string)run.Json["video_id"]!;
        var jobs = CliRunner.Run(env, "jobs", "list", "--video", id, "--json").Json["jobs"]!.AsArray().Count;

        // An edit is priced from the new code before the version is stored; a render before any job or status moves.
        var edit = CliRunner.Run(env, "pipeline", "edit", id, "--prompt", "scene 2: make the circle red", "--json");
        Assert.Equal(2, edit.ExitCode);
        Assert.Contains("MANIMCLOUD_COST_LIMIT", edit.Stderr);
        var render = CliRunner.Run(env, "render", id, "--json");
        Assert.Equal(2, render.ExitCode);
        Assert.Contains($"Pipeline run of video {id}", render.Stderr);
        var after = CliRunner.Run(env, "video", "show", id, "--json").Json;
        Assert.Equal(1, (int)after["current_version"]!);
        Assert.Equal("ready", (string)after["status"]!);
        Assert.Equal(jobs, CliRunner.Run(env, "jobs", "list", "--video", id, "--json").Json["jobs"]!.AsArray().Count);
    }
}
