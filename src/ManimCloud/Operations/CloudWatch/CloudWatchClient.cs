using System.Globalization;
using System.Net;
using System.Xml.Linq;
using Amazon.Runtime;
using ManimCloud.Aws;

namespace ManimCloud.Operations.CloudWatch;

/// <summary>
/// CloudWatch over its query protocol (form-encoded POST, XML answers) on the shared signed
/// <see cref="AwsHttpService"/>, so retries, endpoints and error classification are the ones every AWS call has.
/// The query protocol rather than CBOR because moto and older endpoints speak it, and it needs no extra codec.
/// </summary>
public sealed class CloudWatchClient(AwsHttpService service) : ICloudWatch
{
    public const string ApiVersion = "2010-08-01";
    /// <summary>PutMetricData's limits per call: 1,000 datums and 1 MB of request (AWS, since 2023).</summary>
    public const int MaxDatumsPerCall = 1000;
    public const int MaxBytesPerCall = 1_000_000;
    /// <summary>Room left under <see cref="MaxBytesPerCall"/> for the action, version and namespace fields and form encoding.</summary>
    private const int CallOverheadBytes = 4096;

    public AwsHttpService Service => service;

    /// <summary>CloudWatch in the deployment's region (ManimCloud's own metrics, alarms and dashboard).</summary>
    public static CloudWatchClient Create(AwsClients aws) => new(aws.Service(AwsServiceDescription.CloudWatch));

    /// <summary>CloudWatch in us-east-1, where CloudFront publishes its metrics (AWS/CloudFront) whatever the deployment's region.</summary>
    public static CloudWatchClient CreateForCloudFront(AwsClients aws) => new(aws.Service(CloudFrontMetrics));

    /// <summary>
    /// CloudWatch for the background metric publisher: its own signed client with a short retry budget, so a
    /// CloudWatch outage costs the publisher seconds, not the command's whole retry budget.
    /// </summary>
    public static CloudWatchClient CreateForPublishing(AwsClients aws) =>
        new(new AwsHttpService(AwsServiceDescription.CloudWatch, aws.Credentials(), aws.Region.SystemName,
            aws.Options.EndpointFor(AwsServiceDescription.CloudWatch.EndpointId),
            new Resilience.RetryPipeline(AwsErrors.Classify, TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(100)), timeout: TimeSpan.FromSeconds(5)));

    private static readonly AwsServiceDescription CloudFrontMetrics = AwsServiceDescription.CloudWatch with
    {
        AwsEndpoint = _ => "https://monitoring.us-east-1.amazonaws.com", GlobalRegion = "us-east-1",
    };

    public async Task<int> PutMetricDataAsync(string metricNamespace, IReadOnlyList<MetricDatum> data, CancellationToken ct)
    {
        var calls = 0;
        foreach (var batch in Batches(data))
        {
            var form = new List<KeyValuePair<string, string>> { new("Namespace", metricNamespace) };
            for (var i = 0; i < batch.Count; i++) form.AddRange(batch[i]);
            await service.QueryAsync("PutMetricData", ApiVersion, form, ct);
            calls++;
        }
        return calls;
    }

    /// <summary>
    /// Groups the datums' form fields into calls within the API's limits; each field list is numbered for its place
    /// in its own call. A datum is never split across calls.
    /// </summary>
    public static IEnumerable<List<List<KeyValuePair<string, string>>>> Batches(IReadOnlyList<MetricDatum> data)
    {
        var batch = new List<List<KeyValuePair<string, string>>>();
        var bytes = 0;
        foreach (var datum in data)
        {
            var fields = DatumFields(datum, batch.Count + 1);
            var size = EncodedSize(fields);
            if (batch.Count > 0 && (batch.Count == MaxDatumsPerCall || bytes + size > MaxBytesPerCall - CallOverheadBytes))
            {
                yield return batch;
                batch = [];
                bytes = 0;
                fields = DatumFields(datum, 1);
                size = EncodedSize(fields);
            }
            batch.Add(fields);
            bytes += size;
        }
        if (batch.Count > 0) yield return batch;
    }

    private static int EncodedSize(List<KeyValuePair<string, string>> fields)
    {
        var size = 0;
        foreach (var (k, v) in fields) size += Uri.EscapeDataString(k).Length + Uri.EscapeDataString(v).Length + 2;
        return size;
    }

