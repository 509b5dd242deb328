using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Pipeline.Cloud;
using ManimCloud.Rendering;

namespace ManimCloud.Pipeline;

/// <summary>How a run is carried out: which scenes must render afresh, whether to wait for the end, at what quality.</summary>
public sealed record RunOptions
{
    /// <summary>Scenes rendered again even when a clip for their content address exists (`render --scene K`).</summary>
    public IReadOnlySet<int> ForceScenes { get; init; } = new HashSet<int>();
    /// <summary>False: queue the jobs and return (workers finish them); only with a queue.</summary>
    public bool Wait { get; init; } = true;
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(30);
    public RenderQuality? Quality { get; init; }
    /// <summary>In-process jobs at once (default: the number of cores, at most 4).</summary>
    public int? Concurrency { get; init; }
    /// <summary>`--yes`: go ahead when the run's estimate is above MANIMCLOUD_COST_LIMIT.</summary>
    public bool CostConfirmed { get; init; }
}

/// <summary>
/// The agent pipeline (SPEC R4, issue #12): from a prompt, an edit or a stored version to a published stream. Code step,
/// then a run of jobs — render each scene that has no clip for its content address, assemble the full video, build
/// the ladder, publish — executed by workers on the SQS queue when MANIMCLOUD_QUEUE is set, else in this process
/// from the workspace. Composed by <see cref="ManimCloudClient.Pipeline"/>.
/// </summary>
public sealed class PipelineService
{
    private readonly ManimCloudClient _client;
    private readonly PipelineSettings _settings;
    public IJobStore Jobs { get; }
    /// <summary>The SQS queue when MANIMCLOUD_QUEUE is set (cloud mode); null: jobs run in-process.</summary>
    public SqsJobQueue? Queue { get; }
    /// <summary>The ffmpeg test renderer (MANIMCLOUD_FFMPEG when set, else ffmpeg on PATH, installed when missing and allowed).</summary>
    public TestRenderer Ffmpeg { get; init; }

    /// <summary>Builds the version's ladder (see <see cref="JobExecutor.Transcode"/>): the streaming service, as `video transcode` does.</summary>
    public Func<PipelineJob, IProgress<string>?, CancellationToken, Task<JsonObject>>? Transcode { get; set; }
    /// <summary>The publish step's own work before the status moves to ready: invalidating what a re-publish changed.</summary>
    public Func<PipelineJob, CancellationToken, Task<JsonObject>>? Publish { get; set; }
    /// <summary>
    /// Invalidates CDN paths ("/key": manifests, poster, storyboard) of a version that a re-publish left stale; set by
    /// <see cref="ManimCloudClient.Pipeline"/> when a distribution is provisioned, else null (the publish step then names
    /// the paths and the command that invalidates them).
    /// </summary>
    public Func<VideoRecord, int, IReadOnlyList<string>, CancellationToken, Task<JsonObject>>? Invalidate { get; set; }

    public PipelineService(ManimCloudClient client)
    {
        _client = client;
        _settings = client.Options.Pipeline;
        Ffmpeg = new TestRenderer(client.Options.Ffmpeg);
        if (_settings.Queue is { } url && client.Aws is { } aws)
        {
            Queue = new SqsJobQueue(aws.Sqs, url, aws.Retry);
            Jobs = new DynamoJobStore(aws.DynamoDB, client.Options.Table!, aws.Retry);
        }
        else Jobs = new SqliteJobStore(client.Catalog);
        Transcode = TranscodeStepAsync;
        Publish = PublishStepAsync;
    }

    // ------------------------------------------------------------------ transcode and publish (the jobs' work)

