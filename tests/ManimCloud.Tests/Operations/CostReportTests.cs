using Amazon.S3.Model;
using ManimCloud.Domain;
using ManimCloud.Operations;
using ManimCloud.Operations.CloudWatch;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Operations;

/// <summary>
/// SPEC R9 `cost report` on moto: objects, versions, an incomplete upload and metrics seeded with known sizes and sums;
/// every figure is checked against the arithmetic done by hand here (price table: the built-in us-east-1 one).
/// </summary>
public sealed class CostReportTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    private static async Task PutAsync(Amazon.S3.IAmazonS3 s3, string bucket, string key, int bytes) =>
        await s3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = key, InputStream = new MemoryStream(new byte[bytes]) }, Ct);

    [Fact]
    public async Task Storage_by_kind_requests_transfer_MediaConvert_minutes_and_suggestions_are_priced_from_the_deployments_own_numbers()
    {
        var cloud = await TestCloud.CreateAsync();
        using var home = new TempDir();
        using var client = ManimCloudClient.Open(cloud.Options(home.Path) with
        {
            Delivery = new ManimCloud.Delivery.DeliveryOptions { DistributionId = "E2COSTREPORT" },
        });
        var aws = client.Aws!;
        var project = ProjectId.Parse("cost-report");
        var video = (await client.CreateVideoAsync(project, "priced", null, null, Ct)).Value;
        var v = $"{project}/{video.Id}";

        await PutAsync(aws.S3, cloud.VideoBucket, $"videos/{v}/v2/scene_001.mp4", 1_000_000);
        await PutAsync(aws.S3, cloud.VideoBucket, $"videos/{v}/v2/scene_001.mp4", 1_000_000); // the first becomes non-current
        await PutAsync(aws.S3, cloud.VideoBucket, $"videos/{v}/v2/full.mp4", 2_000_000);
        await PutAsync(aws.S3, cloud.VideoBucket, $"transcoded/{v}/v2/cmaf/abc-fp/1080p/seg_00001.m4s", 3_000_000);
        await PutAsync(aws.S3, cloud.VideoBucket, $"transcoded/{v}/v2/cmaf/abc-fp/720p/seg_00001.m4s", 1_500_000);
        var upload = await aws.S3.InitiateMultipartUploadAsync(cloud.VideoBucket, $"videos/{v}/v3/full.mp4", Ct);
        await aws.S3.UploadPartAsync(new UploadPartRequest
        {
            BucketName = cloud.VideoBucket, Key = $"videos/{v}/v3/full.mp4", UploadId = upload.UploadId, PartNumber = 1, InputStream = new MemoryStream(new byte[5_242_880]),
        }, Ct);

        // Version 2's ladder by MediaConvert: scene 1 (90 s) encoded for it, scene 2 (30 s) reused from v1 (not billed again).
        var now = DateTimeOffset.UtcNow;
        var record = await client.Cloud!.Metadata.GetVideoAsync(video.Id, Ct) ?? video;
        await client.Cloud.Metadata.PutVideosAsync([record with
        {
            Renditions = new Dictionary<int, RenditionSet>
            {
                [2] = new()
                {
                    Version = 2, Engine = "mediaconvert", LadderFingerprint = "fp", HlsMasterKey = "m", DashManifestKey = "d", StartedAt = now.AddMinutes(-5), FinishedAt = now,
                    Rungs = [new("1080p", 1920, 1080, 6_000_000, 5_000_000, 30, "avc1"), new("480p", 854, 480, 1_000_000, 800_000, 30, "avc1")],
                    Audio = new("mp4a.40.2", 128_000, 48_000, 2),
                    Scenes = [new(1, "a", "f1", 15, 90, 1, 2), new(2, "b", "f2", 5, 30, 1, 1)],
                },
            },
        }], Ct);

        var cw = CloudWatchClient.Create(aws);
        MetricDatum Datum(string name, double value, params MetricDimension[] dims) => new(name, dims, now.AddHours(-1)) { Value = value };
        MetricDimension[] bucket = [new("BucketName", cloud.VideoBucket), new("FilterId", "EntireBucket")];
        await cw.PutMetricDataAsync("AWS/S3", [Datum("GetRequests", 10_000, bucket), Datum("PutRequests", 2_000, bucket), Datum("BytesDownloaded", 5e9, bucket)], Ct);
        MetricDimension[] cdn = [new("DistributionId", "E2COSTREPORT"), new("Region", "Global")];
        await cw.PutMetricDataAsync("AWS/CloudFront", [Datum("BytesDownloaded", 20e9, cdn), Datum("Requests", 100_000, cdn)], Ct);
        await cw.PutMetricDataAsync("AWS/DynamoDB", [Datum("ConsumedWriteCapacityUnits", 4_000_000, new MetricDimension("TableName", cloud.Table))], Ct);

        // Access logs in which nobody played this video (one GET of another video's segment).
        var logs = Names.Unique("logs");
        await aws.S3.PutBucketAsync(logs, Ct);
        await aws.S3.PutObjectAsync(new PutObjectRequest
        {
            BucketName = logs, Key = "access/2026-12-02-00-00-00-AAAA",
            ContentBody = $"owner {cloud.VideoBucket} [{now.AddHours(-2):dd/MMM/yyyy:HH:mm:ss} +0000] 127.0.0.1 - REQ1 REST.GET.OBJECT transcoded/other/00000000-0000-0000-0000-000000000000/v1/hls/master.m3u8 \"GET / HTTP/1.1\" 200 - 10 10 1 1 \"-\" \"-\" -\n",
        }, Ct);

        var usage = await new UsageSurvey(client).GatherAsync(now.AddDays(-30), now.AddMinutes(1), $"{logs}/access/", Ct);
        var (report, suggestions) = CostReport.Build(usage, PriceTable.BuiltIn);
        decimal Cost(string item) => report.Lines.Where(l => l.Item.StartsWith(item, StringComparison.Ordinal)).Sum(l => l.Cost);
        decimal Quantity(string item) => report.Lines.Where(l => l.Item.StartsWith(item, StringComparison.Ordinal)).Sum(l => l.Quantity);

        // Storage, 30 days = one month at 0.023 USD per GB-month (moto lists STANDARD).
        var month = (decimal)(usage.End - usage.Start).TotalDays / 30m;
        Assert.Equal(0.001m * month, Quantity("S3 storage: clips"), 6);                 // 1,000,000 B current
        Assert.Equal(0.001m * month, Quantity("S3 storage: non-current versions"), 6);  // the overwritten 1,000,000 B
        Assert.Equal(0.002m * month, Quantity("S3 storage: full videos"), 6);
        Assert.Equal(0.0045m * month, Quantity("S3 storage: renditions"), 6);           // 3,000,000 + 1,500,000 B
        Assert.Equal(0.00524288m * month, Quantity("S3 storage: incomplete uploads"), 6);
        Assert.Equal(Math.Round(0.0045m * month * 0.023m, 6), Cost("S3 storage: renditions"));
        // Requests and transfer from CloudWatch.
        Assert.Equal(0.01m, Cost("S3 PUT"));               // 2,000 x 0.005 / 1,000
        Assert.Equal(0.004m, Cost("S3 GET"));              // 10,000 x 0.0004 / 1,000
        Assert.Equal(0.45m, Cost("S3 data transfer out")); // 5 GB x 0.09
        Assert.Equal(1.70m, Cost("CloudFront data transfer out")); // 20 GB x 0.085
        Assert.Equal(0.10m, Cost("CloudFront HTTPS requests"));    // 100,000 x 0.01 / 10,000
        Assert.Equal(2.5m, Cost("DynamoDB write request units"));  // 4,000,000 x 0.625 / 1,000,000
        // MediaConvert: 90 s (scene 2 was reused) x 1080p (HD) + 480p (SD) + audio = 1.5 min x (0.015 + 0.0075 + 0.003).
        Assert.Equal(1.5m, Quantity("MediaConvert HD"));
        Assert.Equal(0.0225m + 0.01125m + 0.0045m, Cost("MediaConvert"));

        CostSuggestion Suggestion(IReadOnlyList<CostSuggestion> s, string id) => s.Single(x => x.Id == id);
        Assert.Equal(0.00524288m * 0.023m, Suggestion(suggestions, "abort-incomplete-uploads").MonthlySaving);
        Assert.Equal(0m, Suggestion(suggestions, "expire-noncurrent-versions").MonthlySaving); // non-current for minutes, not 30 days
        Assert.Equal(0m, Suggestion(suggestions, "intelligent-tiering-renditions").MonthlySaving);
        Assert.Equal(0.003m * 0.023m, Suggestion(suggestions, "drop-1080p-unwatched").MonthlySaving); // the unwatched video's 1080p segment

        // Forty days on, the same objects: the age-based suggestions save money.
        var (_, later) = CostReport.Build(usage with { End = usage.End.AddDays(40) }, PriceTable.BuiltIn);
        Assert.Equal(0.001m * 0.023m, Suggestion(later, "expire-noncurrent-versions").MonthlySaving);
        // 4.5 MB of STANDARD renditions: 0.0045 x (0.023 - 0.0125) less 2 objects' monitoring (2 / 1,000 x 0.0025).
        Assert.Equal(0.0045m * (0.023m - 0.0125m) - 2m / 1000m * 0.0025m, Suggestion(later, "intelligent-tiering-renditions").MonthlySaving);

        // The CLI prints the same report; without access logs the 1080p suggestion says why it has no figure.
        var env = cloud.Environment(new TempDir().Path);
        env["MANIMCLOUD_DISTRIBUTION_ID"] = "E2COSTREPORT";
        var run = CliRunner.Run(env, "cost", "report", "--since", "30d", "--json");
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains(run.Json["lines"]!.AsArray(), l => ((string)l!["item"]!).StartsWith("CloudFront data transfer out") && (decimal)l["cost"]! == 1.70m);
        var drop = run.Json["suggestions"]!.AsArray().Single(s => (string)s!["id"]! == "drop-1080p-unwatched")!;
        Assert.Null(drop["monthly_saving"]);
        Assert.Contains("no access logs", (string)drop["basis"]!);
        var text = CliRunner.Run(env, "cost", "report");
        Assert.Contains("Abort incomplete multipart uploads", text.Stdout);
    }
}