    private static List<KeyValuePair<string, string>> DatumFields(MetricDatum d, int n)
    {
        if (d.Value is null == d.Statistics is null)
            throw new ArgumentException($"Metric datum {d.MetricName} needs exactly one of a value and a statistic set.");
        var p = $"MetricData.member.{n}.";
        var fields = new List<KeyValuePair<string, string>>
        {
            new(p + "MetricName", d.MetricName),
            new(p + "Timestamp", Timestamp(d.Timestamp)),
            new(p + "Unit", d.Unit),
        };
        if (d.StorageResolution != 60) fields.Add(new(p + "StorageResolution", d.StorageResolution.ToString(CultureInfo.InvariantCulture)));
        AddDimensions(fields, p + "Dimensions.", d.Dimensions);
        if (d.Value is { } value) fields.Add(new(p + "Value", Number(value)));
        if (d.Statistics is { } s)
        {
            fields.Add(new(p + "StatisticValues.SampleCount", Number(s.SampleCount)));
            fields.Add(new(p + "StatisticValues.Sum", Number(s.Sum)));
            fields.Add(new(p + "StatisticValues.Minimum", Number(s.Minimum)));
            fields.Add(new(p + "StatisticValues.Maximum", Number(s.Maximum)));
        }
        return fields;
    }

    public async Task<IReadOnlyList<Datapoint>> GetMetricStatisticsAsync(MetricQuery query, CancellationToken ct)
    {
        var form = new List<KeyValuePair<string, string>>
        {
            new("Namespace", query.Namespace), new("MetricName", query.MetricName),
            new("StartTime", Timestamp(query.Start)), new("EndTime", Timestamp(query.End)),
            new("Period", query.PeriodSeconds.ToString(CultureInfo.InvariantCulture)),
        };
        AddDimensions(form, "Dimensions.", query.Dimensions);
        AddList(form, "Statistics.", query.Statistics);
        if (query.Unit is { } unit) form.Add(new("Unit", unit));
        var root = await service.QueryAsync("GetMetricStatistics", ApiVersion, form, ct);
        return Members(Child(Child(root, "GetMetricStatisticsResult"), "Datapoints"))
            .Select(m => new Datapoint(
                DateTimeOffset.Parse(Text(m, "Timestamp")!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal),
                OptionalNumber(m, "SampleCount"), OptionalNumber(m, "Sum"), OptionalNumber(m, "Average"),
                OptionalNumber(m, "Minimum"), OptionalNumber(m, "Maximum"), Text(m, "Unit")))
            .OrderBy(d => d.Timestamp)
            .ToList();
    }

    public async Task PutMetricAlarmAsync(MetricAlarm alarm, CancellationToken ct)
    {
        var form = new List<KeyValuePair<string, string>>
        {
            new("AlarmName", alarm.Name), new("AlarmDescription", alarm.Description),
            new("ActionsEnabled", alarm.ActionsEnabled ? "true" : "false"),
            new("Namespace", alarm.Namespace), new("MetricName", alarm.MetricName),
            new("Statistic", alarm.Statistic), new("Period", alarm.PeriodSeconds.ToString(CultureInfo.InvariantCulture)),
            new("EvaluationPeriods", alarm.EvaluationPeriods.ToString(CultureInfo.InvariantCulture)),
            new("Threshold", Number(alarm.Threshold)), new("ComparisonOperator", alarm.ComparisonOperator),
            new("TreatMissingData", alarm.TreatMissingData),
        };
        if (alarm.DatapointsToAlarm is { } dta) form.Add(new("DatapointsToAlarm", dta.ToString(CultureInfo.InvariantCulture)));
        if (alarm.Unit is { } unit) form.Add(new("Unit", unit));
        AddDimensions(form, "Dimensions.", alarm.Dimensions);
        AddList(form, "AlarmActions.", alarm.AlarmActions);
        AddList(form, "OKActions.", alarm.OkActions);
        await service.QueryAsync("PutMetricAlarm", ApiVersion, form, ct);
    }

    public async Task<IReadOnlyList<MetricAlarm>> DescribeAlarmsAsync(string namePrefix, CancellationToken ct)
    {
        var alarms = new List<MetricAlarm>();
        string? next = null;
        do
        {
            var form = new List<KeyValuePair<string, string>> { new("AlarmNamePrefix", namePrefix), new("MaxRecords", "100") };
            if (next is not null) form.Add(new("NextToken", next));
            var result = Child(await service.QueryAsync("DescribeAlarms", ApiVersion, form, ct), "DescribeAlarmsResult");
            alarms.AddRange(Members(Child(result, "MetricAlarms")).Select(AlarmFrom));
            next = Text(result, "NextToken") is { Length: > 0 } token ? token : null;
        } while (next is not null);
        return alarms;
    }

