using System.Text.Json.Nodes;
using Amazon.SQS;
using Amazon.SQS.Model;
using ManimCloud.Aws;
using ManimCloud.Domain;
using ManimCloud.Resilience;

namespace ManimCloud.Provisioning;

/// <summary>
/// The pipeline's job queue (MANIMCLOUD_QUEUE) and its dead-letter queue: the work queue's visibility timeout, long
/// polling, retention, server-side encryption and the redrive policy that moves a message to the dead-letter queue
/// after <see cref="MaxReceiveCount"/> deliveries; the dead-letter queue keeps messages 14 days. Read, compared and
/// written setting by setting like the buckets and the table.
/// </summary>
public sealed class QueueProvisioning(IAmazonSQS sqs, RetryPipeline retry, string queue, string deadLetter)
{
    /// <summary>Deliveries before SQS moves a message to the dead-letter queue by itself (a worker crashing on it every time).</summary>
    public const int MaxReceiveCount = 5;

    private static readonly Dictionary<string, string> WorkQueue = new()
    {
        ["VisibilityTimeout"] = "60",
        ["ReceiveMessageWaitTimeSeconds"] = "20",
        ["MessageRetentionPeriod"] = "345600",
        ["SqsManagedSseEnabled"] = "true",
    };

    private static readonly Dictionary<string, string> DeadLetterQueue = new()
    {
        ["MessageRetentionPeriod"] = "1209600",
        ["SqsManagedSseEnabled"] = "true",
    };

    private string? _workUrl, _deadUrl;

    /// <summary>Creates or brings into line both queues on their own (what `provision` does for them) and returns the work queue's URL.</summary>
    public async Task<string> EnsureAsync(CancellationToken ct)
    {
        foreach (var check in await InspectAsync(ct))
            if (check.Step.WouldChange && check.Apply is not null) await check.Apply(ct);
        return _workUrl ?? throw new ManimCloudException(ErrorKind.Fatal, $"The queue {queue} was not created.", "Run `manimcloud provision --queue` and read its report.");
    }

    internal async Task<List<ProvisionCheck>> InspectAsync(CancellationToken ct)
    {
        var checks = new List<ProvisionCheck>();
        _deadUrl = await UrlAsync(deadLetter, ct);
        _workUrl = await UrlAsync(queue, ct);
        await InspectQueueAsync(checks, deadLetter, _deadUrl, DeadLetterQueue, null, ct);
        await InspectQueueAsync(checks, queue, _workUrl, WorkQueue, DesiredRedrive, ct);
        return checks;
    }

    /// <summary>The work queue's URL as it will be after apply (recorded as MANIMCLOUD_QUEUE's value).</summary>
    public string? WorkQueueUrl => _workUrl;

    private async Task InspectQueueAsync(List<ProvisionCheck> checks, string name, string? url, Dictionary<string, string> desired,
        Func<CancellationToken, Task<string>>? redrive, CancellationToken ct)
    {
        var resource = $"sqs:{name}";
        if (url is null)
        {
            checks.Add(ProvisionCheck.OnCreate(resource, "queue", "exists", async t =>
            {
                var attributes = new Dictionary<string, string>(desired);
                if (redrive is not null) attributes["RedrivePolicy"] = await redrive(t);
                var created = await AwsCall.RunAsync(retry, "Creating", $"queue {name}", c => sqs.CreateQueueAsync(new CreateQueueRequest { QueueName = name, Attributes = attributes }, c), t);
                if (name == queue) _workUrl = created.QueueUrl; else _deadUrl = created.QueueUrl;
            }, "Created with the settings below."));
            foreach (var (k, v) in desired) checks.Add(ProvisionCheck.OnCreate(resource, k, v, null));
            if (redrive is not null) checks.Add(ProvisionCheck.OnCreate(resource, "RedrivePolicy", DescribeRedrive(deadLetter), null));
            return;
        }
        checks.Add(new(new ProvisionStep(resource, "queue", "exists", "exists", StepAction.Unchanged)));
        var current = (await AwsCall.RunAsync(retry, "Reading", $"the attributes of queue {name}", c => sqs.GetQueueAttributesAsync(new GetQueueAttributesRequest
        {
            QueueUrl = url, AttributeNames = ["All"],
        }, c), ct)).Attributes ?? [];
        foreach (var (k, v) in desired)
            checks.Add(ProvisionCheck.Compare(resource, k, current.GetValueOrDefault(k) ?? SettingValue.Absent, v, t => SetAsync(url, k, v, t)));
        if (redrive is not null)
        {
            var now = current.GetValueOrDefault("RedrivePolicy") is { } p ? DescribeRedrivePolicy(p) : SettingValue.None;
            checks.Add(ProvisionCheck.Compare(resource, "RedrivePolicy", now, DescribeRedrive(deadLetter), async t => await SetAsync(url, "RedrivePolicy", await redrive(t), t)));
        }
    }

    private async Task<string> DesiredRedrive(CancellationToken ct)
    {
        var url = _deadUrl ?? await UrlAsync(deadLetter, ct) ?? throw new ManimCloudException(ErrorKind.Fatal, $"The dead-letter queue {deadLetter} is missing.", "Run provision again.");
        var arn = (await AwsCall.RunAsync(retry, "Reading", $"the ARN of queue {deadLetter}", c => sqs.GetQueueAttributesAsync(new GetQueueAttributesRequest
        {
            QueueUrl = url, AttributeNames = ["QueueArn"],
        }, c), ct)).Attributes["QueueArn"];
        return new JsonObject { ["deadLetterTargetArn"] = arn, ["maxReceiveCount"] = MaxReceiveCount }.ToJsonString();
    }

    private static string DescribeRedrive(string dlqName) => $"to {dlqName} after {MaxReceiveCount} deliveries";

    private static string DescribeRedrivePolicy(string policy)
    {
        var node = JsonNode.Parse(policy);
        var arn = (string?)node?["deadLetterTargetArn"] ?? "?";
        var count = node?["maxReceiveCount"] is JsonValue v ? (v.TryGetValue<int>(out var i) ? i.ToString() : v.ToString()) : "?";
        return $"to {arn[(arn.LastIndexOf(':') + 1)..]} after {count} deliveries";
    }

    private Task SetAsync(string url, string attribute, string value, CancellationToken ct) =>
        AwsCall.RunAsync(retry, "Updating", $"{attribute} of queue {url}", c => sqs.SetQueueAttributesAsync(new SetQueueAttributesRequest
        {
            QueueUrl = url, Attributes = new() { [attribute] = value },
        }, c), ct);

    private async Task<string?> UrlAsync(string name, CancellationToken ct)
    {
        try
        {
            return (await AwsCall.RunAsync(retry, "Finding", $"queue {name}", c => sqs.GetQueueUrlAsync(new GetQueueUrlRequest(name), c), ct)).QueueUrl;
        }
        catch (ManimCloudException e) when (e.Kind == ErrorKind.NotFound || SettingRead.ErrorCode(e) is "AWS.SimpleQueueService.NonExistentQueue" or "QueueDoesNotExist")
        {
            return null;
        }
    }

    /// <summary>The queue name of MANIMCLOUD_QUEUE (a URL's last segment, or a plain name).</summary>
    public static string NameOf(string queueSetting) => queueSetting.TrimEnd('/').Split('/')[^1];
}
