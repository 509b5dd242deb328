namespace ManimCloud.Operations.CloudWatch;

/// <summary>
/// The CloudWatch operations ManimCloud uses: publishing metrics, reading them back, alarms and dashboards. A thin
/// typed client (<see cref="CloudWatchClient"/>) implements it today, since the registry here has no AWSSDK.CloudWatch;
/// the official package can implement it later without touching callers.
/// </summary>
public interface ICloudWatch
{
    /// <summary>
    /// Publishes <paramref name="data"/> under <paramref name="metricNamespace"/>, split into as many PutMetricData
    /// calls as the API's limits need (1,000 datums and 1 MB per call). Returns how many calls were made.
    /// </summary>
    Task<int> PutMetricDataAsync(string metricNamespace, IReadOnlyList<MetricDatum> data, CancellationToken ct);

    /// <summary>Aggregated points of one metric (GetMetricStatistics), oldest first.</summary>
    Task<IReadOnlyList<Datapoint>> GetMetricStatisticsAsync(MetricQuery query, CancellationToken ct);

    /// <summary>Creates or replaces the alarm of this name.</summary>
    Task PutMetricAlarmAsync(MetricAlarm alarm, CancellationToken ct);

    /// <summary>The metric alarms whose names start with <paramref name="namePrefix"/>, all pages.</summary>
    Task<IReadOnlyList<MetricAlarm>> DescribeAlarmsAsync(string namePrefix, CancellationToken ct);

    /// <summary>Deletes the named alarms (names that do not exist are ignored, as CloudWatch does).</summary>
    Task DeleteAlarmsAsync(IReadOnlyList<string> names, CancellationToken ct);

    /// <summary>Creates or replaces a dashboard; returns CloudWatch's validation messages (empty when it is clean).</summary>
    Task<IReadOnlyList<string>> PutDashboardAsync(Dashboard dashboard, CancellationToken ct);

    /// <summary>The dashboard of this name, or null when there is none.</summary>
    Task<Dashboard?> GetDashboardAsync(string name, CancellationToken ct);
}
