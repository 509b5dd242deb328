using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using ManimCloud.Domain;
using ManimCloud.Local;
using ManimCloud.Metadata;
using ManimCloud.Resilience;
using ManimCloud.Storage;

namespace ManimCloud.Aws;

/// <summary>
/// The metadata store on one DynamoDB table. Keys: pk = "video#{id}", sk = "meta" for the record and
/// "code#{n:D6}" for code versions; the GSI "by_project" (gsi1pk = project, gsi1sk = created time + id) serves
/// "newest first" listings. Every write is conditional (SPEC R2, R3).
/// </summary>
public sealed class DynamoMetadataStore(IAmazonDynamoDB dynamo, string table, RetryPipeline retry) : IMetadataStore
{
    public const string ProjectIndex = "by_project";

    /// <summary>
    /// The table this store expects, as a CreateTable request: pk/sk strings, the by_project index (projection ALL),
    /// on-demand billing. The one definition of the schema; provisioning adds encryption to it.
    /// </summary>
    public static CreateTableRequest TableSchema(string tableName) => new()
    {
        TableName = tableName,
        BillingMode = BillingMode.PAY_PER_REQUEST,
        AttributeDefinitions =
        [
            new("pk", ScalarAttributeType.S), new("sk", ScalarAttributeType.S),
            new("gsi1pk", ScalarAttributeType.S), new("gsi1sk", ScalarAttributeType.S),
        ],
        KeySchema = [new("pk", KeyType.HASH), new("sk", KeyType.RANGE)],
        GlobalSecondaryIndexes =
        [
            new GlobalSecondaryIndex
            {
                IndexName = ProjectIndex,
                KeySchema = [new("gsi1pk", KeyType.HASH), new("gsi1sk", KeyType.RANGE)],
                Projection = new Projection { ProjectionType = ProjectionType.ALL },
            },
        ],
    };
    public string Name => $"dynamodb:{table}";
    public string Table => table;

    private static string Pk(VideoId id) => $"video#{id}";
    private const string MetaSk = "meta";
    private static string CodeSk(int version) => $"code#{version:D6}";

    private static Dictionary<string, AttributeValue> VideoItem(VideoRecord v)
    {
        var item = AttributeJson.ToItem(RecordJson.ToJson(v));
        item["pk"] = new AttributeValue(Pk(v.Id));
        item["sk"] = new AttributeValue(MetaSk);
        item["gsi1pk"] = new AttributeValue(v.Project.ToString());
        item["gsi1sk"] = new AttributeValue($"{SqliteMetadataStore.SortableTime(v.CreatedAt)}#{v.Id}");
        item["kind"] = new AttributeValue("video");
        return item;
    }

    private static VideoRecord FromVideoItem(Dictionary<string, AttributeValue> item) => RecordJson.VideoFromJson(AttributeJson.FromItem(item));

    private static Dictionary<string, AttributeValue> CodeItem(CodeVersion c)
    {
        var item = AttributeJson.ToItem(RecordJson.ToJson(c));
        item["pk"] = new AttributeValue(Pk(c.Video));
        item["sk"] = new AttributeValue(CodeSk(c.Version));
        item["kind"] = new AttributeValue("code_version");
        return item;
    }

    private static Dictionary<string, AttributeValue> Key(VideoId id, string sk) => new()
    {
        ["pk"] = new AttributeValue(Pk(id)),
        ["sk"] = new AttributeValue(sk),
    };

    public async Task<VideoRecord> CreateVideoAsync(VideoRecord video, CancellationToken ct)
    {
        var stored = video with { Revision = 1 };
        try
        {
            await Call("Creating video", video.Id.ToString(), t => dynamo.PutItemAsync(new PutItemRequest
            {
                TableName = table, Item = VideoItem(stored), ConditionExpression = "attribute_not_exists(pk)",
            }, t), ct);
        }
        catch (ManimCloudException e) when (e.InnerException is ConditionalCheckFailedException)
        {
            throw new ManimCloudException(ErrorKind.Conflict, $"Video {video.Id} already exists.", "Use `video update` to change it.", e);
        }
        return stored;
    }

