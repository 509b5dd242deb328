using System.Diagnostics;
using System.Globalization;

namespace TransferBench;

/// <summary>
/// One measured child run (Round counts from 1): wall time, the child's CPU (user and system, its own children
/// included), peak RSS, and the CPU the server and everybody else used meanwhile.
/// </summary>
public sealed record Sample(string Client, Direction Direction, int Round, double WallSeconds, double UserSeconds, double SystemSeconds,
    double PeakRssMiB, double? ServerCpuSeconds, double OtherCpuSeconds, bool IntegrityVerified, string? Note)
{
    public double CpuSeconds => UserSeconds + SystemSeconds;
}

/// <summary>
/// Runs a child under GNU time (`/usr/bin/time -f`), which reports the rusage of the child once it has been
/// reaped — CPU of the whole process tree and its high-water RSS — without polling. Wall time is taken here
/// with a Stopwatch around the same child.
/// </summary>
public static class ChildRunner
{
    public const string TimePath = "/usr/bin/time";

    public sealed record Result(int ExitCode, double WallSeconds, double UserSeconds, double SystemSeconds, double PeakRssMiB, string Output);

    public static async Task<Result> RunAsync(string program, IReadOnlyList<string> args, IReadOnlyDictionary<string, string> environment,
        string scratch, TimeSpan timeout)
    {
        var timeFile = Path.Combine(scratch, $"time-{Guid.NewGuid():N}.txt");
        var psi = new ProcessStartInfo(TimePath) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-f", "%U %S %M", "-o", timeFile, "--", program }.Concat(args)) psi.ArgumentList.Add(a);
        foreach (var (k, v) in environment) psi.Environment[k] = v;
        var output = new System.Text.StringBuilder();
        var watch = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(timeout);
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
            return new Result(-1, watch.Elapsed.TotalSeconds, 0, 0, 0, $"timed out after {timeout.TotalSeconds:0} s\n{output}");
        }
        var wall = watch.Elapsed.TotalSeconds;
        p.WaitForExit(); // drains the redirected streams
        // GNU time writes "Command exited with non-zero status N" before the figures when the child fails.
        var figures = File.Exists(timeFile) ? File.ReadAllLines(timeFile).LastOrDefault(l => l.Trim().Length > 0)?.Split(' ') : null;
        File.Delete(timeFile);
        double F(int i) => figures is { Length: 3 } ? double.Parse(figures[i], CultureInfo.InvariantCulture) : double.NaN;
        return new Result(p.ExitCode, wall, F(0), F(1), F(2) / 1024.0, output.ToString());
    }
}

/// <summary>
/// CPU seconds the whole machine spent busy (all cores, from /proc/stat). Over one sample, what is left after the
/// client's and the server's own CPU is everyone else's: the measure of how quiet the machine was.
/// </summary>
public static class MachineCpu
{
    private const double TicksPerSecond = 100; // USER_HZ

    public static double BusySeconds()
    {
        // cpu  user nice system idle iowait irq softirq steal guest guest_nice
        var f = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        long Field(int i) => long.Parse(f[i], CultureInfo.InvariantCulture);
        return (Field(1) + Field(2) + Field(3) + Field(6) + Field(7) + Field(8)) / TicksPerSecond;
    }
}
