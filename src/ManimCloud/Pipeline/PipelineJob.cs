using System.Text.Json.Nodes;
using ManimCloud.Domain;

namespace ManimCloud.Pipeline;

/// <summary>The work a job does: render one scene, assemble the full video, build the ladder, publish.</summary>
public enum JobKind { RenderScene, Assemble, Transcode, Publish }

/// <summary>
/// waiting (for the jobs it depends on) → queued → running → done; a failed attempt goes back to queued until the
/// job is dead (moved to the dead-letter queue with its reason); cancelled stops it wherever it is.
/// </summary>
public enum JobState { Waiting, Queued, Running, Done, Dead, Cancelled }

/// <summary>
/// One job of a pipeline run and its state. The state changes only through the pure transitions below, applied by
/// an <see cref="IJobStore"/> as a compare-and-swap on <see cref="Revision"/> (a conditional write on DynamoDB, an
/// IMMEDIATE transaction on SQLite): so two workers given the same job cannot both run it while its lease lives, and
/// a job is completed exactly once however often its message is delivered.
/// </summary>
public sealed record PipelineJob
{
    public required string Id { get; init; }
    public required string Run { get; init; }
    public required VideoId Video { get; init; }
    public required ProjectId Project { get; init; }
    public required int Version { get; init; }
    public required JobKind Kind { get; init; }
    /// <summary>For render jobs: the scene's number and class name.</summary>
    public int? Scene { get; init; }
    public string? SceneName { get; init; }
    public string? RenderKey { get; init; }
    public string Renderer { get; init; } = "test";
    public RenderQuality Quality { get; init; } = RenderQuality.Low;
    /// <summary>Jobs that must be done before this one is queued; <see cref="Next"/>: the job waiting on this one.</summary>
    public IReadOnlyList<string> DependsOn { get; init; } = [];
    public string? Next { get; init; }
    /// <summary>Run-wide figures the publish job records (scene count, reused scenes, code step time, start).</summary>
    public JsonObject Context { get; init; } = new();

