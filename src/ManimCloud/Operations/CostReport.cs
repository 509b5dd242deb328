using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Domain;

namespace ManimCloud.Operations;

/// <summary>A change that would save money, with the saving computed from the deployment's own numbers (null: not computable, and why).</summary>
public sealed record CostSuggestion(string Id, string Action, decimal? MonthlySaving, string Basis)
{
    public JsonObject ToJson() => new() { ["id"] = Id, ["action"] = Action, ["monthly_saving"] = MonthlySaving, ["basis"] = Basis };
}

/// <summary>
/// `cost report` (SPEC R9): a deployment's usage priced by the price table. Storage by kind (clips, full videos,
/// renditions, code, non-current versions, incomplete uploads) and storage class, priced for the window (GB-months =
/// GB x days / 30, at today's sizes); requests, transfer, MediaConvert minutes and DynamoDB units as measured in the
/// window. Pure arithmetic over <see cref="DeploymentUsage"/>.
/// </summary>
public static class CostReport
{
    public const decimal Gb = 1_000_000_000m;

    public static string KindOf(StoredVersion v, string codeBucket)
    {
        if (v.NoncurrentSince is not null) return "non-current versions";
        if (v.Bucket == codeBucket || v.Key.StartsWith("code/", StringComparison.Ordinal)) return "code";
        if (v.Key.StartsWith(ObjectLayout.TranscodedPrefix, StringComparison.Ordinal)) return "renditions";
        if (v.Key.StartsWith(ObjectLayout.VideosPrefix, StringComparison.Ordinal))
            return v.Key.EndsWith("/full.mp4", StringComparison.Ordinal) ? "full videos" : "clips";
        return "other";
    }

    public static (CostEstimate Estimate, IReadOnlyList<CostSuggestion> Suggestions) Build(DeploymentUsage u, PriceTable prices, int noncurrentDays = 30)
    {
        var days = (decimal)(u.End - u.Start).TotalDays;
        var months = days / 30m;
        var lines = new List<CostLine>();
        foreach (var g in u.Versions.GroupBy(v => (Kind: KindOf(v, u.CodeBucket), v.StorageClass)).OrderBy(g => g.Key.Kind, StringComparer.Ordinal).ThenBy(g => g.Key.StorageClass, StringComparer.Ordinal))
            lines.Add(new CostLine($"S3 storage: {g.Key.Kind} ({g.Key.StorageClass}, {g.Count()} object(s), {g.Sum(v => v.Size) / Gb:0.######} GB)",
                g.Sum(v => v.Size) / Gb * months, "GB-months", prices.StoragePerGbMonth(g.Key.StorageClass), "s3.storage.gb_month." + Known(prices, g.Key.StorageClass)));
        if (u.Uploads.Count > 0)
            lines.Add(new CostLine($"S3 storage: incomplete uploads ({u.Uploads.Count}, {u.Uploads.Sum(x => x.Bytes) / Gb:0.######} GB)",
                u.Uploads.Sum(x => x.Bytes) / Gb * months, "GB-months", prices.StoragePerGbMonth("STANDARD"), "s3.storage.gb_month.STANDARD"));
        void Metric(string item, double? value, decimal scale, string unit, string key, decimal divisor)
        {
            if (value is { } v) lines.Add(new CostLine(item, (decimal)v / scale, unit, prices[key] / divisor, key));
        }
        Metric("S3 PUT/COPY/POST/LIST requests", u.S3PutRequests, 1, "requests", "s3.requests.put.per_1000", 1000);
        Metric("S3 GET requests", u.S3GetRequests, 1, "requests", "s3.requests.get.per_1000", 1000);
        Metric("S3 data transfer out", u.S3BytesDownloaded, Gb, "GB", "s3.transfer_out.gb", 1);
        Metric("CloudFront data transfer out", u.CloudFrontBytesDownloaded, Gb, "GB", "cloudfront.transfer_out.gb", 1);
        Metric("CloudFront HTTPS requests", u.CloudFrontRequests, 1, "requests", "cloudfront.requests.https.per_10000", 10000);
        foreach (var (key, minutes) in u.MediaConvertMinutes.OrderBy(m => m.Key, StringComparer.Ordinal))
            lines.Add(new CostLine($"MediaConvert {key.Split('.')[^2].ToUpperInvariant()} outputs", minutes, "output minutes", prices[key], key));
        Metric("DynamoDB read request units", u.DynamoReadUnits, 1, "read units", "dynamodb.on_demand.read.per_million", 1_000_000);
        Metric("DynamoDB write request units", u.DynamoWriteUnits, 1, "write units", "dynamodb.on_demand.write.per_million", 1_000_000);
        if (u.TableSizeBytes is { } t)
            lines.Add(new CostLine("DynamoDB table storage", t / Gb * months, "GB-months", prices["dynamodb.storage.gb_month"], "dynamodb.storage.gb_month"));

        var estimate = new CostEstimate($"Deployment {u.VideoBucket} / {u.CodeBucket}, {u.Start:yyyy-MM-dd} to {u.End:yyyy-MM-dd} ({days:0.#} days)", lines, prices.Currency)
        {
            Notes = [.. u.Notes, "Storage is today's size priced for the window; the rest is what CloudWatch and the records measured in it. Cost Explorer has the bill."],
        };
        return (estimate, Suggest(u, prices, noncurrentDays));
    }