    /// <summary>
    /// The ladder of the job's version by the streaming service (the engine `video transcode` picks: MediaConvert when
    /// configured, else ffmpeg here). A scene whose clip did not change is not encoded again: its published segments
    /// are pointed at, so an edit of one scene re-encodes one scene.
    /// </summary>
    private async Task<JsonObject> TranscodeStepAsync(PipelineJob job, IProgress<string>? log, CancellationToken ct)
    {
        var before = (await _client.GetVideoAsync(job.Video, ct)).Renditions.GetValueOrDefault(job.Version);
        var progress = new StageProgress(p =>
        {
            if (p.Stage is not "encoding" and not "manifests") log?.Report($"  transcode: scene {p.Scene} {p.Stage}");
        });
        var r = await _client.Streaming.TranscodeAsync(job.Video, job.Version, null, progress, ct);
        var expected = (int?)job.Context["scenes"];
        if (expected is { } n && r.Set.Scenes.Count != n)
            throw new ManimCloudException(ErrorKind.Transient, $"The ladder of v{job.Version} of video {job.Video} has {r.Set.Scenes.Count} scene(s), the version {n}.",
                "Some clips were not visible yet where the ladder was built; the job is tried again.");
        // What this publish left stale in a CDN: manifests published before that changed, and the poster and storyboard
        // when the scenes changed (rewritten under the same names). A new version's paths were never cached.
        var stale = RenditionSet.StaleKeys(before, r.Set);
        var republished = stale.Where(k => before?.Manifests.ContainsKey(k) == true).ToList();
        // The scenes whose segments this version made (an unchanged scene points at an earlier version's).
        List<int> encoded = r.Counts.ScenesEncoded + r.Counts.ScenesResumed == 0 ? [] : r.Set.Scenes.Where(x => x.EncodedInVersion == job.Version).Select(x => x.Scene).ToList();
        var summary = $"ladder {string.Join("/", r.Set.Rungs.Select(x => x.Name))} (HLS + DASH, {r.Set.Engine}): {r.Counts.ScenesEncoded} scene(s) encoded" +
            (encoded.Count > 0 && encoded.Count < r.Set.Scenes.Count ? $" (scene {string.Join(", ", encoded)})" : "") +
            $", {r.Counts.ScenesReused} reused{(r.Counts.ScenesResumed > 0 ? $", {r.Counts.ScenesResumed} resumed" : "")}; {r.ObjectsStored} object(s) stored" +
            (r.Synced ? "" : $" (queued for the cloud: {r.PendingReason})");
        log?.Report($"  {summary}");
        return new JsonObject
        {
            ["summary"] = summary, ["engine"] = r.Set.Engine, ["hls"] = r.Set.HlsMasterKey, ["dash"] = r.Set.DashManifestKey,
            ["rungs"] = new JsonArray(r.Set.Rungs.Select(x => (JsonNode)JsonValue.Create(x.Name)!).ToArray()),
            ["encoded_scenes"] = new JsonArray(encoded.Select(x => (JsonNode)JsonValue.Create(x)).ToArray()),
            ["scenes_encoded"] = r.Counts.ScenesEncoded, ["scenes_reused"] = r.Counts.ScenesReused, ["scenes_resumed"] = r.Counts.ScenesResumed,
            ["probed_scenes"] = new JsonArray(r.Work.ProbedScenes.Select(x => (JsonNode)JsonValue.Create(x)).ToArray()), ["ffmpeg_runs"] = r.Work.ToolRuns,
            ["objects_stored"] = r.ObjectsStored, ["duration_s"] = Math.Round(r.Set.DurationSeconds, 3), ["encode_s"] = r.Set.EncodeSeconds,
            ["changed_manifests"] = new JsonArray(r.ChangedManifests.Select(k => (JsonNode)JsonValue.Create(k)!).ToArray()),
            ["republished_manifests"] = new JsonArray(republished.Select(k => (JsonNode)JsonValue.Create(k)!).ToArray()),
            ["stale_keys"] = new JsonArray(stale.Select(k => (JsonNode)JsonValue.Create(k)!).ToArray()),
            ["synced"] = r.Synced,
        };
    }

    /// <summary>
    /// Invalidation when this publish changed manifests that were published (and so maybe cached) before: a version
    /// rendered again. A new version's paths are new, so nothing of it can be cached; segments are immutable.
    /// </summary>
    private async Task<JsonObject> PublishStepAsync(PipelineJob job, CancellationToken ct)
    {
        var transcode = job.DependsOn.Count > 0 ? await Jobs.GetAsync(job.DependsOn[0], ct) : null;
        // stale_keys: manifests and images; a job recorded before it existed names its manifests only.
        var paths = (transcode?.Result?["stale_keys"] ?? transcode?.Result?["republished_manifests"])?.AsArray().Select(k => (string)k!).ToList() ?? [];
        var invalidation = new JsonObject { ["paths"] = new JsonArray(paths.Select(k => (JsonNode)JsonValue.Create("/" + k)!).ToArray()) };
        string summary;
        if (paths.Count == 0)
        {
            invalidation["needed"] = false;
            summary = $"status ready; no invalidation needed (nothing published before changed)";
        }
        else if (!_client.Delivery.Options.UsesCdn)
        {
            invalidation["needed"] = false;
            summary = $"status ready; {paths.Count} published path(s) of v{job.Version} changed, served by the local service (no CDN cache to invalidate)";
        }
        else if (Invalidate is null)
        {
            invalidation["needed"] = true;
            invalidation["done"] = false;
            summary = $"status ready; {paths.Count} published path(s) of v{job.Version} changed and may be cached by the CDN: " +
                $"`manimcloud delivery invalidate {job.Video} --version {job.Version}` clears them";
        }
        else
        {
            var record = await _client.GetVideoAsync(job.Video, ct);
            var done = await Invalidate(record, job.Version, paths.Select(k => "/" + k).ToList(), ct);
            invalidation["needed"] = true;
            invalidation["done"] = true;
            invalidation["delivery"] = done;
            summary = $"status ready; {paths.Count} stale path(s) of v{job.Version} invalidated ({(string?)done["status"] ?? "asked"}, {(int?)done["billed_paths"] ?? paths.Count} billed path(s))";
        }
        return new JsonObject { ["summary"] = summary, ["invalidation"] = invalidation };
    }

