using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using ManimCloud.Aws;
using ManimCloud.Domain;
using ManimCloud.Resilience;

namespace ManimCloud.Provisioning;

/// <summary>
/// Reads the metadata table and plans what brings it into line with what <see cref="DynamoMetadataStore"/> needs:
/// pk/sk string keys, the by_project index (gsi1pk/gsi1sk, all attributes), on-demand billing, encryption at rest
/// (the configured KMS key, else the AWS owned key) and point-in-time recovery. Every change waits for ACTIVE.
/// </summary>
internal sealed class TableProvisioning(IAmazonDynamoDB dynamo, RetryPipeline retry, string table, KmsKeyRef? kms, TimeSpan waitTimeout)
{
    private string Resource => $"dynamodb:{table}";
    private const string Index = DynamoMetadataStore.ProjectIndex;

    public const string DesiredKeySchema = "pk (S) HASH, sk (S) RANGE";
    public const string DesiredIndex = "gsi1pk (S) HASH, gsi1sk (S) RANGE, projection ALL";
    public const string DesiredBilling = "PAY_PER_REQUEST";
    public const string AwsOwnedKey = "AWS owned key";
    private string DesiredEncryption => kms is null ? AwsOwnedKey : $"KMS key={kms.Arn}";

    public async Task<List<ProvisionCheck>> InspectAsync(CancellationToken ct)
    {
        var description = await DescribeAsync(ct);
        if (description is null)
            return
            [
                ProvisionCheck.OnCreate(Resource, "table", "ACTIVE", CreateAsync, "Created with the keys, index, billing mode and encryption below, then waited for until ACTIVE."),
                ProvisionCheck.OnCreate(Resource, "key_schema", DesiredKeySchema, null),
                ProvisionCheck.OnCreate(Resource, $"index {Index}", DesiredIndex, null),
                ProvisionCheck.OnCreate(Resource, "billing_mode", DesiredBilling, null),
                ProvisionCheck.OnCreate(Resource, "encryption", DesiredEncryption, null),
                ProvisionCheck.OnCreate(Resource, "point_in_time_recovery", "ENABLED", EnablePointInTimeRecoveryAsync),
            ];

        var checks = new List<ProvisionCheck>();
        var status = description.TableStatus?.Value ?? "UNKNOWN";
        if (status is "CREATING" or "UPDATING")
            checks.Add(new(new ProvisionStep(Resource, "table", status, "ACTIVE", StepAction.Update, "Waits until the table is ACTIVE."), WaitUntilActiveAsync));
        else if (status != "ACTIVE")
        {
            checks.Add(ProvisionCheck.Blocked(Resource, "table", status, "ACTIVE", StateAdvice(status)));
            return checks;
        }
        else checks.Add(new(new ProvisionStep(Resource, "table", status, "ACTIVE", StepAction.Unchanged)));

        var types = (description.AttributeDefinitions ?? []).ToDictionary(a => a.AttributeName, a => a.AttributeType?.Value ?? "?");
        var keySchema = DescribeKeys(description.KeySchema, types);
        checks.Add(keySchema == DesiredKeySchema
            ? new(new ProvisionStep(Resource, "key_schema", keySchema, DesiredKeySchema, StepAction.Unchanged))
            : ProvisionCheck.Blocked(Resource, "key_schema", keySchema, DesiredKeySchema,
                "A table's key schema cannot change. Set MANIMCLOUD_TABLE to a new table name and run provision, then copy the items "
                + "(export/import, or a scan-and-batch-write) and switch over."));
        // A table with other keys is not a ManimCloud table: leave the rest of it alone.
        if (checks[^1].Step.Action == StepAction.Blocked) return checks;

        var index = description.GlobalSecondaryIndexes?.FirstOrDefault(i => i.IndexName == Index);
        var indexNow = index is null ? SettingValue.Absent : $"{DescribeKeys(index.KeySchema, types)}, projection {index.Projection?.ProjectionType?.Value}";
        if (index is null)
            checks.Add(new(new ProvisionStep(Resource, $"index {Index}", indexNow, DesiredIndex, StepAction.Update,
                "Added to the existing table; DynamoDB backfills it, which can take a while on a large table."), CreateIndexAsync));
        else if (indexNow != DesiredIndex)
            checks.Add(ProvisionCheck.Blocked(Resource, $"index {Index}", indexNow, DesiredIndex,
                $"The index {Index} exists with another shape and an index cannot be changed in place. Delete it "
                + $"(`aws dynamodb update-table --table-name {table} --global-secondary-index-updates '[{{\"Delete\":{{\"IndexName\":\"{Index}\"}}}}]'`), "
                + "wait until it is gone, and run provision again to recreate it."));
        else if (index.IndexStatus?.Value is { } indexStatus && indexStatus != "ACTIVE")
            checks.Add(new(new ProvisionStep(Resource, $"index {Index}", $"{indexNow} ({indexStatus})", DesiredIndex, StepAction.Update,
                "Waits until the index is ACTIVE."), WaitUntilActiveAsync));
        else checks.Add(new(new ProvisionStep(Resource, $"index {Index}", indexNow, DesiredIndex, StepAction.Unchanged)));

        // Tables that were always on-demand may lack the summary; no summary means provisioned capacity.
        var billing = description.BillingModeSummary?.BillingMode?.Value ?? "PROVISIONED";
        checks.Add(ProvisionCheck.Compare(Resource, "billing_mode", billing, DesiredBilling, SetOnDemandAsync));

        checks.Add(ProvisionCheck.Compare(Resource, "encryption", DescribeEncryption(description.SSEDescription), DesiredEncryption, SetEncryptionAsync));

        // Backups of a table that is still being created cannot be read yet; the step runs after the wait above.
        var pitrNow = status != "ACTIVE" ? "unknown until the table is ACTIVE"
            : (await Call("Reading point-in-time recovery of", t => dynamo.DescribeContinuousBackupsAsync(
                new DescribeContinuousBackupsRequest { TableName = table }, t), ct))
                .ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus?.Value ?? "DISABLED";
        checks.Add(ProvisionCheck.Compare(Resource, "point_in_time_recovery", pitrNow, "ENABLED", EnablePointInTimeRecoveryAsync));
        return checks;
    }