    private static string Known(PriceTable prices, string storageClass) => prices.TryGet("s3.storage.gb_month." + storageClass, out _) ? storageClass : "STANDARD";

    private static IReadOnlyList<CostSuggestion> Suggest(DeploymentUsage u, PriceTable prices, int noncurrentDays)
    {
        var list = new List<CostSuggestion>();
        string Money(decimal m) => CostEstimate.Money(m, prices.Currency);

        // 1. Non-current versions: what an expiration after N days would remove today.
        var cutoff = u.End.AddDays(-noncurrentDays);
        var old = u.Versions.Where(v => v.NoncurrentSince is { } s && s <= cutoff && !(u.NoncurrentExpirationDays.TryGetValue(v.Bucket, out var d) && d <= noncurrentDays)).ToList();
        var allNoncurrent = u.Versions.Where(v => v.NoncurrentSince is not null).ToList();
        var configured = u.NoncurrentExpirationDays.Where(kv => kv.Value <= noncurrentDays).Select(kv => $"{kv.Key} already expires them after {kv.Value} days").ToList();
        list.Add(new CostSuggestion("expire-noncurrent-versions", $"Expire non-current versions after {noncurrentDays} days (lifecycle NoncurrentVersionExpiration)",
            old.Sum(v => v.Size / Gb * prices.StoragePerGbMonth(v.StorageClass)),
            $"{old.Count} of {allNoncurrent.Count} non-current version(s) ({old.Sum(v => v.Size) / Gb:0.######} of {allNoncurrent.Sum(v => v.Size) / Gb:0.######} GB) have been non-current for more than {noncurrentDays} days"
            + (configured.Count > 0 ? "; " + string.Join("; ", configured) : "")));

        // 2. Renditions older than 30 days still in STANDARD: Intelligent-Tiering moves what nobody reads to its infrequent tier.
        var stale = u.Versions.Where(v => v.NoncurrentSince is null && KindOf(v, u.CodeBucket) == "renditions" && v.StorageClass == "STANDARD"
            && v.LastModified <= u.End.AddDays(-30) && v.Size >= 128 * 1024).ToList();
        var infrequent = prices["s3.storage.gb_month.INTELLIGENT_TIERING_IA"];
        var tiering = stale.Sum(v => v.Size) / Gb * (prices.StoragePerGbMonth("STANDARD") - infrequent)
            - stale.Count / 1000m * prices["s3.intelligent_tiering.monitoring.per_1000_objects_month"];
        list.Add(new CostSuggestion("intelligent-tiering-renditions", "Move renditions older than 30 days to Intelligent-Tiering",
            Math.Max(0, tiering), $"{stale.Count} rendition object(s) of 128 KiB or more, {stale.Sum(v => v.Size) / Gb:0.######} GB, in STANDARD for over 30 days; "
            + $"saving if they are not read (infrequent tier {infrequent} vs {prices.StoragePerGbMonth("STANDARD")} per GB-month) less the monitoring fee"));

        // 3. Incomplete multipart uploads: their parts are billed until aborted.
        list.Add(new CostSuggestion("abort-incomplete-uploads", "Abort incomplete multipart uploads (`uploads abort --all`; lifecycle AbortIncompleteMultipartUpload after 7 days)",
            u.Uploads.Sum(x => x.Bytes) / Gb * prices.StoragePerGbMonth("STANDARD"),
            $"{u.Uploads.Count} incomplete upload(s), {u.Uploads.Sum(x => x.Bytes) / Gb:0.######} GB of parts, {u.Uploads.Count(x => x.Initiated <= u.End.AddDays(-7))} older than 7 days"));

        // 4. The 1080p rung of videos nobody watched in the window.
        var rung = u.Versions.Where(v => v.NoncurrentSince is null && KindOf(v, u.CodeBucket) == "renditions" && v.Key.Contains("1080p", StringComparison.Ordinal)).ToList();
        if (u.ViewsByVideoFolder is not { } views)
            list.Add(new CostSuggestion("drop-1080p-unwatched", "Drop the 1080p rung of videos nobody watches", null,
                $"not computed: no access logs were read to tell watched videos from unwatched ones (pass --access-logs BUCKET[/PREFIX]); the 1080p rung of all videos is {rung.Sum(v => v.Size) / Gb:0.######} GB"));
        else
        {
            var unwatched = rung.Where(v => views.GetValueOrDefault(VideoFolder(v.Key) ?? "") == 0).ToList();
            list.Add(new CostSuggestion("drop-1080p-unwatched", "Drop the 1080p rung of videos nobody watches",
                unwatched.Sum(v => v.Size / Gb * prices.StoragePerGbMonth(v.StorageClass)),
                $"{unwatched.Select(v => VideoFolder(v.Key)).Distinct().Count()} video(s) with no playback request in the window keep {unwatched.Count} 1080p object(s), {unwatched.Sum(v => v.Size) / Gb:0.######} GB"));
        }
        return list;
    }

