using System.CommandLine;
using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Pipeline;

namespace ManimCloud.Cli.Commands;

/// <summary>`render`, `pipeline run|edit`, `worker`, `jobs list|show|retry|cancel`: the agent pipeline (issue #12).</summary>
internal static class PipelineCommands
{
    private static Option<bool> NoWait() => new("--no-wait") { Description = "With MANIMCLOUD_QUEUE: queue the jobs and return; workers finish them." };
    private static Option<string?> Quality() => new("--quality") { Description = "Manim quality: low, medium, high, production or 4k (default MANIMCLOUD_RENDER_QUALITY, else low)." };

    private static readonly Option<bool> Yes = CostCommands.YesOption();

    private static RunOptions Options(ParseResult p, Option<bool> noWait, Option<string?> quality, IReadOnlySet<int>? force = null) => new()
    {
        CostConfirmed = p.GetValue(Yes),
        Wait = !p.GetValue(noWait),
        Quality = p.GetValue(quality) is { } q ? PipelineSettings.ParseQuality(q, "--quality") : null,
        ForceScenes = force ?? new HashSet<int>(),
    };

    private static CliResult Result(PipelineReport report, CliContext ctx)
    {
        var json = report.ToJson();
        // The coordinator's own SQS calls (sending the jobs), so the per-job queue overhead adds up on both sides.
        if (ctx.Client.Pipeline.Queue is { } q) json["sqs"] = SqsUsage(q.Usage);
        return new(json, report.ToText());
    }

    private static JsonObject SqsUsage((long Requests, double Milliseconds, long Receives, double ReceiveMilliseconds) usage) => new()
    {
        ["requests"] = usage.Requests, ["ms"] = Math.Round(usage.Milliseconds, 1),
        ["receives"] = usage.Receives, ["receive_ms"] = Math.Round(usage.ReceiveMilliseconds, 1),
    };

    private static IProgress<string> Log(CliContext ctx) => new SyncProgress(ctx.Progress);

    /// <summary>Writes progress as it happens, in order (Progress&lt;T&gt; would post it to the thread pool).</summary>
    private sealed class SyncProgress(Action<string> write) : IProgress<string>
    {
        private readonly Lock _lock = new();
        public void Report(string value) { lock (_lock) write(value); }
    }

