using System.Diagnostics;

namespace ManimCloud.Transfer;

/// <summary>
/// Where a transfer stands. <see cref="BytesDone"/> includes bytes stored by an earlier, interrupted attempt;
/// the rate counts only this attempt's bytes.
/// </summary>
public sealed record TransferProgress(
    string Object,
    long BytesDone,
    long TotalBytes,
    int PartsDone,
    int PartsTotal,
    double BytesPerSecond,
    TimeSpan? Eta,
    int Concurrency)
{
    public double Fraction => TotalBytes == 0 ? 1 : (double)BytesDone / TotalBytes;
}

/// <summary>Counts finished parts and reports progress with a rate over the last few seconds (not since the start, so a stall shows).</summary>
internal sealed class ProgressMeter(string what, long totalBytes, int partsTotal, IProgress<TransferProgress>? sink, Func<int> concurrency)
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(5);
    private readonly object _gate = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Queue<(TimeSpan At, long Bytes)> _samples = new();
    private long _bytes;
    private long _bytesThisRun;
    private int _parts;

    /// <summary>Parts already stored before this attempt started: done, but not part of the rate.</summary>
    public void AlreadyDone(long bytes, int parts)
    {
        lock (_gate) { _bytes += bytes; _parts += parts; }
    }

    public void PartDone(long bytes)
    {
        lock (_gate)
        {
            _bytes += bytes;
            _bytesThisRun += bytes;
            _parts++;
            // Reported under the lock so a synchronous sink sees bytes only ever grow.
            sink?.Report(SnapshotLocked());
        }
    }

    public void Start() => Report();

    public void Report()
    {
        if (sink is null) return;
        lock (_gate) sink.Report(SnapshotLocked());
    }

    private TransferProgress SnapshotLocked()
    {
        var now = _clock.Elapsed;
        _samples.Enqueue((now, _bytesThisRun));
        while (_samples.Count > 2 && now - _samples.Peek().At > Window) _samples.Dequeue();
        var (firstAt, firstBytes) = _samples.Peek();
        // With one sample in the window, measure from the start of this attempt.
        var span = now - firstAt;
        var bytes = _bytesThisRun - firstBytes;
        if (span < TimeSpan.FromMilliseconds(200)) { span = now; bytes = _bytesThisRun; }
        var rate = span.TotalSeconds > 0 ? bytes / span.TotalSeconds : 0;
        TimeSpan? eta = rate > 0 ? TimeSpan.FromSeconds((totalBytes - _bytes) / rate) : null;
        return new TransferProgress(what, _bytes, totalBytes, _parts, partsTotal, rate, eta, concurrency());
    }
}
