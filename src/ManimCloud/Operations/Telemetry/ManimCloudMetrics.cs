using System.Diagnostics;
using System.Diagnostics.Metrics;
using ManimCloud.Domain;

namespace ManimCloud.Operations.Telemetry;

/// <summary>
/// Every instrument ManimCloud records, on <see cref="ManimCloudTelemetry.Meter"/>. Names follow OpenTelemetry's
/// conventions (dotted, units in UCUM); the Prometheus exporter and CloudWatch derive their own names from them
/// (docs/observability.md lists all three). Tags stay low-cardinality: an <c>operation</c> (a verb such as upload,
/// download, a command, an outbox operation), an <c>outcome</c> (ok or an error class), a <c>service</c>.
/// </summary>
public static class ManimCloudMetrics
{
    private static Meter M => ManimCloudTelemetry.Meter;

    /// <summary>Bytes moved to (operation=upload) or from (operation=download) a store.</summary>
    public static readonly Counter<long> TransferBytes = M.CreateCounter<long>("manimcloud.transfer.bytes", "By", "Bytes uploaded (operation=upload) and downloaded (operation=download).");

    /// <summary>ManimCloud operations (commands, uploads, downloads, outbox operations, transcodes, renders) by outcome.</summary>
    public static readonly Counter<long> Operations = M.CreateCounter<long>("manimcloud.operations", "{operation}", "Operations by operation and outcome (ok or the error class).");

    public static readonly Histogram<double> OperationDuration = M.CreateHistogram<double>("manimcloud.operation.duration", "s", "Wall time of operations, by operation and outcome.");

    /// <summary>Calls to AWS services, by service (S3, DynamoDB, CloudWatch …), API operation and outcome.</summary>
    public static readonly Counter<long> AwsRequests = M.CreateCounter<long>("manimcloud.aws.requests", "{request}", "AWS API calls (after retries) by service, api and outcome.");

    public static readonly Histogram<double> AwsRequestDuration = M.CreateHistogram<double>("manimcloud.aws.request.duration", "s", "Wall time of AWS API calls including retries, by service and api.");

    /// <summary>Attempts the retry pipeline made again, by error kind (transient, throttled).</summary>
    public static readonly Counter<long> Retries = M.CreateCounter<long>("manimcloud.retries", "{retry}", "Retried attempts by service and kind (transient, throttled).");

    /// <summary>Answers that said "slow down" (503 SlowDown, 429, ProvisionedThroughputExceeded …).</summary>
    public static readonly Counter<long> Throttles = M.CreateCounter<long>("manimcloud.throttles", "{response}", "Throttling answers from AWS, by service.");

    public static readonly Gauge<long> SyncBacklogSize = M.CreateGauge<long>("manimcloud.sync.backlog.size", "{operation}", "Operations waiting in the outbox for the cloud.");

    public static readonly Gauge<double> SyncBacklogAge = M.CreateGauge<double>("manimcloud.sync.backlog.age", "s", "Age of the oldest operation waiting in the outbox (0 when empty).");

    /// <summary>Transcode wall seconds per minute of output video (lower is faster), by engine (local, mediaconvert).</summary>
    public static readonly Histogram<double> TranscodeSecondsPerOutputMinute = M.CreateHistogram<double>("manimcloud.transcode.seconds_per_output_minute", "s/min", "Transcode seconds per output minute, by engine.");

    public static readonly Histogram<double> RenderSecondsPerScene = M.CreateHistogram<double>("manimcloud.render.seconds_per_scene", "s", "Render seconds per scene, by renderer.");

    public static readonly Gauge<long> QueueDepth = M.CreateGauge<long>("manimcloud.queue.depth", "{job}", "Jobs waiting in the work queue (approximate, as SQS reports it).");

    /// <summary>Requests `manimcloud serve` answered, by status class (2xx … 5xx).</summary>
    public static readonly Counter<long> HttpRequests = M.CreateCounter<long>("manimcloud.http.requests", "{request}", "HTTP requests served, by status class.");

    public static readonly Histogram<double> HttpRequestDuration = M.CreateHistogram<double>("manimcloud.http.request.duration", "s", "Time to answer HTTP requests, by status class.");

    /// <summary>Telemetry's own health: measurements CloudWatch publishing had to drop (buffer full or CloudWatch away).</summary>
    public static readonly Counter<long> TelemetryDropped = M.CreateCounter<long>("manimcloud.telemetry.dropped", "{datum}", "Metric datums dropped instead of blocking when CloudWatch was away.");

    public const string Ok = "ok";

    /// <summary>The outcome tag for a failure: the error class in snake case (transient, throttled, auth …).</summary>
    public static string OutcomeOf(ErrorKind kind) => kind switch
    {
        ErrorKind.InvalidInput => "invalid_input",
        ErrorKind.NotFound => "not_found",
        ErrorKind.Conflict => "conflict",
        ErrorKind.Locked => "locked",
        ErrorKind.Transient => "transient",
        ErrorKind.Throttled => "throttled",
        ErrorKind.Auth => "auth",
        ErrorKind.ClientError => "client_error",
        _ => "fatal",
    };

    /// <summary>One finished operation: the count by outcome and its duration.</summary>
    public static void RecordOperation(string operation, string outcome, TimeSpan elapsed)
    {
        if (!Operations.Enabled && !OperationDuration.Enabled) return;
        var tags = new TagList { { "operation", operation }, { "outcome", outcome } };
        Operations.Add(1, tags);
        OperationDuration.Record(elapsed.TotalSeconds, tags);
    }

    /// <summary>A transcode finished: <paramref name="seconds"/> of wall time for <paramref name="outputMinutes"/> of video.</summary>
    public static void RecordTranscode(string engine, double seconds, double outputMinutes, string outcome = Ok)
    {
        RecordOperation("transcode", outcome, TimeSpan.FromSeconds(seconds));
        if (outcome == Ok && outputMinutes > 0) TranscodeSecondsPerOutputMinute.Record(seconds / outputMinutes, new KeyValuePair<string, object?>("engine", engine));
    }

    /// <summary>A scene rendered (or failed to) in <paramref name="seconds"/>.</summary>
    public static void RecordRender(string renderer, double seconds, string outcome = Ok)
    {
        RecordOperation("render", outcome, TimeSpan.FromSeconds(seconds));
        if (outcome == Ok) RenderSecondsPerScene.Record(seconds, new KeyValuePair<string, object?>("renderer", renderer));
    }

    /// <summary>The work queue's depth as last seen (workers call this after each receive).</summary>
    public static void RecordQueueDepth(string queue, long depth) => QueueDepth.Record(depth, new KeyValuePair<string, object?>("queue", queue));

    /// <summary>The outbox's size and the age of its oldest entry (the sync engine calls this after each pass).</summary>
    public static void RecordSyncBacklog(long size, TimeSpan oldestAge)
    {
        SyncBacklogSize.Record(size);
        SyncBacklogAge.Record(size == 0 ? 0 : oldestAge.TotalSeconds);
    }

    /// <summary>One HTTP request answered by the web service (a middleware calls this).</summary>
    public static void RecordHttpRequest(int status, TimeSpan elapsed)
    {
        var statusClass = status switch { >= 500 => "5xx", >= 400 => "4xx", >= 300 => "3xx", _ => "2xx" };
        var tags = new TagList { { "status_class", statusClass }, { "outcome", status >= 500 ? "server_error" : Ok } };
        HttpRequests.Add(1, tags);
        HttpRequestDuration.Record(elapsed.TotalSeconds, tags);
    }
}
