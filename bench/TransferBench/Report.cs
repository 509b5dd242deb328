using System.Globalization;
using System.Text;

namespace TransferBench;

/// <summary>The median of each measure over one client's successful runs in one direction.</summary>
public sealed record Median(string Client, Direction Direction, int Runs, double WallSeconds, double CpuSeconds, double CpuSecondsPerGiB,
    double PeakRssMiB, double MiBPerSecond, double? ServerCpuSeconds, double OtherCpuSeconds);

/// <summary>ManimCloud against one anchor in one direction; a ratio below 1 means ManimCloud needs less.</summary>
public sealed record Comparison(string Anchor, Direction Direction, double WallRatio, double CpuPerGiBRatio, double PeakRssRatio,
    IReadOnlyList<TargetCheck> Targets);

public sealed record TargetCheck(string Measure, double Limit, double Ratio, bool Met);

public static class Report
{
    /// <summary>SPEC §5: wall ≤ 0.8× TransferUtility and ≤ 0.6× `aws s3 cp`; CPU per GiB ≤ 0.6× TransferUtility.</summary>
    public static IEnumerable<(string Measure, double Limit)> TargetsFor(string anchor) => anchor switch
    {
        "tu-default" or "tu-tuned" or "tu-default-aot" or "tu-tuned-aot" => [("wall", 0.8), ("cpu/GiB", 0.6)],
        "aws-cli" => [("wall", 0.6)],
        _ => [],
    };

    public static IReadOnlyList<Median> Medians(IEnumerable<Sample> samples, long sizeBytes)
    {
        var gib = sizeBytes / (double)(1L << 30);
        var mib = sizeBytes / (double)(1L << 20);
        return samples.Where(s => s.IntegrityVerified).GroupBy(s => (s.Client, s.Direction)).Select(g =>
        {
            var wall = Med(g.Select(s => s.WallSeconds));
            var cpu = Med(g.Select(s => s.CpuSeconds));
            var server = g.All(s => s.ServerCpuSeconds is not null) ? Med(g.Select(s => s.ServerCpuSeconds!.Value)) : (double?)null;
            return new Median(g.Key.Client, g.Key.Direction, g.Count(), wall, cpu, cpu / gib, Med(g.Select(s => s.PeakRssMiB)), mib / wall, server, Med(g.Select(s => s.OtherCpuSeconds)));
        }).ToList();
    }

    public static IReadOnlyList<Comparison> Compare(IReadOnlyList<Median> medians, string subject, IEnumerable<string> anchors)
    {
        var result = new List<Comparison>();
        foreach (var direction in Enum.GetValues<Direction>())
        {
            var s = medians.FirstOrDefault(m => m.Client == subject && m.Direction == direction);
            if (s is null) continue;
            foreach (var anchor in anchors)
            {
                var a = medians.FirstOrDefault(m => m.Client == anchor && m.Direction == direction);
                if (a is null) continue;
                var ratios = new Dictionary<string, double>
                {
                    ["wall"] = s.WallSeconds / a.WallSeconds,
                    ["cpu/GiB"] = s.CpuSecondsPerGiB / a.CpuSecondsPerGiB,
                };
                var checks = TargetsFor(anchor).Select(t => new TargetCheck(t.Measure, t.Limit, ratios[t.Measure], ratios[t.Measure] <= t.Limit)).ToList();
                result.Add(new Comparison(anchor, direction, ratios["wall"], ratios["cpu/GiB"], s.PeakRssMiB / a.PeakRssMiB, checks));
            }
        }
        return result;
    }

    public static string Table(IReadOnlyList<Median> medians, IReadOnlyList<Client> clients, IReadOnlyList<Comparison> comparisons, string subject)
    {
        var sb = new StringBuilder();
        var label = clients.ToDictionary(c => c.Id, c => c.Label);
        string Row(params string[] cells) => string.Join("  ", cells.Select((c, i) => i < 2 ? c.PadRight(i == 0 ? 50 : 8) : c.PadLeft(10))).TrimEnd();
        sb.AppendLine(Row("client", "dir", "runs", "wall s", "MiB/s", "CPU s", "CPU s/GiB", "peak MiB", "server CPU", "others CPU"));
        foreach (var m in medians.OrderBy(m => m.Direction).ThenBy(m => clients.ToList().FindIndex(c => c.Id == m.Client)))
            sb.AppendLine(Row(label.GetValueOrDefault(m.Client, m.Client), m.Direction.ToString().ToLowerInvariant(), m.Runs.ToString(CultureInfo.InvariantCulture),
                N(m.WallSeconds, 2), N(m.MiBPerSecond, 0), N(m.CpuSeconds, 2), N(m.CpuSecondsPerGiB, 2), N(m.PeakRssMiB, 0),
                m.ServerCpuSeconds is { } sc ? N(sc, 2) : "-", N(m.OtherCpuSeconds, 2)));
        sb.AppendLine();
        sb.AppendLine($"{label.GetValueOrDefault(subject, subject)} vs each anchor (ratio < 1: {label.GetValueOrDefault(subject, subject)} needs less; targets from SPEC §5):");
        foreach (var c in comparisons)
        {
            var targets = c.Targets.Count == 0 ? "" : "   " + string.Join("; ", c.Targets.Select(t => $"{t.Measure} ≤ {N(t.Limit, 1)}×: {(t.Met ? "met" : "MISSED")}"));
            sb.AppendLine($"  {c.Direction.ToString().ToLowerInvariant(),-8} vs {label.GetValueOrDefault(c.Anchor, c.Anchor),-50} wall {N(c.WallRatio, 2)}×  CPU/GiB {N(c.CpuPerGiBRatio, 2)}×  peak RSS {N(c.PeakRssRatio, 2)}×{targets}");
        }
        return sb.ToString();
    }

    private static string N(double v, int decimals) => double.IsFinite(v) ? v.ToString("F" + decimals, CultureInfo.InvariantCulture) : "-";

    private static double Med(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        if (v.Length == 0) return double.NaN;
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }
}
