using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ManimCloud.Aws;
using ManimCloud.Operations.CloudWatch;
using ManimCloud.Operations.Telemetry;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Operations;

/// <summary>
/// OpenTelemetry throughout: what a real CLI run exports over OTLP arrives at a loopback receiver and decodes to the
/// spans and metrics the issue names; the Prometheus text; CloudWatch publishing read back from moto; and a
/// CloudWatch that is away never holds a command up.
/// </summary>
public sealed class TelemetryTests
{
    [Fact]
    public async Task A_cloud_command_exports_spans_for_the_command_and_each_AWS_call_over_OTLP()
    {
        using var receiver = new OtlpReceiver();
        using var home = new TempDir();
        var cloud = await TestCloud.CreateAsync();
        var env = cloud.Environment(home.Path);
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.Endpoint;
        var create = CliRunner.Run(env, "video", "create", "--project", "otel", "--title", "Traced", "--json");
        Assert.True(create.ExitCode == 0, create.Stderr);
        var video = (string)create.Json["video_id"]!;
        var clip = home.File("clip.mp4");
        var bytes = System.Security.Cryptography.RandomNumberGenerator.GetBytes(300_000);
        new byte[] { 0, 0, 0, 0x18, (byte)'f', (byte)'t', (byte)'y', (byte)'p' }.CopyTo(bytes, 0); // an MP4's first box, which `video put` checks for
        File.WriteAllBytes(clip, bytes);
        var put = CliRunner.Run(env, "video", "put", clip, "--video", video, "--scene", "1", "--json");
        Assert.True(put.ExitCode == 0, put.Stderr);

        var spans = receiver.Spans.ToList();
        Assert.Contains("/v1/traces", receiver.Paths);
        var command = Assert.Single(spans, s => s.Name == "manimcloud video put");
        Assert.Equal("video put", command.Attributes["manimcloud.command"]);
        Assert.Equal("0", command.Attributes["process.exit.code"]);
        Assert.Equal("manimcloud", command.ServiceName);
        // The DynamoDB write of `video create`, named by the SDK hook, with the table.
        var putItem = spans.First(s => s.Name == "dynamodb.PutItem");
        Assert.Equal(cloud.Table, putItem.Attributes["aws.dynamodb.table_names"]);
        Assert.Equal("aws-api", putItem.Attributes["rpc.system"]);
        Assert.Equal(3, putItem.Kind); // SPAN_KIND_CLIENT
        // The clip's upload through the lean data plane: bucket and bytes.
        var upload = spans.First(s => s.Name == "s3.PutObject" && s.Attributes.GetValueOrDefault("aws.s3.bucket") == cloud.VideoBucket);
        Assert.Equal("300000", upload.Attributes["manimcloud.bytes"]);
        Assert.Contains(spans, s => s.Name == "upload");

        Assert.Contains("/v1/metrics", receiver.Paths);
        var metrics = receiver.MetricNames.ToHashSet();
        Assert.Contains("manimcloud.operations", metrics);
        Assert.Contains("manimcloud.transfer.bytes", metrics);
        Assert.Contains("manimcloud.aws.requests", metrics);
        Assert.Contains("manimcloud.sync.backlog.size", metrics);
    }

    [Fact]
    public async Task A_failed_AWS_call_carries_its_error_class_and_retries()
    {
        using var receiver = new OtlpReceiver();
        using var home = new TempDir();
        var cloud = await TestCloud.CreateAsync();
        var env = cloud.Environment(home.Path);
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.Endpoint;
        env["MANIMCLOUD_TABLE"] = Names.Unique("missing");   // no such table: NotFound, never retried
        env["MANIMCLOUD_REQUIRE_CLOUD"] = "1";
        var create = CliRunner.Run(env, "video", "create", "--project", "otel", "--title", "Fails", "--json");
        Assert.NotEqual(0, create.ExitCode);
        var failed = receiver.Spans.First(s => s.Name == "dynamodb.PutItem");
        Assert.Equal("not_found", failed.Attributes["error.type"]);
        Assert.Equal(2, failed.StatusCode); // STATUS_CODE_ERROR
        Assert.False(failed.Attributes.ContainsKey("manimcloud.retries"));
        var command = receiver.Spans.First(s => s.Name == "manimcloud video create");
        Assert.Equal(2, command.StatusCode);
    }

