using System.Collections.Concurrent;
using ManimCloud.Domain;
using ManimCloud.Sync;
using ManimCloud.Web.Events;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ManimCloud.Web.Api;

/// <summary>
/// Transcodes asked for over the API, run in this process after the request has been answered (a ladder takes
/// minutes; an HTTP request should not). One at a time per video: asking again while one runs joins it. The outcome
/// is the video's status (transcoding → ready, or error with the reason), seen on GET /videos/{id} and the event
/// stream. On shutdown a running transcode is cancelled: the streaming service keeps its finished scenes and puts the
/// status back.
/// </summary>
public sealed class BackgroundTranscodes(ManimCloudClient client, EventFeed events, ILogger<BackgroundTranscodes> log) : IHostedService
{
    private readonly ConcurrentDictionary<VideoId, Task> _running = new();
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>Starts a transcode of the video (or joins the one running); false when one was already running.</summary>
    public bool Start(VideoRecord video, int? version, string? engine)
    {
        var started = false;
        _running.GetOrAdd(video.Id, id =>
        {
            started = true;
            return Task.Run(() => RunAsync(video, version, engine));
        });
        return started;
    }

    public bool IsRunning(VideoId id) => _running.ContainsKey(id);

    private async Task RunAsync(VideoRecord video, int? version, string? engine)
    {
        var ct = _stopping.Token;
        try
        {
            var result = await client.Streaming.TranscodeAsync(video.Id, version, engine, null, ct);
            events.Changed(result.Video);
            log.LogInformation("Transcoded video {Video} v{Version}: {Encoded} scene(s) encoded, {Reused} reused",
                video.Id, result.Set.Version, result.Counts.ScenesEncoded, result.Counts.ScenesReused);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            log.LogInformation("Transcode of video {Video} stopped with the service", video.Id);
        }
        catch (Exception e)
        {
            // The streaming service records its own failures as status error; one before it got that far (no ffmpeg,
            // no clip readable) is recorded here, so a client waiting for `ready` hears why instead of waiting.
            log.LogWarning(e, "Transcode of video {Video} failed", video.Id);
            try
            {
                var current = await client.GetVideoAsync(video.Id, CancellationToken.None);
                if (current.Status != VideoStatus.Error)
                {
                    var w = await client.RunAsync(new TranscodeStatus
                    {
                        Id = Operation.NewId(), Video = video.Id, Version = version ?? Math.Max(1, current.CurrentVersion), Status = VideoStatus.Error,
                        Reason = $"transcode failed: {e.Message}",
                    }, r => r.Video!, CancellationToken.None);
                    events.Changed(w.Value);
                }
                else events.Changed(current);
            }
            catch (Exception again)
            {
                log.LogError(again, "Recording the failed transcode of video {Video} failed too", video.Id);
            }
        }
        finally
        {
            _running.TryRemove(video.Id, out _);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await Task.WhenAny(Task.WhenAll(_running.Values), Task.Delay(Timeout.Infinite, cancellationToken));
    }
}
