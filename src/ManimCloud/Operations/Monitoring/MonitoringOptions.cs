using System.Text.RegularExpressions;
using ManimCloud.Domain;

namespace ManimCloud.Operations.Monitoring;

/// <summary>
/// Observability settings (docs/configuration.md): CloudWatch publishing, the alarm topic, OTLP from the config
/// file. Read by <see cref="Workspace.ManimCloudOptions.Load"/> with the same environment-over-file rule as the rest.
/// </summary>
public sealed record MonitoringOptions
{
    /// <summary>Publish ManimCloud's metrics to CloudWatch (MANIMCLOUD_CLOUDWATCH_METRICS; `monitoring provision` turns it on).</summary>
    public bool CloudWatchMetrics { get; init; }
    /// <summary>The CloudWatch namespace of ManimCloud's metrics (MANIMCLOUD_CLOUDWATCH_NAMESPACE).</summary>
    public string Namespace { get; init; } = "ManimCloud";
    /// <summary>SNS topic ARN the alarms notify (MANIMCLOUD_ALARM_TOPIC); none: alarms only change state.</summary>
    public string? AlarmTopic { get; init; }
    /// <summary>OTLP endpoint from the config file (otel_exporter_otlp_endpoint); OTEL_EXPORTER_OTLP_ENDPOINT wins.</summary>
    public string? OtlpEndpoint { get; init; }

    /// <summary>Reads the settings through <paramref name="pick"/> (environment name, config-file key → value).</summary>
    public static MonitoringOptions Load(Func<string, string, string?> pick) => new()
    {
        CloudWatchMetrics = pick("MANIMCLOUD_CLOUDWATCH_METRICS", "cloudwatch_metrics") switch
        {
            null or "off" or "false" => false,
            "on" or "true" => true,
            var other => throw new ManimCloudException(ErrorKind.InvalidInput, $"MANIMCLOUD_CLOUDWATCH_METRICS is '{other}'.", "Use on or off."),
        },
        Namespace = pick("MANIMCLOUD_CLOUDWATCH_NAMESPACE", "cloudwatch_namespace") ?? "ManimCloud",
        AlarmTopic = pick("MANIMCLOUD_ALARM_TOPIC", "alarm_topic"),
        OtlpEndpoint = pick("OTEL_EXPORTER_OTLP_ENDPOINT", "otel_exporter_otlp_endpoint"),
    };

    public IEnumerable<string> Validate()
    {
        if (OtlpEndpoint is not null && !Uri.TryCreate(OtlpEndpoint, UriKind.Absolute, out _))
            yield return $"OTEL_EXPORTER_OTLP_ENDPOINT '{OtlpEndpoint}' is not an absolute URL (for example http://127.0.0.1:4318).";
        if (AlarmTopic is not null && !Regex.IsMatch(AlarmTopic, "^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$"))
            yield return $"MANIMCLOUD_ALARM_TOPIC '{AlarmTopic}' is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME).";
        if (!Regex.IsMatch(Namespace, "^[A-Za-z0-9./_#:-]{1,255}$") || Namespace.StartsWith("AWS/", StringComparison.Ordinal))
            yield return $"MANIMCLOUD_CLOUDWATCH_NAMESPACE '{Namespace}' is not a custom CloudWatch namespace (1–255 of A-Z a-z 0-9 . / _ # : -, not starting with AWS/).";
    }
}
