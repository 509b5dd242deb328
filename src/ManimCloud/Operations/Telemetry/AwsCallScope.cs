using System.Diagnostics;
using ManimCloud.Domain;

namespace ManimCloud.Operations.Telemetry;

/// <summary>
/// One AWS call as telemetry sees it: a span named <c>{service}.{api}</c> (OpenTelemetry's AWS SDK convention) with
/// the bucket or table, bytes, retries and error class, and the request counters and duration. Opened at the two
/// choke points every AWS call passes (<c>AwsCall.RunAsync</c> for the SDK and the lean S3 data plane,
/// <c>AwsHttpService</c> for the thin clients); the SDK request hook, the data plane and the retry pipeline fill in
/// what only they know through <see cref="Current"/>. Null (and free) when nothing listens.
/// </summary>
public sealed class AwsCallScope : IDisposable
{
    private static readonly AsyncLocal<AwsCallScope?> _current = new();

    /// <summary>The AWS call running in this async flow, if telemetry is on.</summary>
    public static AwsCallScope? Current => _current.Value;

    private readonly Activity? _activity;
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly AwsCallScope? _outer;
    private string _api;
    private int _retries;
    private long _bytes;
    private string? _direction;

    public string Service { get; }

    private AwsCallScope(string service, string api, string action, string resource, Activity? activity)
    {
        Service = service;
        _api = api;
        _activity = activity;
        _outer = _current.Value;
        _current.Value = this;
        if (activity is null) return;
        activity.SetTag(ManimCloudTelemetry.Attributes.RpcSystem, "aws-api");
        activity.SetTag(ManimCloudTelemetry.Attributes.RpcService, service);
        activity.SetTag(ManimCloudTelemetry.Attributes.Action, action);
        activity.SetTag(ManimCloudTelemetry.Attributes.Resource, resource);
        if (Bucket(resource) is { } bucket) activity.SetTag(ManimCloudTelemetry.Attributes.Bucket, bucket);
        if (Table(resource) is { } table) activity.SetTag(ManimCloudTelemetry.Attributes.Table, table);
        if (api.Length > 0) activity.SetTag(ManimCloudTelemetry.Attributes.RpcMethod, api);
    }

    /// <summary>True when a span or a metric of an AWS call would be recorded by someone.</summary>
    public static bool Listening => ManimCloudTelemetry.Source.HasListeners() || ManimCloudMetrics.AwsRequests.Enabled;

    /// <summary>
    /// Opens the scope of one AWS call. <paramref name="service"/> may be null for the SDK stores: it is then read
    /// from the resource (<c>s3://bucket/key</c>, <c>… dynamodb:table</c>); <paramref name="api"/> may be empty until
    /// the SDK's request hook names it.
    /// </summary>
    public static AwsCallScope? Start(string? service, string api, string action, string resource)
    {
        if (!Listening) return null;
        service ??= resource.StartsWith("s3://", StringComparison.Ordinal) ? "s3"
            : resource.Contains("dynamodb:", StringComparison.Ordinal) ? "dynamodb"
            : resource.StartsWith("KMS", StringComparison.Ordinal) ? "kms" : "aws";
        var activity = ManimCloudTelemetry.Source.StartActivity(api.Length > 0 ? $"{service}.{api}" : service, ActivityKind.Client);
        return new AwsCallScope(service, api, action, resource, activity);
    }

    /// <summary>The API operation, once known (the SDK's request hook, the lean data plane).</summary>
    public void Identify(string api)
    {
        if (_api == api) return;
        _api = api;
        if (_activity is null) return;
        _activity.DisplayName = $"{Service}.{api}";
        _activity.SetTag(ManimCloudTelemetry.Attributes.RpcMethod, api);
    }