    private string StateAdvice(string status) => status switch
    {
        "DELETING" => $"The table {table} is being deleted. Wait until `aws dynamodb describe-table --table-name {table}` says it is gone, "
            + "then run provision again to create it afresh (restore from a point-in-time backup first if the deletion was a mistake).",
        "INACCESSIBLE_ENCRYPTION_CREDENTIALS" => $"DynamoDB cannot use the KMS key of {table}: re-enable the key or restore its key policy/grants, "
            + "then run provision again. After 7 days without access AWS archives the table.",
        "ARCHIVING" or "ARCHIVED" => $"The table {table} was archived because its KMS key was unusable. Restore access to the key and restore the table "
            + "from its archive backup (AWS console or `aws dynamodb restore-table-from-backup`), then run provision again.",
        _ => $"The table {table} is {status}. Check it with `aws dynamodb describe-table --table-name {table}` and run provision again once it is ACTIVE.",
    };

    private static string DescribeKeys(List<KeySchemaElement>? keys, Dictionary<string, string> types) =>
        keys is null or { Count: 0 } ? SettingValue.None
            : string.Join(", ", keys.OrderBy(k => k.KeyType?.Value == "HASH" ? 0 : 1)
                .Select(k => $"{k.AttributeName} ({types.GetValueOrDefault(k.AttributeName, "?")}) {k.KeyType?.Value}"));

    private string DescribeEncryption(SSEDescription? sse) =>
        sse is null || sse.Status?.Value is null or "DISABLED" or "DISABLING"
            ? AwsOwnedKey
            // With no customer key DynamoDB reports the AWS managed key (alias aws/dynamodb) by its ARN.
            : $"{sse.SSEType?.Value ?? "KMS"} key={(kms?.Canonical(sse.KMSMasterKeyArn) ?? sse.KMSMasterKeyArn ?? "(AWS managed key)")}"
              + (sse.Status?.Value is "ENABLED" ? "" : $" ({sse.Status?.Value})");

    private SSESpecification DesiredSse() => kms is null
        ? new SSESpecification { Enabled = false }
        : new SSESpecification { Enabled = true, SSEType = SSEType.KMS, KMSMasterKeyId = kms.Arn };

    private Task<T> Call<T>(string action, Func<CancellationToken, Task<T>> call, CancellationToken ct) =>
        AwsCall.RunAsync(retry, action, Resource, call, ct);

    private async Task<TableDescription?> DescribeAsync(CancellationToken ct)
    {
        try
        {
            return (await Call("Reading", t => dynamo.DescribeTableAsync(new DescribeTableRequest { TableName = table }, t), ct)).Table;
        }
        catch (ManimCloudException e) when (SettingRead.ErrorCode(e) == "ResourceNotFoundException")
        {
            return null;
        }
    }