    /// <summary>Reports transcode progress on the caller's thread, in order (Progress&lt;T&gt; would post it to the thread pool).</summary>
    private sealed class StageProgress(Action<Streaming.TranscodeProgress> report) : IProgress<Streaming.TranscodeProgress>
    {
        public void Report(Streaming.TranscodeProgress value) => report(value);
    }

    public string Mode => Queue is null ? "in-process" : $"queue {Queue.Url}";

    // ------------------------------------------------------------------ choices from the settings

    public ICodeGenerator CodeGenerator() => _settings.LlmEndpoint is { } endpoint
        ? ChatCodeGenerator.ForEndpoint(endpoint, _settings.LlmModel!, Environment.GetEnvironmentVariable("OPENAI_API_KEY"))
        : new TemplateCodeGenerator();

    /// <summary>The renderer a run uses: MANIMCLOUD_RENDERER, or (unset) manim when the command exists, else the test renderer.</summary>
    public IRenderer Renderer() => _settings.Renderer switch
    {
        RendererKind.Manim => new ManimRenderer(_settings.ManimCommand),
        RendererKind.Test => new TestSceneRenderer(Ffmpeg),
        _ => ManimRenderer.Exists(_settings.ManimCommand) ? new ManimRenderer(_settings.ManimCommand) : new TestSceneRenderer(Ffmpeg),
    };

    /// <summary>A worker renders with what the job names; a missing manim is the job's (clear) failure.</summary>
    public IRenderer RendererFor(string name) => name == "manim" ? new ManimRenderer(_settings.ManimCommand) : new TestSceneRenderer(Ffmpeg);

    public JobExecutor Executor(IProgress<string>? log) =>
        new(_client, Jobs, RendererFor, Ffmpeg, log) { Transcode = Transcode, Publish = Publish, PublicUrl = _settings.PublicUrl };

    public Worker CreateWorker(WorkerOptions options, IProgress<string>? log)
    {
        if (Queue is null)
            throw new ManimCloudException(ErrorKind.InvalidInput, "There is no queue to work on: MANIMCLOUD_QUEUE is not set.",
                "Set MANIMCLOUD_QUEUE to the SQS queue URL (`manimcloud provision --queue` creates one), in cloud mode. Without it, `render` and `pipeline` run their jobs in-process.");
        return new Worker(Queue, Jobs, Executor(log), options, log);
    }

    public string WatchUrl(VideoId video, int version) => $"{_settings.PublicUrl}/watch/{video}?v={version}";

    /// <summary>
    /// The player page of a published version, signed here (a worker's link would carry the worker's key, which this
    /// machine's `serve` may not trust; behind the CDN both sign with its key pair). Null before the ladder exists.
    /// </summary>
    public async Task<string?> PlaybackUrlAsync(VideoId video, int version, CancellationToken ct)
    {
        var record = await _client.GetVideoAsync(video, ct);
        if (!record.Renditions.ContainsKey(version)) return null;
        return _client.Delivery.Link(record, version, Delivery.StreamFormat.Hls, DateTimeOffset.UtcNow.AddHours(2)).WatchUrl;
    }

    // ------------------------------------------------------------------ commands

