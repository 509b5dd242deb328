using System.Globalization;
using System.Text.Json.Nodes;
using ManimCloud.Delivery;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Delivery;

/// <summary>
/// SPEC R5 "cache hit rate and other distribution metrics reported": `delivery stats` reads AWS/CloudFront from
/// CloudWatch in us-east-1 (DistributionId, Region=Global). moto's CloudFront serves no content and so publishes no
/// metrics: the figures are seeded with PutMetricData by the AWS CLI (an independent client) and must come back summed
/// and weighted by requests as a user would compute them; with nothing seeded the command says there is no data.
/// </summary>
public sealed class DeliveryStatsTests
{
    private static JsonObject Datum(string metric, string distribution, DateTimeOffset at, double value, string unit) => new()
    {
        ["MetricName"] = metric,
        ["Dimensions"] = new JsonArray(new JsonObject { ["Name"] = "DistributionId", ["Value"] = distribution }, new JsonObject { ["Name"] = "Region", ["Value"] = "Global" }),
        ["Timestamp"] = at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        ["Value"] = value,
        ["Unit"] = unit,
    };

    [Fact]
    public async Task Stats_sum_requests_and_bytes_weigh_error_and_hit_rates_by_requests_and_list_the_periods_invalidations()
    {
        using var d = await DeliveryDeployment.CreateAsync();
        var env = d.Environment();

        // Nothing published yet: no data, said so, exit 0.
        var empty = CliRunner.Run(env, "delivery", "stats", "--json");
        Assert.True(empty.ExitCode == 0, empty.Stderr);
        Assert.False((bool)empty.Json["has_data"]!);
        Assert.Null(empty.Json["requests"]);
        Assert.Null(empty.Json["cache_hit_rate_percent"]);
        Assert.Contains(empty.Json["notes"]!.AsArray(), n => ((string)n!).Contains("no AWS/CloudFront datapoints"));
        Assert.Contains("no data", CliRunner.Run(env, "delivery", "stats").Stdout);

        // Two minutes of traffic, an hour apart: 1,000 then 3,000 requests.
        var now = DateTimeOffset.UtcNow;
        var t2 = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, now.Minute, 0, TimeSpan.Zero).AddMinutes(-60);
        var t1 = t2.AddMinutes(-60);
        var data = new JsonArray(
            Datum("Requests", d.DistributionId, t1, 1000, "None"), Datum("Requests", d.DistributionId, t2, 3000, "None"),
            Datum("BytesDownloaded", d.DistributionId, t1, 1_000_000, "None"), Datum("BytesDownloaded", d.DistributionId, t2, 3_000_000, "None"),
            Datum("4xxErrorRate", d.DistributionId, t1, 2.0, "Percent"), Datum("4xxErrorRate", d.DistributionId, t2, 1.0, "Percent"),
            Datum("5xxErrorRate", d.DistributionId, t1, 0.5, "Percent"), Datum("5xxErrorRate", d.DistributionId, t2, 0.0, "Percent"),
            Datum("CacheHitRate", d.DistributionId, t1, 80, "Percent"), Datum("CacheHitRate", d.DistributionId, t2, 90, "Percent"),
            // Another distribution's traffic is not counted.
            Datum("Requests", "EOTHERDISTRIBUTION", t2, 777_777, "None"));
        await AwsCli.OkAsync("cloudwatch", "put-metric-data", "--region", "us-east-1", "--namespace", "AWS/CloudFront", "--metric-data", data.ToJsonString());
        var made = await AwsCli.JsonAsync("cloudfront", "create-invalidation", "--distribution-id", d.DistributionId,
            "--invalidation-batch", new JsonObject
            {
                ["Paths"] = new JsonObject { ["Quantity"] = 1, ["Items"] = new JsonArray("/transcoded/p/v/v1/hls/master.m3u8") },
                ["CallerReference"] = Names.Unique("stats"),
            }.ToJsonString());
        var invalidationId = (string)made["Invalidation"]!["Id"]!;

        var day = CliRunner.Run(env, "delivery", "stats", "--since", "24h", "--json");
        Assert.True(day.ExitCode == 0, day.Stderr);
        var j = day.Json;
        Assert.True((bool)j["has_data"]!);
        Assert.Equal(d.DistributionId, (string)j["distribution_id"]!);
        Assert.Equal(4000, (double)j["requests"]!);
        Assert.Equal(4_000_000, (double)j["bytes_downloaded"]!);
        Assert.Equal(1.25, (double)j["error_rate_4xx_percent"]!, 6);   // (2 × 1,000 + 1 × 3,000) / 4,000
        Assert.Equal(0.125, (double)j["error_rate_5xx_percent"]!, 6);  // (0.5 × 1,000) / 4,000
        Assert.Equal(87.5, (double)j["cache_hit_rate_percent"]!, 6);   // (80 × 1,000 + 90 × 3,000) / 4,000
        var listed = Assert.Single(j["invalidations"]!.AsArray(), i => (string)i!["id"]! == invalidationId)!;
        Assert.Equal(["/transcoded/p/v/v1/hls/master.m3u8"], listed["paths"]!.AsArray().Select(p => (string)p!));

        // The window is honoured: the last 90 minutes hold only the second minute.
        var recent = CliRunner.Run(env, "delivery", "stats", "--since", "90m", "--json");
        Assert.True(recent.ExitCode == 0, recent.Stderr);
        Assert.Equal(3000, (double)recent.Json["requests"]!);
        Assert.Equal(1.0, (double)recent.Json["error_rate_4xx_percent"]!, 6);

        var text = CliRunner.Run(env, "delivery", "stats", "--since", "24h");
        Assert.True(text.ExitCode == 0, text.Stderr);
        Assert.Contains("requests          4,000", text.Stdout);
        Assert.Contains("cache hit rate    87.5 %", text.Stdout);
        Assert.Contains(invalidationId, text.Stdout);
    }

    [Theory]
    [InlineData(1, 60)]        // an hour: minute points
    [InlineData(24, 60)]       // a day: 1,440 minute points, the most one call returns
    [InlineData(48, 120)]
    [InlineData(24 * 30, 1800)] // a month: past 15 days only 5-minute points exist, and 1,440 of them must cover it
    [InlineData(24 * 90, 5400)]
    public void The_period_keeps_every_metric_within_one_call_and_within_CloudWatch_retention(int hours, int expected)
    {
        var period = DistributionStatistics.PeriodFor(TimeSpan.FromHours(hours));
        Assert.Equal(expected, period);
        Assert.True(TimeSpan.FromHours(hours).TotalSeconds / period <= 1440);
        Assert.Equal(0, period % 60);
    }
}
