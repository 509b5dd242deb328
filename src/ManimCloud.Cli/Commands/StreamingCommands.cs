using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Metadata;
using ManimCloud.Streaming;

namespace ManimCloud.Cli.Commands;

/// <summary>`video transcode` and `video renditions` (SPEC §3 streaming).</summary>
internal static class StreamingCommands
{
    public static Command Transcode()
    {
        var id = new Argument<string>("VIDEO") { Description = "The video id." };
        var version = new Option<int?>("--version") { Description = "Code version whose media to transcode (default: the latest with stored media)." };
        var engine = new Option<string?>("--engine") { Description = "local (ffmpeg on this machine) or mediaconvert (AWS; when configured). Default: mediaconvert when configured, else local." };
        var wait = new Option<bool>("--wait") { Description = "Wait until the ladder is published (the local engine always does)." };
        var yes = CostCommands.YesOption();
        var c = new Command("transcode", "Make the HLS + DASH ladder (1080p/720p/480p) of a version; only scenes that changed are encoded again. "
            + "On MediaConvert it first prints what the job will cost (billed per output minute) and refuses above MANIMCLOUD_COST_LIMIT without --yes.")
            { id, version, engine, wait, yes };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var videoId = VideoId.Parse(p.GetValue(id));
            Operations.CostEstimate? estimate = null;
            if ((p.GetValue(engine) ?? ctx.Client.Streaming.DefaultEngine).Equals(TranscodeEngines.MediaConvert, StringComparison.OrdinalIgnoreCase)
                && ctx.Client.Streaming.Engines.Contains(TranscodeEngines.MediaConvert))
            {
                // Priced before anything is submitted: MediaConvert bills every output (rung) per minute.
                estimate = await ctx.Client.Streaming.EstimateAsync(videoId, p.GetValue(version), p.GetValue(engine), ctx.Client.Operations.Costs, ct);
                ctx.Progress(estimate.ToText());
                ctx.Client.Operations.EnsureWithinCostLimit(estimate, p.GetValue(yes));
            }
            var r = await ctx.Client.Streaming.TranscodeAsync(videoId, p.GetValue(version), p.GetValue(engine), new StderrProgress(), ct);
            var j = new JsonObject
            {
                ["video_id"] = videoId.ToString(),
                ["status"] = r.Video.Status.ToWire(),
                ["renditions"] = RenditionJson.ToJson(r.Set),
                ["changed_manifests"] = new JsonArray(r.ChangedManifests.Select(k => (JsonNode)JsonValue.Create(k)!).ToArray()),
                ["scenes_encoded"] = r.Counts.ScenesEncoded,
                ["scenes_reused"] = r.Counts.ScenesReused,
                ["scenes_resumed"] = r.Counts.ScenesResumed,
                ["probed_scenes"] = new JsonArray(r.Work.ProbedScenes.Select(x => (JsonNode)JsonValue.Create(x)).ToArray()),
                ["ffmpeg_runs"] = r.Work.ToolRuns,
                ["objects_stored"] = r.ObjectsStored,
            };
            if (estimate is not null) j["estimate"] = estimate.ToJson();
            var text = Describe(r.Set) + $"\nscenes: {r.Counts.ScenesEncoded} encoded, {r.Counts.ScenesReused} reused, {r.Counts.ScenesResumed} resumed; {r.ObjectsStored} objects stored";
            return CliContext.Written(new Written<JsonObject>(j, r.Synced, r.PendingReason), j, text, ctx.Client.Cloud is not null);
        });
        return c;
    }

    public static Command Renditions()
    {
        var id = new Argument<string>("VIDEO") { Description = "The video id." };
        var version = new Option<int?>("--version") { Description = "Only this version's renditions." };
        var c = new Command("renditions", "Show a video's published ladders: rungs, manifest keys, segments, poster, storyboard.") { id, version };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var (video, sets) = await ctx.Client.Streaming.RenditionsAsync(VideoId.Parse(p.GetValue(id)), p.GetValue(version), ct);
            var j = new JsonObject
            {
                ["video_id"] = video.Id.ToString(),
                ["status"] = video.Status.ToWire(),
                ["status_reason"] = video.StatusReason,
                ["renditions"] = new JsonArray(sets.Select(s => (JsonNode)RenditionJson.ToJson(s)).ToArray()),
            };
            var text = sets.Count == 0
                ? $"video {video.Id} has no renditions yet (status {video.Status.ToWire()}{(video.StatusReason is { } why ? $": {why}" : "")}); `manimcloud video transcode {video.Id}` makes them."
                : string.Join("\n\n", sets.Select(Describe));
            return new CliResult(j, text);
        });
        return c;
    }

    private static string Describe(RenditionSet s)
    {
        var b = new StringBuilder();
        b.AppendLine(CultureInfo.InvariantCulture, $"v{s.Version}  engine {s.Engine}  ladder {s.LadderFingerprint}  {s.DurationSeconds:0.00} s  {s.SegmentCount} segments  {s.Bytes} bytes");
        foreach (var r in s.Rungs)
            b.AppendLine(CultureInfo.InvariantCulture, $"  {r.Name,-6} {r.Width}x{r.Height} {r.FrameRate:0.###} fps  peak {r.PeakBitrate / 1000} kb/s  avg {r.AverageBitrate / 1000} kb/s  {r.Codecs}");
        if (s.Audio is { } a) b.AppendLine(CultureInfo.InvariantCulture, $"  audio  {a.Codecs} {a.Bitrate / 1000} kb/s {a.SampleRate} Hz {a.Channels} ch");
        b.AppendLine($"  hls    {s.HlsMasterKey}");
        b.AppendLine($"  dash   {s.DashManifestKey}");
        if (s.PosterKey is not null) b.AppendLine($"  poster {s.PosterKey}");
        if (s.StoryboardKeys.Count > 0) b.AppendLine($"  storyboard {s.StoryboardKeys[0]}");
        foreach (var sc in s.Scenes)
            b.AppendLine(CultureInfo.InvariantCulture, $"  scene {sc.Scene,3}  {sc.DurationSeconds:0.00} s  {sc.SegmentCount} segments  from v{sc.EncodedInVersion}  {sc.FolderKey}");
        if (s.PlaybackBaseUrl is not null) b.AppendLine($"  url    {s.PlaybackBaseUrl}");
        return b.ToString().TrimEnd();
    }

    /// <summary>Progress lines on stderr (about one a second, and at every stage change); stdout stays for the result.</summary>
    private sealed class StderrProgress : IProgress<TranscodeProgress>
    {
        private DateTime _last = DateTime.MinValue;
        private string _lastStage = "";

        public void Report(TranscodeProgress p)
        {
            var key = $"{p.Scene}:{p.Stage}";
            if (key == _lastStage && DateTime.UtcNow - _last < TimeSpan.FromSeconds(1)) return;
            _last = DateTime.UtcNow;
            _lastStage = key;
            var scene = p.Scene == 0 && p.Stage == "manifests" ? "" : p.Scene == 0 ? "full video " : $"scene {p.Scene} ";
            var detail = p.Stage == "encoding" && p.SceneDuration > 0
                ? string.Create(CultureInfo.InvariantCulture, $" {Math.Min(p.SceneSeconds, p.SceneDuration):0.0}/{p.SceneDuration:0.0} s{(p.Speed > 0 ? $" ({p.Speed:0.0}x)" : "")}")
                : "";
            Console.Error.WriteLine($"transcode [{p.ScenesDone}/{p.ScenesTotal}] {scene}{p.Stage}{detail}");
        }
    }
}
