using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ManimCloud.Sync;

/// <summary>
/// Keeps draining the outbox in the background (`sync --watch`, or hosted in a service): a pass whenever work is
/// queued, backing off exponentially (with jitter, up to <see cref="MaxBackoff"/>) while the cloud stays away.
/// </summary>
public sealed class SyncService(ManimCloudClient client, ILogger<SyncService> logger) : BackgroundService
{
    public TimeSpan IdleInterval { get; init; } = TimeSpan.FromSeconds(2);
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromMinutes(2);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backoff = IdleInterval;
        while (!stoppingToken.IsCancellationRequested)
        {
            var delay = IdleInterval;
            try
            {
                if (client.Outbox.List(Outbox.Pending).Count > 0)
                {
                    var report = await client.SyncAsync(stoppingToken);
                    if (report.StillPending > 0)
                    {
                        backoff = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, backoff.Ticks * 2));
                        delay = TimeSpan.FromTicks((long)(backoff.Ticks * (0.5 + Random.Shared.NextDouble() / 2)));
                        logger.LogWarning("Cloud unreachable; {Pending} operations queued; next try in {Delay:0.0} s. Last error: {Error}",
                            report.StillPending, delay.TotalSeconds, report.Failures.LastOrDefault());
                    }
                    else
                    {
                        backoff = IdleInterval;
                        logger.LogInformation("Synced {Applied} operations ({Renumbered} renumbered, {Conflicts} conflicts, {Parked} parked)",
                            report.Applied, report.Renumbered.Count, report.Conflicts, report.Parked);
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { return; }
            catch (Domain.ManimCloudException e)
            {
                logger.LogError("Sync pass failed: {Message} Fix: {Hint}", e.Message, e.Hint);
                delay = MaxBackoff;
            }
            try { await Task.Delay(delay, stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }
}
