using System.Globalization;
using System.Text.RegularExpressions;
using Amazon.S3.Model;
using ManimCloud.Aws;
using ManimCloud.Domain;
using ManimCloud.Operations.CloudWatch;

namespace ManimCloud.Operations;

/// <summary>
/// Gathers a deployment's <see cref="DeploymentUsage"/> (SPEC R9, `cost report`): every object version of both buckets
/// (ListObjectVersions) and every incomplete upload with its parts (ListMultipartUploads, ListParts); S3 request and
/// transfer metrics (AWS/S3, filter EntireBucket: S3 publishes them only where a request-metrics configuration of that
/// id exists), CloudFront's (AWS/CloudFront, us-east-1, Region=Global) and DynamoDB's consumed units (AWS/DynamoDB);
/// MediaConvert output minutes from the rendition sets of the videos the listing names; optionally playback requests
/// per video from S3 server access logs. A source that cannot be read is a note in the report, not a failure.
/// </summary>
public sealed partial class UsageSurvey(ManimCloudClient client)
{
    public async Task<DeploymentUsage> GatherAsync(DateTimeOffset start, DateTimeOffset end, string? accessLogs, CancellationToken ct)
    {
        var options = client.Options;
        var aws = client.Aws ?? throw new ManimCloudException(ErrorKind.InvalidInput, "`cost report` needs the cloud: no buckets and table are configured.",
            "Set MANIMCLOUD_VIDEO_BUCKET, MANIMCLOUD_CODE_BUCKET and MANIMCLOUD_TABLE (or run `manimcloud provision`); `cost estimate` works without them.");
        var notes = new List<string>();
        var versions = new List<StoredVersion>();
        var uploads = new List<IncompleteUpload>();
        var lifecycle = new Dictionary<string, int>();
        foreach (var bucket in new[] { options.VideoBucket!, options.CodeBucket! })
        {
            versions.AddRange(await VersionsAsync(aws, bucket, ct));
            uploads.AddRange(await UploadsAsync(aws, bucket, ct));
            try
            {
                var rules = await AwsCall.RunAsync(aws.Retry, "Reading the lifecycle of", $"bucket {bucket}",
                    t => aws.S3.GetLifecycleConfigurationAsync(new GetLifecycleConfigurationRequest { BucketName = bucket }, t), ct);
                var days = rules.Configuration?.Rules?.Where(r => r.Status == Amazon.S3.LifecycleRuleStatus.Enabled)
                    .Select(r => r.NoncurrentVersionExpiration?.NoncurrentDays).Where(d => d is > 0).Min();
                if (days is { } d) lifecycle[bucket] = d;
            }
            catch (ManimCloudException e) when (e.Kind is ErrorKind.NotFound or ErrorKind.ClientError) { }
        }

        var cw = CloudWatchClient.Create(aws);
        async Task<double?> Sum(CloudWatchClient c, string ns, string metric, params MetricDimension[] dims)
        {
            try
            {
                var points = await c.GetMetricStatisticsAsync(new MetricQuery(ns, metric, dims, start, end, 86_400) { Statistics = ["Sum"] }, ct);
                return points.Count == 0 ? null : points.Sum(p => p.Sum ?? 0);
            }
            catch (ManimCloudException e) when (!ct.IsCancellationRequested)
            {
                notes.Add($"{ns} {metric} could not be read ({e.Kind}): {e.Message}");
                return null;
            }
        }
        double? Add(double? a, double? b) => a is null && b is null ? null : (a ?? 0) + (b ?? 0);
        double? gets = null, puts = null, down = null;
        foreach (var bucket in new[] { options.VideoBucket!, options.CodeBucket! })
        {
            MetricDimension[] dims = [new("BucketName", bucket), new("FilterId", "EntireBucket")];
            gets = Add(gets, await Sum(cw, "AWS/S3", "GetRequests", dims));
            puts = Add(puts, await Sum(cw, "AWS/S3", "PutRequests", dims));
            down = Add(down, await Sum(cw, "AWS/S3", "BytesDownloaded", dims));
        }
        if (gets is null && puts is null)
            notes.Add("AWS/S3 request metrics had no datapoints: S3 publishes them only for buckets with a request-metrics configuration named EntireBucket.");
        double? cfBytes = null, cfRequests = null;
        if (options.Delivery.DistributionId is { } distribution)
        {
            var cf = CloudWatchClient.CreateForCloudFront(aws);
            MetricDimension[] dims = [new("DistributionId", distribution), new("Region", "Global")];
            cfBytes = await Sum(cf, "AWS/CloudFront", "BytesDownloaded", dims);
            cfRequests = await Sum(cf, "AWS/CloudFront", "Requests", dims);
        }
        else notes.Add("No CloudFront distribution is configured (MANIMCLOUD_DISTRIBUTION_ID): no CDN figures.");
        var table = options.Table!;
        var reads = await Sum(cw, "AWS/DynamoDB", "ConsumedReadCapacityUnits", new MetricDimension("TableName", table));
        var writes = await Sum(cw, "AWS/DynamoDB", "ConsumedWriteCapacityUnits", new MetricDimension("TableName", table));
        long? tableBytes = null;
        try
        {
            var described = await AwsCall.RunAsync(aws.Retry, "Describing", $"table {table}",
                t => aws.DynamoDB.DescribeTableAsync(new Amazon.DynamoDBv2.Model.DescribeTableRequest { TableName = table }, t), ct);
            tableBytes = described.Table.TableSizeBytes;
        }
        catch (ManimCloudException e) { notes.Add($"DynamoDB table {table} could not be described ({e.Kind})."); }

        return new DeploymentUsage
        {
            Start = start, End = end, VideoBucket = options.VideoBucket!, CodeBucket = options.CodeBucket!,
            Versions = versions, Uploads = uploads, NoncurrentExpirationDays = lifecycle,
            S3GetRequests = gets, S3PutRequests = puts, S3BytesDownloaded = down, CloudFrontBytesDownloaded = cfBytes, CloudFrontRequests = cfRequests,
            DynamoReadUnits = reads, DynamoWriteUnits = writes, TableSizeBytes = tableBytes,
            MediaConvertMinutes = await MediaConvertMinutesAsync(versions, start, end, notes, ct),
            ViewsByVideoFolder = accessLogs is null ? null : await ViewsAsync(aws, accessLogs, versions, start, end, ct),
            Notes = notes,
        };
    }