    [Fact]
    public void Prometheus_text_has_counters_histograms_and_gauges_with_their_labels()
    {
        var op = Names.Unique("prom");
        using var host = TelemetryHost.Start(new TelemetrySettings { Prometheus = true });
        ManimCloudMetrics.RecordOperation(op, "ok", TimeSpan.FromMilliseconds(20));
        ManimCloudMetrics.RecordOperation(op, "throttled", TimeSpan.FromSeconds(3));
        ManimCloudMetrics.RecordOperation(op, "ok", TimeSpan.FromMilliseconds(40));
        var text = host.Prometheus!.Render();
        Assert.Contains("# TYPE manimcloud_operations_total counter", text);
        Assert.Contains($"manimcloud_operations_total{{operation=\"{op}\",outcome=\"ok\"}} 2", text);
        Assert.Contains($"manimcloud_operations_total{{operation=\"{op}\",outcome=\"throttled\"}} 1", text);
        Assert.Contains("# TYPE manimcloud_operation_duration_seconds histogram", text);
        Assert.Contains($"manimcloud_operation_duration_seconds_bucket{{operation=\"{op}\",outcome=\"ok\",le=\"0.05\"}} 2", text);
        Assert.Contains($"manimcloud_operation_duration_seconds_bucket{{operation=\"{op}\",outcome=\"ok\",le=\"+Inf\"}} 2", text);
        Assert.Contains($"manimcloud_operation_duration_seconds_count{{operation=\"{op}\",outcome=\"throttled\"}} 1", text);
        // Cumulative: a second scrape still counts what the first saw.
        Assert.Contains($"manimcloud_operations_total{{operation=\"{op}\",outcome=\"ok\"}} 2", host.Prometheus.Render());
    }

    [Fact]
    public async Task Metrics_published_to_CloudWatch_are_read_back_as_statistic_sets()
    {
        using var aws = new AwsClients(new Workspace.ManimCloudOptions { Home = Path.GetTempPath(), Region = "us-east-1", EndpointUrl = MotoServer.Endpoint });
        var ns = Names.Unique("ManimCloudTest");
        var op = Names.Unique("op");
        var started = DateTimeOffset.UtcNow;
        CloudWatchPublisher publisher;
        using (var host = TelemetryHost.Start(new TelemetrySettings { CloudWatch = CloudWatchClient.Create(aws), CloudWatchNamespace = ns, Environment = "staging" }))
        {
            publisher = host.CloudWatch!;
            ManimCloudMetrics.RecordOperation(op, "ok", TimeSpan.FromSeconds(1));
            ManimCloudMetrics.RecordOperation(op, "ok", TimeSpan.FromSeconds(3));
            ManimCloudMetrics.RecordOperation(op, "auth", TimeSpan.FromSeconds(2));
        }
        Assert.Equal(0, publisher.Dropped);
        var cw = CloudWatchClient.Create(aws);
        MetricDimension[] dims = [new("environment", "staging"), new("operation", op)];
        async Task<Datapoint> Read(string metric) => Assert.Single(await cw.GetMetricStatisticsAsync(
            new MetricQuery(ns, metric, dims, started.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(5), 3600), CancellationToken.None));
        Assert.Equal(3, (await Read("Operations")).Sum);
        Assert.Equal(1, (await Read("OperationsFailed")).Sum);
        var duration = await Read("OperationDuration");
        Assert.Equal(3, duration.SampleCount);
        Assert.Equal(6, duration.Sum);
        Assert.Equal(1, duration.Minimum);
        Assert.Equal(3, duration.Maximum);
        Assert.Equal("Seconds", duration.Unit);
    }

    [Fact]
    public void A_CloudWatch_that_never_answers_costs_the_publisher_its_deadline_and_the_datums_are_counted_as_dropped()
    {
        // A listener that accepts connections and never answers: the worst kind of "away".
        var blackhole = new TcpListener(IPAddress.Loopback, 0);
        blackhole.Start();
        var held = new List<Socket>();
        _ = Task.Run(async () => { try { while (true) held.Add(await blackhole.AcceptSocketAsync()); } catch (Exception) { } });
        try
        {
            using var aws = new AwsClients(new Workspace.ManimCloudOptions
            {
                Home = Path.GetTempPath(), Region = "us-east-1",
                ServiceEndpointUrls = new Dictionary<string, string> { ["CLOUDWATCH"] = $"http://127.0.0.1:{((IPEndPoint)blackhole.LocalEndpoint).Port}" },
            });
            var op = Names.Unique("away");
            var timer = Stopwatch.StartNew();
            CloudWatchPublisher publisher;
            using (var host = TelemetryHost.Start(new TelemetrySettings
                   {
                       CloudWatch = CloudWatchClient.CreateForPublishing(aws), Environment = "dev", FlushTimeout = TimeSpan.FromSeconds(1),
                   }))
            {
                publisher = host.CloudWatch!;
                for (var i = 0; i < 1000; i++) ManimCloudMetrics.RecordOperation(op, "ok", TimeSpan.FromMilliseconds(i));
                var recording = timer.Elapsed;
                Assert.True(recording < TimeSpan.FromSeconds(5), $"recording took {recording}");
            }
            // Generous bound for a loaded machine: the point is seconds, not the minutes a blocking sender would take.
            Assert.True(timer.Elapsed < TimeSpan.FromSeconds(30), $"shutdown took {timer.Elapsed}");
            Assert.True(publisher.Dropped > 0);
            Assert.Equal(0, publisher.Published);
        }
        finally
        {
            blackhole.Stop();
            foreach (var s in held) s.Dispose();
        }
    }