    /// <summary>`pipeline run`: a new video from a prompt (or a code file), rendered and published.</summary>
    public async Task<PipelineReport> CreateAsync(ProjectId project, string title, string? prompt, byte[]? code, RunOptions options, IProgress<string>? log, CancellationToken ct)
    {
        if ((prompt is null) == (code is null))
            throw new ManimCloudException(ErrorKind.InvalidInput, "Give exactly one of --prompt TEXT and --code FILE.", "--prompt asks the code generator; --code stores a module you wrote.");
        if (prompt is not null) CodeGenerationStep.EnsurePrompt(prompt);
        var started = Stopwatch.StartNew();
        // The code first (generated or given, validated), so the run is priced before anything is written.
        var generation = new CodeGenerationStep(_client, CodeGenerator());
        var generated = prompt is not null ? await generation.GenerateAsync(null, title, prompt, null, ct) : null;
        var module = generated?.Code.Scenes ?? (await CodeValidation.ValidateAsync(code!, "The code file", ct)).Scenes;
        var estimate = await EnsureAffordableAsync(null, module, options, log, ct);
        var video = (await _client.CreateVideoAsync(project, title, prompt is null ? "" : $"Made by `manimcloud pipeline run`: {Shorten(prompt)}", ["pipeline"], ct)).Value;
        var report = new PipelineReport { Video = video.Id, Mode = Mode };
        AddEstimate(report, estimate);
        report.Add("create", $"video {video.Id} in project {project}", started.Elapsed.TotalSeconds, new JsonObject { ["video_id"] = video.Id.ToString() });
        log?.Report($"create: video {video.Id}");
        var step = generated is not null
            ? await generation.StoreAsync(video.Id, generated, ct)
            : await CodeGenerationStep.StoreGivenAsync(_client, video.Id, code!, null, ct);
        AddCodeStep(report, step, log);
        await RenderVersionAsync(report, step.Stored.Version, options, step.Seconds, log, ct);
        return report;
    }

    /// <summary>`pipeline edit`: the next version from a prompt, rendered incrementally and published.</summary>
    public async Task<PipelineReport> EditAsync(VideoId video, string prompt, RunOptions options, IProgress<string>? log, CancellationToken ct)
    {
        var report = new PipelineReport { Video = video, Mode = Mode };
        var generation = new CodeGenerationStep(_client, CodeGenerator());
        var generated = await generation.GenerateAsync(video, null, prompt, null, ct);
        AddEstimate(report, await EnsureAffordableAsync(await _client.GetVideoAsync(video, ct), generated.Code.Scenes, options, log, ct));
        var step = await generation.StoreAsync(video, generated, ct);
        AddCodeStep(report, step, log);
        await RenderVersionAsync(report, step.Stored.Version, options, step.Seconds, log, ct);
        return report;
    }

    /// <summary>`render`: a stored version (default the current one) rendered and published.</summary>
    public async Task<PipelineReport> RenderAsync(VideoId video, int? version, RunOptions options, IProgress<string>? log, CancellationToken ct)
    {
        var record = await _client.GetVideoAsync(video, ct);
        if (record.CurrentVersion == 0)
            throw new ManimCloudException(ErrorKind.NotFound, $"Video {video} has no code to render.", "Store some with `code put FILE --video V` or use `pipeline edit`.");
        var report = new PipelineReport { Video = video, Mode = Mode };
        var (_, content) = await _client.GetCodeAsync(video, version ?? record.CurrentVersion, ct);
        AddEstimate(report, await EnsureAffordableAsync(record, ManimScenes.Parse(Encoding.UTF8.GetString(content)), options, log, ct));
        await RenderVersionAsync(report, version ?? record.CurrentVersion, options, 0, log, ct);
        return report;
    }

