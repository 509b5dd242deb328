using System.Globalization;
using System.Text.Json.Nodes;
using ManimCloud.Aws;
using ManimCloud.Domain;
using ManimCloud.Workspace;

namespace ManimCloud.Operations.Backup;

/// <summary>What `backup create` is asked for beyond the deployment's own names.</summary>
public sealed record BackupRequest
{
    /// <summary>Where the table export and the manifest go (default: the video bucket, under backups/dynamodb/).</summary>
    public string? ExportBucket { get; init; }
    public bool Export { get; init; } = true;
    public TimeSpan ExportWait { get; init; } = TimeSpan.FromMinutes(30);
    public string? ReplicateVideosTo { get; init; }
    public string? ReplicateCodeTo { get; init; }
    public string? ReplicationRole { get; init; }
}

/// <summary>What `backup restore` is asked for.</summary>
public sealed record RestoreRequest
{
    /// <summary>A backup ARN or name; null: the newest available backup of the table.</summary>
    public string? Backup { get; init; }
    /// <summary>The new table (default TABLE-restored-TIME); a restore never writes into an existing table.</summary>
    public string? Target { get; init; }
    /// <summary>auto (the export taken with the backup, else the live source table), export, source, or none.</summary>
    public string VerifyAgainst { get; init; } = "auto";
    public int Sample { get; init; } = 25;
    public TimeSpan Wait { get; init; } = TimeSpan.FromHours(2);
    /// <summary>Only verify a table restored earlier (--to names it).</summary>
    public bool VerifyOnly { get; init; }
    public string? ExportBucket { get; init; }
}

/// <summary>A backup as `backup list` shows it: DynamoDB's backup, and the export and bucket states from its manifest.</summary>
public sealed record BackupEntry(TableBackup Backup, BackupManifest? Manifest, ExportState? Export)
{
    public JsonObject ToJson() => new()
    {
        ["name"] = Backup.Name,
        ["arn"] = Backup.Arn,
        ["table"] = Backup.Table,
        ["status"] = Backup.Status,
        ["created_at"] = Backup.CreatedAt.ToString("O", CultureInfo.InvariantCulture),
        ["size_bytes"] = Backup.SizeBytes,
        ["item_count"] = Manifest?.ItemCount,
        ["export"] = Export is null ? null : ExportJson(Export),
        ["manifest"] = Manifest is null ? null : $"s3://{Manifest.Bucket}/{Manifest.Key}",
        ["buckets"] = Manifest is null ? null : new JsonArray(Manifest.Buckets.Select(b => (JsonNode)new JsonObject
        {
            ["bucket"] = b.Bucket, ["role"] = b.Role, ["versioning"] = b.Versioning,
            ["replicates_to"] = new JsonArray(b.ReplicatesTo.Select(d => (JsonNode)d).ToArray()),
        }).ToArray()),
    };

    public static JsonObject ExportJson(ExportState e) => new()
    {
        ["arn"] = e.Arn, ["status"] = e.Status, ["location"] = $"s3://{e.Bucket}/{e.Prefix}", ["item_count"] = e.ItemCount, ["failure"] = e.Failure,
    };
}

/// <summary>What `backup create` did.</summary>
public sealed record BackupCreated(BackupEntry Entry, string PointInTimeRecovery, IReadOnlyList<string> ReplicationChanged, IReadOnlyList<string> Warnings);

/// <summary>What `backup restore` did.</summary>
public sealed record RestoreOutcome(TableBackup Backup, string Target, bool Restored, RestoreVerification? Verification, IReadOnlyList<string> Notes);

/// <summary>
/// Backup and recovery of a deployment (SPEC §2): an on-demand DynamoDB backup of the metadata table (point-in-time
/// recovery stays on), an export of the table to S3, the buckets' versioning checked and, when asked, replication to a
/// second bucket; a restore goes into a new table and is verified (record counts and a sample of records compared).
/// </summary>
public sealed class BackupService(ManimCloudOptions options, AwsClients aws)
{
    private readonly TableBackups _tables = new(aws.DynamoDB, aws.Retry);
    private readonly TableExport _export = new(aws.DynamoDB, aws.S3, aws.Retry);
    private readonly BucketProtection _buckets = new(aws.S3, aws.Retry);

    private string Table => options.Table ?? throw NotConfigured();
    private string VideoBucket => options.VideoBucket ?? throw NotConfigured();
    private string CodeBucket => options.CodeBucket ?? throw NotConfigured();

    private static ManimCloudException NotConfigured() => new(ErrorKind.InvalidInput, "Backups need the cloud deployment: no bucket or table is configured.",
        "Set MANIMCLOUD_VIDEO_BUCKET, MANIMCLOUD_CODE_BUCKET and MANIMCLOUD_TABLE (or run `manimcloud provision`).");

