using System.Text.Json.Nodes;
using Amazon.SQS;
using Amazon.SQS.Model;
using ManimCloud.Aws;
using ManimCloud.Domain;
using ManimCloud.Resilience;

namespace ManimCloud.Pipeline.Cloud;

/// <summary>
/// Job messages on SQS (MANIMCLOUD_QUEUE): long polling, visibility changes as heartbeats, and a dead-letter queue —
/// the one the work queue's redrive policy names — for jobs that keep failing. SQS moves a message there by itself
/// after maxReceiveCount deliveries (a worker that dies every time); a worker moves a job there at once, with the
/// reason as a message attribute, when it fails for good.
/// </summary>
public sealed class SqsJobQueue(IAmazonSQS sqs, string queue, RetryPipeline retry) : IJobQueue, IQueueDepth
{
    public string Name => Url;
    /// <summary>MANIMCLOUD_QUEUE as given: the queue's URL, or its name (looked up once).</summary>
    public string Url => _queueUrl ?? queue;
    private string? _deadLetterUrl;
    private string? _queueUrl = Uri.TryCreate(queue, UriKind.Absolute, out _) ? queue : null;

    private async Task<string> QueueUrlAsync(CancellationToken ct) => _queueUrl ??=
        (await CallAsync("Finding", $"queue {queue} (MANIMCLOUD_QUEUE)", t => sqs.GetQueueUrlAsync(new GetQueueUrlRequest(queue), t), ct)).QueueUrl;

    /// <summary>Requests made to SQS, and the time they took (receives apart: their time is mostly long-poll waiting), for the
    /// benchmark's per-job overhead figure.</summary>
    public (long Requests, double Milliseconds, long Receives, double ReceiveMilliseconds) Usage
    {
        get { lock (_usageLock) return (_requests, _ms, _receives, _receiveMs); }
    }
    private readonly Lock _usageLock = new();
    private long _requests, _receives;
    private double _ms, _receiveMs;

