using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ManimCloud.Operations.Telemetry;

/// <summary>
/// ManimCloud's one <see cref="ActivitySource"/> and one <see cref="Meter"/>, both named "ManimCloud". Spans and
/// measurements cost next to nothing until something listens (<see cref="TelemetryHost"/> starts listeners only when
/// an exporter is configured), so instrumented code calls them unconditionally.
/// </summary>
public static class ManimCloudTelemetry
{
    public const string Name = "ManimCloud";
    public static readonly string Version = typeof(ManimCloudTelemetry).Assembly.GetName().Version?.ToString() ?? "0";

    public static readonly ActivitySource Source = new(Name, Version);
    public static readonly Meter Meter = new(Name, Version);

    /// <summary>Span attribute names (OpenTelemetry's semantic conventions where one exists).</summary>
    public static class Attributes
    {
        public const string RpcSystem = "rpc.system";
        public const string RpcService = "rpc.service";
        public const string RpcMethod = "rpc.method";
        public const string Bucket = "aws.s3.bucket";
        public const string Table = "aws.dynamodb.table_names";
        public const string RequestId = "aws.request_id";
        public const string ErrorType = "error.type";
        public const string Action = "manimcloud.action";
        public const string Resource = "manimcloud.resource";
        public const string Bytes = "manimcloud.bytes";
        public const string Retries = "manimcloud.retries";
        public const string Command = "manimcloud.command";
        public const string Step = "manimcloud.step";
        public const string Video = "manimcloud.video";
        public const string ExitCode = "process.exit.code";
    }

    /// <summary>
    /// Starts a span for one pipeline step (render, transcode, code generation, publish …); null when nobody listens.
    /// The pipeline and streaming engines call this around each step: <c>using var step = ManimCloudTelemetry.StartStep("render", video);</c>
    /// </summary>
    public static Activity? StartStep(string step, string? video = null)
    {
        var activity = Source.StartActivity("step " + step);
        if (activity is not null)
        {
            activity.SetTag(Attributes.Step, step);
            if (video is not null) activity.SetTag(Attributes.Video, video);
        }
        return activity;
    }

    /// <summary>Marks a span failed with ManimCloud's error class (the <c>error.type</c> attribute) and the message.</summary>
    public static void Fail(Activity? activity, string errorClass, string message)
    {
        if (activity is null) return;
        activity.SetTag(Attributes.ErrorType, errorClass);
        activity.SetStatus(ActivityStatusCode.Error, message);
    }
}
