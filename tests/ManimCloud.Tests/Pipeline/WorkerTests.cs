using System.Diagnostics;
using System.Text;
using Amazon.S3.Model;
using Amazon.SQS.Model;
using ManimCloud.Aws;
using ManimCloud.Domain;
using ManimCloud.Pipeline;
using ManimCloud.Provisioning;
using ManimCloud.Tests.Support;
using ManimCloud.Workspace;

namespace ManimCloud.Tests.Pipeline;

/// <summary>
/// Issue #12, many workers: `manimcloud worker` processes sharing one SQS queue (moto's: visibility timeouts, long
/// polling and dead-letter redrive are faithful) render a video's scenes each exactly once; a worker killed with
/// kill -9 mid-job has its job redelivered and finished once; a poison job lands in the dead-letter queue with its
/// reason. Job state lives in DynamoDB, clips in S3. Visibility timeouts are short (6 s) to keep the suite quick.
/// </summary>
public sealed class WorkerTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly List<CliRunner.Running> _workers = [];

    public void Dispose()
    {
        foreach (var w in _workers) try { if (!w.Process.HasExited) w.Process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        _dir.Dispose();
    }

    /// <summary>A deployment with its own queue pair, made by ManimCloud's queue provisioning (buckets and table by TestCloud:
    /// provisioned bucket policies deny everything on moto, whose policy conditions always match).</summary>
    private async Task<(TestCloud Cloud, ManimCloudOptions Options, string QueueUrl)> DeployAsync()
    {
        var cloud = await TestCloud.CreateAsync();
        var queueName = Names.Unique("jobs");
        var options = cloud.Options(System.IO.Path.Combine(_dir.Path, "coordinator"));
        using var aws = new AwsClients(options);
        var url = await new QueueProvisioning(aws.Sqs, aws.Retry, queueName, queueName + "-dlq").EnsureAsync(default);
        return (cloud, options with { Pipeline = new PipelineSettings { Queue = url, Renderer = RendererKind.Manim, ManimCommand = FakeManim.Path } }, url);
    }

    private CliRunner.Running StartWorker(TestCloud cloud, string queueUrl, string log, string name, params (string, string)[] extra)
    {
        var env = cloud.Environment(System.IO.Path.Combine(_dir.Path, name));
        env["MANIMCLOUD_QUEUE"] = queueUrl;
        env["MANIMCLOUD_RENDERER"] = "manim";
        env["MANIMCLOUD_MANIM"] = FakeManim.Path;
        env["FAKE_MANIM_LOG"] = log;
        foreach (var (k, v) in extra) env[k] = v;
        var w = CliRunner.Start(env, "worker", "--concurrency", "1", "--visibility", "6", "--poll", "2", "--max-attempts", "2", "--grace", "10", "--json");
        _workers.Add(w);
        return w;
    }

    private static CliRun Stop(CliRunner.Running worker)
    {
        Process.Start("kill", ["-TERM", worker.Process.Id.ToString()])!.WaitForExit();
        return worker.Finish();
    }

    private static byte[] Module(params string[] scenes) => Encoding.UTF8.GetBytes("from manim import *\n\n" + string.Join("\n\n", scenes.Select((s, i) =>
        $"class {s}(Scene):\n    def construct(self):\n        self.play(FadeIn(Text(\"{s}\")))\n        self.wait({i + 1})\n")));

    private static async Task<int> ObjectVersionsAsync(TestCloud cloud, string key)
    {
        using var aws = cloud.Clients();
        var r = await aws.S3.ListVersionsAsync(new ListVersionsRequest { BucketName = cloud.VideoBucket, Prefix = key });
        return (r.Versions ?? []).Count(v => v.Key == key && !v.IsDeleteMarker.GetValueOrDefault());
    }

    [Fact]
    public async Task Several_worker_processes_share_one_queue_and_render_each_scene_exactly_once()
    {
        var (cloud, options, url) = await DeployAsync();
        var log = _dir.File("manim.log");
        var workers = Enumerable.Range(1, 3).Select(i => StartWorker(cloud, url, log, $"worker{i}")).ToList();
        using var client = ManimCloudClient.Open(options);
        var scenes = new[] { "One", "Two", "Three", "Four", "Five", "Six" };
        var report = await client.Pipeline.CreateAsync(ProjectId.Parse("workers"), "Six scenes", null, Module(scenes), new RunOptions { Timeout = TimeSpan.FromMinutes(3) }, null, default);

        Assert.True(report.Finished);
        Assert.Equal(scenes.Order(), FakeManim.Done(log).Order()); // each scene rendered once, by some worker
        var jobs = await client.Pipeline.Jobs.ListAsync(report.Video, report.Run, 100, default);
        Assert.Equal(9, jobs.Count); // six scenes, assemble, transcode, publish
        Assert.All(jobs, j => { Assert.Equal(JobState.Done, j.State); Assert.Equal(1, j.Completions); Assert.Equal(1, j.Attempts); });
        var record = await client.GetVideoAsync(report.Video, default);
        Assert.Equal(VideoStatus.Ready, record.Status);
        for (var s = 1; s <= 6; s++) Assert.Equal(1, await ObjectVersionsAsync(cloud, ObjectLayout.ClipKey(record.Project, record.Id, 1, s)));
        Assert.Equal(1, await ObjectVersionsAsync(cloud, ObjectLayout.FullVideoKey(record.Project, record.Id, 1)));
        // The ladder, built by one worker from clips the others rendered (read back from S3), has every scene.
        Assert.Equal(6, record.Renditions[1].Scenes.Count);
        Assert.Equal(1, await ObjectVersionsAsync(cloud, ObjectLayout.HlsMasterKey(record.Project, record.Id, 1)));

        // v2 changes scene 4 only: one scene rendered, one scene encoded; the ladder points at v1's segments for the rest.
        var v2 = Encoding.UTF8.GetString(Module(scenes)).Replace("self.wait(4)", "self.wait(5)"); // scene Four only
        await client.PutCodeAsync(report.Video, Encoding.UTF8.GetBytes(v2), "test", null, default);
        var edit = await client.Pipeline.RenderAsync(report.Video, 2, new RunOptions { Timeout = TimeSpan.FromMinutes(3) }, null, default);
        var editJobs = await client.Pipeline.Jobs.ListAsync(report.Video, edit.Run, 100, default);
        Assert.Equal([4], editJobs.Where(j => j.Kind == JobKind.RenderScene).Select(j => j.Scene!.Value));
        Assert.Equal([4], edit.Steps.Single(s => s.Name == "transcode").Details["encoded_scenes"]!.AsArray().Select(n => (int)n!));
        var after = await client.GetVideoAsync(report.Video, default);
        Assert.Equal(VideoStatus.Ready, after.Status);
        Assert.Equal([1, 1, 1, 2, 1, 1], after.Renditions[2].Scenes.Select(x => x.EncodedInVersion));

        // SIGTERM: each worker stops cleanly and says what it did; together they did every job once.
        var runs = workers.Select(Stop).ToList();
        Assert.All(runs, r => Assert.True(r.ExitCode == 0, r.Stderr));
        Assert.Equal(9 + 4, runs.Sum(r => (int)r.Json["completed"]!));
    }

    [Fact]
    public async Task A_worker_killed_mid_job_has_its_job_redelivered_and_finished_once()
    {
        var (cloud, options, url) = await DeployAsync();
        var log = _dir.File("manim.log");
        var doomed = StartWorker(cloud, url, log, "doomed", ("FAKE_MANIM_SLEEP", "60"));
        using var client = ManimCloudClient.Open(options);
        var run = client.Pipeline.CreateAsync(ProjectId.Parse("workers"), "Kill", null, Module("First", "Second"), new RunOptions { Timeout = TimeSpan.FromMinutes(3) }, null, default);

        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (FakeManim.Started(log).Count == 0 && DateTime.UtcNow < deadline && !run.IsCompleted) await Task.Delay(100);
        Assert.Single(FakeManim.Started(log));
        var killedScene = FakeManim.Started(log)[0];
        doomed.Process.Kill(entireProcessTree: true); // kill -9, the worker and the manim it ran
        doomed.Process.WaitForExit();
        var rescuer = StartWorker(cloud, url, log, "rescuer");
        var report = await run;

        Assert.True(report.Finished);
        Assert.Equal(["First", "Second"], FakeManim.Done(log).Order()); // no scene finished twice, none missing
        var jobs = await client.Pipeline.Jobs.ListAsync(report.Video, report.Run, 100, default);
        var killedJob = jobs.Single(j => j.SceneName == killedScene);
        Assert.Equal(2, killedJob.Attempts);     // claimed by the killed worker, then again after its lease ran out
        Assert.Equal(1, killedJob.Completions);  // completed exactly once
        Assert.All(jobs, j => Assert.Equal(JobState.Done, j.State));
        var record = await client.GetVideoAsync(report.Video, default);
        Assert.Equal(1, await ObjectVersionsAsync(cloud, ObjectLayout.ClipKey(record.Project, record.Id, 1, killedJob.Scene!.Value)));
        Assert.Equal(VideoStatus.Ready, record.Status);
        Assert.Equal(0, Stop(rescuer).ExitCode);
    }

    [Fact]
    public async Task A_poison_job_reaches_the_dead_letter_queue_with_its_reason()
    {
        var (cloud, options, url) = await DeployAsync();
        var log = _dir.File("manim.log");
        var worker = StartWorker(cloud, url, log, "worker");
        using var aws = new AwsClients(options);
        await aws.Sqs.SendMessageAsync(url, "this is not a job"); // a garbage message: dead-lettered at once
        using var client = ManimCloudClient.Open(options);

        var e = await Assert.ThrowsAsync<ManimCloudException>(() => client.Pipeline.CreateAsync(ProjectId.Parse("workers"), "Poison", null,
            Module("Fine", "Poison"), new RunOptions { Timeout = TimeSpan.FromMinutes(3) }, null, default));
        Assert.Contains("dead", e.Message);
        Assert.Contains("jobs retry", e.Hint);
        Assert.Equal(2, FakeManim.Started(log).Count(s => s == "Poison")); // --max-attempts 2

        var dlq = await client.Pipeline.Queue!.DeadLetterUrlAsync(default);
        var reasons = new List<string>();
        for (var i = 0; i < 10 && reasons.Count < 2; i++)
        {
            var r = await aws.Sqs.ReceiveMessageAsync(new ReceiveMessageRequest { QueueUrl = dlq, MaxNumberOfMessages = 10, WaitTimeSeconds = 1, MessageAttributeNames = ["All"] });
            reasons.AddRange((r.Messages ?? []).Select(m => m.MessageAttributes["reason"].StringValue));
        }
        Assert.Contains(reasons, r => r.Contains("not a ManimCloud job message"));
        Assert.Contains(reasons, r => r.Contains("ZeroDivisionError") && r.Contains("failed 2 time(s)"));
        var dead = (await client.Pipeline.Jobs.ListAsync(null, null, 1000, default)).Single(j => j.SceneName == "Poison" && j.State == JobState.Dead);
        Assert.Contains("ZeroDivisionError", dead.Error);
        Assert.Equal(0, Stop(worker).ExitCode);
    }
}