    private static async Task<List<StoredVersion>> VersionsAsync(AwsClients aws, string bucket, CancellationToken ct)
    {
        var raw = new List<S3ObjectVersion>();
        string? keyMarker = null, versionMarker = null;
        while (true)
        {
            var page = await AwsCall.RunAsync(aws.Retry, "Listing object versions of", $"bucket {bucket}", t => aws.S3.ListVersionsAsync(new ListVersionsRequest
            {
                BucketName = bucket, KeyMarker = keyMarker, VersionIdMarker = versionMarker,
            }, t), ct);
            raw.AddRange(page.Versions ?? []);
            if (page.IsTruncated != true) break;
            (keyMarker, versionMarker) = (page.NextKeyMarker, page.NextVersionIdMarker);
        }
        var list = new List<StoredVersion>();
        foreach (var key in raw.GroupBy(v => v.Key))
        {
            // Newest first: each version became non-current when the one before it in this order was written.
            DateTimeOffset? newer = null;
            foreach (var v in key.OrderByDescending(v => v.LastModified ?? DateTime.MinValue))
            {
                var modified = new DateTimeOffset(DateTime.SpecifyKind(v.LastModified ?? DateTime.UtcNow, DateTimeKind.Utc));
                if (!v.IsDeleteMarker.GetValueOrDefault())
                    list.Add(new StoredVersion(bucket, v.Key, v.Size ?? 0, v.StorageClass?.Value ?? "STANDARD", modified, v.IsLatest == true ? null : newer ?? modified));
                newer = modified;
            }
        }
        return list;
    }

    private static async Task<List<IncompleteUpload>> UploadsAsync(AwsClients aws, string bucket, CancellationToken ct)
    {
        var list = new List<IncompleteUpload>();
        string? keyMarker = null, idMarker = null;
        while (true)
        {
            var page = await AwsCall.RunAsync(aws.Retry, "Listing incomplete uploads of", $"bucket {bucket}", t => aws.S3.ListMultipartUploadsAsync(new ListMultipartUploadsRequest
            {
                BucketName = bucket, KeyMarker = keyMarker, UploadIdMarker = idMarker,
            }, t), ct);
            foreach (var u in page.MultipartUploads ?? [])
            {
                long bytes = 0;
                int? partMarker = null;
                while (true)
                {
                    var parts = await AwsCall.RunAsync(aws.Retry, "Listing the parts of", $"upload {u.Key} in {bucket}", t => aws.S3.ListPartsAsync(new ListPartsRequest
                    {
                        BucketName = bucket, Key = u.Key, UploadId = u.UploadId, PartNumberMarker = partMarker?.ToString(CultureInfo.InvariantCulture),
                    }, t), ct);
                    bytes += (parts.Parts ?? []).Sum(p => p.Size ?? 0);
                    if (parts.IsTruncated != true) break;
                    partMarker = parts.NextPartNumberMarker;
                }
                list.Add(new IncompleteUpload(bucket, u.Key, new DateTimeOffset(DateTime.SpecifyKind(u.Initiated ?? DateTime.UtcNow, DateTimeKind.Utc)), bytes));
            }
            if (page.IsTruncated != true) break;
            (keyMarker, idMarker) = (page.NextKeyMarker, page.NextUploadIdMarker);
        }
        return list;
    }

