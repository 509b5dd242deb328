using System.Globalization;
using System.Text.Json.Nodes;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using ManimCloud.Aws;
using ManimCloud.Domain;
using ManimCloud.Local;
using ManimCloud.Metadata;
using ManimCloud.Resilience;

namespace ManimCloud.Pipeline.Cloud;

/// <summary>
/// Jobs in the metadata table, beside the videos: pk "job#{id}" / sk "job", listed per video through the by_project
/// index under "jobs#{video}" (a key no project id can take). Reads are strongly consistent; every transition is a
/// PutItem conditioned on the revision read, so of two workers racing for a job exactly one wins.
/// Rendered clips' content addresses are items "render#{key}".
/// </summary>
public sealed class DynamoJobStore(IAmazonDynamoDB dynamo, string table, RetryPipeline retry) : IJobStore
{
    public string Name => $"dynamodb:{table}";

    private static Dictionary<string, AttributeValue> Key(string pk, string sk) => new() { ["pk"] = new(pk), ["sk"] = new(sk) };

    private Dictionary<string, AttributeValue> Item(PipelineJob job) => new()
    {
        ["pk"] = new($"job#{job.Id}"), ["sk"] = new("job"), ["kind"] = new("job"),
        ["gsi1pk"] = new($"jobs#{job.Video}"), ["gsi1sk"] = new($"{SqliteMetadataStore.SortableTime(job.CreatedAt)}#{job.Id}"),
        ["run"] = new(job.Run), ["state"] = new(PipelineJob.StateName(job.State)),
        ["revision"] = new() { N = job.Revision.ToString(CultureInfo.InvariantCulture) },
        ["body"] = new(RecordJson.Serialize(job.ToJson())),
    };

    private static PipelineJob FromItem(Dictionary<string, AttributeValue> item) => PipelineJob.FromJson(JsonNode.Parse(item["body"].S)!);

    private Task<T> CallAsync<T>(string action, string what, Func<CancellationToken, Task<T>> call, CancellationToken ct) =>
        AwsCall.RunAsync(retry, action, $"{what} in table {table}", call, ct);

    public async Task CreateAsync(IReadOnlyList<PipelineJob> jobs, CancellationToken ct)
    {
        foreach (var job in jobs)
        {
            try
            {
                await CallAsync("Creating", $"job {job.Id}", t => dynamo.PutItemAsync(new PutItemRequest
                {
                    TableName = table, Item = Item(job with { Revision = 1 }), ConditionExpression = "attribute_not_exists(pk)",
                }, t), ct);
            }
            catch (ManimCloudException e) when (e.Kind == ErrorKind.Conflict || e.InnerException is ConditionalCheckFailedException)
            {
                // Already created (a retried create, or another coordinator): left as it is.
            }
        }
    }

    public async Task<PipelineJob?> GetAsync(string id, CancellationToken ct)
    {
        var r = await CallAsync("Reading", $"job {id}", t => dynamo.GetItemAsync(new GetItemRequest
        {
            TableName = table, Key = Key($"job#{id}", "job"), ConsistentRead = true,
        }, t), ct);
        return r.Item is { Count: > 0 } item ? FromItem(item) : null;
    }

    public async Task<IReadOnlyList<PipelineJob>> ListAsync(VideoId? video, string? run, int limit, CancellationToken ct)
    {
        var jobs = new List<PipelineJob>();
        Dictionary<string, AttributeValue>? start = null;
        do
        {
            List<Dictionary<string, AttributeValue>> items;
            if (video is { } v)
            {
                var q = await CallAsync("Listing", $"jobs of video {v}", t => dynamo.QueryAsync(new QueryRequest
                {
                    TableName = table, IndexName = DynamoMetadataStore.ProjectIndex, KeyConditionExpression = "gsi1pk = :p",
                    ExpressionAttributeValues = new() { [":p"] = new($"jobs#{v}") }, ScanIndexForward = false, ExclusiveStartKey = start,
                }, t), ct);
                (items, start) = (q.Items ?? [], q.LastEvaluatedKey is { Count: > 0 } k ? k : null);
            }
            else
            {
                var s = await CallAsync("Listing", "jobs", t => dynamo.ScanAsync(new ScanRequest
                {
                    TableName = table, FilterExpression = "#k = :job", ExpressionAttributeNames = new() { ["#k"] = "kind" },
                    ExpressionAttributeValues = new() { [":job"] = new("job") }, ExclusiveStartKey = start,
                }, t), ct);
                (items, start) = (s.Items ?? [], s.LastEvaluatedKey is { Count: > 0 } k ? k : null);
            }
            jobs.AddRange(items.Select(FromItem).Where(j => run is null || j.Run == run));
        } while (start is not null && (run is not null || jobs.Count < limit));
        // Index reads are eventually consistent: the states come from a consistent read of each job listed for a run.
        if (run is not null)
            for (var i = 0; i < jobs.Count; i++) jobs[i] = await GetAsync(jobs[i].Id, ct) ?? jobs[i];
        return jobs.OrderByDescending(j => j.CreatedAt).ThenBy(j => j.Id, StringComparer.Ordinal).Take(limit).ToList();
    }

    public async Task<(PipelineJob? Changed, PipelineJob? Current)> TransitionAsync(string id, Func<PipelineJob, PipelineJob?> change, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            var current = await GetAsync(id, ct);
            if (current is null) return (null, null);
            if (change(current) is not { } next) return (null, current);
            next = next with { Revision = current.Revision + 1 };
            try
            {
                await CallAsync("Updating", $"job {id}", t => dynamo.PutItemAsync(new PutItemRequest
                {
                    TableName = table, Item = Item(next), ConditionExpression = "revision = :r",
                    ExpressionAttributeValues = new() { [":r"] = new() { N = current.Revision.ToString(CultureInfo.InvariantCulture) } },
                }, t), ct);
                return (next, next);
            }
            catch (ManimCloudException e) when ((e.Kind == ErrorKind.Conflict || e.InnerException is ConditionalCheckFailedException) && attempt < 50)
            {
                // Another worker changed the job in between: decide again on what it is now.
                await Task.Delay(Random.Shared.Next(1, 10 + 5 * attempt), ct);
            }
        }
    }

    public async Task<SceneRender?> FindRenderAsync(string renderKey, CancellationToken ct)
    {
        var r = await CallAsync("Reading", $"render {renderKey[..12]}", t => dynamo.GetItemAsync(new GetItemRequest
        {
            TableName = table, Key = Key($"render#{renderKey}", "render"), ConsistentRead = true,
        }, t), ct);
        return r.Item is { Count: > 0 } item ? SceneRender.FromJson(JsonNode.Parse(item["body"].S)!) : null;
    }

    public Task RecordRenderAsync(SceneRender render, CancellationToken ct) =>
        CallAsync("Recording", $"render {render.RenderKey[..12]}", t => dynamo.PutItemAsync(new PutItemRequest
        {
            TableName = table,
            Item = new() { ["pk"] = new($"render#{render.RenderKey}"), ["sk"] = new("render"), ["kind"] = new("scene_render"), ["body"] = new(RecordJson.Serialize(render.ToJson())) },
        }, t), ct);
}
