using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ManimCloud.Web.Uploads;

/// <summary>Removes expired tus uploads' bytes (tus expiration), and media files fetched for a download that a crash left in tmp/.</summary>
public sealed class UploadSweeper(TusUploadStore store, ManimCloudClient client, ServeOptions options, ILogger<UploadSweeper> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.SweepInterval);
        do
        {
            try
            {
                Sweep(DateTimeOffset.UtcNow);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                log.LogWarning(e, "Sweeping expired uploads failed; trying again in {Interval}", options.SweepInterval);
            }
        } while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    public int Sweep(DateTimeOffset now)
    {
        var expired = store.Expire(now);
        if (expired > 0) log.LogInformation("Removed {Count} expired uploads", expired);
        var tmp = Path.Combine(client.Options.Home, "tmp");
        if (Directory.Exists(tmp))
            foreach (var file in Directory.EnumerateFiles(tmp, "media-*.mp4"))
                if (File.GetLastWriteTimeUtc(file) < now.UtcDateTime.AddHours(-6)) File.Delete(file);
        return expired;
    }
}
