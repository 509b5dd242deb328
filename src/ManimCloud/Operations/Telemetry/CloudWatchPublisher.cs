using System.Threading.Channels;
using ManimCloud.Operations.CloudWatch;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace ManimCloud.Operations.Telemetry;

/// <summary>
/// Publishes ManimCloud's metrics to CloudWatch (namespace ManimCloud, dimensions environment and operation) as
/// statistic sets, off the hot path: an OpenTelemetry delta reader turns each interval into datums, which wait in a
/// bounded buffer for a background flusher that sends them in PutMetricData batches. When CloudWatch is away or slow
/// the buffer fills and new datums are dropped and counted (<see cref="Dropped"/>) — a transfer never waits for
/// telemetry. At shutdown the flusher gets a short deadline, then whatever is left is dropped.
/// </summary>
public sealed class CloudWatchPublisher : IAsyncDisposable
{
    public const string DefaultNamespace = "ManimCloud";
    public const int DefaultCapacity = 10_000;

    private readonly ICloudWatch _cloudWatch;
    private readonly string _namespace;
    private readonly string _environment;
    private readonly Channel<MetricDatum> _buffer;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _flusher;
    private long _dropped, _published, _calls;

    internal MetricReader Reader { get; }

    public CloudWatchPublisher(ICloudWatch cloudWatch, string environment, string metricNamespace = DefaultNamespace,
        TimeSpan? interval = null, int capacity = DefaultCapacity)
    {
        _cloudWatch = cloudWatch;
        _environment = environment;
        _namespace = metricNamespace;
        _buffer = Channel.CreateBounded<MetricDatum>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true,
        }, _ => Drop(1));
        Reader = new PeriodicExportingMetricReader(new Exporter(this), (int)(interval ?? TimeSpan.FromSeconds(60)).TotalMilliseconds)
        {
            TemporalityPreference = MetricReaderTemporalityPreference.Delta,
        };
        _flusher = Task.Run(FlushLoopAsync);
    }

    /// <summary>Datums dropped because the buffer was full or CloudWatch refused or could not be reached.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);
    public long Published => Interlocked.Read(ref _published);
    public long Calls => Interlocked.Read(ref _calls);

    private void Drop(long count)
    {
        Interlocked.Add(ref _dropped, count);
        ManimCloudMetrics.TelemetryDropped.Add(count);
    }

    /// <summary>Queues datums without waiting; what does not fit is dropped and counted.</summary>
    public void Enqueue(IEnumerable<MetricDatum> data)
    {
        foreach (var datum in data)
            if (!_buffer.Writer.TryWrite(datum)) Drop(1); // closed; a full buffer drops through the channel's callback
    }

    private async Task FlushLoopAsync()
    {
        var batch = new List<MetricDatum>(CloudWatchClient.MaxDatumsPerCall);
        try
        {
            while (await _buffer.Reader.WaitToReadAsync(_stop.Token))
            {
                while (batch.Count < CloudWatchClient.MaxDatumsPerCall && _buffer.Reader.TryRead(out var datum)) batch.Add(datum);
                try
                {
                    Interlocked.Add(ref _calls, await _cloudWatch.PutMetricDataAsync(_namespace, batch, _stop.Token));
                    Interlocked.Add(ref _published, batch.Count);
                }
                catch (Exception e) when (e is not OperationCanceledException || !_stop.IsCancellationRequested)
                {
                    // CloudWatch refused or is away (the retry pipeline already tried): telemetry is never worth
                    // holding work for, so this batch is dropped and counted.
                    Drop(batch.Count);
                }
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            Drop(batch.Count);
        }
        while (_buffer.Reader.TryRead(out _)) Drop(1);
    }

    /// <summary>Stops taking datums and gives the flusher until <paramref name="deadline"/> to send what is queued.</summary>
    public async Task CloseAsync(TimeSpan deadline)
    {
        _buffer.Writer.TryComplete();
        _stop.CancelAfter(deadline);
        await _flusher;
    }

    public async ValueTask DisposeAsync()
    {
        await CloseAsync(TimeSpan.FromSeconds(2));
        _stop.Dispose();
    }

    /// <summary>CloudWatch's metric name for an OpenTelemetry one: manimcloud.sync.backlog.age → SyncBacklogAge.</summary>
    public static string MetricNameOf(string name)
    {
        var parts = name.Split('.', '_');
        var start = parts.Length > 1 && parts[0] == "manimcloud" ? 1 : 0;
        return string.Concat(parts.Skip(start).Where(p => p.Length > 0).Select(p => char.ToUpperInvariant(p[0]) + p[1..]));
    }

    public static string UnitOf(string? unit) => unit switch
    {
        "By" => "Bytes",
        "s" => "Seconds",
        "s/min" => "None",
        { Length: > 0 } u when u.StartsWith('{') => "Count",
        _ => "None",
    };

    /// <summary>
    /// One interval's points as datums: tags other than <c>operation</c> fold together (CloudWatch bills per
    /// dimension combination), and points with a failed <c>outcome</c> also go to <c>{Name}Failed</c>, which is
    /// what alarms watch.
    /// </summary>
    internal IEnumerable<MetricDatum> Convert(Metric metric, DateTimeOffset now)
    {
        var sets = new Dictionary<(string Name, string? Operation), StatisticSet>();
        void Add(string name, string? operation, StatisticSet set) =>
            sets[(name, operation)] = sets.TryGetValue((name, operation), out var had)
                ? new StatisticSet(had.SampleCount + set.SampleCount, had.Sum + set.Sum, Math.Min(had.Minimum, set.Minimum), Math.Max(had.Maximum, set.Maximum))
                : set;

        var baseName = MetricNameOf(metric.Name);
        foreach (ref readonly var point in metric.GetMetricPoints())
        {
            string? operation = null, outcome = null;
            foreach (var tag in point.Tags)
            {
                if (tag.Key == "operation") operation = tag.Value?.ToString();
                else if (tag.Key == "outcome") outcome = tag.Value?.ToString();
            }
            StatisticSet? set = metric.MetricType switch
            {
                MetricType.Histogram when point.GetHistogramCount() > 0 => HistogramSet(point),
                MetricType.LongSum or MetricType.LongSumNonMonotonic => CounterSet(point.GetSumLong()),
                MetricType.DoubleSum or MetricType.DoubleSumNonMonotonic => CounterSet(point.GetSumDouble()),
                MetricType.LongGauge => StatisticSet.Of(point.GetGaugeLastValueLong()),
                MetricType.DoubleGauge => StatisticSet.Of(point.GetGaugeLastValueDouble()),
                _ => null,
            };
            if (set is null) continue;
            Add(baseName, operation, set);
            if (outcome is not null && outcome != ManimCloudMetrics.Ok) Add(baseName + "Failed", operation, set);
        }
        var unit = UnitOf(metric.Unit);
        foreach (var ((name, operation), set) in sets)
        {
            List<MetricDimension> dims = [new("environment", _environment)];
            if (operation is not null) dims.Add(new("operation", operation));
            yield return new MetricDatum(name, dims, now, unit) { Statistics = set };
        }
    }

    private static StatisticSet? CounterSet(double delta) => delta == 0 ? null : new StatisticSet(1, delta, delta, delta);

    private static StatisticSet HistogramSet(in MetricPoint point)
    {
        var sum = point.GetHistogramSum();
        var count = point.GetHistogramCount();
        return point.TryGetHistogramMinMaxValues(out var min, out var max)
            ? new StatisticSet(count, sum, min, max)
            : new StatisticSet(count, sum, sum / count, sum / count);
    }

    private sealed class Exporter(CloudWatchPublisher publisher) : BaseExporter<Metric>
    {
        public override ExportResult Export(in Batch<Metric> batch)
        {
            var now = DateTimeOffset.UtcNow;
            foreach (var metric in batch) publisher.Enqueue(publisher.Convert(metric, now).ToList());
            return ExportResult.Success;
        }
    }
}
