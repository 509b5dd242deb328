using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using ManimCloud.Aws;
using ManimCloud.Domain;
using ManimCloud.Resilience;

namespace ManimCloud.Operations.Backup;

/// <summary>One on-demand backup of a table, as DynamoDB lists it.</summary>
public sealed record TableBackup(string Arn, string Name, string Table, string Status, DateTimeOffset CreatedAt, long? SizeBytes, long? ItemCount = null);

/// <summary>
/// DynamoDB on-demand backups of the metadata table (CreateBackup, ListBackups, DescribeBackup,
/// RestoreTableFromBackup) and its point-in-time recovery, which every backup leaves on (and turns on when it is off).
/// On-demand backups outlive the table: a deleted table is restored from them.
/// </summary>
public sealed class TableBackups(IAmazonDynamoDB dynamo, RetryPipeline retry)
{
    public async Task<TableBackup> CreateAsync(string table, string name, CancellationToken ct)
    {
        var details = (await Call("Backing up", $"table {table}", t => dynamo.CreateBackupAsync(new CreateBackupRequest { TableName = table, BackupName = name }, t), ct)).BackupDetails;
        return new TableBackup(details.BackupArn, details.BackupName, table, details.BackupStatus?.Value ?? "CREATING",
            details.BackupCreationDateTime is { } c ? new DateTimeOffset(c.ToUniversalTime()) : DateTimeOffset.UtcNow, details.BackupSizeBytes);
    }

    /// <summary>The table's on-demand backups (also those of a table that has since been deleted), newest first.</summary>
    public async Task<IReadOnlyList<TableBackup>> ListAsync(string table, CancellationToken ct)
    {
        var list = new List<TableBackup>();
        string? start = null;
        do
        {
            var page = await Call("Listing the backups of", $"table {table}", t => dynamo.ListBackupsAsync(new ListBackupsRequest
            {
                TableName = table, ExclusiveStartBackupArn = start, BackupType = BackupTypeFilter.ALL,
            }, t), ct);
            foreach (var s in page.BackupSummaries ?? [])
                list.Add(new TableBackup(s.BackupArn, s.BackupName, s.TableName, s.BackupStatus?.Value ?? "",
                    s.BackupCreationDateTime is { } c ? new DateTimeOffset(c.ToUniversalTime()) : DateTimeOffset.MinValue, s.BackupSizeBytes));
            start = page.LastEvaluatedBackupArn is { Length: > 0 } next ? next : null;
        } while (start is not null);
        return list.OrderByDescending(b => b.CreatedAt).ToList();
    }

    /// <summary>The backup with its source table's item count at backup time (approximate on AWS: DynamoDB refreshes it about every six hours).</summary>
    public async Task<TableBackup> DescribeAsync(string arn, CancellationToken ct)
    {
        var d = (await Call("Reading", $"backup {arn}", t => dynamo.DescribeBackupAsync(new DescribeBackupRequest { BackupArn = arn }, t), ct)).BackupDescription;
        var b = d.BackupDetails;
        return new TableBackup(b.BackupArn, b.BackupName, d.SourceTableDetails?.TableName ?? "", b.BackupStatus?.Value ?? "",
            b.BackupCreationDateTime is { } c ? new DateTimeOffset(c.ToUniversalTime()) : DateTimeOffset.MinValue, b.BackupSizeBytes,
            d.SourceTableDetails?.ItemCount);
    }

