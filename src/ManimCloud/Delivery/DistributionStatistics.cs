using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Aws;
using ManimCloud.Delivery.CloudFront;
using ManimCloud.Domain;
using ManimCloud.Operations.CloudWatch;

namespace ManimCloud.Delivery;

/// <summary>
/// How a distribution did over a period (`delivery stats`): requests, bytes downloaded, 4xx/5xx error rates and cache
/// hit rate from CloudWatch's AWS/CloudFront metrics (us-east-1, Region=Global), and the invalidations made in it.
/// A figure CloudWatch has no datapoint for is null, with a note saying why, never a zero.
/// </summary>
public sealed record DistributionStatistics(
    string DistributionId, string? Domain, DateTimeOffset Start, DateTimeOffset End, int PeriodSeconds,
    double? Requests, double? BytesDownloaded, double? ErrorRate4xx, double? ErrorRate5xx, double? CacheHitRate,
    IReadOnlyList<CloudFrontInvalidation> Invalidations, IReadOnlyList<string> Notes)
{
    public const string Namespace = "AWS/CloudFront";

    public bool HasData => Requests is not null || BytesDownloaded is not null || ErrorRate4xx is not null || ErrorRate5xx is not null || CacheHitRate is not null;

    public static async Task<DistributionStatistics> ReadAsync(ICloudWatch cloudWatch, ICloudFront cloudFront, string distributionId, string? domain,
        DateTimeOffset start, DateTimeOffset end, CancellationToken ct)
    {
        if (end <= start) throw new ManimCloudException(ErrorKind.InvalidInput, "The period is empty.", "Give a positive --since, e.g. 24h or 7d.");
        var period = PeriodFor(end - start);
        MetricDimension[] dims = [new("DistributionId", distributionId), new("Region", "Global")];
        var notes = new List<string>();

        async Task<IReadOnlyList<Datapoint>> Read(string metric, string statistic)
        {
            try
            {
                return await cloudWatch.GetMetricStatisticsAsync(new MetricQuery(Namespace, metric, dims, start, end, period) { Statistics = [statistic] }, ct);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                throw AwsErrors.Describe(e, $"Reading {Namespace} {metric} of", $"distribution {distributionId}");
            }
        }

        var requests = await Read("Requests", "Sum");
        var bytes = await Read("BytesDownloaded", "Sum");
        var errors4 = await Read("4xxErrorRate", "Average");
        var errors5 = await Read("5xxErrorRate", "Average");
        var hits = await Read("CacheHitRate", "Average");

        double? Sum(IReadOnlyList<Datapoint> points) => points.Count == 0 ? null : points.Sum(p => p.Sum ?? 0);
        // A rate over the period weighs each period's rate by its requests (a quiet hour's 100 % is one request's worth).
        var weights = requests.GroupBy(p => p.Timestamp).ToDictionary(g => g.Key, g => g.Sum(p => p.Sum ?? 0));
        double? Rate(IReadOnlyList<Datapoint> points)
        {
            var values = points.Where(p => p.Average is not null).ToList();
            if (values.Count == 0) return null;
            var weight = values.Sum(p => weights.GetValueOrDefault(p.Timestamp));
            return weight > 0
                ? values.Sum(p => p.Average!.Value * weights.GetValueOrDefault(p.Timestamp)) / weight
                : values.Average(p => p.Average!.Value);
        }

        var stats = new DistributionStatistics(distributionId, domain, start, end, period,
            Sum(requests), Sum(bytes), Rate(errors4), Rate(errors5), Rate(hits), [], notes);
        if (!stats.HasData)
            notes.Add($"CloudWatch has no {Namespace} datapoints for {distributionId} in the period: CloudFront publishes them (a few minutes late) only for " +
                "periods with viewer requests, and a distribution made moments ago has none yet.");
        else if (stats.CacheHitRate is null)
            notes.Add("No CacheHitRate: it is one of CloudFront's additional metrics, published only when they are enabled for the distribution " +
                "(a monitoring subscription, billed per metric: `aws cloudfront create-monitoring-subscription`).");

        IReadOnlyList<CloudFrontInvalidation> listed;
        try
        {
            listed = await cloudFront.ListInvalidationsAsync(distributionId, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            throw AwsErrors.Describe(e, "Listing the invalidations of", $"cloudfront:distribution/{distributionId}");
        }
        // ListInvalidations has no paths; read those of the period (CloudFront keeps its invalidation history for a while).
        var invalidations = new List<CloudFrontInvalidation>();
        foreach (var summary in listed.Where(i => i.CreateTime >= start && i.CreateTime <= end))
            invalidations.Add(await cloudFront.GetInvalidationAsync(distributionId, summary.Id, ct) ?? summary);
        return stats with { Invalidations = invalidations.OrderByDescending(i => i.CreateTime).ToList() };
    }

    /// <summary>
    /// The statistics' period: whole minutes, at most 1,440 datapoints per metric (GetMetricStatistics' limit), and
    /// coarse enough for CloudWatch's retention (1-minute points for 15 days, 5-minute for 63, hourly after).
    /// </summary>
    public static int PeriodFor(TimeSpan span)
    {
        var seconds = (int)Math.Min(int.MaxValue / 2, Math.Ceiling(span.TotalSeconds / 1440 / 60) * 60);
        seconds = Math.Max(60, seconds);
        if (span > TimeSpan.FromDays(63)) seconds = Math.Max(seconds, 3600);
        else if (span > TimeSpan.FromDays(15)) seconds = Math.Max(seconds, 300);
        return seconds;
    }

    public JsonObject ToJson() => new()
    {
        ["distribution_id"] = DistributionId,
        ["domain"] = Domain,
        ["start"] = Start.ToString("O"),
        ["end"] = End.ToString("O"),
        ["period_s"] = PeriodSeconds,
        ["requests"] = Requests,
        ["bytes_downloaded"] = BytesDownloaded,
        ["error_rate_4xx_percent"] = ErrorRate4xx is { } e4 ? Math.Round(e4, 4) : null,
        ["error_rate_5xx_percent"] = ErrorRate5xx is { } e5 ? Math.Round(e5, 4) : null,
        ["cache_hit_rate_percent"] = CacheHitRate is { } h ? Math.Round(h, 4) : null,
        ["has_data"] = HasData,
        ["invalidations"] = new JsonArray(Invalidations.Select(i => (JsonNode)new JsonObject
        {
            ["id"] = i.Id, ["status"] = i.Status, ["created_at"] = i.CreateTime.ToString("O"), ["caller_reference"] = i.CallerReference,
            ["paths"] = new JsonArray(i.Paths.Select(p => (JsonNode)JsonValue.Create(p)!).ToArray()),
        }).ToArray()),
        ["notes"] = new JsonArray(Notes.Select(n => (JsonNode)JsonValue.Create(n)!).ToArray()),
    };

    public string ToText()
    {
        var c = CultureInfo.InvariantCulture;
        string Or(double? v, Func<double, string> f) => v is { } x ? f(x) : "no data";
        var b = new StringBuilder();
        b.AppendLine(c, $"distribution {DistributionId}{(Domain is { } d ? $" ({d})" : "")}, {Start:yyyy-MM-dd HH:mm}Z to {End:yyyy-MM-dd HH:mm}Z (datapoints of {PeriodSeconds / 60} min):");
        b.AppendLine(c, $"  requests          {Or(Requests, v => v.ToString("N0", c))}");
        b.AppendLine(c, $"  bytes downloaded  {Or(BytesDownloaded, v => $"{v.ToString("N0", c)} ({v / (1L << 30):0.###} GiB)")}");
        b.AppendLine(c, $"  4xx error rate    {Or(ErrorRate4xx, v => $"{v:0.###} %")}");
        b.AppendLine(c, $"  5xx error rate    {Or(ErrorRate5xx, v => $"{v:0.###} %")}");
        b.AppendLine(c, $"  cache hit rate    {Or(CacheHitRate, v => $"{v:0.##} %")}");
        b.AppendLine(c, $"  invalidations     {Invalidations.Count}{(Invalidations.Any(i => !i.IsCompleted) ? $" ({Invalidations.Count(i => !i.IsCompleted)} in progress)" : "")}");
        foreach (var i in Invalidations)
            b.AppendLine(c, $"    {i.Id}  {i.Status,-10} {i.CreateTime:yyyy-MM-dd HH:mm:ss}Z  {string.Join(" ", i.Paths)}");
        foreach (var n in Notes) b.AppendLine("note: " + n);
        return b.ToString().TrimEnd();
    }
}
