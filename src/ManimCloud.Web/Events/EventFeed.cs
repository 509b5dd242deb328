using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using ManimCloud.Domain;
using ManimCloud.Metadata;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ManimCloud.Web.Events;

/// <summary>
/// Video status changes as a stream of <see cref="ServiceEvent"/>s. Writes made through this service are published at
/// once; writes by other processes on the same workspace (the CLI, workers, `sync`) are found by polling the catalog's
/// revisions. The last <see cref="Retained"/> events are kept so a subscriber that reconnects resumes without a gap.
/// </summary>
public sealed class EventFeed(ManimCloudClient client, ServeOptions options, ILogger<EventFeed> log) : BackgroundService
{
    public const int Retained = 1000;
    private readonly ConcurrentDictionary<VideoId, (long Revision, VideoStatus Status)> _known = new();
    private readonly LinkedList<ServiceEvent> _recent = new();
    private readonly List<Channel<ServiceEvent>> _subscribers = [];
    private readonly Lock _gate = new();
    private long _seq;
    private bool _primed;

    /// <summary>Tells the feed a video may have changed; publishes what differs from what it knew.</summary>
    public void Changed(VideoRecord video)
    {
        lock (_gate)
        {
            var had = _known.TryGetValue(video.Id, out var before);
            if (had && before.Revision >= video.Revision) return;
            _known[video.Id] = (video.Revision, video.Status);
            var data = new JsonObject
            {
                ["video_id"] = video.Id.ToString(), ["title"] = video.Title, ["status"] = video.Status.ToWire(),
                ["revision"] = video.Revision, ["current_version"] = video.CurrentVersion,
            };
            if (!had)
            {
                Publish("video.created", video.Project, data);
                return;
            }
            Publish("video.updated", video.Project, data);
            if (before.Status != video.Status)
            {
                var status = (JsonObject)data.DeepClone();
                status["previous_status"] = before.Status.ToWire();
                Publish("video.status_changed", video.Project, status);
            }
        }
    }

    /// <summary>Publishes any event (jobs use it); held under the feed's lock so sequence numbers stay in order.</summary>
    public void Publish(string type, ProjectId project, JsonObject data)
    {
        lock (_gate)
        {
            var e = new ServiceEvent(++_seq, type, project, DateTimeOffset.UtcNow, data);
            _recent.AddLast(e);
            if (_recent.Count > Retained) _recent.RemoveFirst();
            foreach (var s in _subscribers) s.Writer.TryWrite(e);
        }
    }

    /// <summary>
    /// A subscription: the retained events after <paramref name="afterSeq"/> first, then live ones. A subscriber too slow
    /// to keep up loses its oldest pending events rather than holding the service's memory.
    /// </summary>
    public Subscription Subscribe(long? afterSeq)
    {
        var channel = Channel.CreateBounded<ServiceEvent>(new BoundedChannelOptions(Retained) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        lock (_gate)
        {
            if (afterSeq is { } after)
                foreach (var e in _recent.Where(e => e.Seq > after)) channel.Writer.TryWrite(e);
            _subscribers.Add(channel);
        }
        return new Subscription(channel.Reader, () => { lock (_gate) _subscribers.Remove(channel); });
    }

    public sealed class Subscription(ChannelReader<ServiceEvent> reader, Action unsubscribe) : IDisposable
    {
        public ChannelReader<ServiceEvent> Reader => reader;
        public void Dispose() => unsubscribe();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.EventPollInterval);
        do
        {
            try
            {
                await PollAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                log.LogWarning(e, "Polling the catalog for video changes failed; trying again in {Interval}", options.EventPollInterval);
            }
        } while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>Compares the catalog's revisions with the known ones; the first pass only learns them (no events for the past).</summary>
    public async Task PollAsync(CancellationToken ct)
    {
        var changed = new List<VideoId>();
        using (var c = client.Catalog.Open())
        using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = _primed ? "SELECT video_id, revision FROM videos" : "SELECT video_id, revision, body FROM videos";
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                if (!VideoId.IsValid(r.GetString(0))) continue;
                var id = VideoId.Parse(r.GetString(0));
                var revision = r.GetInt64(1);
                if (_known.TryGetValue(id, out var k) && k.Revision >= revision) continue;
                if (!_primed)
                {
                    var v = RecordJson.VideoFromJson(JsonNode.Parse(r.GetString(2))!);
                    _known[id] = (revision, v.Status);
                }
                else changed.Add(id);
            }
        }
        _primed = true;
        foreach (var id in changed)
            if (await client.Local.Metadata.GetVideoAsync(id, ct) is { } v) Changed(v);
    }
}
