using System.Text.Json.Nodes;
using Amazon.S3;
using Amazon.S3.Model;

namespace ManimCloud.Provisioning;

/// <summary>Which of the two buckets of a deployment.</summary>
public enum BucketRole { Videos, Code }

/// <summary>
/// The lifecycle rules ManimCloud maintains (SPEC R9). Rule ids start with <see cref="IdPrefix"/>; rules anyone
/// else added are kept. Rules are compared in a canonical JSON form so a configuration reads back equal however
/// the store spells the filter (Filter.Prefix, the legacy rule-level Prefix, or a prefix predicate).
/// </summary>
public static class LifecycleRules
{
    public const string IdPrefix = "manimcloud-";

    public const int AbortIncompleteMultipartDays = 7;
    public const int TmpExpiryDays = 1;
    public const int VideosToIntelligentTieringDays = 30;
    public const int NoncurrentToStandardIaDays = 30;
    public const int NoncurrentToGlacierIrDays = 90;
    public const int NoncurrentExpiryDays = 365;

    /// <param name="storageClasses">
    /// False for stores without S3 storage classes (MANIMCLOUD_STORAGE_CLASSES=off): the rules keep their expiry and
    /// abort parts and leave out every storage-class transition, which such stores refuse.
    /// </param>
    public static List<LifecycleRule> Ours(BucketRole role, bool storageClasses = true)
    {
        var rules = new List<LifecycleRule>
        {
            new()
            {
                Id = IdPrefix + "abort-incomplete-multipart",
                Status = LifecycleRuleStatus.Enabled,
                Filter = new LifecycleFilter { Prefix = "" },
                AbortIncompleteMultipartUpload = new LifecycleRuleAbortIncompleteMultipartUpload { DaysAfterInitiation = AbortIncompleteMultipartDays },
            },
            // Temporary objects go after a day, their old versions too (the bucket is versioned).
            new()
            {
                Id = IdPrefix + "expire-tmp",
                Status = LifecycleRuleStatus.Enabled,
                Filter = new LifecycleFilter { Prefix = Domain.ObjectLayout.TemporaryPrefix },
                Expiration = new LifecycleRuleExpiration { Days = TmpExpiryDays },
                NoncurrentVersionExpiration = new LifecycleRuleNoncurrentVersionExpiration { NoncurrentDays = TmpExpiryDays },
            },
            // Overwritten and deleted versions stay recoverable (SPEC R2) but get cheaper with age, and go after a year.
            new()
            {
                Id = IdPrefix + "noncurrent-versions",
                Status = LifecycleRuleStatus.Enabled,
                Filter = new LifecycleFilter { Prefix = "" },
                NoncurrentVersionTransitions =
                [
                    new() { NoncurrentDays = NoncurrentToStandardIaDays, StorageClass = S3StorageClass.StandardInfrequentAccess },
                    new() { NoncurrentDays = NoncurrentToGlacierIrDays, StorageClass = S3StorageClass.GlacierInstantRetrieval },
                ],
                NoncurrentVersionExpiration = new LifecycleRuleNoncurrentVersionExpiration { NoncurrentDays = NoncurrentExpiryDays },
            },
        };
        if (role == BucketRole.Videos)
            // Clips and renditions are written to Intelligent-Tiering directly; masters start in Standard while they
            // are active (SPEC R1) and move once they are old.
            rules.Add(new()
            {
                Id = IdPrefix + "videos-intelligent-tiering",
                Status = LifecycleRuleStatus.Enabled,
                Filter = new LifecycleFilter { Prefix = Domain.ObjectLayout.VideosPrefix },
                Transitions = [new() { Days = VideosToIntelligentTieringDays, StorageClass = S3StorageClass.IntelligentTiering }],
            });
        if (!storageClasses)
        {
            foreach (var rule in rules) rule.NoncurrentVersionTransitions = null;
            rules.RemoveAll(r => r.Transitions is { Count: > 0 });
        }
        return rules;
    }

    /// <summary>The configuration the bucket should have: the current rules that are not ManimCloud's, then ours.</summary>
    public static List<LifecycleRule> Desired(BucketRole role, IEnumerable<LifecycleRule>? current, bool storageClasses = true) =>
        (current ?? []).Where(r => !IsOurs(r)).Concat(Ours(role, storageClasses)).ToList();

    public static bool IsOurs(LifecycleRule rule) => rule.Id?.StartsWith(IdPrefix, StringComparison.Ordinal) == true;

