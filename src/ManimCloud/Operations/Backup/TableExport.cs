using System.IO.Compression;
using System.Text.Json.Nodes;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Amazon.S3;
using Amazon.S3.Model;
using ManimCloud.Aws;
using ManimCloud.Domain;
using ManimCloud.Resilience;

namespace ManimCloud.Operations.Backup;

/// <summary>An export of the table to S3, as DynamoDB describes it.</summary>
public sealed record ExportState(string Arn, string Status, string Bucket, string Prefix, long? ItemCount, string? Failure);

/// <summary>
/// An export of the table to S3 (ExportTableToPointInTime, DynamoDB JSON): a second, independent copy of the metadata
/// that lives in S3 beside the objects, readable without DynamoDB, and what a restore is verified against once the
/// source table is gone. AWS needs point-in-time recovery on the table for it (a backup turns it on).
/// </summary>
public sealed class TableExport(IAmazonDynamoDB dynamo, IAmazonS3 s3, RetryPipeline retry)
{
    public async Task<ExportState> StartAsync(string tableArn, string bucket, string prefix, CancellationToken ct)
    {
        var d = (await AwsCall.RunAsync(retry, "Exporting", $"{tableArn} to s3://{bucket}/{prefix}", t => dynamo.ExportTableToPointInTimeAsync(
            new ExportTableToPointInTimeRequest
            {
                TableArn = tableArn, S3Bucket = bucket, S3Prefix = prefix, ExportFormat = ExportFormat.DYNAMODB_JSON,
                // Unique per call, so a retried request does not start a second export.
                ClientToken = Guid.NewGuid().ToString("N"),
            }, t), ct)).ExportDescription;
        return From(d);
    }

    public async Task<ExportState> DescribeAsync(string exportArn, CancellationToken ct) =>
        From((await AwsCall.RunAsync(retry, "Reading", $"export {exportArn}", t => dynamo.DescribeExportAsync(new DescribeExportRequest { ExportArn = exportArn }, t), ct)).ExportDescription);

    /// <summary>Waits for the export to end (COMPLETED or FAILED); still IN_PROGRESS at the timeout is returned as such.</summary>
    public async Task<ExportState> WaitAsync(ExportState export, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (export.Status == "IN_PROGRESS" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(TimeSpan.FromSeconds(1), ct);
            export = await DescribeAsync(export.Arn, ct);
        }
        return export;
    }

    /// <summary>
    /// The exported items (each the typed object under "Item" of a line), read from the export's gzipped data files
    /// under <c>{prefix}/AWSDynamoDB/…/data/</c>.
    /// </summary>
    public async IAsyncEnumerable<JsonObject> ReadItemsAsync(string bucket, string prefix, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        var keys = new List<string>();
        string? token = null;
        do
        {
            var page = await AwsCall.RunAsync(retry, "Listing the export files in", $"s3://{bucket}/{prefix}", t => s3.ListObjectsV2Async(new ListObjectsV2Request
            {
                BucketName = bucket, Prefix = prefix.TrimEnd('/') + "/AWSDynamoDB/", ContinuationToken = token,
            }, t), ct);
            keys.AddRange((page.S3Objects ?? []).Select(o => o.Key).Where(k => k.Contains("/data/", StringComparison.Ordinal) && k.EndsWith(".gz", StringComparison.Ordinal)));
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        } while (token is not null);
        if (keys.Count == 0)
            throw new ManimCloudException(ErrorKind.NotFound, $"The export under s3://{bucket}/{prefix} has no data files.",
                "The export may not have completed (`manimcloud backup list`), or its files were removed; verify against the source table instead (--verify-against source).");
        foreach (var key in keys.Order(StringComparer.Ordinal))
        {
            using var response = await AwsCall.RunAsync(retry, "Reading the export file", $"s3://{bucket}/{key}",
                t => s3.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = key }, t), ct);
            await using var gzip = new GZipStream(response.ResponseStream, CompressionMode.Decompress);
            using var reader = new StreamReader(gzip);
            while (await reader.ReadLineAsync(ct) is { } line)
            {
                if (line.Length == 0) continue;
                var item = JsonNode.Parse(line)?["Item"] as JsonObject
                    ?? throw new InvalidDataException($"A line of s3://{bucket}/{key} is not an exported item: {line[..Math.Min(line.Length, 80)]}");
                yield return item;
            }
        }
    }

    private static ExportState From(ExportDescription d) => new(d.ExportArn, d.ExportStatus?.Value ?? "", d.S3Bucket, d.S3Prefix, d.ItemCount,
        d.FailureCode is { Length: > 0 } code ? $"{code}: {d.FailureMessage}" : null);
}
