using ManimCloud.Streaming;

namespace ManimCloud.Operations;

/// <summary>
/// What a job will cost before it runs (SPEC R9, "cost before it surprises"): a MediaConvert transcode billed per
/// output minute (every rung is an output; this is what surprises people), the S3 storage its outputs take for a
/// month, and a pipeline run's uploads. Pure arithmetic over the <see cref="PriceTable"/>: nothing is called.
/// Commands that spend call <see cref="CostLimit.Ensure"/> with the estimate before they start.
/// </summary>
public sealed class CostEstimator(PriceTable prices)
{
    public PriceTable Prices => prices;

    /// <summary>
    /// A transcode of <paramref name="durationSeconds"/> of video through <paramref name="ladder"/>. MediaConvert bills
    /// each output for its duration at its resolution's rate (SD below 720 lines, HD up to 1080, UHD above; twice
    /// that above 30 frames per second), and the audio output on its own; the local engine costs no service fees.
    /// One CMAF output group serves HLS and DASH, so each rung is billed once for both.
    /// </summary>
    public CostEstimate EstimateTranscode(string engine, Ladder ladder, int sourceWidth, int sourceHeight, double frameRate,
        double durationSeconds, bool hasAudio, string? what = null) =>
        EstimateTranscode(engine, ladder, [new ClipToEncode(1, sourceWidth, sourceHeight, frameRate, durationSeconds, hasAudio)], what);

    /// <summary>
    /// A transcode of a version's clips, scene by scene, as the engines do it: the rungs are the ones every clip reaches,
    /// a clip whose segments an earlier version encoded with the same ladder (<see cref="ClipToEncode.Reused"/>) is not
    /// encoded (nor billed) again, and when any clip has sound every encoded scene gets an audio output.
    /// </summary>
    public CostEstimate EstimateTranscode(string engine, Ladder ladder, IReadOnlyList<ClipToEncode> clips, string? what = null)
    {
        var plans = clips.Select(c => ladder.For(c.Width, c.Height)).ToList();
        var names = plans.Count == 0 ? [] : plans[0].Select(r => r.Name).Where(n => plans.All(p => p.Any(r => r.Name == n))).ToList();
        var renditions = plans.Count == 0 ? [] : plans[0].Where(r => names.Contains(r.Name)).ToList();
        var encoded = clips.Where(c => !c.Reused).ToList();
        var seconds = (decimal)encoded.Sum(c => Math.Max(c.DurationSeconds, 0));
        var minutes = seconds / 60m;
        var withSound = clips.Any(c => c.HasAudio);
        var outputs = renditions.Count + (withSound ? 1 : 0);
        var lines = new List<CostLine>();
        var notes = new List<string>();
        if (engine == "mediaconvert")
        {
            // Frame rates above 30 are billed twice; per clip, since each scene is its own job.
            var fpsMinutes = (decimal)encoded.Sum(c => Math.Max(c.DurationSeconds, 0) * (c.FrameRate > 30.5 ? 2 : 1)) / 60m;
            foreach (var r in renditions)
            {
                var tier = r.Height < 720 ? "sd" : r.Height <= 1080 ? "hd" : "uhd";
                var key = $"mediaconvert.basic.{tier}.per_output_minute";
                lines.Add(new CostLine($"MediaConvert output {r.Name} ({r.Width}x{r.Height}, {tier.ToUpperInvariant()})",
                    fpsMinutes, fpsMinutes != minutes ? "output minutes (x2 over 30 fps)" : "output minutes", prices[key], key));
            }
            if (withSound)
                lines.Add(new CostLine("MediaConvert output audio (AAC)", minutes, "output minutes", prices["mediaconvert.audio.per_output_minute"],
                    "mediaconvert.audio.per_output_minute"));
            notes.Add($"MediaConvert bills every output: {outputs} outputs x {minutes:0.##} min. "
                + "Dropping a rung (e.g. 1080p) removes its line.");
        }
        else notes.Add("The local engine (ffmpeg) has no service fee; only storage is priced.");
        if (clips.Count - encoded.Count is > 0 and var kept)
            notes.Add($"{kept} of {clips.Count} scene(s) keep the segments an earlier version encoded: not encoded, not billed.");

        var bytes = (renditions.Sum(r => (decimal)r.AverageBitrate) + (withSound ? ladder.AudioBitrate : 0)) / 8m * seconds;
        var gb = bytes / 1_000_000_000m;
        lines.Add(new CostLine("S3 storage of the renditions, first month", gb, "GB-months",
            prices.StoragePerGbMonth("INTELLIGENT_TIERING"), "s3.storage.gb_month.INTELLIGENT_TIERING"));
        var segments = encoded.Sum(c => (decimal)Math.Ceiling(Math.Max(c.DurationSeconds, 0) / Math.Max(ladder.SegmentSeconds, 1))) * outputs;
        lines.Add(new CostLine("S3 PUT requests for segments and manifests", segments + 4 + renditions.Count, "requests",
            prices["s3.requests.put.per_1000"] / 1000m, "s3.requests.put.per_1000"));
        return new CostEstimate(what ?? $"Transcode ({engine}) of {minutes:0.##} min into {renditions.Count} rendition(s)", lines, prices.Currency) { Notes = notes };
    }

    /// <summary>
    /// A pipeline run: the scenes' clips and the full video stored for a month (at the given bitrate), their
    /// uploads, the metadata writes, and the transcode the run ends with (<paramref name="transcode"/>, from
    /// <see cref="EstimateTranscode"/>). Code generation by a language model is billed by its provider and not included.
    /// </summary>
    public CostEstimate EstimatePipeline(int scenes, double secondsPerScene, long masterBitrate, CostEstimate? transcode, string? what = null)
    {
        var duration = (decimal)(scenes * Math.Max(secondsPerScene, 0));
        // Clips and the full video: the same footage twice.
        var gb = masterBitrate / 8m * duration * 2 / 1_000_000_000m;
        var lines = new List<CostLine>
        {
            new("S3 storage of clips and the full video, first month", gb, "GB-months", prices.StoragePerGbMonth("STANDARD"), "s3.storage.gb_month.STANDARD"),
            new("S3 PUT requests (clips, full video, code; multipart parts)", scenes * 2 + 2 + Math.Ceiling(gb * 1000 / 16), "requests",
                prices["s3.requests.put.per_1000"] / 1000m, "s3.requests.put.per_1000"),
            new("DynamoDB writes (record, versions, statuses)", scenes * 2 + 10, "write request units",
                prices["dynamodb.on_demand.write.per_million"] / 1_000_000m, "dynamodb.on_demand.write.per_million"),
        };
        if (transcode is not null) lines.AddRange(transcode.Lines);
        var notes = new List<string> { "Code generation by a language model is billed by its provider and not included." };
        if (transcode is not null) notes.AddRange(transcode.Notes);
        return new CostEstimate(what ?? $"Pipeline run of {scenes} scene(s), {duration / 60:0.##} min", lines, prices.Currency) { Notes = notes };
    }
}

/// <summary>One clip of a transcode as the estimate sees it: its picture, length and sound, and whether earlier segments are reused.</summary>
public sealed record ClipToEncode(int Scene, int Width, int Height, double FrameRate, double DurationSeconds, bool HasAudio, bool Reused = false);