    /// <summary>transcoded/{project}/{video}/ of a rendition key, or null.</summary>
    public static string? VideoFolder(string key)
    {
        if (!key.StartsWith(ObjectLayout.TranscodedPrefix, StringComparison.Ordinal)) return null;
        var parts = key.Split('/');
        return parts.Length >= 4 ? $"{parts[0]}/{parts[1]}/{parts[2]}/" : null;
    }

    public static JsonObject ToJson(CostEstimate estimate, IReadOnlyList<CostSuggestion> suggestions, PriceTable prices)
    {
        var json = estimate.ToJson();
        json["suggestions"] = new JsonArray(suggestions.Select(s => (JsonNode)s.ToJson()).ToArray());
        json["prices"] = prices.ToJson();
        return json;
    }

    public static string ToText(CostEstimate estimate, IReadOnlyList<CostSuggestion> suggestions)
    {
        var sb = new StringBuilder(estimate.ToText()).AppendLine().AppendLine("suggestions:");
        foreach (var s in suggestions)
            sb.AppendLine(CultureInfo.InvariantCulture, $"  {s.Action}: {(s.MonthlySaving is { } m ? "saves " + CostEstimate.Money(m, estimate.Currency) + " a month" : "saving unknown")} ({s.Basis})");
        return sb.ToString().TrimEnd();
    }
}