    public async Task<VideoRecord?> GetVideoAsync(VideoId id, CancellationToken ct)
    {
        var r = await Call("Reading video", id.ToString(), t => dynamo.GetItemAsync(new GetItemRequest
        {
            TableName = table, Key = Key(id, MetaSk), ConsistentRead = true,
        }, t), ct);
        return r.Item is { Count: > 0 } item ? FromVideoItem(item) : null;
    }

    public async Task<VideoRecord> UpdateVideoAsync(VideoRecord video, long expectedRevision, CancellationToken ct)
    {
        var stored = video with { Revision = expectedRevision + 1 };
        try
        {
            await Call("Updating video", video.Id.ToString(), t => dynamo.PutItemAsync(new PutItemRequest
            {
                TableName = table, Item = VideoItem(stored),
                ConditionExpression = "revision = :expected",
                ExpressionAttributeValues = new() { [":expected"] = new AttributeValue { N = expectedRevision.ToString() } },
            }, t), ct);
        }
        catch (ManimCloudException e) when (e.InnerException is ConditionalCheckFailedException)
        {
            throw SqliteMetadataStore.Stale(video.Id, expectedRevision);
        }
        return stored;
    }

    public async Task<Page<VideoRecord>> ListVideosAsync(ProjectId project, int limit, string? pageToken, CancellationToken ct)
    {
        limit = Math.Clamp(limit, 1, 1000);
        var request = new QueryRequest
        {
            TableName = table, IndexName = ProjectIndex,
            KeyConditionExpression = "gsi1pk = :p",
            ExpressionAttributeValues = new() { [":p"] = new AttributeValue(project.ToString()) },
            ScanIndexForward = false, Limit = limit,
            ExclusiveStartKey = DecodeToken(pageToken),
        };
        var r = await Call("Listing videos of project", project.ToString(), t => dynamo.QueryAsync(request, t), ct);
        var items = (r.Items ?? []).Select(FromVideoItem).ToList();
        var next = r.LastEvaluatedKey is { Count: > 0 } last ? EncodeToken(last) : null;
        return new Page<VideoRecord>(items, next);
    }

