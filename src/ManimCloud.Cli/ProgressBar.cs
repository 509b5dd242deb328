using ManimCloud.Transfer;

namespace ManimCloud.Cli;

/// <summary>
/// A one-line progress bar on stderr for large transfers — only when stderr is a terminal and --json is off, so
/// scripts and logs never get carriage-return noise.
/// </summary>
public sealed class ProgressBar : IProgress<TransferProgress>, IDisposable
{
    private readonly object _gate = new();
    private DateTime _last = DateTime.MinValue;
    private bool _drawn;

    public static ProgressBar? ForTerminal(bool json) => json || Console.IsErrorRedirected ? null : new ProgressBar();

    public void Report(TransferProgress p)
    {
        lock (_gate)
        {
            var now = DateTime.UtcNow;
            if (now - _last < TimeSpan.FromMilliseconds(200) && p.BytesDone < p.TotalBytes) return;
            _last = now;
            const int width = 30;
            var filled = (int)Math.Round(p.Fraction * width);
            var eta = p.Eta is { } e ? $"ETA {e:mm\\:ss}" : "";
            Console.Error.Write($"\r[{new string('#', filled)}{new string('.', width - filled)}] {p.Fraction,4:P0} " +
                $"{Mib(p.BytesDone)}/{Mib(p.TotalBytes)} MiB {p.BytesPerSecond / (1 << 20),6:F1} MiB/s {eta}  parts {p.PartsDone}/{p.PartsTotal}   ");
            _drawn = true;
        }
    }

    private static string Mib(long bytes) => (bytes / (double)(1 << 20)).ToString("F1");

    public void Dispose()
    {
        if (_drawn) Console.Error.WriteLine();
    }
}
