using System.Text.Json.Nodes;
using ManimCloud.Operations.CloudWatch;
using ManimCloud.Workspace;

namespace ManimCloud.Operations.Monitoring;

/// <summary>
/// What `monitoring provision` wants in CloudWatch for one environment: the dashboard and the alarms, all derived
/// from the metric names ManimCloud publishes (<see cref="Telemetry.CloudWatchPublisher"/>), so a rename cannot
/// leave an alarm watching nothing. Names are <c>manimcloud-{env}-…</c>.
/// </summary>
public sealed record MonitoringPlan(Dashboard Dashboard, IReadOnlyList<MetricAlarm> Alarms)
{
    /// <summary>Every alarm slug this plan may manage; only these are ever deleted (other tools' alarms are left alone).</summary>
    public static readonly string[] ManagedSlugs = ["failed-uploads", "throttling", "transcode-failures", "sync-backlog-age", "service-5xx", "cloudfront-5xx-rate"];

    public static string Prefix(string environment) => $"manimcloud-{environment}-";

    public static MonitoringPlan For(ManimCloudOptions options)
    {
        var env = options.Environment;
        var ns = options.Monitoring.Namespace;
        var region = options.Region ?? "us-east-1";
        string[] actions = options.Monitoring.AlarmTopic is { } topic ? [topic] : [];
        MetricDimension[] envOnly = [new("environment", env)];
        MetricDimension[] Operation(string op) => [new("environment", env), new("operation", op)];

        MetricAlarm Alarm(string slug, string description, string metric, IReadOnlyList<MetricDimension> dims, string statistic, double threshold,
            int periods = 1, string ns2 = "", int period = 300, string comparison = "GreaterThanOrEqualToThreshold") => new()
        {
            Name = Prefix(env) + slug, Description = description + " (managed by `manimcloud monitoring provision`; runbook: docs/runbook.md#alarm-" + slug + ")",
            Namespace = ns2.Length > 0 ? ns2 : ns, MetricName = metric, Dimensions = dims, Statistic = statistic,
            PeriodSeconds = period, EvaluationPeriods = periods, Threshold = threshold, ComparisonOperator = comparison,
            TreatMissingData = "notBreaching", AlarmActions = actions, OkActions = actions,
        };

        var alarms = new List<MetricAlarm>
        {
            Alarm("failed-uploads", "Uploads to S3 failed after retries", "OperationsFailed", Operation("upload"), "Sum", 1),
            Alarm("throttling", "AWS is throttling ManimCloud (503 SlowDown, 429, ProvisionedThroughputExceeded)", "Throttles", envOnly, "Sum", 50),
            Alarm("transcode-failures", "Transcodes failed", "OperationsFailed", Operation("transcode"), "Sum", 1),
            Alarm("sync-backlog-age", "Work has waited for the cloud for over an hour (offline, or sync failing)", "SyncBacklogAge", envOnly, "Maximum", 3600),
            Alarm("service-5xx", "The web service answered with 5xx errors", "HttpRequestsFailed", envOnly, "Sum", 5),
        };
        if (options.Delivery.DistributionId is { } distribution)
            alarms.Add(Alarm("cloudfront-5xx-rate", "CloudFront answers viewers with 5xx errors (% of requests)", "5xxErrorRate",
                [new("Region", "Global"), new("DistributionId", distribution)], "Average", 5, periods: 2, ns2: "AWS/CloudFront"));
        return new MonitoringPlan(new Dashboard($"manimcloud-{env}", DashboardBody(ns, env, region, options.Delivery.DistributionId).ToJsonString()), alarms);
    }

    /// <summary>CloudWatch's dashboard body: one graph per question an operator asks, top to bottom.</summary>
    private static JsonObject DashboardBody(string ns, string env, string region, string? distribution)
    {
        var widgets = new JsonArray();
        var y = 0;
        void Graph(string title, string stat, params JsonArray[] metrics)
        {
            var list = new JsonArray();
            foreach (var m in metrics) list.Add((JsonNode)m);
            widgets.Add((JsonNode)new JsonObject
            {
                ["type"] = "metric", ["x"] = (y / 6 % 2) * 12, ["y"] = y / 12 * 6, ["width"] = 12, ["height"] = 6,
                ["properties"] = new JsonObject
                {
                    ["title"] = title, ["view"] = "timeSeries", ["stat"] = stat, ["period"] = 300, ["region"] = region, ["metrics"] = list,
                },
            });
            y += 6;
        }
        JsonArray Metric(string name, params string[] dims)
        {
            var m = new JsonArray { (JsonNode)ns, (JsonNode)name, (JsonNode)"environment", (JsonNode)env };
            foreach (var d in dims) m.Add((JsonNode)d);
            return m;
        }
        Graph("Bytes uploaded and downloaded", "Sum", Metric("TransferBytes", "operation", "upload"), Metric("TransferBytes", "operation", "download"));
        Graph("Failed operations", "Sum", Metric("OperationsFailed", "operation", "upload"), Metric("OperationsFailed", "operation", "download"),
            Metric("OperationsFailed", "operation", "transcode"), Metric("OperationsFailed", "operation", "render"));
        Graph("Retries and throttling", "Sum", Metric("Retries"), Metric("Throttles"));
        Graph("Sync backlog (operations, age in s)", "Maximum", Metric("SyncBacklogSize"), Metric("SyncBacklogAge"));
        Graph("Transcode seconds per output minute", "Average", Metric("TranscodeSecondsPerOutputMinute"));
        Graph("Render seconds per scene", "Average", Metric("RenderSecondsPerScene"));
        Graph("Work queue depth", "Maximum", Metric("QueueDepth"));
        Graph("Web service requests and 5xx", "Sum", Metric("HttpRequests"), Metric("HttpRequestsFailed"));
        if (distribution is not null)
            Graph("CloudFront error rate (%)", "Average",
                [(JsonNode)"AWS/CloudFront", (JsonNode)"5xxErrorRate", (JsonNode)"Region", (JsonNode)"Global", (JsonNode)"DistributionId", (JsonNode)distribution, new JsonObject { ["region"] = "us-east-1" }],
                [(JsonNode)"AWS/CloudFront", (JsonNode)"4xxErrorRate", (JsonNode)"Region", (JsonNode)"Global", (JsonNode)"DistributionId", (JsonNode)distribution, new JsonObject { ["region"] = "us-east-1" }]);
        return new JsonObject { ["widgets"] = widgets };
    }
}
