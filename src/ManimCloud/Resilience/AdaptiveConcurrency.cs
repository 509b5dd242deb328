using System.Diagnostics;

namespace ManimCloud.Resilience;

/// <summary>
/// A concurrency limit that adapts to the server (AIMD, as TCP does): a throttling response halves the limit, each
/// success adds 1/limit so the limit grows by one per "round" of successful requests, up to <see cref="Max"/>.
/// Throttles from requests that started before the last decrease do not halve it again: one burst of SlowDowns
/// from a full window counts as one signal, not as many.
/// </summary>
public sealed class AdaptiveConcurrency
{
    private readonly object _gate = new();
    private readonly Queue<TaskCompletionSource> _waiting = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private double _limit;
    private int _inFlight;
    private long _lastDecreaseTicks = -1;

    public AdaptiveConcurrency(int max, int min = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(min, 1);
        Max = max;
        Min = Math.Min(min, max);
        _limit = max;
    }

    public int Max { get; }
    public int Min { get; }

    /// <summary>The number of requests currently allowed at once.</summary>
    public int Limit { get { lock (_gate) return (int)_limit; } }

    /// <summary>How many times throttling lowered the limit.</summary>
    public int Decreases { get; private set; }

    /// <summary>
    /// Waits for a slot. Dispose the lease when the request ends, after calling <see cref="Lease.Succeeded"/> or
    /// <see cref="Lease.Throttled"/>; other failures leave the limit as it is.
    /// </summary>
    public async ValueTask<Lease> AcquireAsync(CancellationToken ct)
    {
        TaskCompletionSource waiter;
        lock (_gate)
        {
            if (_inFlight < (int)_limit && _waiting.Count == 0)
            {
                _inFlight++;
                return new Lease(this, _clock.ElapsedTicks);
            }
            waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting.Enqueue(waiter);
        }
        try
        {
            await waiter.Task.WaitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            lock (_gate)
            {
                // Granted at the same moment as cancelled: hand the slot on.
                if (waiter.Task.IsCompletedSuccessfully) { _inFlight--; WakeLocked(); }
                else waiter.TrySetCanceled(ct);
            }
            throw;
        }
        return new Lease(this, _clock.ElapsedTicks);
    }

    private void Release(long startedTicks, Outcome outcome)
    {
        lock (_gate)
        {
            _inFlight--;
            if (outcome == Outcome.Throttled)
            {
                if (startedTicks > _lastDecreaseTicks)
                {
                    _limit = Math.Max(Min, Math.Floor(_limit / 2));
                    _lastDecreaseTicks = _clock.ElapsedTicks;
                    Decreases++;
                }
            }
            else if (outcome == Outcome.Succeeded)
            {
                _limit = Math.Min(Max, _limit + 1 / _limit);
            }
            WakeLocked();
        }
    }

    private void WakeLocked()
    {
        while (_inFlight < (int)_limit && _waiting.TryDequeue(out var next))
        {
            if (next.TrySetResult()) _inFlight++;
        }
    }

    public sealed class Lease(AdaptiveConcurrency owner, long startedTicks) : IDisposable
    {
        private Outcome _outcome = Outcome.Failed;
        private int _released;

        public void Succeeded() => _outcome = Outcome.Succeeded;

        /// <summary>The server throttled the request; the limit is lowered on dispose.</summary>
        public void Throttled() => _outcome = Outcome.Throttled;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) owner.Release(startedTicks, _outcome);
        }
    }

    private enum Outcome { Failed, Succeeded, Throttled }
}
