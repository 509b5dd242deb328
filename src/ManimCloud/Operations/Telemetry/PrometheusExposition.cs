using System.Globalization;
using System.Text;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace ManimCloud.Operations.Telemetry;

/// <summary>
/// ManimCloud's metrics in Prometheus' text exposition format (version 0.0.4), for the web service's
/// <c>/metrics</c>. A pull reader on the OpenTelemetry SDK (cumulative, so Prometheus computes rates): each scrape
/// collects, and the exporter renders what it is handed. Written here rather than taken from
/// OpenTelemetry.Exporter.Prometheus.AspNetCore, which is a beta package and ties the format to ASP.NET Core.
/// </summary>
public sealed class PrometheusExposition
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly TextExporter _exporter = new();
    private readonly object _scrape = new();

    internal MetricReader Reader { get; }

    public PrometheusExposition()
    {
        Reader = new BaseExportingMetricReader(_exporter) { TemporalityPreference = MetricReaderTemporalityPreference.Cumulative };
    }

    /// <summary>The current exposition text (collects first).</summary>
    public string Render()
    {
        lock (_scrape)
        {
            _exporter.Text.Clear();
            Reader.Collect(5000);
            return _exporter.Text.ToString();
        }
    }

    /// <summary>Writes the current exposition, UTF-8, to <paramref name="output"/>.</summary>
    public void WriteTo(Stream output)
    {
        var bytes = Encoding.UTF8.GetBytes(Render());
        output.Write(bytes);
    }

    /// <summary>A metric's Prometheus name: dots to underscores, the unit as a suffix, counters ending in _total.</summary>
    public static string NameOf(string name, string? unit, bool counter)
    {
        var sb = new StringBuilder(name.Length + 16);
        foreach (var c in name) sb.Append(char.IsAsciiLetterOrDigit(c) || c is '_' or ':' ? c : '_');
        var suffix = unit switch { "By" => "bytes", "s" => "seconds", "s/min" => "seconds_per_minute", _ => null };
        var result = sb.ToString();
        if (suffix is not null && !result.EndsWith(suffix, StringComparison.Ordinal)) result += "_" + suffix;
        if (counter) result += "_total";
        return result;
    }

    private sealed class TextExporter : BaseExporter<Metric>
    {
        public StringBuilder Text { get; } = new();

        public override ExportResult Export(in Batch<Metric> batch)
        {
            foreach (var metric in batch) Write(metric);
            return ExportResult.Success;
        }

        private void Write(Metric metric)
        {
            var monotonic = metric.MetricType is MetricType.LongSum or MetricType.DoubleSum;
            var name = NameOf(metric.Name, metric.Unit, monotonic);
            var type = metric.MetricType.IsHistogram() ? "histogram" : monotonic ? "counter" : "gauge";
            Text.Append("# HELP ").Append(name).Append(' ').Append(Escape(metric.Description, label: false)).Append('\n');
            Text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
            foreach (ref readonly var point in metric.GetMetricPoints())
            {
                var labels = Labels(point);
                switch (metric.MetricType)
                {
                    case MetricType.Histogram:
                        long cumulative = 0;
                        foreach (var bucket in point.GetHistogramBuckets())
                        {
                            cumulative += bucket.BucketCount;
                            var le = double.IsPositiveInfinity(bucket.ExplicitBound) ? "+Inf" : Number(bucket.ExplicitBound);
                            Sample(name + "_bucket", WithLabel(labels, "le", le), cumulative.ToString(CultureInfo.InvariantCulture));
                        }
                        Sample(name + "_sum", labels, Number(point.GetHistogramSum()));
                        Sample(name + "_count", labels, point.GetHistogramCount().ToString(CultureInfo.InvariantCulture));
                        break;
                    case MetricType.LongSum or MetricType.LongSumNonMonotonic:
                        Sample(name, labels, point.GetSumLong().ToString(CultureInfo.InvariantCulture));
                        break;
                    case MetricType.DoubleSum or MetricType.DoubleSumNonMonotonic:
                        Sample(name, labels, Number(point.GetSumDouble()));
                        break;
                    case MetricType.LongGauge:
                        Sample(name, labels, point.GetGaugeLastValueLong().ToString(CultureInfo.InvariantCulture));
                        break;
                    case MetricType.DoubleGauge:
                        Sample(name, labels, Number(point.GetGaugeLastValueDouble()));
                        break;
                }
            }
        }

        private void Sample(string name, string labels, string value) =>
            Text.Append(name).Append(labels).Append(' ').Append(value).Append('\n');

        private static string Labels(in MetricPoint point)
        {
            var sb = new StringBuilder();
            foreach (var tag in point.Tags)
            {
                sb.Append(sb.Length == 0 ? "{" : ",");
                foreach (var c in tag.Key) sb.Append(char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_');
                sb.Append("=\"").Append(Escape(Convert.ToString(tag.Value, CultureInfo.InvariantCulture) ?? "", label: true)).Append('"');
            }
            if (sb.Length > 0) sb.Append('}');
            return sb.ToString();
        }

        private static string WithLabel(string labels, string name, string value) =>
            labels.Length == 0 ? $"{{{name}=\"{value}\"}}" : $"{labels[..^1]},{name}=\"{value}\"}}";

        private static string Escape(string text, bool label)
        {
            var s = text.Replace("\\", "\\\\").Replace("\n", "\\n");
            return label ? s.Replace("\"", "\\\"") : s;
        }

        private static string Number(double v) =>
            double.IsPositiveInfinity(v) ? "+Inf" : double.IsNegativeInfinity(v) ? "-Inf" : double.IsNaN(v) ? "NaN" : v.ToString("R", CultureInfo.InvariantCulture);
    }
}