    public JobState State { get; init; } = JobState.Queued;
    public int Attempts { get; init; }
    public string? Owner { get; init; }
    public DateTimeOffset? LeaseUntil { get; init; }
    public int Completions { get; init; }
    public string? Error { get; init; }
    public JsonObject? Result { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
    public long Revision { get; init; }

    public bool IsFinished => State is JobState.Done or JobState.Dead or JobState.Cancelled;

    public static string IdFor(string run, JobKind kind, int? scene = null) =>
        kind == JobKind.RenderScene ? $"{run}-scene-{scene:D3}" : $"{run}-{KindName(kind)}";

    // ------------------------------------------------------------------ transitions (pure; null = not applicable)

    /// <summary>A worker takes the job: it is queued, or running under a lease that has run out (its worker died).</summary>
    public PipelineJob? Claim(string owner, DateTimeOffset now, TimeSpan lease) =>
        State == JobState.Queued || (State == JobState.Running && LeaseUntil < now)
            ? this with { State = JobState.Running, Owner = owner, LeaseUntil = now + lease, Attempts = Attempts + 1, StartedAt = now, UpdatedAt = now }
            : null;

    public PipelineJob? Heartbeat(string owner, DateTimeOffset now, TimeSpan lease) =>
        State == JobState.Running && Owner == owner ? this with { LeaseUntil = now + lease, UpdatedAt = now } : null;

    public PipelineJob? Complete(string owner, JsonObject result, DateTimeOffset now) =>
        State == JobState.Running && Owner == owner
            ? this with { State = JobState.Done, Result = result, Completions = Completions + 1, Error = null, FinishedAt = now, UpdatedAt = now, LeaseUntil = null }
            : null;

    /// <summary>An attempt failed: back to queued for another attempt, or dead for good.</summary>
    public PipelineJob? Fail(string owner, string error, bool dead, DateTimeOffset now) =>
        State == JobState.Running && Owner == owner
            ? this with { State = dead ? JobState.Dead : JobState.Queued, Error = error, Owner = null, LeaseUntil = null, UpdatedAt = now, FinishedAt = dead ? now : null }
            : null;

    /// <summary>A stopping worker hands the job back unfinished; the attempt does not count.</summary>
    public PipelineJob? HandBack(string owner, DateTimeOffset now) =>
        State == JobState.Running && Owner == owner
            ? this with { State = JobState.Queued, Owner = null, LeaseUntil = null, Attempts = Math.Max(0, Attempts - 1), UpdatedAt = now }
            : null;

    public PipelineJob? Release(DateTimeOffset now) => State == JobState.Waiting ? this with { State = JobState.Queued, UpdatedAt = now } : null;

    public PipelineJob? Cancel(DateTimeOffset now) =>
        IsFinished ? null : this with { State = JobState.Cancelled, Owner = null, LeaseUntil = null, UpdatedAt = now, FinishedAt = now };

    /// <summary>`jobs retry`: a dead or cancelled job (or one stuck queued) is queued again with fresh attempts.</summary>
    public PipelineJob? Retry(DateTimeOffset now) =>
        State is JobState.Dead or JobState.Cancelled or JobState.Queued || (State == JobState.Running && LeaseUntil < now)
            ? this with { State = JobState.Queued, Attempts = 0, Owner = null, LeaseUntil = null, FinishedAt = null, UpdatedAt = now }
            : null;

    // ------------------------------------------------------------------ JSON (the one stored and printed shape)

    public static string KindName(JobKind k) => k switch { JobKind.RenderScene => "render_scene", _ => k.ToString().ToLowerInvariant() };
    public static string StateName(JobState s) => s.ToString().ToLowerInvariant();

    /// <summary>The pipeline step a job carries out, as the commands print it and as its span is named.</summary>
    public static string StepName(JobKind k) => k switch
    {
        JobKind.RenderScene => "render", JobKind.Assemble => "upload", JobKind.Transcode => "transcode", _ => "publish",
    };

    public static JobKind ParseKind(string s) => s switch
    {
        "render_scene" => JobKind.RenderScene, "assemble" => JobKind.Assemble, "transcode" => JobKind.Transcode, "publish" => JobKind.Publish,
        _ => throw new ManimCloudException(ErrorKind.Fatal, $"Unknown job kind '{s}'.", "It was written by a newer ManimCloud; upgrade the worker."),
    };

    public static JobState ParseState(string s) =>
        Enum.TryParse<JobState>(s, ignoreCase: true, out var v) ? v
            : throw new ManimCloudException(ErrorKind.InvalidInput, $"'{s}' is not a job state.", "Use waiting, queued, running, done, dead or cancelled.");

    public JsonObject ToJson()
    {
        var j = new JsonObject
        {
            ["job_id"] = Id, ["run"] = Run, ["video_id"] = Video.ToString(), ["project_id"] = Project.ToString(), ["version"] = Version,
            ["kind"] = KindName(Kind), ["state"] = StateName(State), ["attempts"] = Attempts, ["completions"] = Completions,
            ["renderer"] = Renderer, ["quality"] = Quality.ToString().ToLowerInvariant(),
            ["depends_on"] = new JsonArray(DependsOn.Select(d => (JsonNode)JsonValue.Create(d)!).ToArray()),
            ["created_at"] = CreatedAt.ToString("O"), ["updated_at"] = UpdatedAt.ToString("O"), ["revision"] = Revision,
        };
        if (Scene is { } s) j["scene"] = s;
        if (SceneName is { } n) j["scene_name"] = n;
        if (RenderKey is { } k) j["render_key"] = k;
        if (Next is { } x) j["next"] = x;
        if (Context.Count > 0) j["context"] = Context.DeepClone();
        if (Owner is { } o) j["owner"] = o;
        if (LeaseUntil is { } l) j["lease_until"] = l.ToString("O");
        if (Error is { } e) j["error"] = e;
        if (Result is { } r) j["result"] = r.DeepClone();
        if (StartedAt is { } st) j["started_at"] = st.ToString("O");
        if (FinishedAt is { } f) j["finished_at"] = f.ToString("O");
        return j;
    }

    public static PipelineJob FromJson(JsonNode j) => new()
    {
        Id = (string)j["job_id"]!, Run = (string)j["run"]!, Video = VideoId.Parse((string?)j["video_id"]), Project = ProjectId.Parse((string?)j["project_id"]),
        Version = (int)j["version"]!, Kind = ParseKind((string)j["kind"]!), State = ParseState((string)j["state"]!),
        Attempts = (int?)j["attempts"] ?? 0, Completions = (int?)j["completions"] ?? 0,
        Renderer = (string?)j["renderer"] ?? "test", Quality = PipelineSettings.ParseQuality((string?)j["quality"] ?? "low", "the job's quality"),
        DependsOn = j["depends_on"]?.AsArray().Select(d => (string)d!).ToList() ?? [],
        CreatedAt = DateTimeOffset.Parse((string)j["created_at"]!), UpdatedAt = DateTimeOffset.Parse((string)j["updated_at"]!),
        Revision = (long?)j["revision"] ?? 0,
        Scene = (int?)j["scene"], SceneName = (string?)j["scene_name"], RenderKey = (string?)j["render_key"], Next = (string?)j["next"],
        Context = j["context"]?.DeepClone().AsObject() ?? new JsonObject(),
        Owner = (string?)j["owner"], LeaseUntil = j["lease_until"] is { } l ? DateTimeOffset.Parse((string)l!) : null,
        Error = (string?)j["error"], Result = j["result"]?.DeepClone().AsObject(),
        StartedAt = j["started_at"] is { } st ? DateTimeOffset.Parse((string)st!) : null,
        FinishedAt = j["finished_at"] is { } f ? DateTimeOffset.Parse((string)f!) : null,
    };
}

/// <summary>A clip already rendered for a content address (<see cref="RenderKey"/>): where it is stored, so a later render reuses it.</summary>
public sealed record SceneRender(string RenderKey, VideoId Video, int Version, int Scene, string Sha256, long Size)
{
    public JsonObject ToJson() => new()
    {
        ["render_key"] = RenderKey, ["video_id"] = Video.ToString(), ["version"] = Version, ["scene"] = Scene, ["sha256"] = Sha256, ["size"] = Size,
    };

    public static SceneRender FromJson(JsonNode j) => new((string)j["render_key"]!, VideoId.Parse((string?)j["video_id"]), (int)j["version"]!,
        (int)j["scene"]!, (string)j["sha256"]!, (long)j["size"]!);
}