    public async Task<BackupCreated> CreateAsync(BackupRequest request, CancellationToken ct)
    {
        var table = Table;
        var description = await _tables.DescribeTableAsync(table, ct)
            ?? throw new ManimCloudException(ErrorKind.NotFound, $"Table {table} does not exist: there is nothing to back up.",
                "Check MANIMCLOUD_TABLE; if the table was lost, `manimcloud backup restore` brings it back from an earlier backup.");
        var warnings = new List<string>();
        var pitr = await _tables.PointInTimeRecoveryAsync(table, ct);
        if (pitr != "ENABLED")
        {
            await _tables.EnablePointInTimeRecoveryAsync(table, ct);
            pitr = "ENABLED (it was off: turned on)";
        }

        // Replication first: a refused replica bucket stops the command before anything is made.
        var changed = new List<string>();
        if (request.ReplicateVideosTo is not null || request.ReplicateCodeTo is not null)
        {
            var role = request.ReplicationRole ?? throw new ManimCloudException(ErrorKind.InvalidInput, "Replication needs --replication-role.",
                "Give the ARN of the IAM role S3 replicates as (docs/operations.md says what it needs).");
            if (request.ReplicateVideosTo is { } v && await _buckets.EnsureReplicationAsync(VideoBucket, v, role, options.KmsKey, ct)) changed.Add($"s3://{VideoBucket} → s3://{v}");
            if (request.ReplicateCodeTo is { } c && await _buckets.EnsureReplicationAsync(CodeBucket, c, role, options.KmsKey, ct)) changed.Add($"s3://{CodeBucket} → s3://{c}");
            if (changed.Count > 0) warnings.Add("Replication copies objects written from now on; objects already stored need S3 Batch Replication to be copied.");
        }
        var name = BackupName(table, DateTimeOffset.UtcNow);
        var backup = await _tables.WaitAvailableAsync(await _tables.CreateAsync(table, name, ct), TimeSpan.FromMinutes(30), ct);
        var count = await _tables.CountAsync(table, ct);

        var buckets = new[] { await _buckets.ReadAsync(VideoBucket, "videos", ct), await _buckets.ReadAsync(CodeBucket, "code", ct) };
        foreach (var b in buckets.Where(b => !b.Versioned))
            warnings.Add($"s3://{b.Bucket} is not versioned (versioning {b.Versioning}): an overwritten or deleted object cannot be recovered. `manimcloud provision` turns versioning on.");

        var bucket = request.ExportBucket ?? VideoBucket;
        var prefix = BackupManifest.PrefixFor(table, name);
        ExportState? export = null;
        if (request.Export)
        {
            export = await _export.WaitAsync(await _export.StartAsync(description.TableArn, bucket, prefix, ct), request.ExportWait, ct);
            if (export.Status == "FAILED") warnings.Add($"The export to s3://{bucket}/{prefix} failed ({export.Failure}); the DynamoDB backup itself is fine.");
            else if (export.Status != "COMPLETED") warnings.Add($"The export is still {export.Status}; `manimcloud backup list` shows when it completes.");
        }
        var manifest = new BackupManifest
        {
            Table = table, TableArn = description.TableArn, BackupArn = backup.Arn, BackupName = name, CreatedAt = backup.CreatedAt,
            ItemCount = count, ExportArn = export?.Arn, Bucket = bucket, Prefix = prefix, Buckets = buckets,
        };
        await manifest.WriteAsync(aws.S3, aws.Retry, options.KmsKey, options.RequestEncryption, ct);
        return new BackupCreated(new BackupEntry(backup with { ItemCount = count }, manifest, export), pitr, changed, warnings);
    }

    public async Task<IReadOnlyList<BackupEntry>> ListAsync(string? exportBucket, CancellationToken ct)
    {
        var entries = new List<BackupEntry>();
        foreach (var b in await _tables.ListAsync(Table, ct))
        {
            var manifest = await BackupManifest.ReadAsync(aws.S3, aws.Retry, exportBucket ?? VideoBucket, Table, b.Name, ct);
            ExportState? export = null;
            if (manifest?.ExportArn is { } arn)
            {
                try
                {
                    export = await _export.DescribeAsync(arn, ct);
                }
                catch (ManimCloudException e) when (e.Kind is ErrorKind.NotFound or ErrorKind.ClientError)
                {
                    export = new ExportState(arn, "UNKNOWN", manifest.Bucket, manifest.Prefix, null, e.Message);
                }
            }
            entries.Add(new BackupEntry(b with { ItemCount = manifest?.ItemCount }, manifest, export));
        }
        return entries;
    }

    public async Task<RestoreOutcome> RestoreAsync(RestoreRequest request, CancellationToken ct)
    {
        if (request.VerifyAgainst is not ("auto" or "export" or "source" or "none"))
            throw new ManimCloudException(ErrorKind.InvalidInput, $"--verify-against {request.VerifyAgainst} is not a reference.", "Use auto, export, source or none.");
        if (request.Sample is < 0 or > 10_000)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"--sample {request.Sample} is out of range.", "Sample 0 to 10000 records (default 25).");
        var table = Table;
        var backups = await _tables.ListAsync(table, ct);
        var backup = request.Backup is { } wanted
            ? backups.FirstOrDefault(b => b.Arn == wanted || b.Name == wanted)
                ?? throw new ManimCloudException(ErrorKind.NotFound, $"Table {table} has no backup {wanted}.", "`manimcloud backup list` shows its backups.")
            : backups.FirstOrDefault(b => b.Status == "AVAILABLE")
                ?? throw new ManimCloudException(ErrorKind.NotFound, $"Table {table} has no available backup.", "Make one first: `manimcloud backup create`.");
        if (backup.Status != "AVAILABLE")
            throw new ManimCloudException(ErrorKind.Conflict, $"Backup {backup.Name} is {backup.Status}, not AVAILABLE.", "Wait for it (`manimcloud backup list`), or pick another.");

