using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace ManimCloud.Pipeline;

/// <summary>A delivered job message: which job, how to acknowledge it, and how often it has been delivered.</summary>
public sealed record JobMessage(string? JobId, string Receipt, int ReceiveCount, string Body);

/// <summary>
/// How job ids reach workers: SQS when MANIMCLOUD_QUEUE is set (at-least-once, redelivered after the visibility
/// timeout, dead-letter queue behind it), an in-process channel otherwise. A message carries only the job id; the job's
/// state is in the <see cref="IJobStore"/>, which is what makes a duplicate delivery harmless.
/// </summary>
public interface IJobQueue
{
    string Name { get; }

    Task SendAsync(PipelineJob job, CancellationToken ct);

    /// <summary>Waits up to <paramref name="wait"/> (long polling) for at most <paramref name="max"/> messages, each hidden from others for <paramref name="visibility"/>.</summary>
    Task<IReadOnlyList<JobMessage>> ReceiveAsync(int max, TimeSpan wait, TimeSpan visibility, CancellationToken ct);

    /// <summary>Keeps the message hidden for <paramref name="visibility"/> from now, while its job runs (a heartbeat).</summary>
    Task ExtendAsync(JobMessage message, TimeSpan visibility, CancellationToken ct);

    /// <summary>Makes the message visible again after <paramref name="delay"/> (zero: at once), for another attempt or another worker.</summary>
    Task RetryLaterAsync(JobMessage message, TimeSpan delay, CancellationToken ct);

    /// <summary>Acknowledges the message: it is never delivered again.</summary>
    Task DeleteAsync(JobMessage message, CancellationToken ct);

    /// <summary>Moves the message to the dead-letter queue with the reason attached, and acknowledges it here.</summary>
    Task DeadLetterAsync(JobMessage message, string reason, CancellationToken ct);

    /// <summary>Removes the job's messages from the dead-letter queue (`jobs retry` then sends a fresh one); returns how many.</summary>
    Task<int> RedriveAsync(string jobId, CancellationToken ct);
}

/// <summary>A queue that can tell how many jobs wait in it (workers record it as the manimcloud.queue.depth gauge).</summary>
public interface IQueueDepth
{
    /// <summary>Jobs waiting to be received (approximate on SQS).</summary>
    Task<long> WaitingAsync(CancellationToken ct);
}

public static class JobMessages
{
    public static string Body(PipelineJob job) => new JsonObject { ["job_id"] = job.Id, ["kind"] = PipelineJob.KindName(job.Kind), ["video_id"] = job.Video.ToString() }.ToJsonString();

    /// <summary>The job id of a message body, or null when the body is not a job message (a poison message).</summary>
    public static string? JobIdOf(string body)
    {
        try
        {
            return JsonNode.Parse(body) is JsonObject o && o["job_id"] is JsonValue v && v.TryGetValue<string>(out var id) && id.Length is > 0 and < 200 ? id : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }
}

/// <summary>Jobs in one process (no MANIMCLOUD_QUEUE): a channel, with the same acknowledgements as a queue.</summary>
public sealed class InProcessJobQueue : IJobQueue, IQueueDepth
{
    private readonly Channel<JobMessage> _channel = Channel.CreateUnbounded<JobMessage>();
    private readonly List<(JobMessage Message, string Reason)> _dead = [];
    public string Name => "in-process";

    public IReadOnlyList<(JobMessage Message, string Reason)> DeadLettered { get { lock (_dead) return _dead.ToList(); } }

    public Task SendAsync(PipelineJob job, CancellationToken ct)
    {
        _channel.Writer.TryWrite(new JobMessage(job.Id, Guid.NewGuid().ToString("N"), 1, JobMessages.Body(job)));
        return Task.CompletedTask;
    }

    public async Task<IReadOnlyList<JobMessage>> ReceiveAsync(int max, TimeSpan wait, TimeSpan visibility, CancellationToken ct)
    {
        var list = new List<JobMessage>();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(wait);
        try
        {
            if (await _channel.Reader.WaitToReadAsync(timeout.Token))
                while (list.Count < max && _channel.Reader.TryRead(out var m)) list.Add(m);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested) { }
        return list;
    }

    /// <summary>Nothing else can take the message in one process: there is nothing to extend.</summary>
    public Task ExtendAsync(JobMessage message, TimeSpan visibility, CancellationToken ct) => Task.CompletedTask;

    public Task RetryLaterAsync(JobMessage message, TimeSpan delay, CancellationToken ct)
    {
        _ = Task.Run(async () =>
        {
            await Task.Delay(delay, CancellationToken.None);
            _channel.Writer.TryWrite(message with { ReceiveCount = message.ReceiveCount + 1 });
        }, CancellationToken.None);
        return Task.CompletedTask;
    }

    public Task DeleteAsync(JobMessage message, CancellationToken ct) => Task.CompletedTask;

    public Task DeadLetterAsync(JobMessage message, string reason, CancellationToken ct)
    {
        lock (_dead) _dead.Add((message, reason));
        return Task.CompletedTask;
    }

    public Task<int> RedriveAsync(string jobId, CancellationToken ct) => Task.FromResult(0);

    public Task<long> WaitingAsync(CancellationToken ct) => Task.FromResult((long)_channel.Reader.Count);
}