    private async Task<T> CallAsync<T>(string action, string resource, Func<CancellationToken, Task<T>> call, CancellationToken ct)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            return await AwsCall.RunAsync(retry, action, resource, call, ct);
        }
        finally
        {
            var ms = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            lock (_usageLock)
            {
                if (action == "Receiving") { _receives++; _receiveMs += ms; }
                else { _requests++; _ms += ms; }
            }
        }
    }

    public async Task SendAsync(PipelineJob job, CancellationToken ct)
    {
        var queueUrl = await QueueUrlAsync(ct);
        await CallAsync("Sending", $"job {job.Id} to {queueUrl}", t => sqs.SendMessageAsync(new SendMessageRequest(queueUrl, JobMessages.Body(job)), t), ct);
    }

    public async Task<IReadOnlyList<JobMessage>> ReceiveAsync(int max, TimeSpan wait, TimeSpan visibility, CancellationToken ct)
    {
        var queueUrl = await QueueUrlAsync(ct);
        var r = await CallAsync("Receiving", $"jobs from {queueUrl}", t => sqs.ReceiveMessageAsync(new ReceiveMessageRequest
        {
            QueueUrl = queueUrl, MaxNumberOfMessages = Math.Clamp(max, 1, 10), WaitTimeSeconds = (int)Math.Clamp(wait.TotalSeconds, 0, 20),
            VisibilityTimeout = (int)Math.Ceiling(visibility.TotalSeconds), MessageSystemAttributeNames = ["ApproximateReceiveCount"],
        }, t), ct);
        return (r.Messages ?? []).Select(m => new JobMessage(JobMessages.JobIdOf(m.Body), m.ReceiptHandle,
            m.Attributes?.TryGetValue("ApproximateReceiveCount", out var n) == true && int.TryParse(n, out var c) ? c : 1, m.Body)).ToList();
    }

    public Task ExtendAsync(JobMessage message, TimeSpan visibility, CancellationToken ct) => ChangeVisibilityAsync(message, visibility, ct);

    public Task RetryLaterAsync(JobMessage message, TimeSpan delay, CancellationToken ct) => ChangeVisibilityAsync(message, delay, ct);

    private async Task ChangeVisibilityAsync(JobMessage message, TimeSpan visibility, CancellationToken ct)
    {
        var queueUrl = await QueueUrlAsync(ct);
        await CallAsync("Extending", $"job {message.JobId} in {queueUrl}", t => sqs.ChangeMessageVisibilityAsync(new ChangeMessageVisibilityRequest
        {
            QueueUrl = queueUrl, ReceiptHandle = message.Receipt, VisibilityTimeout = (int)Math.Clamp(Math.Ceiling(visibility.TotalSeconds), 0, 43_200),
        }, t), ct);
    }

    public async Task DeleteAsync(JobMessage message, CancellationToken ct)
    {
        var queueUrl = await QueueUrlAsync(ct);
        await CallAsync("Deleting", $"job {message.JobId} from {queueUrl}", t => sqs.DeleteMessageAsync(new DeleteMessageRequest(queueUrl, message.Receipt), t), ct);
    }

    public async Task DeadLetterAsync(JobMessage message, string reason, CancellationToken ct)
    {
        var dlq = await DeadLetterUrlAsync(ct);
        await CallAsync("Dead-lettering", $"job {message.JobId} to {dlq}", t => sqs.SendMessageAsync(new SendMessageRequest(dlq, message.Body)
        {
            MessageAttributes = new()
            {
                ["reason"] = new MessageAttributeValue { DataType = "String", StringValue = reason.Length > 4000 ? reason[..4000] : reason },
                ["receive_count"] = new MessageAttributeValue { DataType = "Number", StringValue = message.ReceiveCount.ToString() },
            },
        }, t), ct);
        await DeleteAsync(message, ct);
    }

    /// <summary>The dead-letter queue named by the work queue's redrive policy.</summary>
    public async Task<string> DeadLetterUrlAsync(CancellationToken ct)
    {
        if (_deadLetterUrl is not null) return _deadLetterUrl;
        var queueUrl = await QueueUrlAsync(ct);
        var attributes = await CallAsync("Reading", $"the redrive policy of {queueUrl}", t => sqs.GetQueueAttributesAsync(new GetQueueAttributesRequest
        {
            QueueUrl = queueUrl, AttributeNames = ["RedrivePolicy"],
        }, t), ct);
        var policy = attributes.Attributes?.GetValueOrDefault("RedrivePolicy");
        var arn = policy is null ? null : (string?)JsonNode.Parse(policy)?["deadLetterTargetArn"];
        if (arn is null)
            throw new ManimCloudException(ErrorKind.ClientError, $"The queue {queueUrl} has no dead-letter queue (no redrive policy).",
                "Run `manimcloud provision --queue` to create the dead-letter queue and the redrive policy.");
        var name = arn[(arn.LastIndexOf(':') + 1)..];
        var url = await CallAsync("Finding", $"the dead-letter queue {name}", t => sqs.GetQueueUrlAsync(new GetQueueUrlRequest(name), t), ct);
        return _deadLetterUrl = url.QueueUrl;
    }

    public async Task<int> RedriveAsync(string jobId, CancellationToken ct)
    {
        var dlq = await DeadLetterUrlAsync(ct);
        var moved = 0;
        // Looks through what the dead-letter queue holds now (bounded), moving this job's messages back.
        for (var round = 0; round < 20; round++)
        {
            var r = await CallAsync("Reading", dlq, t => sqs.ReceiveMessageAsync(new ReceiveMessageRequest
            {
                QueueUrl = dlq, MaxNumberOfMessages = 10, WaitTimeSeconds = 0, VisibilityTimeout = 5,
            }, t), ct);
            if (r.Messages is not { Count: > 0 } messages) break;
            foreach (var m in messages.Where(m => JobMessages.JobIdOf(m.Body) == jobId))
            {
                await CallAsync("Deleting", dlq, t => sqs.DeleteMessageAsync(new DeleteMessageRequest(dlq, m.ReceiptHandle), t), ct);
                moved++;
            }
        }
        return moved;
    }

    /// <summary>One GetQueueAttributes request: the approximate number of messages waiting.</summary>
    public async Task<long> WaitingAsync(CancellationToken ct)
    {
        var queueUrl = await QueueUrlAsync(ct);
        var r = await CallAsync("Reading", queueUrl, t => sqs.GetQueueAttributesAsync(new GetQueueAttributesRequest
        {
            QueueUrl = queueUrl, AttributeNames = ["ApproximateNumberOfMessages"],
        }, t), ct);
        return r.Attributes?.TryGetValue("ApproximateNumberOfMessages", out var v) == true && long.TryParse(v, out var n) ? n : 0;
    }

    /// <summary>Messages waiting and in flight (for `jobs list` and the runbook's stuck-job entry).</summary>
    public async Task<(int Visible, int InFlight, int DeadLettered)> DepthAsync(CancellationToken ct)
    {
        var names = new List<string> { "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible" };
        var queueUrl = await QueueUrlAsync(ct);
        var main = await CallAsync("Reading", queueUrl, t => sqs.GetQueueAttributesAsync(new GetQueueAttributesRequest { QueueUrl = queueUrl, AttributeNames = names }, t), ct);
        var dlq = await CallAsync("Reading", "dead-letter queue", async t => (await sqs.GetQueueAttributesAsync(new GetQueueAttributesRequest
        {
            QueueUrl = await DeadLetterUrlAsync(t), AttributeNames = names,
        }, t)), ct);
        int Get(GetQueueAttributesResponse r, string n) => r.Attributes?.TryGetValue(n, out var v) == true && int.TryParse(v, out var i) ? i : 0;
        return (Get(main, names[0]), Get(main, names[1]), Get(dlq, names[0]));
    }
}