    [Fact]
    public async Task A_full_buffer_drops_new_datums_instead_of_blocking_and_counts_them()
    {
        var never = new NeverAnswers();
        var publisher = new CloudWatchPublisher(never, "dev", capacity: 10);
        // First the flusher takes one datum and gets stuck sending it, as with a CloudWatch that never answers.
        publisher.Enqueue([new MetricDatum("M", [], DateTimeOffset.UtcNow) { Value = -1 }]);
        Assert.True(never.Called.Wait(TimeSpan.FromSeconds(60)));
        var data = Enumerable.Range(0, 100).Select(i => new MetricDatum("M", [], DateTimeOffset.UtcNow) { Value = i }).ToList();
        var timer = Stopwatch.StartNew();
        publisher.Enqueue(data);
        Assert.True(timer.Elapsed < TimeSpan.FromSeconds(5));
        // Ten fit in the buffer; the other ninety were dropped at once, not waited for.
        Assert.Equal(90, publisher.Dropped);
        await publisher.CloseAsync(TimeSpan.FromMilliseconds(200));
        // At the deadline the stuck batch and the buffered ten are dropped too.
        Assert.Equal(101, publisher.Dropped);
    }

    [Fact]
    public void With_no_exporter_configured_nothing_listens()
    {
        var settings = TelemetrySettings.From(new Workspace.ManimCloudOptions { Home = Path.GetTempPath() }, null, new Dictionary<string, string?>());
        Assert.False(settings.AnyExporter);
        var withOtlp = TelemetrySettings.From(null, null, new Dictionary<string, string?> { ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:4318" });
        Assert.True(withOtlp.OtlpFromEnvironment);
        Assert.Equal("http/protobuf", withOtlp.OtlpProtocol);
        Assert.Null(TelemetrySettings.From(null, null, new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:4318", ["OTEL_SDK_DISABLED"] = "true",
        }).OtlpEndpoint);
    }

    [Fact]
    public void CloudWatch_names_and_units_derive_from_the_OpenTelemetry_ones()
    {
        Assert.Equal("SyncBacklogAge", CloudWatchPublisher.MetricNameOf("manimcloud.sync.backlog.age"));
        Assert.Equal("TranscodeSecondsPerOutputMinute", CloudWatchPublisher.MetricNameOf("manimcloud.transcode.seconds_per_output_minute"));
        Assert.Equal("Bytes", CloudWatchPublisher.UnitOf("By"));
        Assert.Equal("Count", CloudWatchPublisher.UnitOf("{operation}"));
        Assert.Equal("manimcloud_transfer_bytes_total", PrometheusExposition.NameOf("manimcloud.transfer.bytes", "By", counter: true));
        Assert.Equal("manimcloud_sync_backlog_age_seconds", PrometheusExposition.NameOf("manimcloud.sync.backlog.age", "s", counter: false));
    }

    private sealed class NeverAnswers : ICloudWatch
    {
        public ManualResetEventSlim Called { get; } = new();
        public async Task<int> PutMetricDataAsync(string ns, IReadOnlyList<MetricDatum> data, CancellationToken ct) { Called.Set(); await Task.Delay(Timeout.Infinite, ct); return 0; }
        public Task<IReadOnlyList<Datapoint>> GetMetricStatisticsAsync(MetricQuery q, CancellationToken ct) => throw new NotSupportedException();
        public Task PutMetricAlarmAsync(MetricAlarm alarm, CancellationToken ct) => throw new NotSupportedException();
        public Task<IReadOnlyList<MetricAlarm>> DescribeAlarmsAsync(string prefix, CancellationToken ct) => throw new NotSupportedException();
        public Task DeleteAlarmsAsync(IReadOnlyList<string> names, CancellationToken ct) => throw new NotSupportedException();
        public Task<IReadOnlyList<string>> PutDashboardAsync(Dashboard d, CancellationToken ct) => throw new NotSupportedException();
        public Task<Dashboard?> GetDashboardAsync(string name, CancellationToken ct) => throw new NotSupportedException();
    }
}
