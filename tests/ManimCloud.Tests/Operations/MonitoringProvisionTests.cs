using ManimCloud.Operations.CloudWatch;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Operations;

/// <summary>
/// `monitoring provision` on moto's CloudWatch: the dashboard and every alarm are stored as wanted, a second run
/// changes nothing, a dry run reports drift someone made by hand, and the next run repairs it. moto stores alarms
/// but never evaluates them, so what is asserted is what is stored, not alarm states.
/// </summary>
public sealed class MonitoringProvisionTests
{
    private const string Topic = "arn:aws:sns:us-east-1:123456789012:manimcloud-ops";

    [Fact]
    public async Task Provisioning_stores_the_dashboard_and_alarms_is_idempotent_and_a_dry_run_reports_drift()
    {
        using var home = new TempDir();
        var ns = Names.Unique("ManimCloudTest").Replace("-", "");
        var env = new Dictionary<string, string>
        {
            ["MANIMCLOUD_HOME"] = home.Path, ["AWS_ENDPOINT_URL"] = MotoServer.Endpoint, ["AWS_REGION"] = "us-east-1",
            ["AWS_ACCESS_KEY_ID"] = "testing", ["AWS_SECRET_ACCESS_KEY"] = "testing",
            // A staging of its own: the dashboard and alarm names are per environment, and other tests use dev.
            ["MANIMCLOUD_ENV"] = "staging", ["MANIMCLOUD_CLOUDWATCH_NAMESPACE"] = ns, ["MANIMCLOUD_ALARM_TOPIC"] = Topic,
            ["MANIMCLOUD_DISTRIBUTION_ID"] = "E2TESTDIST" + Guid.NewGuid().ToString("N")[..6].ToUpperInvariant(),
        };
        using var aws = new ManimCloud.Aws.AwsClients(new Workspace.ManimCloudOptions { Home = home.Path, Region = "us-east-1", EndpointUrl = MotoServer.Endpoint });
        var cw = CloudWatchClient.Create(aws);
        // Clean slate for this environment's names (another run of this test may have left them on a shared server).
        await cw.DeleteAlarmsAsync((await cw.DescribeAlarmsAsync("manimcloud-staging-", CancellationToken.None)).Select(a => a.Name).ToList(), CancellationToken.None);

        var first = CliRunner.Run(env, "monitoring", "provision", "--json");
        Assert.True(first.ExitCode == 0, first.Stderr + first.Stdout);
        Assert.Equal("create", (string)first.Json["dashboard"]!["action"]!);
        Assert.Equal(6, first.Json["alarms"]!.AsArray().Count);
        Assert.All(first.Json["alarms"]!.AsArray(), a => Assert.Equal("create", (string)a!["action"]!));
        Assert.True((bool)first.Json["metrics_publishing"]!);
        Assert.Contains("\"cloudwatch_metrics\": \"on\"", File.ReadAllText(home.File("config.json")));

        var stored = (await cw.DescribeAlarmsAsync("manimcloud-staging-", CancellationToken.None)).ToDictionary(a => a.Name);
        Assert.Equal(["cloudfront-5xx-rate", "failed-uploads", "service-5xx", "sync-backlog-age", "throttling", "transcode-failures"],
            stored.Keys.Select(k => k["manimcloud-staging-".Length..]).Order().ToArray());
        var uploads = stored["manimcloud-staging-failed-uploads"];
        Assert.Equal(ns, uploads.Namespace);
        Assert.Equal("OperationsFailed", uploads.MetricName);
        Assert.Contains(new MetricDimension("operation", "upload"), uploads.Dimensions);
        Assert.Contains(new MetricDimension("environment", "staging"), uploads.Dimensions);
        Assert.Equal([Topic], uploads.AlarmActions);
        var cdn = stored["manimcloud-staging-cloudfront-5xx-rate"];
        Assert.Equal("AWS/CloudFront", cdn.Namespace);
        Assert.Contains(new MetricDimension("Region", "Global"), cdn.Dimensions);
        var dashboard = await cw.GetDashboardAsync("manimcloud-staging", CancellationToken.None);
        Assert.Contains("OperationsFailed", dashboard!.Body);
        Assert.Contains(ns, dashboard.Body);

        var second = CliRunner.Run(env, "monitoring", "provision", "--json");
        Assert.True(second.ExitCode == 0, second.Stderr);
        Assert.Equal(0, (int)second.Json["changes"]!);

        // Someone edits an alarm by hand: the dry run names the drift and writes nothing.
        await cw.PutMetricAlarmAsync(uploads with { Threshold = 25 }, CancellationToken.None);
        var dry = CliRunner.Run(env, "monitoring", "provision", "--dry-run", "--json");
        Assert.True(dry.ExitCode == 0, dry.Stderr);
        Assert.Equal(1, (int)dry.Json["changes"]!);
        var drift = dry.Json["alarms"]!.AsArray().Single(a => (string)a!["action"]! == "update")!;
        Assert.Equal("manimcloud-staging-failed-uploads", (string)drift["name"]!);
        Assert.Contains("threshold: 25 → 1", drift["differences"]!.AsArray().Select(d => (string)d!));
        Assert.Equal(25, (await cw.DescribeAlarmsAsync("manimcloud-staging-failed-uploads", CancellationToken.None)).Single().Threshold);

        // Without a distribution the CloudFront alarm is obsolete and goes; the drift is repaired.
        env.Remove("MANIMCLOUD_DISTRIBUTION_ID");
        var repair = CliRunner.Run(env, "monitoring", "provision", "--json");
        Assert.True(repair.ExitCode == 0, repair.Stderr);
        var actions = repair.Json["alarms"]!.AsArray().ToDictionary(a => (string)a!["name"]!, a => (string)a!["action"]!);
        Assert.Equal("update", actions["manimcloud-staging-failed-uploads"]);
        Assert.Equal("delete", actions["manimcloud-staging-cloudfront-5xx-rate"]);
        Assert.Equal(1, (await cw.DescribeAlarmsAsync("manimcloud-staging-failed-uploads", CancellationToken.None)).Single().Threshold);
        Assert.DoesNotContain(await cw.DescribeAlarmsAsync("manimcloud-staging-", CancellationToken.None), a => a.Name.EndsWith("cloudfront-5xx-rate"));
    }
}
