using System.Text.Json.Nodes;
using ManimCloud.Domain;

namespace ManimCloud.Web.Hosting;

/// <summary>
/// /readyz: the workspace answers (catalog query, home writable) and, in cloud mode, the cloud does (a head of a key
/// that does not exist in the video bucket, a read of a video that does not exist in the table). Cached for a few
/// seconds, so a load balancer polling it costs the cloud little.
/// </summary>
public sealed class Readiness(ManimCloudClient client)
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(5);
    private (DateTimeOffset At, bool Ready, JsonObject Body)? _last;
    private readonly SemaphoreSlim _gate = new(1, 1);

    public async Task<(bool Ready, JsonObject Body)> CheckAsync(CancellationToken ct)
    {
        if (_last is { } l && DateTimeOffset.UtcNow - l.At < CacheFor) return (l.Ready, l.Body);
        await _gate.WaitAsync(ct);
        try
        {
            if (_last is { } again && DateTimeOffset.UtcNow - again.At < CacheFor) return (again.Ready, again.Body);
            var checks = new JsonObject();
            var ready = true;
            try
            {
                using (var c = client.Catalog.Open())
                using (var cmd = c.CreateCommand())
                {
                    cmd.CommandText = "SELECT count(*) FROM videos";
                    cmd.ExecuteScalar();
                }
                var probe = Path.Combine(client.Options.Home, $".readyz-{Environment.ProcessId}");
                await File.WriteAllTextAsync(probe, "ok", ct);
                File.Delete(probe);
                checks["workspace"] = "ok";
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                checks["workspace"] = $"failed: {e.Message}";
                ready = false;
            }
            if (client.Cloud is { } cloud)
            {
                try
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    timeout.CancelAfter(TimeSpan.FromSeconds(10));
                    await cloud.Videos.HeadAsync(".manimcloud-readyz", timeout.Token);
                    await cloud.Metadata.GetVideoAsync(VideoId.New(), timeout.Token);
                    checks["cloud"] = "ok";
                }
                catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    checks["cloud"] = $"failed: {e.Message}";
                    ready = false;
                }
            }
            var body = new JsonObject { ["ready"] = ready, ["mode"] = client.Cloud is null ? "local" : "aws", ["checks"] = checks };
            _last = (DateTimeOffset.UtcNow, ready, body);
            return (ready, body);
        }
        finally
        {
            _gate.Release();
        }
    }
}