    private static MetricAlarm AlarmFrom(XElement m) => new()
    {
        Name = Text(m, "AlarmName")!,
        Description = Text(m, "AlarmDescription") ?? "",
        Namespace = Text(m, "Namespace") ?? "",
        MetricName = Text(m, "MetricName") ?? "",
        Dimensions = DimensionsFrom(Child(m, "Dimensions")),
        Statistic = Text(m, "Statistic") ?? "",
        PeriodSeconds = (int)(OptionalNumber(m, "Period") ?? 0),
        EvaluationPeriods = (int)(OptionalNumber(m, "EvaluationPeriods") ?? 0),
        DatapointsToAlarm = OptionalNumber(m, "DatapointsToAlarm") is { } d ? (int)d : null,
        Threshold = OptionalNumber(m, "Threshold") ?? 0,
        ComparisonOperator = Text(m, "ComparisonOperator") ?? "",
        TreatMissingData = Text(m, "TreatMissingData") ?? "missing",
        AlarmActions = Members(Child(m, "AlarmActions")).Select(e => e.Value).ToList(),
        OkActions = Members(Child(m, "OKActions")).Select(e => e.Value).ToList(),
        ActionsEnabled = !string.Equals(Text(m, "ActionsEnabled"), "false", StringComparison.OrdinalIgnoreCase),
        Unit = Text(m, "Unit") is { Length: > 0 } u ? u : null,
        State = Text(m, "StateValue"),
    };

    public async Task DeleteAlarmsAsync(IReadOnlyList<string> names, CancellationToken ct)
    {
        // DeleteAlarms takes up to 100 names per call.
        foreach (var chunk in names.Chunk(100))
        {
            var form = new List<KeyValuePair<string, string>>();
            AddList(form, "AlarmNames.", chunk);
            await service.QueryAsync("DeleteAlarms", ApiVersion, form, ct);
        }
    }

    public async Task<IReadOnlyList<string>> PutDashboardAsync(Dashboard dashboard, CancellationToken ct)
    {
        var root = await service.QueryAsync("PutDashboard", ApiVersion,
            [new("DashboardName", dashboard.Name), new("DashboardBody", dashboard.Body)], ct);
        return Members(Child(Child(root, "PutDashboardResult"), "DashboardValidationMessages"))
            .Select(m => $"{Text(m, "DataPath")}: {Text(m, "Message")}").ToList();
    }

    public async Task<Dashboard?> GetDashboardAsync(string name, CancellationToken ct)
    {
        try
        {
            var result = Child(await service.QueryAsync("GetDashboard", ApiVersion, [new("DashboardName", name)], ct), "GetDashboardResult");
            return new Dashboard(Text(result, "DashboardName") ?? name, Text(result, "DashboardBody") ?? "", Text(result, "DashboardArn"));
        }
        catch (AmazonServiceException e) when (e.ErrorCode is "ResourceNotFound" or "ResourceNotFoundException" || e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    // ------------------------------------------------------------ query-protocol encoding

    /// <summary>ISO 8601 in UTC with milliseconds, as CloudWatch's timestamp fields take it.</summary>
    public static string Timestamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static string Number(double v)
    {
        if (!double.IsFinite(v)) throw new ArgumentException($"CloudWatch takes finite numbers only, not {v}.");
        return v.ToString("R", CultureInfo.InvariantCulture);
    }

    private static void AddDimensions(List<KeyValuePair<string, string>> form, string prefix, IReadOnlyList<MetricDimension> dimensions)
    {
        for (var i = 0; i < dimensions.Count; i++)
        {
            form.Add(new($"{prefix}member.{i + 1}.Name", dimensions[i].Name));
            form.Add(new($"{prefix}member.{i + 1}.Value", dimensions[i].Value));
        }
    }

    private static void AddList(List<KeyValuePair<string, string>> form, string prefix, IReadOnlyList<string> values)
    {
        for (var i = 0; i < values.Count; i++) form.Add(new($"{prefix}member.{i + 1}", values[i]));
    }

    // ------------------------------------------------------------ XML answers (namespaced; matched by local name)

    private static XElement? Child(XElement? parent, string name) => parent?.Elements().FirstOrDefault(e => e.Name.LocalName == name);
    private static IEnumerable<XElement> Members(XElement? list) => list?.Elements().Where(e => e.Name.LocalName == "member") ?? [];
    private static string? Text(XElement? parent, string name) => Child(parent, name)?.Value;

    private static double? OptionalNumber(XElement parent, string name) =>
        Text(parent, name) is { Length: > 0 } s ? double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture) : null;

    private static List<MetricDimension> DimensionsFrom(XElement? list) =>
        Members(list).Select(m => new MetricDimension(Text(m, "Name") ?? "", Text(m, "Value") ?? "")).ToList();
}
