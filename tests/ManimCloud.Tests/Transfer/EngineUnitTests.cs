using ManimCloud.Domain;
using ManimCloud.Resilience;
using ManimCloud.Transfer;

namespace ManimCloud.Tests.Transfer;

public class PartSizingTests
{
    private const long MiB = 1 << 20;

    [Theory]
    [InlineData(100 * MiB, 8 * MiB)]
    [InlineData(1 * MiB, 8 * MiB)]
    [InlineData(80_000 * MiB, 8 * MiB)]
    [InlineData(100_000 * MiB, 10 * MiB)]
    [InlineData(5L << 40, 525 * MiB)]
    public void Part_size_stays_within_S3_limits(long size, long expected)
    {
        var part = PartSizing.Choose(size);
        Assert.Equal(expected, part);
        Assert.InRange(part, PartSizing.MinPartSize, PartSizing.MaxPartSize);
        Assert.InRange(PartSizing.PartCount(size, part), 1, PartSizing.MaxParts);
    }

    [Fact]
    public void A_preferred_size_below_five_MiB_is_raised_and_objects_over_five_TiB_are_refused()
    {
        Assert.Equal(PartSizing.MinPartSize, PartSizing.Choose(50 * MiB, preferred: 1 * MiB));
        var e = Assert.Throws<ManimCloudException>(() => PartSizing.Choose((5L << 40) + 1));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
    }
}

public class AdaptiveConcurrencyTests
{
    [Fact]
    public async Task Throttling_halves_the_limit_once_per_window_and_successes_restore_it_gradually()
    {
        var limiter = new AdaptiveConcurrency(max: 8);
        var leases = new List<AdaptiveConcurrency.Lease>();
        for (var i = 0; i < 8; i++) leases.Add(await limiter.AcquireAsync(CancellationToken.None));
        var ninth = limiter.AcquireAsync(CancellationToken.None).AsTask();
        Assert.False(ninth.IsCompleted);

        // A whole window of requests is throttled: that is one signal, so the limit halves once.
        foreach (var lease in leases) { lease.Throttled(); lease.Dispose(); }
        Assert.Equal(4, limiter.Limit);
        Assert.Equal(1, limiter.Decreases);
        using (var granted = await ninth) granted.Succeeded();

        // Additive increase: about one more slot per round of successes.
        var rounds = 0;
        while (limiter.Limit < 8)
        {
            rounds++;
            for (var i = 0; i < limiter.Limit; i++)
                using (var l = await limiter.AcquireAsync(CancellationToken.None)) l.Succeeded();
        }
        Assert.InRange(rounds, 3, 5);

        // Errors that are not throttling leave the limit alone.
        using (await limiter.AcquireAsync(CancellationToken.None)) { }
        Assert.Equal(8, limiter.Limit);
    }

    [Fact]
    public async Task A_cancelled_wait_gives_up_its_place()
    {
        var limiter = new AdaptiveConcurrency(max: 1);
        var held = await limiter.AcquireAsync(CancellationToken.None);
        using var cts = new CancellationTokenSource();
        var waiting = limiter.AcquireAsync(cts.Token).AsTask();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        held.Dispose();
        using var next = await limiter.AcquireAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(2));
    }
}

public class RetryBackoffTests
{
    [Fact]
    public void Retry_delays_are_exponential_with_full_jitter_and_capped()
    {
        var baseDelay = TimeSpan.FromMilliseconds(200);
        for (var attempt = 0; attempt < 12; attempt++)
        {
            var ceiling = Math.Min(20_000, 200 * Math.Pow(2, attempt));
            var delays = Enumerable.Range(0, 2000).Select(_ => RetryPipeline.FullJitter(attempt, baseDelay).TotalMilliseconds).ToList();
            Assert.All(delays, d => Assert.InRange(d, 0, ceiling));
            // Full jitter spreads over the whole range, not around the ceiling.
            Assert.InRange(delays.Average(), ceiling * 0.4, ceiling * 0.6);
            Assert.True(delays.Min() < ceiling * 0.05);
        }
    }
}