        var target = request.Target ?? $"{table}-restored-{DateTimeOffset.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}";
        if (!System.Text.RegularExpressions.Regex.IsMatch(target, "^[A-Za-z0-9_.-]{3,255}$"))
            throw new ManimCloudException(ErrorKind.InvalidInput, $"--to {target} is not a DynamoDB table name.", "3–255 characters of A-Z a-z 0-9 _ . -.");
        if (target == table && !request.VerifyOnly)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"A restore goes into a new table, not into {table} itself.",
                "Give --to a new name (or leave it out); then point MANIMCLOUD_TABLE at it.");
        var notes = new List<string>();
        if (request.VerifyOnly)
        {
            if (request.Target is null) throw new ManimCloudException(ErrorKind.InvalidInput, "--verify-only needs --to TABLE (the restored table).", "Name the table restored earlier.");
            await _tables.WaitActiveAsync(target, request.Wait, ct);
        }
        else
        {
            await _tables.RestoreAsync(backup.Arn, target, request.Wait, ct);
            // A restored table does not inherit point-in-time recovery; the restored deployment keeps it on too.
            try
            {
                await _tables.EnablePointInTimeRecoveryAsync(target, ct);
            }
            catch (ManimCloudException e)
            {
                notes.Add($"Point-in-time recovery could not be turned on for {target} yet ({e.Message}); `manimcloud provision` with MANIMCLOUD_TABLE={target} does it.");
            }
        }

        RestoreVerification? verification = null;
        if (request.VerifyAgainst != "none")
        {
            var restored = await _tables.DescribeTableAsync(target, ct) ?? throw new ManimCloudException(ErrorKind.NotFound, $"Table {target} is not there.", "Run the restore again.");
            var keys = restored.KeySchema.OrderBy(k => k.KeyType == Amazon.DynamoDBv2.KeyType.HASH ? 0 : 1).Select(k => k.AttributeName).ToList();
            var (name, reference) = await ReferenceAsync(request, table, backup, ct);
            verification = await RestoreVerification.RunAsync(name, reference, keys,
                (key, t) => _tables.GetAsync(target, key, t), t => _tables.CountAsync(target, t), request.Sample, ct);
        }
        notes.Add($"To use it: set MANIMCLOUD_TABLE={target} (or \"table\" in {options.ConfigPath}), then run `manimcloud provision` to put back the table's other settings "
            + "(a restored table does not carry over the source's tags, TTL, deletion protection or auto scaling).");
        return new RestoreOutcome(backup, target, !request.VerifyOnly, verification, notes);
    }

    /// <summary>What the restored table is compared with, as typed items.</summary>
    private async Task<(string Name, IAsyncEnumerable<JsonObject> Items)> ReferenceAsync(RestoreRequest request, string table, TableBackup backup, CancellationToken ct)
    {
        var manifest = await BackupManifest.ReadAsync(aws.S3, aws.Retry, request.ExportBucket ?? VideoBucket, table, backup.Name, ct);
        ExportState? export = manifest?.ExportArn is { } arn ? await _export.DescribeAsync(arn, ct) : null;
        var exportReady = export?.Status == "COMPLETED";
        if (request.VerifyAgainst == "export" || (request.VerifyAgainst == "auto" && exportReady))
        {
            if (!exportReady)
                throw new ManimCloudException(ErrorKind.NotFound, $"Backup {backup.Name} has no completed export to verify against ({export?.Status ?? "no export"}).",
                    "Use --verify-against source (when the source table still exists), or none.");
            return ($"the export s3://{export!.Bucket}/{export.Prefix} (taken with the backup)", _export.ReadItemsAsync(export.Bucket, export.Prefix, ct));
        }
        if (await _tables.DescribeTableAsync(table, ct) is null)
            throw new ManimCloudException(ErrorKind.NotFound, $"There is nothing to verify {backup.Name} against: the backup has no completed export and table {table} is gone.",
                "Run the restore with --verify-against none, and check the restored table by hand (`aws dynamodb scan --select COUNT`).");
        return ($"the live table {table} (changes made since the backup show as differences)",
            _tables.ScanAsync(table, ct).Select(item => DynamoJson.Typed(item)));
    }

    public static string BackupName(string table, DateTimeOffset at)
    {
        var stamp = at.ToString("yyyyMMdd-HHmmss-fff", CultureInfo.InvariantCulture);
        var head = table.Length > 200 ? table[..200] : table;
        return $"{head}-{stamp}";
    }
}
