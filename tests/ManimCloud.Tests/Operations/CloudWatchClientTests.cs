using ManimCloud.Aws;
using ManimCloud.Operations.CloudWatch;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Operations;

/// <summary>
/// The typed CloudWatch client against moto's CloudWatch: what it publishes is read back aggregated, batches stay
/// within PutMetricData's limits, alarms and dashboards round-trip. (moto stores alarms but never evaluates them.)
/// </summary>
public sealed class CloudWatchClientTests
{
    private static AwsClients Clients() =>
        new(new Workspace.ManimCloudOptions { Home = Path.GetTempPath(), Region = "us-east-1", EndpointUrl = MotoServer.Endpoint, RetryBudget = TimeSpan.FromSeconds(2) });

    [Fact]
    public async Task Statistic_sets_published_are_read_back_aggregated_by_GetMetricStatistics()
    {
        using var aws = Clients();
        var cw = CloudWatchClient.Create(aws);
        var ns = Names.Unique("ManimCloudTest");
        var now = DateTimeOffset.UtcNow;
        MetricDimension[] dims = [new("environment", "dev"), new("operation", "upload")];
        var set = StatisticSet.Of(10).Add(30).Add(20);
        await cw.PutMetricDataAsync(ns, [
            new MetricDatum("BytesUp", dims, now.AddSeconds(-30), "Bytes") { Statistics = set },
            new MetricDatum("BytesUp", dims, now.AddSeconds(-20), "Bytes") { Value = 40 },
        ], CancellationToken.None);

        var points = await cw.GetMetricStatisticsAsync(new MetricQuery(ns, "BytesUp", dims, now.AddMinutes(-5), now.AddMinutes(1), 3600), CancellationToken.None);
        var point = Assert.Single(points);
        Assert.Equal(4, point.SampleCount);
        Assert.Equal(100, point.Sum);
        Assert.Equal(10, point.Minimum);
        Assert.Equal(40, point.Maximum);
        // Another dimension value is another metric: nothing there.
        var other = await cw.GetMetricStatisticsAsync(new MetricQuery(ns, "BytesUp", [new("environment", "prod"), new("operation", "upload")],
            now.AddMinutes(-5), now.AddMinutes(1), 3600), CancellationToken.None);
        Assert.Empty(other);
    }

    [Fact]
    public async Task Many_datums_for_many_operations_all_arrive()
    {
        using var aws = Clients();
        var cw = CloudWatchClient.Create(aws);
        var ns = Names.Unique("ManimCloudTest");
        var now = DateTimeOffset.UtcNow;
        var data = Enumerable.Range(0, 70)
            .Select(i => new MetricDatum("Ops", [new("operation", "op" + (i % 7))], now.AddSeconds(-10)) { Value = 1 }).ToList();
        Assert.Equal(1, await cw.PutMetricDataAsync(ns, data, CancellationToken.None));
        var total = 0.0;
        for (var op = 0; op < 7; op++)
            foreach (var p in await cw.GetMetricStatisticsAsync(new MetricQuery(ns, "Ops", [new("operation", "op" + op)], now.AddMinutes(-5), now.AddMinutes(1), 3600) { Statistics = ["Sum"] }, CancellationToken.None))
                total += p.Sum ?? 0;
        Assert.Equal(70, total);
    }

    [Fact]
    public void Batches_hold_at_most_the_datums_one_call_may_carry()
    {
        // Moto takes seconds per thousand datums on a busy machine, so the split is checked here, the round trip above.
        var data = Enumerable.Range(0, 2500).Select(i => new MetricDatum("Ops", [], DateTimeOffset.UtcNow) { Value = i }).ToList();
        Assert.Equal([1000, 1000, 500], CloudWatchClient.Batches(data).Select(b => b.Count).ToArray());
    }

    [Fact]
    public void Batches_respect_the_size_limit_as_well_as_the_count()
    {
        // Long dimension values make each datum large: the 1 MB limit, not the 1,000 datums, splits them.
        var big = new string('x', 1000);
        var data = Enumerable.Range(0, 900).Select(i => new MetricDatum("M", [new("a", big), new("b", big)], DateTimeOffset.UtcNow) { Value = i }).ToList();
        var batches = CloudWatchClient.Batches(data).ToList();
        Assert.True(batches.Count > 1);
        Assert.Equal(900, batches.Sum(b => b.Count));
        foreach (var batch in batches)
        {
            var bytes = batch.SelectMany(f => f).Sum(kv => Uri.EscapeDataString(kv.Key).Length + Uri.EscapeDataString(kv.Value).Length + 2);
            Assert.True(bytes < CloudWatchClient.MaxBytesPerCall, $"{bytes} bytes in one call");
            // Each call numbers its datums from 1.
            Assert.StartsWith("MetricData.member.1.", batch[0][0].Key);
        }
    }

    [Fact]
    public async Task An_alarm_round_trips_and_is_deleted()
    {
        using var aws = Clients();
        var cw = CloudWatchClient.Create(aws);
        var prefix = Names.Unique("mc-alarm");
        var alarm = new MetricAlarm
        {
            Name = prefix + "-failed-uploads", Description = "Uploads failed", Namespace = "ManimCloud", MetricName = "OperationsFailed",
            Dimensions = [new("environment", "dev"), new("operation", "upload")], Statistic = "Sum", PeriodSeconds = 300,
            EvaluationPeriods = 1, Threshold = 1, AlarmActions = ["arn:aws:sns:us-east-1:123456789012:ops"],
        };
        await cw.PutMetricAlarmAsync(alarm, CancellationToken.None);
        var stored = Assert.Single(await cw.DescribeAlarmsAsync(prefix, CancellationToken.None));
        Assert.Equal(alarm, stored);
        Assert.NotEqual(alarm with { Threshold = 2 }, stored);

        await cw.DeleteAlarmsAsync([alarm.Name], CancellationToken.None);
        Assert.Empty(await cw.DescribeAlarmsAsync(prefix, CancellationToken.None));
    }

    [Fact]
    public async Task A_dashboard_round_trips_and_a_missing_one_is_null()
    {
        using var aws = Clients();
        var cw = CloudWatchClient.Create(aws);
        var name = Names.Unique("mc-dash");
        Assert.Null(await cw.GetDashboardAsync(name, CancellationToken.None));
        var body = """{"widgets":[{"type":"text","x":0,"y":0,"width":6,"height":2,"properties":{"markdown":"hello"}}]}""";
        Assert.Empty(await cw.PutDashboardAsync(new Dashboard(name, body), CancellationToken.None));
        var stored = await cw.GetDashboardAsync(name, CancellationToken.None);
        Assert.Equal(body, stored!.Body);
    }

    [Fact]
    public async Task CloudFront_metrics_are_read_in_us_east_1_whatever_the_deployment_region()
    {
        using var aws = new AwsClients(new Workspace.ManimCloudOptions { Home = Path.GetTempPath(), Region = "eu-west-1", EndpointUrl = MotoServer.Endpoint, RetryBudget = TimeSpan.FromSeconds(2) });
        Assert.Equal("eu-west-1", CloudWatchClient.Create(aws).Service.SigningRegion);
        var cf = CloudWatchClient.CreateForCloudFront(aws);
        Assert.Equal("us-east-1", cf.Service.SigningRegion);
        var points = await cf.GetMetricStatisticsAsync(new MetricQuery("AWS/CloudFront", "Requests",
            [new("Region", "Global"), new("DistributionId", "E" + Guid.NewGuid().ToString("N")[..12].ToUpperInvariant())],
            DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow, 3600), CancellationToken.None);
        Assert.Empty(points);
    }
}