    private static string EncodeToken(Dictionary<string, AttributeValue> key) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(key.ToDictionary(kv => kv.Key, kv => kv.Value.S), StoredJson.Default.DictionaryStringString)));

    private static Dictionary<string, AttributeValue>? DecodeToken(string? token)
    {
        if (string.IsNullOrEmpty(token)) return null;
        try
        {
            var d = JsonSerializer.Deserialize(Encoding.UTF8.GetString(Convert.FromBase64String(token)), StoredJson.Default.DictionaryStringString);
            if (d is { Count: > 0 }) return d.ToDictionary(kv => kv.Key, kv => new AttributeValue(kv.Value));
        }
        catch (Exception e) when (e is FormatException or JsonException) { }
        throw new ManimCloudException(ErrorKind.InvalidInput, "The page token is not one this store issued.",
            "Pass the `next` value printed by the previous `video list`, unchanged.");
    }

    public async Task PutVideosAsync(IReadOnlyList<VideoRecord> videos, CancellationToken ct)
    {
        foreach (var chunk in videos.Chunk(25))
        {
            var pending = new Dictionary<string, List<WriteRequest>>
            {
                [table] = chunk.Select(v => new WriteRequest(new PutRequest(VideoItem(v with { Revision = Math.Max(1, v.Revision) })))).ToList(),
            };
            await UntilProcessedAsync(() => pending.Values.Sum(l => l.Count), "writes", "import in smaller batches", async () =>
            {
                var request = new BatchWriteItemRequest { RequestItems = pending };
                var r = await Call("Importing videos into", table, t => dynamo.BatchWriteItemAsync(request, t), ct);
                pending = r.UnprocessedItems ?? new();
            }, ct);
        }
    }

    /// <summary>
    /// Batch calls may leave items unprocessed under load: sends the rest again, with jittered exponential backoff,
    /// until <paramref name="remaining"/> is 0; gives up as Throttled after 40 rounds.
    /// </summary>
    private static async Task UntilProcessedAsync(Func<int> remaining, string what, string otherwise, Func<Task> send, CancellationToken ct)
    {
        for (var attempt = 0; remaining() > 0; attempt++)
        {
            if (attempt > 0) await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 50 * (1 << Math.Min(attempt, 7))) * Random.Shared.NextDouble()), ct);
            if (attempt > 40)
                throw new ManimCloudException(ErrorKind.Throttled, $"DynamoDB left {remaining()} {what} unprocessed after {attempt} attempts.",
                    $"The table is throttling {what}; raise its capacity or {otherwise}.");
            await send();
        }
    }

    public async Task<bool> TryAddCodeVersionAsync(CodeVersion version, CancellationToken ct)
    {
        try
        {
            await Call("Claiming code version", $"{version.Video} v{version.Version}", t => dynamo.PutItemAsync(new PutItemRequest
            {
                TableName = table, Item = CodeItem(version), ConditionExpression = "attribute_not_exists(pk)",
            }, t), ct);
            return true;
        }
        catch (ManimCloudException e) when (e.InnerException is ConditionalCheckFailedException)
        {
            return false;
        }
    }

    public async Task<IReadOnlySet<VideoId>> TryAddCodeVersionsAcrossAsync(IReadOnlyList<CodeVersion> versions, CancellationToken ct)
    {
        if (versions.Count > IMetadataStore.MaxClaimBatch) throw new ArgumentException($"at most {IMetadataStore.MaxClaimBatch} versions per claim", nameof(versions));
        if (versions.Count == 0) return new HashSet<VideoId>();
        // One claim needs no transaction (half the write cost).
        if (versions.Count == 1) return await TryAddCodeVersionAsync(versions[0], ct) ? new HashSet<VideoId>() : new HashSet<VideoId> { versions[0].Video };
        var what = versions.Select(v => v.Video).Distinct().Count() == 1
            ? $"{versions[0].Video} v{versions[0].Version}–v{versions[^1].Version}"
            : $"{versions.Count} versions of {versions.Select(v => v.Video).Distinct().Count()} videos";
        return await TransactAsync("Claiming code versions", what,
            versions.Select(v => new TransactWriteItem
            {
                Put = new Put { TableName = table, Item = CodeItem(v), ConditionExpression = "attribute_not_exists(pk)" },
            }).ToList(), versions.Select(v => v.Video).ToList(), ct);
    }

    public async Task<IReadOnlyDictionary<VideoId, VideoRecord>> GetVideosAsync(IReadOnlyList<VideoId> ids, CancellationToken ct)
    {
        var found = new Dictionary<VideoId, VideoRecord>();
        foreach (var chunk in ids.Distinct().Chunk(100))
        {
            var pending = new Dictionary<string, KeysAndAttributes>
            {
                [table] = new KeysAndAttributes { Keys = chunk.Select(id => Key(id, MetaSk)).ToList(), ConsistentRead = true },
            };
            await UntilProcessedAsync(() => pending.GetValueOrDefault(table)?.Keys.Count ?? 0, "reads", "try again later", async () =>
            {
                var request = new BatchGetItemRequest { RequestItems = pending };
                var r = await Call("Reading videos from", table, t => dynamo.BatchGetItemAsync(request, t), ct);
                foreach (var item in r.Responses?.GetValueOrDefault(table) ?? [])
                {
                    var video = FromVideoItem(item);
                    found[video.Id] = video;
                }
                pending = r.UnprocessedKeys ?? new();
            }, ct);
        }
        return found;
    }

    public async Task<IReadOnlySet<VideoId>> TryUpdateVideosAsync(IReadOnlyList<(VideoRecord Video, long ExpectedRevision)> updates, CancellationToken ct)
    {
        if (updates.Count > IMetadataStore.MaxClaimBatch) throw new ArgumentException($"at most {IMetadataStore.MaxClaimBatch} records per update", nameof(updates));
        if (updates.Count == 0) return new HashSet<VideoId>();
        return await TransactAsync("Updating videos in", table,
            updates.Select(u => new TransactWriteItem
            {
                Put = new Put
                {
                    TableName = table, Item = VideoItem(u.Video with { Revision = u.ExpectedRevision + 1 }),
                    ConditionExpression = "revision = :expected",
                    ExpressionAttributeValues = new() { [":expected"] = new AttributeValue { N = u.ExpectedRevision.ToString() } },
                },
            }).ToList(), updates.Select(u => u.Video.Id).ToList(), ct);
    }

    /// <summary>
    /// One all-or-nothing TransactWriteItems. On cancellation, the videos whose items failed their condition (or met
    /// another writer's transaction) are returned, and nothing was written; without reasons, every video counts.
    /// </summary>
    private async Task<IReadOnlySet<VideoId>> TransactAsync(string action, string what, List<TransactWriteItem> items, List<VideoId> videoOfItem, CancellationToken ct)
    {
        try
        {
            // The token is derived from the content, so a retry after a lost answer is recognised by DynamoDB (for ten
            // minutes) as the same transaction and succeeds, rather than failing on its own writes.
            var content = string.Join("\n", items.Select(i => AttributeJson.FromItem(i.Put.Item).ToJsonString() + i.Put.ConditionExpression));
            var token = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(content)))[..36];
            await Call(action, what, t => dynamo.TransactWriteItemsAsync(new TransactWriteItemsRequest { TransactItems = items, ClientRequestToken = token }, t), ct);
            return new HashSet<VideoId>();
        }
        catch (ManimCloudException e) when (e.InnerException is TransactionCanceledException tc
            && tc.CancellationReasons?.Any(r => r.Code is "ConditionalCheckFailed" or "TransactionConflict") != false)
        {
            var reasons = tc.CancellationReasons;
            if (reasons is null || reasons.Count != items.Count) return videoOfItem.ToHashSet();
            return videoOfItem.Where((_, i) => reasons[i].Code is "ConditionalCheckFailed" or "TransactionConflict").ToHashSet();
        }
    }

    public async Task<CodeVersion?> GetCodeVersionAsync(VideoId video, int version, CancellationToken ct)
    {
        var r = await Call("Reading code version", $"{video} v{version}", t => dynamo.GetItemAsync(new GetItemRequest
        {
            TableName = table, Key = Key(video, CodeSk(version)), ConsistentRead = true,
        }, t), ct);
        return r.Item is { Count: > 0 } item ? RecordJson.CodeFromJson(AttributeJson.FromItem(item)) : null;
    }

    public async Task<IReadOnlyList<CodeVersion>> ListCodeVersionsAsync(VideoId video, CancellationToken ct)
    {
        var list = new List<CodeVersion>();
        Dictionary<string, AttributeValue>? start = null;
        do
        {
            var request = new QueryRequest
            {
                TableName = table, ConsistentRead = true,
                KeyConditionExpression = "pk = :pk AND begins_with(sk, :code)",
                ExpressionAttributeValues = new() { [":pk"] = new AttributeValue(Pk(video)), [":code"] = new AttributeValue("code#") },
                ExclusiveStartKey = start,
            };
            var r = await Call("Listing code versions of", video.ToString(), t => dynamo.QueryAsync(request, t), ct);
            list.AddRange((r.Items ?? []).Select(i => RecordJson.CodeFromJson(AttributeJson.FromItem(i))));
            start = r.LastEvaluatedKey is { Count: > 0 } last ? last : null;
        } while (start is not null);
        return list.OrderBy(c => c.Version).ToList();
    }

    public async Task UpdateCodeVersionAsync(CodeVersion version, CancellationToken ct)
    {
        try
        {
            await Call("Updating code version", $"{version.Video} v{version.Version}", t => dynamo.PutItemAsync(new PutItemRequest
            {
                TableName = table, Item = CodeItem(version), ConditionExpression = "attribute_exists(pk)",
            }, t), ct);
        }
        catch (ManimCloudException e) when (e.InnerException is ConditionalCheckFailedException)
        {
            throw new ManimCloudException(ErrorKind.NotFound, $"Version {version.Version} of video {version.Video} does not exist.", "Check `code history`.", e);
        }
    }

    public async Task RemoveCodeVersionAsync(VideoId video, int version, string operationId, CancellationToken ct)
    {
        try
        {
            await Call("Withdrawing code version", $"{video} v{version}", t => dynamo.DeleteItemAsync(new DeleteItemRequest
            {
                TableName = table, Key = Key(video, CodeSk(version)),
                ConditionExpression = "operation_id = :op",
                ExpressionAttributeValues = new() { [":op"] = new AttributeValue(operationId) },
            }, t), ct);
        }
        catch (ManimCloudException e) when (e.InnerException is ConditionalCheckFailedException)
        {
            // Not ours (or already gone): nothing to withdraw.
        }
    }

    private Task<T> Call<T>(string action, string what, Func<CancellationToken, Task<T>> call, CancellationToken ct) =>
        AwsCall.RunAsync(retry, action, $"{what} in {Name}", call, ct);
}