    private async Task CreateAsync(CancellationToken ct)
    {
        try
        {
            var request = DynamoMetadataStore.TableSchema(table);
            request.SSESpecification = DesiredSse();
            await Call("Creating", t => dynamo.CreateTableAsync(request, t), ct);
        }
        catch (ManimCloudException e) when (SettingRead.ErrorCode(e) == "ResourceInUseException")
        {
            // Another provision run is creating it right now; wait for it like for our own.
        }
        await WaitUntilActiveAsync(ct);
    }

    private async Task CreateIndexAsync(CancellationToken ct)
    {
        var schema = DynamoMetadataStore.TableSchema(table);
        var index = schema.GlobalSecondaryIndexes.Single(i => i.IndexName == Index);
        var indexKeys = index.KeySchema.Select(k => k.AttributeName).ToHashSet();
        await Call("Adding the index " + Index + " to", t => dynamo.UpdateTableAsync(new UpdateTableRequest
        {
            TableName = table,
            AttributeDefinitions = schema.AttributeDefinitions.Where(a => indexKeys.Contains(a.AttributeName)).ToList(),
            GlobalSecondaryIndexUpdates =
            [
                new() { Create = new CreateGlobalSecondaryIndexAction { IndexName = Index, KeySchema = index.KeySchema, Projection = index.Projection } },
            ],
        }, t), ct);
        await WaitUntilActiveAsync(ct);
    }

    // DynamoDB takes one kind of change per UpdateTable call, each only while the table is ACTIVE: hence one call per step, each waited for.
    private async Task SetOnDemandAsync(CancellationToken ct)
    {
        await WaitUntilActiveAsync(ct);
        await Call("Switching to on-demand billing", t => dynamo.UpdateTableAsync(new UpdateTableRequest { TableName = table, BillingMode = BillingMode.PAY_PER_REQUEST }, t), ct);
        await WaitUntilActiveAsync(ct);
    }

    private async Task SetEncryptionAsync(CancellationToken ct)
    {
        await WaitUntilActiveAsync(ct);
        await Call("Changing the encryption of", t => dynamo.UpdateTableAsync(new UpdateTableRequest { TableName = table, SSESpecification = DesiredSse() }, t), ct);
        await WaitUntilActiveAsync(ct);
    }

    private async Task EnablePointInTimeRecoveryAsync(CancellationToken ct)
    {
        // Right after creation AWS answers ContinuousBackupsUnavailableException for a while; that one waits, nothing else does.
        var deadline = DateTime.UtcNow + waitTimeout;
        for (var delay = TimeSpan.FromSeconds(1); ; delay = TimeSpan.FromSeconds(Math.Min(delay.TotalSeconds * 2, 15)))
        {
            try
            {
                await Call("Enabling point-in-time recovery on", t => dynamo.UpdateContinuousBackupsAsync(new UpdateContinuousBackupsRequest
                {
                    TableName = table,
                    PointInTimeRecoverySpecification = new PointInTimeRecoverySpecification { PointInTimeRecoveryEnabled = true },
                }, t), ct);
                return;
            }
            catch (ManimCloudException e) when (SettingRead.ErrorCode(e) == "ContinuousBackupsUnavailableException" && DateTime.UtcNow < deadline)
            {
                await Task.Delay(delay, ct);
            }
        }
    }

    /// <summary>Polls until the table and all its indexes are ACTIVE; fails at once if it goes somewhere else.</summary>
    private async Task WaitUntilActiveAsync(CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + waitTimeout;
        var delay = TimeSpan.FromMilliseconds(250);
        while (true)
        {
            var d = await DescribeAsync(ct);
            // A table created a moment ago may not be visible yet: absent counts as still creating until the deadline.
            var status = d?.TableStatus?.Value ?? "CREATING";
            if (status == "ACTIVE" && (d!.GlobalSecondaryIndexes ?? []).All(i => i.IndexStatus?.Value is null or "ACTIVE")) return;
            if (status is not ("ACTIVE" or "CREATING" or "UPDATING"))
                throw new ManimCloudException(ErrorKind.Conflict, $"The table {table} went to {status} while provisioning waited for it to be ACTIVE.", StateAdvice(status));
            if (DateTime.UtcNow > deadline)
                throw new ManimCloudException(ErrorKind.Transient, $"The table {table} was still {status} after {waitTimeout.TotalMinutes:0} minutes.",
                    "Index backfills on large tables take long: run provision again later; it picks up where it stopped.");
            await Task.Delay(delay, ct);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
        }
    }
}