    /// <summary>
    /// What the run will cost (SPEC R9), refused above MANIMCLOUD_COST_LIMIT unless confirmed — before anything is
    /// written. Scenes whose clip exists for their content address are copied, not rendered; their transcode is not
    /// billed when this video's ladder (same engine and settings) already has that clip's segments. The clips' length
    /// comes from the code (<see cref="SceneTiming"/>); the transcode engine is the one the run will use.
    /// </summary>
    private async Task<Operations.CostEstimate> EnsureAffordableAsync(VideoRecord? video, ManimScenes module, RunOptions options, IProgress<string>? log, CancellationToken ct)
    {
        var renderer = Renderer();
        var quality = options.Quality ?? _settings.Quality;
        var streaming = _client.Streaming;
        var engine = streaming.DefaultEngine;
        var fingerprint = engine == Streaming.TranscodeEngines.MediaConvert ? Streaming.MediaConvert.SceneJob.Fingerprint(streaming.Ladder) : streaming.Ladder.Fingerprint;
        var encodedBefore = video?.Renditions.Values.Where(s => s.Engine == engine && s.LadderFingerprint == fingerprint)
            .SelectMany(s => s.Scenes).Select(s => s.ClipSha256).ToHashSet(StringComparer.Ordinal) ?? [];
        var clips = new List<Operations.ClipToEncode>();
        foreach (var scene in module.Scenes)
        {
            var found = options.ForceScenes.Contains(scene.Number) ? null : await Jobs.FindRenderAsync(RenderKey.For(renderer, quality, module, scene), ct);
            clips.Add(SceneTiming.Clip(renderer.Name, quality, scene, found is not null && encodedBefore.Contains(found.Sha256)));
        }
        var costs = _client.Operations.Costs;
        var transcode = costs.EstimateTranscode(engine, streaming.Ladder, clips);
        var seconds = clips.Sum(c => c.DurationSeconds);
        var estimate = costs.EstimatePipeline(clips.Count, seconds / Math.Max(clips.Count, 1), 2_000_000, transcode,
            $"{(video is null ? "Pipeline run of a new video" : $"Pipeline run of video {video.Id}")}: {clips.Count} scene(s), {seconds:0.#} s "
            + $"({renderer.Name}, {quality.ToString().ToLowerInvariant()}), transcode on {engine} of {clips.Count(c => !c.Reused)} scene(s)");
        log?.Report("estimate: " + estimate.ToText());
        _client.Operations.EnsureWithinCostLimit(estimate, options.CostConfirmed);
        return estimate;
    }

    private void AddEstimate(PipelineReport report, Operations.CostEstimate estimate)
    {
        var json = estimate.ToJson();
        json["cost_limit"] = _client.Operations.CostLimit;
        report.Add("estimate", $"{Operations.CostEstimate.Money(estimate.Total, estimate.Currency)} estimated"
            + (_client.Operations.CostLimit is { } l ? $" (MANIMCLOUD_COST_LIMIT {l:0.00})" : ""), 0, json);
    }

    private static void AddCodeStep(PipelineReport report, CodeStepResult step, IProgress<string>? log)
    {
        var summary = $"v{step.Stored.Version} by {step.Generator}: {step.Summary}" + (step.Note is null ? "" : $" (note: {step.Note})");
        report.Add("code", summary, step.Seconds, new JsonObject
        {
            ["version"] = step.Stored.Version, ["generator"] = step.Generator, ["author"] = step.Stored.Author, ["key"] = step.Stored.Key,
            ["sha256"] = step.Stored.Sha256, ["scenes"] = new JsonArray(step.Code.Scenes.Scenes.Select(s => (JsonNode)JsonValue.Create(s.Name)!).ToArray()),
            ["syntax_checked"] = step.Code.SyntaxChecked, ["synced"] = step.Synced, ["note"] = step.Note,
        });
        log?.Report($"code: {summary}");
    }

    private async Task RenderVersionAsync(PipelineReport report, int version, RunOptions options, double codeSeconds, IProgress<string>? log, CancellationToken ct)
    {
        report.Version = version;
        var runStarted = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var record = await _client.GetVideoAsync(report.Video, ct);
        var (_, content) = await _client.GetCodeAsync(report.Video, version, ct);
        var module = ManimScenes.Parse(Encoding.UTF8.GetString(content));
        if (module.Scenes.Count == 0)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"Version {version} of video {report.Video} has no Scene subclass.", "Store code with at least one Scene subclass.");
        foreach (var forced in options.ForceScenes)
            if (forced < 1 || forced > module.Scenes.Count)
                throw new ManimCloudException(ErrorKind.InvalidInput, $"--scene {forced}: version {version} has scenes 1 to {module.Scenes.Count}.",
                    string.Join(", ", module.Scenes.Select(s => $"{s.Number} {s.Name}")));
        var renderer = Renderer();
        var quality = options.Quality ?? _settings.Quality;
        var executor = Executor(log);
        await executor.MoveStatusAsync(report.Video, VideoStatus.Rendering, ct);

