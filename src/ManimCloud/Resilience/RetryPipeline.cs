using ManimCloud.Domain;
using Polly;
using Polly.Retry;

namespace ManimCloud.Resilience;

/// <summary>
/// The one resilience pipeline (SPEC R7): transient and throttled failures retry with exponential backoff and
/// full jitter under a time budget; everything else fails at once. The SDK's own retries are off, so the two
/// never multiply. Classification is passed in so the domain stays free of AWS types.
/// </summary>
public sealed class RetryPipeline
{
    public static TimeSpan DefaultBudget { get; set; } = TimeSpan.FromMinutes(2);

    private readonly ResiliencePipeline _pipeline;
    private readonly Func<Exception, ErrorKind> _classify;

    public RetryPipeline(Func<Exception, ErrorKind> classify, TimeSpan? budget = null, TimeSpan? baseDelay = null, Action<RetryEvent>? onRetry = null)
    {
        _classify = classify;
        var timeBudget = budget ?? DefaultBudget;
        _pipeline = new ResiliencePipelineBuilder()
            .AddTimeout(new Polly.Timeout.TimeoutStrategyOptions { Timeout = timeBudget + TimeSpan.FromSeconds(30) })
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } e && IsRetryable(e)),
                // Full jitter (a uniform delay between zero and the exponential ceiling), so that many parallel
                // callers hit by the same outage spread their retries instead of retrying in waves.
                DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(FullJitter(args.AttemptNumber, baseDelay ?? TimeSpan.FromMilliseconds(200))),
                MaxRetryAttempts = int.MaxValue,
                OnRetry = args =>
                {
                    Operations.Telemetry.AwsCallScope.OnRetry(_classify(args.Outcome.Exception!));
                    onRetry?.Invoke(new RetryEvent(args.AttemptNumber, args.RetryDelay, args.Outcome.Exception!, _classify(args.Outcome.Exception!)));
                    return default;
                },
            })
            .Build();
        _budget = timeBudget;
    }

    private readonly TimeSpan _budget;
    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(20);

    /// <summary>Uniform in [0, min(MaxDelay, baseDelay × 2^attempt)].</summary>
    public static TimeSpan FullJitter(int attempt, TimeSpan baseDelay)
    {
        var ceiling = Math.Min(MaxDelay.TotalMilliseconds, baseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 30)));
        return TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * ceiling);
    }

    private bool IsRetryable(Exception e) => e is not BudgetExhaustedException && _classify(e) is ErrorKind.Transient or ErrorKind.Throttled;

    public Task<T> ExecuteAsync<T>(Func<CancellationToken, Task<T>> action, CancellationToken ct) =>
        ExecuteAsync(action, null, ct);

    /// <summary>
    /// Runs <paramref name="action"/> with retries; with a <paramref name="limiter"/>, each attempt first takes a
    /// slot from it (released during backoff) and reports throttling to it, so many parallel calls slow down together.
    /// </summary>
    public async Task<T> ExecuteAsync<T>(Func<CancellationToken, Task<T>> action, AdaptiveConcurrency? limiter, CancellationToken ct)
    {
        // The budget bounds retries, not one slow attempt: each retry checks the clock.
        var started = System.Diagnostics.Stopwatch.StartNew();
        return await _pipeline.ExecuteAsync(async token =>
        {
            using var lease = limiter is null ? null : await limiter.AcquireAsync(token);
            try
            {
                var result = await action(token);
                lease?.Succeeded();
                return result;
            }
            catch (Exception e)
            {
                if (lease is not null && _classify(e) == ErrorKind.Throttled) lease.Throttled();
                if (IsRetryable(e) && started.Elapsed > _budget) throw new BudgetExhaustedException(e);
                throw;
            }
        }, ct);
    }

    public Task ExecuteAsync(Func<CancellationToken, Task> action, CancellationToken ct) =>
        ExecuteAsync<bool>(async t => { await action(t); return true; }, ct);

    /// <summary>Retries ran out of time; carries the last failure.</summary>
    public sealed class BudgetExhaustedException(Exception last) : Exception("Retry time budget exhausted: " + last.Message, last);
}

public sealed record RetryEvent(int Attempt, TimeSpan Delay, Exception Error, ErrorKind Kind);
