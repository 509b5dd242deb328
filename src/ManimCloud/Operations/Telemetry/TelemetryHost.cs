using System.Diagnostics;
using ManimCloud.Operations.CloudWatch;
using ManimCloud.Workspace;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace ManimCloud.Operations.Telemetry;

/// <summary>Which exporters a process runs. Nothing set: no listener at all, so instrumentation costs nothing.</summary>
public sealed record TelemetrySettings
{
    /// <summary>OTLP base endpoint (OTEL_EXPORTER_OTLP_ENDPOINT, or otel_exporter_otlp_endpoint in the config file).</summary>
    public string? OtlpEndpoint { get; init; }
    /// <summary>True when the endpoint came from the environment: the OTLP exporter then reads all OTEL_EXPORTER_OTLP_* itself.</summary>
    public bool OtlpFromEnvironment { get; init; }
    /// <summary>http/protobuf (the default here, as OpenTelemetry's specification recommends) or grpc.</summary>
    public string OtlpProtocol { get; init; } = "http/protobuf";
    /// <summary>Keep a Prometheus pull reader (the web service's /metrics).</summary>
    public bool Prometheus { get; init; }
    /// <summary>Publish to CloudWatch through this client (null: off).</summary>
    public ICloudWatch? CloudWatch { get; init; }
    public string CloudWatchNamespace { get; init; } = CloudWatchPublisher.DefaultNamespace;
    public TimeSpan CloudWatchInterval { get; init; } = TimeSpan.FromSeconds(60);
    public string Environment { get; init; } = "dev";
    /// <summary>How long shutting down may spend sending what is left (spans, the last metrics).</summary>
    public TimeSpan FlushTimeout { get; init; } = TimeSpan.FromSeconds(2);

    public bool AnyExporter => OtlpEndpoint is not null || Prometheus || CloudWatch is not null;

    /// <summary>
    /// The settings the options and environment ask for. CloudWatch publishing needs <paramref name="aws"/> (a cloud
    /// deployment) and <see cref="Monitoring.MonitoringOptions.CloudWatchMetrics"/>.
    /// </summary>
    public static TelemetrySettings From(ManimCloudOptions? options, Aws.AwsClients? aws, IReadOnlyDictionary<string, string?>? environment = null)
    {
        string? Env(string name)
        {
            var v = environment is null ? System.Environment.GetEnvironmentVariable(name) : environment.GetValueOrDefault(name);
            return string.IsNullOrWhiteSpace(v) ? null : v.Trim();
        }
        var fromEnv = Env("OTEL_EXPORTER_OTLP_ENDPOINT");
        var sdkDisabled = Env("OTEL_SDK_DISABLED") is "true";
        return new TelemetrySettings
        {
            OtlpEndpoint = sdkDisabled ? null : fromEnv ?? options?.Monitoring.OtlpEndpoint,
            OtlpFromEnvironment = fromEnv is not null,
            OtlpProtocol = Env("OTEL_EXPORTER_OTLP_PROTOCOL") ?? "http/protobuf",
            CloudWatch = options is { Monitoring.CloudWatchMetrics: true } && aws is not null && !sdkDisabled ? CloudWatchClient.CreateForPublishing(aws) : null,
            CloudWatchNamespace = options?.Monitoring.Namespace ?? CloudWatchPublisher.DefaultNamespace,
            Environment = options?.Environment ?? "dev",
        };
    }
}

/// <summary>
/// The OpenTelemetry SDK for one process: a tracer provider for ManimCloud's ActivitySource and a meter provider
/// for its Meter, with the exporters <see cref="TelemetrySettings"/> names (OTLP, a Prometheus pull reader,
/// CloudWatch). The CLI starts one per command; <c>serve</c> keeps its Prometheus reader for /metrics
/// (<see cref="Current"/>). Disposing flushes within <see cref="TelemetrySettings.FlushTimeout"/>.
/// </summary>
public sealed class TelemetryHost : IDisposable
{
    private readonly TracerProvider? _tracer;
    private readonly MeterProvider? _meter;
    private readonly TelemetrySettings _settings;

