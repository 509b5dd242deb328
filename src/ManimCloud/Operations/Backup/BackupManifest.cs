using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Amazon.S3;
using Amazon.S3.Model;
using ManimCloud.Aws;
using ManimCloud.Domain;
using ManimCloud.Resilience;

namespace ManimCloud.Operations.Backup;

/// <summary>
/// What one `backup create` made, written as JSON beside the table export
/// (<c>s3://{bucket}/backups/dynamodb/{table}/{backup}/manimcloud-backup.json</c>), so `backup list` and `backup restore`
/// find the export that belongs to a backup, and an operator can see from S3 alone what a backup holds.
/// </summary>
public sealed record BackupManifest
{
    public const string KeyPrefix = "backups/dynamodb/";
    public const string FileName = "manimcloud-backup.json";

    public required string Table { get; init; }
    public required string TableArn { get; init; }
    public required string BackupArn { get; init; }
    public required string BackupName { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    /// <summary>Items counted in the table (a scan) right after the backup was taken.</summary>
    public long? ItemCount { get; init; }
    public string? ExportArn { get; init; }
    public required string Bucket { get; init; }
    public required string Prefix { get; init; }
    public IReadOnlyList<BucketState> Buckets { get; init; } = [];

    /// <summary>The folder of one backup's export and manifest.</summary>
    public static string PrefixFor(string table, string backupName) => $"{KeyPrefix}{table}/{backupName}";

    public string Key => $"{Prefix}/{FileName}";

    public JsonObject ToJson() => new()
    {
        ["format"] = 1,
        ["table"] = Table,
        ["table_arn"] = TableArn,
        ["backup_arn"] = BackupArn,
        ["backup_name"] = BackupName,
        ["created_at"] = CreatedAt.ToString("O", CultureInfo.InvariantCulture),
        ["item_count"] = ItemCount,
        ["export_arn"] = ExportArn,
        ["bucket"] = Bucket,
        ["prefix"] = Prefix,
        ["buckets"] = new JsonArray(Buckets.Select(b => (JsonNode)new JsonObject
        {
            ["bucket"] = b.Bucket, ["role"] = b.Role, ["versioning"] = b.Versioning,
            ["replicates_to"] = new JsonArray(b.ReplicatesTo.Select(d => (JsonNode)d).ToArray()),
        }).ToArray()),
    };

    public static BackupManifest FromJson(JsonNode j) => new()
    {
        Table = (string)j["table"]!,
        TableArn = (string?)j["table_arn"] ?? "",
        BackupArn = (string)j["backup_arn"]!,
        BackupName = (string)j["backup_name"]!,
        CreatedAt = DateTimeOffset.Parse((string)j["created_at"]!, CultureInfo.InvariantCulture),
        ItemCount = (long?)j["item_count"],
        ExportArn = (string?)j["export_arn"],
        Bucket = (string)j["bucket"]!,
        Prefix = (string)j["prefix"]!,
        Buckets = (j["buckets"]?.AsArray() ?? []).Where(b => b is not null).Select(b => new BucketState((string)b!["bucket"]!, (string?)b["role"] ?? "",
            (string?)b["versioning"] ?? "", (b["replicates_to"]?.AsArray() ?? []).Select(d => (string)d!).ToList())).ToList(),
    };

    public Task WriteAsync(IAmazonS3 s3, RetryPipeline retry, string? kmsKey, bool requestEncryption, CancellationToken ct) =>
        AwsCall.RunAsync(retry, "Writing the backup manifest", $"s3://{Bucket}/{Key}", t => s3.PutObjectAsync(new PutObjectRequest
        {
            BucketName = Bucket, Key = Key, ContentBody = ToJson().ToJsonString(), ContentType = "application/json",
            ServerSideEncryptionMethod = !requestEncryption ? null : kmsKey is null ? ServerSideEncryptionMethod.AES256 : ServerSideEncryptionMethod.AWSKMS,
            ServerSideEncryptionKeyManagementServiceKeyId = requestEncryption ? kmsKey : null,
        }, t), ct);

    /// <summary>The manifest of this backup, or null when there is none (a backup made by hand, or without an export bucket).</summary>
    public static async Task<BackupManifest?> ReadAsync(IAmazonS3 s3, RetryPipeline retry, string bucket, string table, string backupName, CancellationToken ct)
    {
        var key = $"{PrefixFor(table, backupName)}/{FileName}";
        try
        {
            using var response = await AwsCall.RunAsync(retry, "Reading the backup manifest", $"s3://{bucket}/{key}",
                t => s3.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = key }, t), ct);
            using var reader = new StreamReader(response.ResponseStream, Encoding.UTF8);
            return FromJson(JsonNode.Parse(await reader.ReadToEndAsync(ct))!);
        }
        catch (ManimCloudException e) when (e.Kind == ErrorKind.NotFound)
        {
            return null;
        }
    }
}