    public static Command Render()
    {
        var video = new Argument<string>("VIDEO") { Description = "The video id." };
        var version = new Option<int?>("--version") { Description = "The code version to render (default: the current one)." };
        var scenes = new Option<int[]>("--scene") { Description = "Render this scene afresh even if its clip could be reused (repeatable).", AllowMultipleArgumentsPerToken = false };
        var noWait = NoWait();
        var quality = Quality();
        var c = new Command("render", "Render a stored code version: each scene to its clip (unchanged scenes reused), the full video, the ladder; prints the playback URL. "
            + "Prints the run's estimated cost first and refuses above MANIMCLOUD_COST_LIMIT without --yes.")
            { video, version, scenes, noWait, quality, Yes };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var id = VideoId.Parse(p.GetValue(video));
            var force = (p.GetValue(scenes) ?? []).ToHashSet();
            var report = await ctx.Client.Pipeline.RenderAsync(id, p.GetValue(version), Options(p, noWait, quality, force), Log(ctx), ct);
            return Result(report, ctx);
        });
        return c;
    }

    public static Command Pipeline()
    {
        var pipeline = new Command("pipeline", "From a prompt (or a code file, or an edit) to a published stream: code, render, upload, ladder, publish.");
        pipeline.Subcommands.Add(Run());
        pipeline.Subcommands.Add(Edit());
        return pipeline;
    }

    private static Command Run()
    {
        var project = Args.Project();
        var title = new Option<string>("--title") { Description = "The video's title.", Required = true };
        var prompt = new Option<string?>("--prompt") { Description = "What the video should show (the code generator writes the code)." };
        var code = new Option<string?>("--code") { Description = "A Manim .py file to use instead of generating one." };
        var noWait = NoWait();
        var quality = Quality();
        var c = new Command("run", "Create a video and take it all the way: generated (or given) code, rendered scenes, full video, ladder, playback URL. "
            + "Prints the run's estimated cost before anything is written and refuses above MANIMCLOUD_COST_LIMIT without --yes.")
            { project, title, prompt, code, noWait, quality, Yes };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var projectId = ProjectId.Parse(p.GetValue(project));
            byte[]? bytes = null;
            if (p.GetValue(code) is { } file)
            {
                if (!File.Exists(file))
                    throw new ManimCloudException(ErrorKind.InvalidInput, $"Code file '{file}' does not exist.", "Give the path of a .py file.");
                bytes = await File.ReadAllBytesAsync(file, ct);
            }
            var report = await ctx.Client.Pipeline.CreateAsync(projectId, p.GetValue(title)!, p.GetValue(prompt), bytes, Options(p, noWait, quality), Log(ctx), ct);
            return Result(report, ctx);
        });
        return c;
    }

    private static Command Edit()
    {
        var video = new Argument<string>("VIDEO") { Description = "The video id." };
        var prompt = new Option<string>("--prompt") { Description = "The change to make (for example: \"scene 2: make the circle red\").", Required = true };
        var noWait = NoWait();
        var quality = Quality();
        var c = new Command("edit", "Make the next code version from a prompt and re-render only the scenes it changed; prints the playback URL. "
            + "Prints the estimated cost before the version is stored and refuses above MANIMCLOUD_COST_LIMIT without --yes.")
            { video, prompt, noWait, quality, Yes };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var report = await ctx.Client.Pipeline.EditAsync(VideoId.Parse(p.GetValue(video)), p.GetValue(prompt)!, Options(p, noWait, quality), Log(ctx), ct);
            return Result(report, ctx);
        });
        return c;
    }

    public static Command Worker()
    {
        var concurrency = new Option<int>("--concurrency") { Description = "Jobs at once (1–32).", DefaultValueFactory = _ => 1 };
        var visibility = new Option<int>("--visibility") { Description = "Seconds a job stays hidden from other workers; renewed every third of it while the job runs.", DefaultValueFactory = _ => 60 };
        var poll = new Option<int>("--poll") { Description = "Long-polling wait in seconds (0–20).", DefaultValueFactory = _ => 20 };
        var attempts = new Option<int>("--max-attempts") { Description = "Failed attempts before a job goes to the dead-letter queue.", DefaultValueFactory = _ => 3 };
        var grace = new Option<int>("--grace") { Description = "On SIGTERM, seconds running jobs get to finish before they are handed back.", DefaultValueFactory = _ => 20 };
        var idle = new Option<int?>("--idle-exit") { Description = "Stop after this many seconds without a job (default: run until stopped)." };
        var c = new Command("worker", "Process pipeline jobs from MANIMCLOUD_QUEUE (render a scene, assemble, transcode, publish) until SIGTERM.")
            { concurrency, visibility, poll, attempts, grace, idle };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var n = p.GetValue(concurrency);
            if (n is < 1 or > 32) throw new ManimCloudException(ErrorKind.InvalidInput, $"--concurrency {n} is out of range.", "Use 1 to 32.");
            var vis = p.GetValue(visibility);
            if (vis is < 3 or > 43_200) throw new ManimCloudException(ErrorKind.InvalidInput, $"--visibility {vis} is out of range.", "Use 3 to 43200 seconds.");
            var options = new WorkerOptions
            {
                Concurrency = n, Visibility = TimeSpan.FromSeconds(vis), PollWait = TimeSpan.FromSeconds(Math.Clamp(p.GetValue(poll), 0, 20)),
                MaxAttempts = Math.Max(1, p.GetValue(attempts)), Grace = TimeSpan.FromSeconds(Math.Max(0, p.GetValue(grace))),
                IdleExit = p.GetValue(idle) is { } s ? TimeSpan.FromSeconds(s) : null,
            };
            // Workers write only to the cloud: a clip that waited in this machine's outbox would be invisible to the others.
            var client = ManimCloudClient.Open(ctx.Options with { RequireCloud = true });
            using var _ = client;
            var report = await client.Pipeline.CreateWorker(options, Log(ctx)).RunAsync(ct);
            var json = new JsonObject
            {
                ["owner"] = options.Owner, ["completed"] = report.Completed, ["failed_attempts"] = report.Failed, ["dead_lettered"] = report.DeadLettered,
                ["duplicates"] = report.Duplicates, ["handed_back"] = report.HandedBack,
            };
            if (client.Pipeline.Queue is { } q) json["sqs"] = SqsUsage(q.Usage);
            return new CliResult(json, $"worker {options.Owner} stopped: {report.Completed} job(s) done, {report.Failed} failed attempt(s), " +
                $"{report.DeadLettered} dead-lettered, {report.Duplicates} duplicate deliveries ignored, {report.HandedBack} handed back.");
        });
        return c;
    }

    public static Command Jobs()
    {
        var jobs = new Command("jobs", "Pipeline jobs: list, show, retry (also out of the dead-letter queue), cancel.");
        var video = new Option<string?>("--video") { Description = "Only this video's jobs." };
        var run = new Option<string?>("--run") { Description = "Only this run's jobs." };
        var state = new Option<string?>("--state") { Description = "Only jobs in this state (waiting, queued, running, done, dead, cancelled)." };
        var limit = new Option<int>("--limit") { Description = "At most this many (1–1000).", DefaultValueFactory = _ => 50 };
        var list = new Command("list", "Jobs, newest first.") { video, run, state, limit };
        CliContext.Bind(list, async (p, ctx, ct) =>
        {
            var n = p.GetValue(limit);
            if (n is < 1 or > 1000) throw new ManimCloudException(ErrorKind.InvalidInput, $"--limit {n} is out of range.", "Use 1 to 1000.");
            var wanted = p.GetValue(state) is { } s ? PipelineJob.ParseState(s) : (JobState?)null;
            var videoId = p.GetValue(video) is { } v ? VideoId.Parse(v) : (VideoId?)null;
            var found = (await ctx.Client.Pipeline.Jobs.ListAsync(videoId, p.GetValue(run), wanted is null ? n : 1000, ct))
                .Where(j => wanted is null || j.State == wanted).Take(n).ToList();
            var json = new JsonObject
            {
                ["store"] = ctx.Client.Pipeline.Jobs.Name, ["mode"] = ctx.Client.Pipeline.Mode,
                ["jobs"] = new JsonArray(found.Select(j => (JsonNode)j.ToJson()).ToArray()),
            };
            var text = found.Count == 0 ? "no jobs" : string.Join('\n', found.Select(j =>
                $"{j.Id,-32} {PipelineJob.KindName(j.Kind),-12} {PipelineJob.StateName(j.State),-9} v{j.Version} {(j.SceneName ?? ""),-12} attempts {j.Attempts}{(j.Error is { } e && j.State != JobState.Done ? $"  {e}" : "")}"));
            if (ctx.Client.Pipeline.Queue is { } q)
            {
                var (visible, inFlight, dead) = await q.DepthAsync(ct);
                json["queue"] = new JsonObject { ["url"] = q.Url, ["visible"] = visible, ["in_flight"] = inFlight, ["dead_letter"] = dead };
                text += $"\nqueue: {visible} waiting, {inFlight} in flight, {dead} in the dead-letter queue";
            }
            return new CliResult(json, text);
        });
        jobs.Subcommands.Add(list);

        var id = new Argument<string>("JOB") { Description = "The job id (from `jobs list`)." };
        var show = new Command("show", "One job: its state, attempts, owner, error and result.") { id };
        CliContext.Bind(show, async (p, ctx, ct) =>
        {
            var job = await ctx.Client.Pipeline.Jobs.RequireAsync(p.GetValue(id)!, ct);
            return new CliResult(job.ToJson(), job.ToJson().ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        });
        jobs.Subcommands.Add(show);

        var retryId = new Argument<string>("JOB") { Description = "The job id." };
        var retry = new Command("retry", "Queue a dead, cancelled or stuck job again (in-process: run it now).") { retryId };
        CliContext.Bind(retry, async (p, ctx, ct) =>
        {
            var job = await ctx.Client.Pipeline.RetryJobAsync(p.GetValue(retryId)!, Log(ctx), ct);
            return new CliResult(job.ToJson(), $"{job.Id}: {PipelineJob.StateName(job.State)}");
        });
        jobs.Subcommands.Add(retry);

        var cancelId = new Argument<string>("JOB") { Description = "The job id." };
        var cancel = new Command("cancel", "Cancel a waiting, queued or running job (a running one stops at its next heartbeat).") { cancelId };
        CliContext.Bind(cancel, async (p, ctx, ct) =>
        {
            var job = await ctx.Client.Pipeline.CancelJobAsync(p.GetValue(cancelId)!, ct);
            return new CliResult(job.ToJson(), $"{job.Id}: cancelled");
        });
        jobs.Subcommands.Add(cancel);
        return jobs;
    }
}