    /// <summary>The host this process started last (the web service finds its Prometheus reader here).</summary>
    public static TelemetryHost? Current { get; private set; }

    public PrometheusExposition? Prometheus { get; }
    public CloudWatchPublisher? CloudWatch { get; }

    /// <summary>Seconds-based histograms get boundaries in seconds (the SDK's defaults are for milliseconds).</summary>
    private static readonly double[] SecondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

    private TelemetryHost(TelemetrySettings settings)
    {
        _settings = settings;
        if (!settings.AnyExporter) return;
        var resource = ResourceBuilder.CreateDefault().AddService("manimcloud", serviceVersion: ManimCloudTelemetry.Version)
            .AddAttributes([new("deployment.environment.name", settings.Environment)]);

        if (settings.OtlpEndpoint is not null)
            _tracer = Sdk.CreateTracerProviderBuilder()
                .SetResourceBuilder(resource)
                .AddSource(ManimCloudTelemetry.Name)
                .AddOtlpExporter(o => Configure(o, "v1/traces"))
                .Build();

        var meters = Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(resource)
            .AddMeter(ManimCloudTelemetry.Name)
            .AddView(instrument => instrument is { Unit: "s" } && instrument.GetType().Name.StartsWith("Histogram", StringComparison.Ordinal)
                ? new ExplicitBucketHistogramConfiguration { Boundaries = SecondsBuckets } : null);
        if (settings.OtlpEndpoint is not null) meters.AddOtlpExporter(o => Configure(o, "v1/metrics"));
        if (settings.Prometheus)
        {
            Prometheus = new PrometheusExposition();
            meters.AddReader(Prometheus.Reader);
        }
        if (settings.CloudWatch is not null)
        {
            CloudWatch = new CloudWatchPublisher(settings.CloudWatch, settings.Environment, settings.CloudWatchNamespace, settings.CloudWatchInterval);
            meters.AddReader(CloudWatch.Reader);
        }
        _meter = meters.Build();
    }

    private void Configure(OtlpExporterOptions o, string signalPath)
    {
        o.Protocol = _settings.OtlpProtocol == "grpc" ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
        // From the environment the exporter appends /v1/traces and /v1/metrics itself; a configured base does not.
        if (!_settings.OtlpFromEnvironment)
            o.Endpoint = new Uri(_settings.OtlpEndpoint!.TrimEnd('/') + (o.Protocol == OtlpExportProtocol.HttpProtobuf ? "/" + signalPath : ""));
        o.TimeoutMilliseconds = (int)Math.Max(1000, _settings.FlushTimeout.TotalMilliseconds * 2);
    }

    public static TelemetryHost Start(TelemetrySettings settings)
    {
        var host = new TelemetryHost(settings);
        Current = host;
        return host;
    }

    /// <summary>True when this host exports anything (spans and measurements are recorded).</summary>
    public bool Active => _settings.AnyExporter;

    public void Dispose()
    {
        var timeout = (int)_settings.FlushTimeout.TotalMilliseconds;
        var started = Stopwatch.StartNew();
        _tracer?.Shutdown(timeout);
        _tracer?.Dispose();
        // Shutting the meter provider down makes every reader collect once more: the CloudWatch reader hands its
        // last interval to the publisher, which then gets what is left of the deadline to send it.
        _meter?.Shutdown(timeout);
        _meter?.Dispose();
        if (CloudWatch is not null)
        {
            var left = _settings.FlushTimeout - started.Elapsed;
            CloudWatch.CloseAsync(left > TimeSpan.FromMilliseconds(500) ? left : TimeSpan.FromMilliseconds(500)).GetAwaiter().GetResult();
        }
        if (Current == this) Current = null;
    }
}
