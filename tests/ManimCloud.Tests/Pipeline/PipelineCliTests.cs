using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Pipeline;

/// <summary>Issue #12 through the real CLI: `pipeline run|edit`, `render`, `jobs`, `worker` and `provision --queue`.</summary>
public class PipelineCliTests
{
    private const string Code = "from manim import *\n\nclass Hello(Scene):\n    def construct(self):\n        self.play(Write(Text(\"hello\")))\n\nclass World(Scene):\n    def construct(self):\n        self.wait(1)\n";

    [Fact]
    public void Pipeline_run_edit_and_render_print_their_steps_and_the_playback_url()
    {
        using var home = new TempDir();
        var env = CliRunner.LocalEnv(home.Path);
        env["MANIMCLOUD_RENDERER"] = "test";
        File.WriteAllText(home.File("scene.py"), Code);

        var run = CliRunner.Run(env, "pipeline", "run", "--project", "cli", "--title", "Hello", "--code", home.File("scene.py"), "--json");
        Assert.True(run.ExitCode == 0, run.Stderr);
        var video = (string)run.Json["video_id"]!;
        Assert.Equal(["estimate", "create", "code", "reuse", "render", "upload", "transcode", "publish"], run.Json["steps"]!.AsArray().Select(s => (string)s!["step"]!));
        Assert.StartsWith($"http://127.0.0.1:8080/watch/{video}?v=1", (string)run.Json["url"]!);
        Assert.Contains("render", run.Stderr); // progress on stderr, one JSON document on stdout

        var edit = CliRunner.Run(env, "pipeline", "edit", video, "--prompt", "scene 1: wave", "--json");
        Assert.True(edit.ExitCode == 0, edit.Stderr);
        Assert.Equal(2, (int)edit.Json["version"]!);
        var render = edit.Json["steps"]!.AsArray().Single(s => (string)s!["step"]! == "render")!;
        Assert.Equal(["Hello"], render["details"]!["scenes"]!.AsArray().Select(s => (string)s!["name"]!));

        var text = CliRunner.Run(env, "render", video, "--scene", "2");
        Assert.True(text.ExitCode == 0, text.Stderr);
        Assert.Contains("1 scene(s) rendered and stored (World)", text.Stdout);
        Assert.Contains($"play: http://127.0.0.1:8080/watch/{video}?v=2", text.Stdout);

        var jobs = CliRunner.Run(env, "jobs", "list", "--video", video, "--json");
        Assert.True(jobs.ExitCode == 0, jobs.Stderr);
        Assert.Equal(2 + 1 + 1 + 3 * 3, jobs.Json["jobs"]!.AsArray().Count); // 2, 1 and 1 renders, and three more jobs per run
        var one = (string)jobs.Json["jobs"]![0]!["job_id"]!;
        Assert.Equal("done", (string)CliRunner.Run(env, "jobs", "show", one, "--json").Json["state"]!);
        Assert.Equal(4, CliRunner.Run(env, "jobs", "cancel", one).ExitCode); // a done job cannot be cancelled
    }

    [Fact]
    public void Bad_input_is_refused_before_any_work()
    {
        using var home = new TempDir();
        var env = CliRunner.LocalEnv(home.Path);
        File.WriteAllText(home.File("bad.py"), "from manim import *\nclass A(Scene):\n    def construct(self)\n        pass\n");
        Assert.Equal(2, CliRunner.Run(env, "pipeline", "run", "--project", "cli", "--title", "T", "--prompt", "x", "--code", home.File("bad.py")).ExitCode);
        var bad = CliRunner.Run(env, "pipeline", "run", "--project", "cli", "--title", "T", "--code", home.File("bad.py"), "--json");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("not valid Python", (string)bad.Json["error"]!["message"]!);
        Assert.Equal(2, CliRunner.Run(env, "pipeline", "edit", "not-a-uuid", "--prompt", "x").ExitCode);
        Assert.Equal(3, CliRunner.Run(env, "render", Guid.NewGuid().ToString()).ExitCode);
        var worker = CliRunner.Run(env, "worker", "--json");
        Assert.Equal(2, worker.ExitCode);
        Assert.Contains("MANIMCLOUD_QUEUE", (string)worker.Json["error"]!["message"]!);
        env["MANIMCLOUD_RENDERER"] = "blender";
        Assert.Equal(2, CliRunner.Run(env, "render", Guid.NewGuid().ToString()).ExitCode);
    }

    [Fact]
    public async Task Provision_queue_creates_the_queue_and_its_dead_letter_queue_then_changes_nothing()
    {
        using var home = new TempDir();
        var names = await TestCloud.CreateAsync(create: false);
        var env = names.Environment(home.Path);
        env["MANIMCLOUD_QUEUE"] = Names.Unique("jobs");

        var dry = CliRunner.Run(env, "provision", "--dry-run", "--json");
        Assert.True(dry.ExitCode == 0, dry.Stderr);
        Assert.Contains(dry.Json["steps"]!.AsArray(), s => ((string)s!["resource"]!).StartsWith("sqs:") && (string)s["setting"]! == "RedrivePolicy");
        var first = CliRunner.Run(env, "provision", "--json");
        Assert.True(first.ExitCode == 0, first.Stderr);
        var second = CliRunner.Run(env, "provision", "--json");
        Assert.Equal(0, (int)second.Json["changed"]!);

        var url = (string)(await AwsCli.JsonAsync("sqs", "get-queue-url", "--queue-name", env["MANIMCLOUD_QUEUE"]))["QueueUrl"]!;
        var attributes = (await AwsCli.JsonAsync("sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "All"))["Attributes"]!;
        Assert.Equal("60", (string)attributes["VisibilityTimeout"]!);
        Assert.Contains(env["MANIMCLOUD_QUEUE"] + "-dlq", (string)attributes["RedrivePolicy"]!);
        Assert.Contains(url, File.ReadAllText(home.File("config.json")));
    }
}
