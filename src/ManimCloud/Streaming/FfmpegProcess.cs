using System.Diagnostics;
using ManimCloud.Domain;

namespace ManimCloud.Streaming;

/// <summary>ffmpeg's progress report (`-progress`): how far into the input, and how fast.</summary>
public sealed record FfmpegProgress(double Seconds, double Speed, bool Finished);

/// <summary>
/// Runs ffmpeg with an argument list (never a shell string). Progress comes from `-progress pipe:1` on stdout, errors
/// from stderr (the last few KiB are kept for the message). Cancellation kills the process and waits for it, so
/// nothing writes after the caller has moved on.
/// </summary>
public static class FfmpegProcess
{
    public static async Task RunAsync(string exe, IReadOnlyList<string> args, string what, Action<FfmpegProgress>? progress, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(exe)
        {
            UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        Process p;
        try
        {
            p = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new ManimCloudException(ErrorKind.ClientError, $"'{exe}' could not be run: {e.Message}", FfmpegLocator.InstallHint, e);
        }
        using (p)
        {
            var tail = new Tail(4096);
            var errors = Task.Run(async () =>
            {
                while (await p.StandardError.ReadLineAsync(CancellationToken.None) is { } line) tail.Add(line);
            }, CancellationToken.None);
            var reports = Task.Run(async () =>
            {
                double seconds = 0, speed = 0;
                while (await p.StandardOutput.ReadLineAsync(CancellationToken.None) is { } line)
                {
                    var eq = line.IndexOf('=');
                    if (eq < 0) continue;
                    var (key, value) = (line[..eq], line[(eq + 1)..].Trim());
                    if (key == "out_time_us" && long.TryParse(value, out var us) && us >= 0) seconds = us / 1e6;
                    else if (key == "speed" && double.TryParse(value.TrimEnd('x'), System.Globalization.CultureInfo.InvariantCulture, out var s)) speed = s;
                    else if (key == "progress") progress?.Invoke(new FfmpegProgress(seconds, speed, value == "end"));
                }
            }, CancellationToken.None);
            try
            {
                await p.WaitForExitAsync(ct);
            }
            catch (OperationCanceledException)
            {
                try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { /* already gone */ }
                await p.WaitForExitAsync(CancellationToken.None);
                throw;
            }
            await Task.WhenAll(errors, reports);
            if (p.ExitCode != 0)
                throw new ManimCloudException(ErrorKind.InvalidInput, $"ffmpeg could not process {what} (exit {p.ExitCode}): {tail.Text}",
                    "Check the input plays (`ffplay`), render or store it again if it is damaged; the runbook lists ffmpeg's common failures.");
        }
    }

    /// <summary>The last lines of a stream, up to a size.</summary>
    private sealed class Tail(int limit)
    {
        private readonly LinkedList<string> _lines = new();
        private int _size;
        public void Add(string line)
        {
            lock (_lines)
            {
                _lines.AddLast(line);
                _size += line.Length + 1;
                while (_size > limit && _lines.Count > 1) { _size -= _lines.First!.Value.Length + 1; _lines.RemoveFirst(); }
            }
        }
        public string Text { get { lock (_lines) return string.Join(" | ", _lines.Where(l => l.Length > 0)); } }
    }
}