        // Reuse: a scene whose content address has a clip already is copied, not rendered.
        var run = Guid.NewGuid().ToString("N")[..12];
        report.Run = run;
        var toRender = new List<(SceneSource Scene, string Key)>();
        var reused = new JsonArray();
        foreach (var scene in module.Scenes)
        {
            var key = RenderKey.For(renderer, quality, module, scene);
            var found = options.ForceScenes.Contains(scene.Number) ? null : await Jobs.FindRenderAsync(key, ct);
            if (found is not null && await TryReuseAsync(report.Video, version, scene, found, ct))
                reused.Add((JsonNode)new JsonObject { ["scene"] = scene.Number, ["name"] = scene.Name, ["from_version"] = found.Version, ["sha256"] = found.Sha256 });
            else toRender.Add((scene, key));
        }
        var reuseSeconds = clock.Elapsed.TotalSeconds;
        report.Add("reuse", $"{reused.Count} of {module.Scenes.Count} scene(s) unchanged, clips reused", reuseSeconds, new JsonObject { ["reused"] = reused });
        log?.Report($"reuse: {reused.Count} of {module.Scenes.Count} scene(s) unchanged; {toRender.Count} to render with {renderer.Name} ({quality.ToString().ToLowerInvariant()})");

        var jobs = PlanJobs(run, record, version, module.Scenes.Count, toRender, renderer.Name, quality, new JsonObject
        {
            ["scenes"] = module.Scenes.Count, ["reused"] = reused.Count, ["code_seconds"] = codeSeconds,
            ["reuse_seconds"] = Math.Round(reuseSeconds, 3), ["started_at"] = runStarted.ToString("O"),
        });
        await Jobs.CreateAsync(jobs, ct);
        IJobQueue queue = Queue is not null ? Queue : new InProcessJobQueue();
        foreach (var job in jobs.Where(j => j.State == JobState.Queued)) await queue.SendAsync(job, ct);

        if (Queue is not null && !options.Wait)
        {
            report.Add("queue", $"{jobs.Count} job(s) of run {run} queued on {Queue.Url}; workers finish them (`jobs list --video {report.Video}`)", 0,
                new JsonObject { ["jobs"] = new JsonArray(jobs.Select(j => (JsonNode)JsonValue.Create(j.Id)!).ToArray()) });
            report.Url = WatchUrl(report.Video, version);
            return;
        }