    /// <summary>Waits until the backup is AVAILABLE (on AWS it usually is within seconds).</summary>
    public async Task<TableBackup> WaitAvailableAsync(TableBackup backup, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var now = await DescribeAsync(backup.Arn, ct);
            if (now.Status == "AVAILABLE") return now;
            if (now.Status == "DELETED")
                throw new ManimCloudException(ErrorKind.NotFound, $"Backup {backup.Name} was deleted while it was being made.", "Run `manimcloud backup create` again.");
            if (DateTime.UtcNow > deadline)
                throw new ManimCloudException(ErrorKind.Transient, $"Backup {backup.Name} is still {now.Status} after {timeout.TotalMinutes:0} min.",
                    "It goes on in DynamoDB: `manimcloud backup list` shows when it is AVAILABLE.");
            await Task.Delay(TimeSpan.FromSeconds(2), ct);
        }
    }

    /// <summary>Restores the backup into a new table and waits until that table is ACTIVE.</summary>
    public async Task<TableDescription> RestoreAsync(string backupArn, string target, TimeSpan timeout, CancellationToken ct)
    {
        try
        {
            await Call("Restoring a backup into", $"table {target}", t => dynamo.RestoreTableFromBackupAsync(new RestoreTableFromBackupRequest
            {
                BackupArn = backupArn, TargetTableName = target,
            }, t), ct);
        }
        catch (ManimCloudException e) when ((e.InnerException as Amazon.Runtime.AmazonServiceException)?.ErrorCode is "TableAlreadyExistsException" or "ResourceInUseException")
        {
            throw new ManimCloudException(ErrorKind.Conflict, $"Table {target} already exists; a restore only ever creates a new table.",
                "Give --to a name that is not taken (the default, TABLE-restored-TIME, always is new).", e);
        }
        return await WaitActiveAsync(target, timeout, ct);
    }

    public async Task<TableDescription> WaitActiveAsync(string table, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var d = await DescribeTableAsync(table, ct)
                ?? throw new ManimCloudException(ErrorKind.NotFound, $"Table {table} disappeared while it was being restored.", "Run the restore again.");
            if (d.TableStatus == TableStatus.ACTIVE) return d;
            if (DateTime.UtcNow > deadline)
                throw new ManimCloudException(ErrorKind.Transient, $"Table {table} is still {d.TableStatus} after {timeout.TotalMinutes:0} min.",
                    "A large restore takes hours; it goes on in DynamoDB. Run `manimcloud backup restore --backup ARN --to " + table + " --verify-only` when it is ACTIVE.");
            await Task.Delay(TimeSpan.FromSeconds(2), ct);
        }
    }

    /// <summary>The table, or null when there is no such table.</summary>
    public async Task<TableDescription?> DescribeTableAsync(string table, CancellationToken ct)
    {
        try
        {
            return (await Call("Reading", $"table {table}", t => dynamo.DescribeTableAsync(new DescribeTableRequest { TableName = table }, t), ct)).Table;
        }
        catch (ManimCloudException e) when (e.Kind == ErrorKind.NotFound)
        {
            return null;
        }
    }

    /// <summary>Point-in-time recovery: ENABLED or DISABLED.</summary>
    public async Task<string> PointInTimeRecoveryAsync(string table, CancellationToken ct) =>
        (await Call("Reading point-in-time recovery of", $"table {table}", t => dynamo.DescribeContinuousBackupsAsync(
            new DescribeContinuousBackupsRequest { TableName = table }, t), ct))
        .ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus?.Value ?? "DISABLED";

    public Task EnablePointInTimeRecoveryAsync(string table, CancellationToken ct) =>
        Call("Enabling point-in-time recovery on", $"table {table}", t => dynamo.UpdateContinuousBackupsAsync(new UpdateContinuousBackupsRequest
        {
            TableName = table, PointInTimeRecoverySpecification = new PointInTimeRecoverySpecification { PointInTimeRecoveryEnabled = true },
        }, t), ct);

    /// <summary>How many items the table holds, counted by a full scan (exact, unlike DescribeTable's six-hourly ItemCount).</summary>
    public async Task<long> CountAsync(string table, CancellationToken ct)
    {
        long count = 0;
        Dictionary<string, AttributeValue>? start = null;
        do
        {
            var page = await Call("Counting the items of", $"table {table}", t => dynamo.ScanAsync(new ScanRequest
            {
                TableName = table, Select = Select.COUNT, ExclusiveStartKey = start, ConsistentRead = true,
            }, t), ct);
            count += page.Count ?? 0;
            start = page.LastEvaluatedKey is { Count: > 0 } k ? k : null;
        } while (start is not null);
        return count;
    }

    /// <summary>Every item of the table, page by page.</summary>
    public async IAsyncEnumerable<Dictionary<string, AttributeValue>> ScanAsync(string table, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        Dictionary<string, AttributeValue>? start = null;
        do
        {
            var page = await Call("Reading the items of", $"table {table}", t => dynamo.ScanAsync(new ScanRequest
            {
                TableName = table, ExclusiveStartKey = start, ConsistentRead = true,
            }, t), ct);
            foreach (var item in page.Items ?? []) yield return item;
            start = page.LastEvaluatedKey is { Count: > 0 } k ? k : null;
        } while (start is not null);
    }

    public async Task<Dictionary<string, AttributeValue>?> GetAsync(string table, Dictionary<string, AttributeValue> key, CancellationToken ct)
    {
        var r = await Call("Reading an item of", $"table {table}", t => dynamo.GetItemAsync(new GetItemRequest { TableName = table, Key = key, ConsistentRead = true }, t), ct);
        return r.Item is { Count: > 0 } item ? item : null;
    }

    private Task<T> Call<T>(string action, string resource, Func<CancellationToken, Task<T>> call, CancellationToken ct) =>
        AwsCall.RunAsync(retry, action, resource, call, ct);
}
