using System.CommandLine;
using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Operations;
using ManimCloud.Streaming;

namespace ManimCloud.Cli.Commands;

/// <summary>`cost estimate|report` and `budget set` (SPEC R9).</summary>
internal static class CostCommands
{
    /// <summary>`--yes` on commands that spend: accept an estimate above MANIMCLOUD_COST_LIMIT.</summary>
    public static Option<bool> YesOption() => new("--yes") { Description = "Go ahead even when the cost estimate is above MANIMCLOUD_COST_LIMIT." };

    public static Command Create()
    {
        var cost = new Command("cost", "What the deployment costs, and what a job will cost before it runs.");
        cost.Subcommands.Add(Estimate());
        cost.Subcommands.Add(Report());
        return cost;
    }

    private static Command Report()
    {
        var since = new Option<string>("--since") { Description = "The window to report: 30d, 12h, 90d.", DefaultValueFactory = _ => "30d" };
        var noncurrent = new Option<int>("--noncurrent-days") { Description = "The expiry the non-current-versions suggestion is priced for.", DefaultValueFactory = _ => 30 };
        var logs = new Option<string?>("--access-logs") { Description = "BUCKET[/PREFIX] of S3 server access logs: playback requests per video, for the drop-1080p suggestion." };
        var c = new Command("report", "What the deployment costs: storage by kind and class (S3 listings), requests and transfer (CloudWatch), "
            + "MediaConvert minutes (the records), CloudFront bytes, DynamoDB units, priced by the price table; with suggestions and what they save.")
            { since, noncurrent, logs };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var window = Durations.Parse(p.GetValue(since)!, "--since");
            if (p.GetValue(noncurrent) < 1) throw new ManimCloudException(ErrorKind.InvalidInput, "--noncurrent-days must be at least 1.", "For example --noncurrent-days 30.");
            var end = DateTimeOffset.UtcNow;
            var usage = await new UsageSurvey(ctx.Client).GatherAsync(end - window, end, p.GetValue(logs), ct);
            var prices = ctx.Client.Operations.Costs.Prices;
            var (report, suggestions) = CostReport.Build(usage, prices, p.GetValue(noncurrent));
            return new CliResult(CostReport.ToJson(report, suggestions, prices), CostReport.ToText(report, suggestions));
        });
        return c;
    }

    private static Command Estimate()
    {
        var engine = new Option<string>("--engine") { Description = "mediaconvert (billed per output minute) or local (ffmpeg).", DefaultValueFactory = _ => "mediaconvert" };
        var duration = new Option<string>("--duration") { Description = "The video's length: 90s, 12m, 1.5h.", Required = true };
        var size = new Option<string>("--size") { Description = "Source size WIDTHxHEIGHT.", DefaultValueFactory = _ => "1920x1080" };
        var fps = new Option<double>("--fps") { Description = "Source frame rate.", DefaultValueFactory = _ => 30 };
        var noAudio = new Option<bool>("--no-audio") { Description = "The video has no sound (no audio output is billed)." };
        var scenes = new Option<int?>("--scenes") { Description = "Estimate a pipeline run of this many scenes (the duration is split between them)." };
        var c = new Command("estimate", "Estimate a transcode (per-output billing) or a pipeline run, and check it against MANIMCLOUD_COST_LIMIT.")
        {
            engine, duration, size, fps, noAudio, scenes,
        };
        CliContext.Bind(c, (p, ctx, _) =>
        {
            var options = ctx.Options;
            var costs = OperationsService.CostEstimatorFor(options);
            var e = p.GetValue(engine) is "mediaconvert" or "local" ? p.GetValue(engine)!
                : throw new ManimCloudException(ErrorKind.InvalidInput, $"--engine {p.GetValue(engine)} is not an engine.", "Use mediaconvert or local.");
            var seconds = Durations.Parse(p.GetValue(duration)!, "--duration").TotalSeconds;
            var dims = p.GetValue(size)!.Split('x');
            if (dims.Length != 2 || !int.TryParse(dims[0], out var w) || !int.TryParse(dims[1], out var h) || w <= 0 || h <= 0)
                throw new ManimCloudException(ErrorKind.InvalidInput, $"--size {p.GetValue(size)} is not WIDTHxHEIGHT.", "For example --size 1920x1080.");
            var estimate = costs.EstimateTranscode(e, Ladder.Default, w, h, p.GetValue(fps), seconds, !p.GetValue(noAudio));
            if (p.GetValue(scenes) is { } n)
            {
                if (n < 1) throw new ManimCloudException(ErrorKind.InvalidInput, "--scenes must be at least 1.", "Give the number of scenes.");
                estimate = costs.EstimatePipeline(n, seconds / n, 2_000_000, estimate);
            }
            var json = estimate.ToJson();
            json["cost_limit"] = options.CostLimit;
            json["within_limit"] = options.CostLimit is not { } limit || estimate.Total <= limit;
            json["prices"] = costs.Prices.Source;
            var text = estimate.ToText() + (options.CostLimit is { } l
                ? $"\nMANIMCLOUD_COST_LIMIT {l:0.00} {estimate.Currency}: {(estimate.Total <= l ? "within it" : "ABOVE it (commands that spend refuse without --yes)")}" : "");
            return Task.FromResult(new CliResult(json, text));
        });
        return c;
    }
}