        using var inProcess = new CancellationTokenSource();
        Task<WorkerReport>? worker = null;
        if (Queue is null)
        {
            var concurrency = options.Concurrency ?? Math.Clamp(Environment.ProcessorCount, 1, 4);
            worker = new Worker(queue, Jobs, executor, new WorkerOptions
            {
                Concurrency = concurrency, Visibility = TimeSpan.FromMinutes(30), PollWait = TimeSpan.FromMilliseconds(500), MaxAttempts = 2,
                Owner = $"in-process-{Environment.ProcessId}",
            }, null).RunAsync(inProcess.Token);
        }
        try
        {
            await WaitForRunAsync(report, run, jobs, queue, options.Timeout, log, ct);
        }
        finally
        {
            inProcess.Cancel();
            if (worker is not null) await worker.ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private static List<PipelineJob> PlanJobs(string run, VideoRecord record, int version, int sceneCount, List<(SceneSource Scene, string Key)> toRender,
        string renderer, RenderQuality quality, JsonObject context)
    {
        var now = DateTimeOffset.UtcNow;
        PipelineJob Job(JobKind kind, JobState state, IReadOnlyList<string> deps, string? next, int? scene = null, string? name = null, string? key = null) => new()
        {
            Id = PipelineJob.IdFor(run, kind, scene), Run = run, Video = record.Id, Project = record.Project, Version = version, Kind = kind,
            Scene = scene, SceneName = name, RenderKey = key, Renderer = renderer, Quality = quality, DependsOn = deps, Next = next,
            State = state, CreatedAt = now, UpdatedAt = now, Context = kind is JobKind.Assemble or JobKind.Publish ? context.DeepClone().AsObject() : new JsonObject(),
        };
        var assembleId = PipelineJob.IdFor(run, JobKind.Assemble);
        var transcodeId = PipelineJob.IdFor(run, JobKind.Transcode);
        var publishId = PipelineJob.IdFor(run, JobKind.Publish);
        var renders = toRender.Select(r => Job(JobKind.RenderScene, JobState.Queued, [], assembleId, r.Scene.Number, r.Scene.Name, r.Key)).ToList();
        var jobs = new List<PipelineJob>(renders)
        {
            Job(JobKind.Assemble, renders.Count == 0 ? JobState.Queued : JobState.Waiting, renders.Select(r => r.Id).ToList(), transcodeId),
            Job(JobKind.Transcode, JobState.Waiting, [assembleId], publishId),
            Job(JobKind.Publish, JobState.Waiting, [transcodeId], null),
        };
        return jobs;
    }

    private async Task<bool> TryReuseAsync(VideoId video, int version, SceneSource scene, SceneRender found, CancellationToken ct)
    {
        var dir = Directory.CreateTempSubdirectory("manimcloud-reuse-");
        try
        {
            var path = Path.Combine(dir.FullName, "clip.mp4");
            await _client.GetMediaAsync(found.Video, MediaSlot.ForScene(found.Scene), found.Version, path, ct);
            await _client.PutMediaAsync(video, MediaSlot.ForScene(scene.Number), path, null, ct, version);
            return true;
        }
        catch (ManimCloudException e) when (e.Kind is ErrorKind.NotFound)
        {
            return false; // the clip it pointed at is gone: render the scene instead
        }
        finally
        {
            try { dir.Delete(recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Follows the run's jobs until publish is done (or one is dead or cancelled), printing each change; fills the report's steps.</summary>
    private async Task WaitForRunAsync(PipelineReport report, string run, List<PipelineJob> planned, IJobQueue queue, TimeSpan timeout, IProgress<string>? log, CancellationToken ct)
    {
        var deadline = DateTimeOffset.UtcNow + timeout;
        var seen = new Dictionary<string, JobState>();
        var poll = Queue is null ? TimeSpan.FromMilliseconds(200) : TimeSpan.FromSeconds(1);
        var lastNudge = DateTimeOffset.UtcNow;
        while (true)
        {
            var jobs = new List<PipelineJob>();
            foreach (var p in planned) jobs.Add(await Jobs.GetAsync(p.Id, ct) ?? p);
            foreach (var j in jobs.Where(j => !seen.TryGetValue(j.Id, out var s) || s != j.State))
            {
                seen[j.Id] = j.State;
                if (j.State is JobState.Running or JobState.Done or JobState.Dead)
                    log?.Report($"  {j.Id}: {PipelineJob.StateName(j.State)}{(j.Owner is { } o && j.State == JobState.Running ? $" on {o}" : "")}{(j.Error is { } e && j.State == JobState.Dead ? $": {e}" : "")}");
            }
            if (jobs.FirstOrDefault(j => j.State is JobState.Dead or JobState.Cancelled) is { } failed)
            {
                await _client.UpdateVideoAsync(report.Video, null, null, null, VideoStatus.Error, null, ct).ContinueWith(_ => { }, TaskScheduler.Default);
                throw new ManimCloudException(failed.State == JobState.Cancelled ? ErrorKind.Conflict : ErrorKind.Fatal,
                    $"Job {failed.Id} ({PipelineJob.KindName(failed.Kind)}{(failed.SceneName is { } n ? $" {n}" : "")}) is {PipelineJob.StateName(failed.State)}: {failed.Error ?? "cancelled"}",
                    $"Fix the cause, then `manimcloud jobs retry {failed.Id}`, or run the command again (finished scenes are reused).");
            }
            var publish = jobs.Single(j => j.Kind == JobKind.Publish);
            if (publish.State == JobState.Done)
            {
                Summarize(report, jobs);
                try
                {
                    report.Url = await PlaybackUrlAsync(report.Video, report.Version, ct) ?? report.Url;
                }
                catch (ManimCloudException e) when (e.Kind is ErrorKind.InvalidInput or ErrorKind.NotFound)
                {
                    // The video is published; only this machine cannot sign a link (delivery's keys): say so, keep the unsigned page.
                    report.Steps[^1].Details["link_error"] = $"{e.Message} {e.Hint}";
                    log?.Report($"publish: the player page needs a signed grant, which this machine cannot make: {e.Message} {e.Hint}");
                }
                return;
            }
            if (DateTimeOffset.UtcNow > deadline)
                throw new ManimCloudException(ErrorKind.Transient, $"Run {run} did not finish within {timeout.TotalMinutes:0} min.",
                    Queue is null ? "Run the command again; finished scenes are reused." : "Are workers running (`manimcloud worker`)? `manimcloud jobs list --video V` shows where it stands.");
            if (Queue is not null && DateTimeOffset.UtcNow - lastNudge > TimeSpan.FromSeconds(10))
            {
                // A worker that died between finishing a job and queueing the next leaves the next waiting: queue it here.
                lastNudge = DateTimeOffset.UtcNow;
                foreach (var done in jobs.Where(j => j.State == JobState.Done)) await Worker_Advance(done, queue, ct);
            }
            await Task.Delay(poll, ct);
        }
    }

    private Task Worker_Advance(PipelineJob done, IJobQueue queue, CancellationToken ct) => Worker.AdvanceAsync(Jobs, queue, done, ct);

    private static void Summarize(PipelineReport report, List<PipelineJob> jobs)
    {
        double Seconds(PipelineJob j) => j.StartedAt is { } s && j.FinishedAt is { } f ? (f - s).TotalSeconds : 0;
        var renders = jobs.Where(j => j.Kind == JobKind.RenderScene).ToList();
        var renderSpan = renders.Count == 0 ? 0 : (renders.Max(j => j.FinishedAt!.Value) - renders.Min(j => j.StartedAt!.Value)).TotalSeconds;
        report.Add("render", renders.Count == 0 ? "nothing to render" :
            $"{renders.Count} scene(s) rendered and stored ({string.Join(", ", renders.OrderBy(r => r.Scene).Select(r => r.SceneName))}) by {renders.Select(r => r.Owner ?? "?").Distinct().Count()} worker(s)",
            renderSpan, new JsonObject
            {
                ["scenes"] = new JsonArray(renders.OrderBy(r => r.Scene).Select(r => (JsonNode)new JsonObject
                {
                    ["scene"] = r.Scene, ["name"] = r.SceneName, ["job"] = r.Id, ["attempts"] = r.Attempts, ["result"] = r.Result?.DeepClone(),
                }).ToArray()),
            });
        var assemble = jobs.Single(j => j.Kind == JobKind.Assemble);
        report.Add("upload", $"clips and the full video stored ({assemble.Result?["key"]}, {assemble.Result?["size"]} bytes)", Seconds(assemble), assemble.Result?.DeepClone().AsObject());
        var transcode = jobs.Single(j => j.Kind == JobKind.Transcode);
        report.Add("transcode", transcode.Result?["skipped"] is { } why ? $"skipped: {why}" : (string?)transcode.Result?["summary"] ?? "ladder built", Seconds(transcode), transcode.Result?.DeepClone().AsObject());
        var publish = jobs.Single(j => j.Kind == JobKind.Publish);
        report.Add("publish", (string?)publish.Result?["summary"] ?? "status ready", Seconds(publish), publish.Result?.DeepClone().AsObject());
        report.Url = (string?)publish.Result?["url"];
        report.Finished = true;
    }

    private static string Shorten(string text) => text.Length <= 200 ? text : text[..197] + "...";

    // ------------------------------------------------------------------ jobs commands

    public async Task<PipelineJob> CancelJobAsync(string id, CancellationToken ct)
    {
        var (changed, current) = await Jobs.TransitionAsync(id, j => j.Cancel(DateTimeOffset.UtcNow), ct);
        if (current is null) await Jobs.RequireAsync(id, ct);
        return changed ?? throw new ManimCloudException(ErrorKind.Conflict, $"Job {id} is already {PipelineJob.StateName(current!.State)}.", "Only waiting, queued and running jobs can be cancelled.");
    }

    /// <summary>`jobs retry`: queues the job again (taking it out of the dead-letter queue) and, in-process, runs it and what waits on it.</summary>
    public async Task<PipelineJob> RetryJobAsync(string id, IProgress<string>? log, CancellationToken ct)
    {
        var (changed, current) = await Jobs.TransitionAsync(id, j => j.Retry(DateTimeOffset.UtcNow), ct);
        if (current is null) await Jobs.RequireAsync(id, ct);
        if (changed is null)
            throw new ManimCloudException(ErrorKind.Conflict, $"Job {id} is {PipelineJob.StateName(current!.State)}{(current.State == JobState.Running ? $" on {current.Owner}, whose lease is live" : "")}.",
                "Retry a dead, cancelled or stuck job; a running one is still being worked on.");
        if (Queue is not null)
        {
            var removed = await Queue.RedriveAsync(id, ct);
            await Queue.SendAsync(changed, ct);
            log?.Report($"{id}: queued again on {Queue.Url}{(removed > 0 ? $" ({removed} message(s) taken out of the dead-letter queue)" : "")}");
            return changed;
        }
        // In-process: run it, and the jobs waiting on it, here and now.
        var queue = new InProcessJobQueue();
        await queue.SendAsync(changed, ct);
        using var stop = new CancellationTokenSource();
        var worker = new Worker(queue, Jobs, Executor(log), new WorkerOptions { Visibility = TimeSpan.FromMinutes(30), PollWait = TimeSpan.FromMilliseconds(300), IdleExit = TimeSpan.FromSeconds(2), MaxAttempts = 1 }, log);
        await worker.RunAsync(ct);
        return await Jobs.RequireAsync(id, ct);
    }
}