    [GeneratedRegex(@"^(?:videos|transcoded)/([^/]+)/([0-9a-fA-F-]{36})/")]
    private static partial Regex VideoKey();

    /// <summary>
    /// Output minutes MediaConvert billed in the window: per rendition set it finished in the window, the scenes it
    /// encoded for that version (not the reused ones) x each rung (at the rung's tier; twice above 30 fps) and the audio.
    /// </summary>
    private async Task<Dictionary<string, decimal>> MediaConvertMinutesAsync(List<StoredVersion> versions, DateTimeOffset start, DateTimeOffset end,
        List<string> notes, CancellationToken ct)
    {
        var minutes = new Dictionary<string, decimal>(StringComparer.Ordinal);
        var ids = versions.Select(v => VideoKey().Match(v.Key)).Where(m => m.Success).Select(m => m.Groups[2].Value).Distinct().ToList();
        foreach (var id in ids)
        {
            VideoRecord record;
            try { record = await client.GetVideoAsync(VideoId.Parse(id), ct); }
            catch (ManimCloudException e) when (e.Kind is ErrorKind.NotFound or ErrorKind.InvalidInput)
            {
                notes.Add($"objects of video {id} have no record: their MediaConvert minutes are not counted.");
                continue;
            }
            foreach (var set in record.Renditions.Values.Where(s => s.Engine == "mediaconvert" && s.FinishedAt >= start && s.FinishedAt <= end))
            {
                var seconds = (decimal)set.Scenes.Where(s => s.EncodedInVersion == set.Version).Sum(s => s.DurationSeconds);
                foreach (var rung in set.Rungs)
                {
                    var key = $"mediaconvert.basic.{(rung.Height < 720 ? "sd" : rung.Height <= 1080 ? "hd" : "uhd")}.per_output_minute";
                    minutes[key] = minutes.GetValueOrDefault(key) + seconds / 60m * (rung.FrameRate > 30.5 ? 2 : 1);
                }
                if (set.Audio is not null) minutes["mediaconvert.audio.per_output_minute"] = minutes.GetValueOrDefault("mediaconvert.audio.per_output_minute") + seconds / 60m;
            }
        }
        return minutes;
    }

    // S3 server access log line: owner bucket [time] ip requester request-id operation key "request-uri" status …
    [GeneratedRegex(@"^\S+ \S+ \[([^\]]+)\] \S+ \S+ \S+ (\S+) (\S+) ")]
    private static partial Regex AccessLogLine();

    /// <summary>GET requests per video folder (transcoded/{project}/{video}/) in the window, from S3 server access logs at BUCKET[/PREFIX].</summary>
    private static async Task<Dictionary<string, int>> ViewsAsync(AwsClients aws, string location, List<StoredVersion> versions, DateTimeOffset start, DateTimeOffset end, CancellationToken ct)
    {
        var slash = location.IndexOf('/');
        var (bucket, prefix) = slash < 0 ? (location, "") : (location[..slash], location[(slash + 1)..]);
        var views = versions.Select(v => CostReport.VideoFolder(v.Key)).OfType<string>().Distinct().ToDictionary(f => f, _ => 0, StringComparer.Ordinal);
        string? token = null;
        do
        {
            var page = await AwsCall.RunAsync(aws.Retry, "Listing access logs in", $"bucket {bucket}", t => aws.S3.ListObjectsV2Async(new ListObjectsV2Request
            {
                BucketName = bucket, Prefix = prefix, ContinuationToken = token,
            }, t), ct);
            foreach (var o in page.S3Objects ?? [])
            {
                using var got = await AwsCall.RunAsync(aws.Retry, "Reading access log", $"{bucket}/{o.Key}", t => aws.S3.GetObjectAsync(bucket, o.Key, t), ct);
                using var reader = new StreamReader(got.ResponseStream);
                while (await reader.ReadLineAsync(ct) is { } line)
                {
                    var m = AccessLogLine().Match(line);
                    if (!m.Success || m.Groups[2].Value != "REST.GET.OBJECT") continue;
                    if (!DateTimeOffset.TryParseExact(m.Groups[1].Value, "dd/MMM/yyyy:HH:mm:ss zzz", CultureInfo.InvariantCulture, DateTimeStyles.None, out var at)
                        || at < start || at > end) continue;
                    if (CostReport.VideoFolder(Uri.UnescapeDataString(m.Groups[3].Value)) is { } folder) views[folder] = views.GetValueOrDefault(folder) + 1;
                }
            }
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        } while (token is not null);
        return views;
    }
}