    /// <summary>Bytes this call carries (a part, a range, a small object); counted when the call succeeds.</summary>
    public void Carries(long bytes, bool upload)
    {
        _bytes = bytes;
        _direction = upload ? "upload" : "download";
        _activity?.SetTag(ManimCloudTelemetry.Attributes.Bytes, bytes);
    }

    /// <summary>The data planes' one line: this attempt is <paramref name="api"/> carrying <paramref name="bytes"/>.</summary>
    public static void DataCall(string api, long bytes, bool upload)
    {
        if (Current is not { } scope) return;
        scope.Identify(api);
        scope.Carries(bytes, upload);
    }

    /// <summary>The retry pipeline is about to try again after a failure of this class.</summary>
    public void Retried(ErrorKind kind)
    {
        _retries++;
        _activity?.SetTag(ManimCloudTelemetry.Attributes.Retries, _retries);
        _activity?.AddEvent(new ActivityEvent("retry", tags: new ActivityTagsCollection { ["error.type"] = ManimCloudMetrics.OutcomeOf(kind) }));
    }

    /// <summary>The call is over: null for success, else the final failure's class.</summary>
    public void Complete(ErrorKind? failure, string? message = null)
    {
        var outcome = failure is { } kind ? ManimCloudMetrics.OutcomeOf(kind) : ManimCloudMetrics.Ok;
        if (failure is not null) ManimCloudTelemetry.Fail(_activity, outcome, message ?? outcome);
        var tags = new TagList { { "service", Service }, { "api", _api.Length > 0 ? _api : "unknown" }, { "outcome", outcome } };
        ManimCloudMetrics.AwsRequests.Add(1, tags);
        ManimCloudMetrics.AwsRequestDuration.Record(Stopwatch.GetElapsedTime(_started).TotalSeconds, tags);
        if (failure == ErrorKind.Throttled) ManimCloudMetrics.Throttles.Add(1, new KeyValuePair<string, object?>("service", Service));
        if (failure is null && _direction is not null && _bytes > 0)
            ManimCloudMetrics.TransferBytes.Add(_bytes, new KeyValuePair<string, object?>("operation", _direction));
    }

    public void Dispose()
    {
        _current.Value = _outer;
        _activity?.Dispose();
    }

    private static string? Bucket(string resource)
    {
        if (!resource.StartsWith("s3://", StringComparison.Ordinal)) return null;
        var slash = resource.IndexOf('/', 5);
        return slash < 0 ? resource[5..] : resource[5..slash];
    }

    private static string? Table(string resource)
    {
        var at = resource.IndexOf("dynamodb:", StringComparison.Ordinal);
        return at < 0 ? null : resource[(at + "dynamodb:".Length)..].Split(' ')[0];
    }

    /// <summary>
    /// The AWS SDK's request hook (<c>BeforeRequestEvent</c>, raised in the caller's async flow): names the API
    /// operation from the request's type (GetObjectMetadataRequest → GetObjectMetadata).
    /// </summary>
    public static void OnSdkRequest(object? sender, Amazon.Runtime.RequestEventArgs e)
    {
        if (Current is not { } scope || e is not Amazon.Runtime.WebServiceRequestEventArgs w || w.Request is null) return;
        var name = w.Request.GetType().Name;
        scope.Identify(name.EndsWith("Request", StringComparison.Ordinal) ? name[..^"Request".Length] : name);
    }

    /// <summary>The retry pipeline's hook: every retried attempt counts, throttling separately.</summary>
    public static void OnRetry(ErrorKind kind)
    {
        var scope = Current;
        scope?.Retried(kind);
        if (!ManimCloudMetrics.Retries.Enabled) return;
        var service = scope?.Service ?? "unknown";
        ManimCloudMetrics.Retries.Add(1, new TagList { { "service", service }, { "kind", ManimCloudMetrics.OutcomeOf(kind) } });
        if (kind == ErrorKind.Throttled) ManimCloudMetrics.Throttles.Add(1, new KeyValuePair<string, object?>("service", service));
    }
}