    /// <summary>The rules as canonical JSON (sorted by id), for comparing and for showing in a plan.</summary>
    public static string Canonical(IEnumerable<LifecycleRule> rules) =>
        new JsonArray(rules.Select(CanonicalNode).OrderBy(r => r.ToJsonString(), StringComparer.Ordinal).Select(r => (JsonNode)r).ToArray()).ToJsonString();

    /// <summary>One rule as canonical JSON.</summary>
    public static string Canonical(LifecycleRule rule) => CanonicalNode(rule).ToJsonString();

    private static JsonObject CanonicalNode(LifecycleRule r)
    {
        var o = new JsonObject
        {
            ["id"] = r.Id ?? "",
            ["status"] = r.Status?.Value ?? "",
            ["prefix"] = PrefixOf(r),
        };
        if (OtherFilter(r.Filter) is { } other) o["filter"] = other;
        if (r.Expiration is { } e)
        {
            if (e.Days is > 0) o["expire_days"] = e.Days;
            if (e.Date is { } date) o["expire_date"] = date.ToString("yyyy-MM-dd");
            if (e.ExpiredObjectDeleteMarker == true) o["expired_delete_markers"] = true;
        }
        if (r.Transitions is { Count: > 0 } ts)
            o["transitions"] = new JsonArray(ts.OrderBy(t => t.Days).Select(t => (JsonNode)$"{t.Days ?? 0}d:{t.StorageClass?.Value}").ToArray());
        if (r.NoncurrentVersionTransitions is { Count: > 0 } nts)
            o["noncurrent_transitions"] = new JsonArray(nts.OrderBy(t => t.NoncurrentDays)
                .Select(t => (JsonNode)$"{t.NoncurrentDays ?? 0}d:{t.StorageClass?.Value}{(t.NewerNoncurrentVersions is > 0 ? $":keep{t.NewerNoncurrentVersions}" : "")}").ToArray());
        if (r.NoncurrentVersionExpiration is { NoncurrentDays: > 0 } ne)
            o["noncurrent_expire_days"] = ne.NoncurrentDays + (ne.NewerNoncurrentVersions is > 0 ? $":keep{ne.NewerNoncurrentVersions}" : "");
        if (r.AbortIncompleteMultipartUpload is { DaysAfterInitiation: > 0 } a) o["abort_multipart_days"] = a.DaysAfterInitiation;
        return o;
    }

    // Rules written before Filter existed carry the rule-level Prefix; reading it is the point here.
#pragma warning disable CS0618
    private static string PrefixOf(LifecycleRule r) =>
        r.Filter?.Prefix
        ?? (r.Filter?.LifecycleFilterPredicate as LifecyclePrefixPredicate)?.Prefix
        ?? r.Filter?.And?.Prefix
        ?? r.Prefix
        ?? "";
#pragma warning restore CS0618

    /// <summary>Filter parts other than the prefix (tags, sizes), so rules that differ only there never compare equal.</summary>
    private static string? OtherFilter(LifecycleFilter? f)
    {
        if (f is null) return null;
        var parts = new List<string>();
        if (f.Tag is { } tag) parts.Add($"tag:{tag.Key}={tag.Value}");
        if (f.And?.Tags is { } tags) parts.AddRange(tags.Select(t => $"tag:{t.Key}={t.Value}"));
        if ((f.ObjectSizeGreaterThan ?? f.And?.ObjectSizeGreaterThan) is { } gt) parts.Add($"size>{gt}");
        if ((f.ObjectSizeLessThan ?? f.And?.ObjectSizeLessThan) is { } lt) parts.Add($"size<{lt}");
        switch (f.LifecycleFilterPredicate)
        {
            case LifecycleTagPredicate p: parts.Add($"tag:{p.Tag?.Key}={p.Tag?.Value}"); break;
            case LifecycleObjectSizeGreaterThanPredicate p: parts.Add($"size>{p.ObjectSizeGreaterThan}"); break;
            case LifecycleObjectSizeLessThanPredicate p: parts.Add($"size<{p.ObjectSizeLessThan}"); break;
            case LifecycleAndOperator p:
                foreach (var op in p.Operands ?? [])
                    parts.Add(op switch
                    {
                        LifecyclePrefixPredicate x => $"prefix:{x.Prefix}",
                        LifecycleTagPredicate x => $"tag:{x.Tag?.Key}={x.Tag?.Value}",
                        LifecycleObjectSizeGreaterThanPredicate x => $"size>{x.ObjectSizeGreaterThan}",
                        LifecycleObjectSizeLessThanPredicate x => $"size<{x.ObjectSizeLessThan}",
                        _ => op.GetType().Name,
                    });
                break;
        }
        return parts.Count == 0 ? null : string.Join(",", parts.Order(StringComparer.Ordinal));
    }
}
