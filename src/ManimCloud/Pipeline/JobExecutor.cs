using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Operations.Telemetry;
using ManimCloud.Rendering;

namespace ManimCloud.Pipeline;

/// <summary>
/// Does the work of one job, on whichever machine holds it: reads its inputs from the stores (code, clips), writes its
/// outputs there (clips, the full video, renditions, the record's status), and returns a small result recorded with
/// the job. Every output is keyed by video, version and scene, so a job done twice (a worker that lost its lease
/// mid-job) writes the same objects again, never a second copy.
/// </summary>
public sealed class JobExecutor(ManimCloudClient client, IJobStore store, Func<string, IRenderer> rendererFor, TestRenderer ffmpeg,
    IProgress<string>? log = null)
{
    /// <summary>Builds a version's ladder (the streaming service, see <see cref="PipelineService"/>); null: the step is skipped and says so.</summary>
    public Func<PipelineJob, IProgress<string>?, CancellationToken, Task<JsonObject>>? Transcode { get; init; }

    /// <summary>Invalidates what a re-publish changed in the CDN's cache (and may name the playback URL); null: nothing beyond the status and the link.</summary>
    public Func<PipelineJob, CancellationToken, Task<JsonObject>>? Publish { get; init; }

    public string PublicUrl { get; init; } = "http://127.0.0.1:8080";

    public Task<JsonObject> ExecuteAsync(PipelineJob job, CancellationToken ct) => job.Kind switch
    {
        JobKind.RenderScene => RenderSceneAsync(job, ct),
        JobKind.Assemble => AssembleAsync(job, ct),
        JobKind.Transcode => TranscodeAsync(job, ct),
        _ => PublishAsync(job, ct),
    };

    private async Task<JsonObject> RenderSceneAsync(PipelineJob job, CancellationToken ct)
    {
        var started = Stopwatch.StartNew();
        var work = Directory.CreateTempSubdirectory("manimcloud-render-");
        try
        {
            var (_, content) = await client.GetCodeAsync(job.Video, job.Version, ct);
            var module = Path.Combine(work.FullName, $"{job.Video}_v{job.Version}.py");
            await File.WriteAllBytesAsync(module, content, ct);
            var scenes = ManimScenes.Parse(Encoding.UTF8.GetString(content));
            var scene = scenes.Find(job.SceneName!) ?? throw new ManimCloudException(ErrorKind.InvalidInput,
                $"Version {job.Version} of video {job.Video} has no scene {job.SceneName}.", "The code changed under the job: render the version again.");
            var renderer = rendererFor(job.Renderer);
            string clip;
            try
            {
                clip = await renderer.RenderSceneAsync(new SceneRenderRequest(module, scene, job.Quality, Path.Combine(work.FullName, "out")), ct);
            }
            catch (ManimCloudException e)
            {
                ManimCloudMetrics.RecordRender(renderer.Name, started.Elapsed.TotalSeconds, ManimCloudMetrics.OutcomeOf(e.Kind));
                throw;
            }
            var rendered = started.Elapsed.TotalSeconds;
            ManimCloudMetrics.RecordRender(renderer.Name, rendered);
            var stored = (await client.PutMediaAsync(job.Video, MediaSlot.ForScene(job.Scene!.Value), clip, null, ct, job.Version)).Value;
            await store.RecordRenderAsync(new SceneRender(job.RenderKey!, job.Video, job.Version, job.Scene.Value, stored.Sha256, stored.Size), ct);
            log?.Report($"  rendered scene {job.Scene} ({scene.Name}) with {renderer.Name} in {rendered:0.00} s, stored {stored.Key} ({stored.Size} bytes)");
            return new JsonObject
            {
                ["key"] = stored.Key, ["sha256"] = stored.Sha256, ["size"] = stored.Size,
                ["render_seconds"] = Math.Round(rendered, 3), ["seconds"] = Math.Round(started.Elapsed.TotalSeconds, 3),
            };
        }
        finally
        {
            try { work.Delete(recursive: true); } catch (IOException) { }
        }
    }

    private async Task<JsonObject> AssembleAsync(PipelineJob job, CancellationToken ct)
    {
        var started = Stopwatch.StartNew();
        var count = (int)job.Context["scenes"]!;
        var work = Directory.CreateTempSubdirectory("manimcloud-assemble-");
        try
        {
            var clips = new List<string>();
            for (var scene = 1; scene <= count; scene++)
            {
                var path = Path.Combine(work.FullName, $"scene_{scene:D3}.mp4");
                await client.GetMediaAsync(job.Video, MediaSlot.ForScene(scene), job.Version, path, ct);
                clips.Add(path);
            }
            var full = Path.Combine(work.FullName, "full.mp4");
            await ffmpeg.ConcatAsync(clips, full, ct);
            var stored = (await client.PutMediaAsync(job.Video, MediaSlot.Full, full, null, ct, job.Version)).Value;
            await MoveStatusAsync(job.Video, VideoStatus.Uploaded, ct);
            log?.Report($"  assembled {count} clip(s) into {stored.Key} ({stored.Size} bytes)");
            return new JsonObject { ["key"] = stored.Key, ["sha256"] = stored.Sha256, ["size"] = stored.Size, ["seconds"] = Math.Round(started.Elapsed.TotalSeconds, 3) };
        }
        finally
        {
            try { work.Delete(recursive: true); } catch (IOException) { }
        }
    }

    private async Task<JsonObject> TranscodeAsync(PipelineJob job, CancellationToken ct)
    {
        var started = Stopwatch.StartNew();
        if (Transcode is null)
            return new JsonObject { ["skipped"] = "no transcode service in this build", ["seconds"] = 0.0 };
        await MoveStatusAsync(job.Video, VideoStatus.Transcoding, ct);
        var result = await Transcode(job, log, ct);
        result["seconds"] = Math.Round(started.Elapsed.TotalSeconds, 3);
        return result;
    }

    private async Task<JsonObject> PublishAsync(PipelineJob job, CancellationToken ct)
    {
        var started = Stopwatch.StartNew();
        var result = Publish is null ? new JsonObject() : await Publish(job, ct);
        // The player page; the command that waits for the run signs its grant on its own machine (PipelineService.PlaybackUrlAsync).
        result["url"] ??= WatchUrl(job.Video, job.Version);
        // The run's timings, step by step, from its jobs' records (any worker may have done any of them).
        var jobs = await store.ListAsync(job.Video, job.Run, 1000, ct);
        var stats = RunStats.From(jobs, job, started.Elapsed);
        await MoveStatusAsync(job.Video, VideoStatus.Ready, ct, stats);
        result["seconds"] = Math.Round(started.Elapsed.TotalSeconds, 3);
        result["stats"] = new JsonObject(stats.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        log?.Report($"  published v{job.Version}: {result["url"]}");
        return result;
    }

    public string WatchUrl(VideoId video, int version) => $"{PublicUrl}/watch/{video}?v={version}";

    /// <summary>Moves the record's status, going through error when the move is not allowed from where it is (a run that died half-way).</summary>
    public async Task MoveStatusAsync(VideoId video, VideoStatus to, CancellationToken ct, IReadOnlyDictionary<string, double>? stats = null)
    {
        var current = await client.GetVideoAsync(video, ct);
        if (!VideoStatuses.CanMove(current.Status, to))
            await client.UpdateVideoAsync(video, null, null, null, VideoStatus.Error, null, ct);
        await client.UpdateVideoAsync(video, null, null, null, to, null, ct, stats);
    }
}

/// <summary>The processing statistics a run records in the video record (SPEC R3), in seconds and counts.</summary>
public static class RunStats
{
    public static Dictionary<string, double> From(IReadOnlyList<PipelineJob> jobs, PipelineJob publish, TimeSpan publishSoFar)
    {
        double Span(IEnumerable<PipelineJob> js)
        {
            var list = js.Where(j => j.StartedAt is not null && j.FinishedAt is not null).ToList();
            return list.Count == 0 ? 0 : Math.Round((list.Max(j => j.FinishedAt!.Value) - list.Min(j => j.StartedAt!.Value)).TotalSeconds, 3);
        }
        var renders = jobs.Where(j => j.Kind == JobKind.RenderScene).ToList();
        var context = publish.Context;
        var runStarted = context["started_at"] is { } s ? DateTimeOffset.Parse((string)s!) : publish.CreatedAt;
        var stats = new Dictionary<string, double>
        {
            ["pipeline_code_s"] = (double?)context["code_seconds"] ?? 0,
            ["pipeline_reuse_s"] = (double?)context["reuse_seconds"] ?? 0,
            ["pipeline_render_s"] = Span(renders),
            ["pipeline_assemble_s"] = Span(jobs.Where(j => j.Kind == JobKind.Assemble)),
            ["pipeline_transcode_s"] = Span(jobs.Where(j => j.Kind == JobKind.Transcode)),
            ["pipeline_publish_s"] = Math.Round(publishSoFar.TotalSeconds, 3),
            ["pipeline_total_s"] = Math.Round((DateTimeOffset.UtcNow - runStarted).TotalSeconds + ((double?)context["code_seconds"] ?? 0), 3),
            ["scenes_total"] = (int?)context["scenes"] ?? renders.Count,
            ["scenes_rendered"] = renders.Count,
            ["scenes_reused"] = (int?)context["reused"] ?? 0,
        };
        return stats;
    }
}
