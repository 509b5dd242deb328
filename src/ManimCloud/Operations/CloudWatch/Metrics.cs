namespace ManimCloud.Operations.CloudWatch;

/// <summary>A CloudWatch dimension: one name/value pair that, with the namespace and name, identifies a metric.</summary>
public sealed record MetricDimension(string Name, string Value);

/// <summary>
/// Pre-aggregated values of one metric over an interval (CloudWatch's StatisticValues): one datum carries what
/// would otherwise be many, which is how the background flusher keeps PutMetricData calls few.
/// </summary>
public sealed record StatisticSet(double SampleCount, double Sum, double Minimum, double Maximum)
{
    public static StatisticSet Of(double value) => new(1, value, value, value);
    public StatisticSet Add(double value) => new(SampleCount + 1, Sum + value, Math.Min(Minimum, value), Math.Max(Maximum, value));
}

/// <summary>One datum for PutMetricData: either a single <see cref="Value"/> or a <see cref="Statistics"/> set.</summary>
public sealed record MetricDatum(string MetricName, IReadOnlyList<MetricDimension> Dimensions, DateTimeOffset Timestamp, string Unit = "None")
{
    public double? Value { get; init; }
    public StatisticSet? Statistics { get; init; }
    /// <summary>1 for high-resolution (per-second) storage; 60, the default, for standard resolution.</summary>
    public int StorageResolution { get; init; } = 60;
}

/// <summary>One aggregated point GetMetricStatistics returns; statistics not asked for are null.</summary>
public sealed record Datapoint(DateTimeOffset Timestamp, double? SampleCount, double? Sum, double? Average, double? Minimum, double? Maximum, string? Unit);

/// <summary>What GetMetricStatistics is asked for.</summary>
public sealed record MetricQuery(string Namespace, string MetricName, IReadOnlyList<MetricDimension> Dimensions, DateTimeOffset Start, DateTimeOffset End, int PeriodSeconds)
{
    /// <summary>Any of SampleCount, Sum, Average, Minimum, Maximum.</summary>
    public IReadOnlyList<string> Statistics { get; init; } = ["Sum", "SampleCount", "Average", "Minimum", "Maximum"];
    public string? Unit { get; init; }
}

/// <summary>
/// A single-metric alarm as PutMetricAlarm takes it and DescribeAlarms returns it. Records compare by value
/// (lists by content, see <see cref="DifferencesFrom"/>), which is how `monitoring provision` finds drift.
/// </summary>
public sealed record MetricAlarm
{
    public required string Name { get; init; }
    public string Description { get; init; } = "";
    public required string Namespace { get; init; }
    public required string MetricName { get; init; }
    public IReadOnlyList<MetricDimension> Dimensions { get; init; } = [];
    /// <summary>SampleCount, Average, Sum, Minimum or Maximum.</summary>
    public string Statistic { get; init; } = "Sum";
    public int PeriodSeconds { get; init; } = 300;
    public int EvaluationPeriods { get; init; } = 1;
    public int? DatapointsToAlarm { get; init; }
    public required double Threshold { get; init; }
    /// <summary>GreaterThanOrEqualToThreshold, GreaterThanThreshold, LessThanThreshold or LessThanOrEqualToThreshold.</summary>
    public string ComparisonOperator { get; init; } = "GreaterThanOrEqualToThreshold";
    /// <summary>breaching, notBreaching, ignore or missing.</summary>
    public string TreatMissingData { get; init; } = "notBreaching";
    public IReadOnlyList<string> AlarmActions { get; init; } = [];
    public IReadOnlyList<string> OkActions { get; init; } = [];
    public bool ActionsEnabled { get; init; } = true;
    public string? Unit { get; init; }
    /// <summary>As DescribeAlarms reports it (OK, ALARM, INSUFFICIENT_DATA); not part of the definition, so not compared.</summary>
    public string? State { get; init; }

    public bool Equals(MetricAlarm? other) => other is not null && Name == other.Name && DifferencesFrom(other).Count == 0;

    /// <summary>The definition fields in which this alarm differs from <paramref name="wanted"/>, as "field: this → wanted".</summary>
    public List<string> DifferencesFrom(MetricAlarm wanted)
    {
        var d = new List<string>();
        void Check(string field, object? a, object? b)
        {
            if (!Equals(a, b)) d.Add($"{field}: {a ?? "none"} → {b ?? "none"}");
        }
        static string Dims(IReadOnlyList<MetricDimension> x) => string.Join(",", x.OrderBy(v => v.Name, StringComparer.Ordinal).Select(v => $"{v.Name}={v.Value}"));
        Check("description", Description, wanted.Description);
        Check("namespace", Namespace, wanted.Namespace);
        Check("metric", MetricName, wanted.MetricName);
        Check("dimensions", Dims(Dimensions), Dims(wanted.Dimensions));
        Check("statistic", Statistic, wanted.Statistic);
        Check("period", PeriodSeconds, wanted.PeriodSeconds);
        Check("evaluation_periods", EvaluationPeriods, wanted.EvaluationPeriods);
        Check("datapoints_to_alarm", DatapointsToAlarm ?? EvaluationPeriods, wanted.DatapointsToAlarm ?? wanted.EvaluationPeriods);
        Check("threshold", Threshold, wanted.Threshold);
        Check("comparison", ComparisonOperator, wanted.ComparisonOperator);
        Check("treat_missing_data", TreatMissingData, wanted.TreatMissingData);
        Check("alarm_actions", string.Join(",", AlarmActions), string.Join(",", wanted.AlarmActions));
        Check("ok_actions", string.Join(",", OkActions), string.Join(",", wanted.OkActions));
        Check("actions_enabled", ActionsEnabled, wanted.ActionsEnabled);
        Check("unit", Unit, wanted.Unit);
        return d;
    }

    public override int GetHashCode() => HashCode.Combine(Name, Namespace, MetricName, Threshold);
}

/// <summary>A stored dashboard: its name and JSON body (CloudWatch's dashboard body structure).</summary>
public sealed record Dashboard(string Name, string Body, string? Arn = null);
