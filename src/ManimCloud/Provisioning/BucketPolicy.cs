using System.Text.Json.Nodes;

namespace ManimCloud.Provisioning;

/// <summary>
/// The bucket policy ManimCloud maintains on its buckets (SPEC R8): deny requests that are not over TLS, and deny
/// writes that ask for an encryption other than SSE-S3 or SSE-KMS. Its statements carry Sids starting with
/// <see cref="SidPrefix"/>; statements anyone else added to the policy are kept as they are. Which of ManimCloud's
/// statements a bucket gets depends on the store (<see cref="PolicyStore"/>): all of them on AWS; on an emulator
/// that cannot evaluate their conditions, the conditional ones are left out and the plan says so.
/// </summary>
public static class BucketPolicy
{
    public const string SidPrefix = "ManimCloud";
    public const string DenyInsecureTransport = SidPrefix + "DenyInsecureTransport";
    public const string DenyUnapprovedEncryption = SidPrefix + "DenyUnapprovedEncryption";

    /// <summary>The encryption values a write may ask for. Anything else in the header is refused.</summary>
    public static readonly string[] ApprovedEncryption = ["AES256", "aws:kms"];

    /// <summary>All of ManimCloud's statements for the bucket, as AWS gets them.</summary>
    public static JsonObject[] Statements(string bucket, string partition)
    {
        var bucketArn = $"arn:{partition}:s3:::{bucket}";
        return
        [
            new JsonObject
            {
                ["Sid"] = DenyInsecureTransport,
                ["Effect"] = "Deny",
                ["Principal"] = "*",
                ["Action"] = "s3:*",
                ["Resource"] = new JsonArray(bucketArn, bucketArn + "/*"),
                ["Condition"] = new JsonObject { ["Bool"] = new JsonObject { ["aws:SecureTransport"] = "false" } },
            },
            // Why not the common "deny PutObject when the encryption header is Null" statement: S3 authorises
            // UploadPart and CompleteMultipartUpload as s3:PutObject too, and those requests never carry the header,
            // so that statement breaks every multipart upload on real AWS. Default encryption is always on (this
            // provisioner sets it), so a write without the header is encrypted anyway. What remains to refuse is a
            // write that asks for something else: deny s3:PutObject only when the header is present (Null = false)
            // AND its value is not an approved one. Both conditions in one block are ANDed. StringNotEquals alone
            // would also match requests without the header (negated operators are true for a missing key).
            new JsonObject
            {
                ["Sid"] = DenyUnapprovedEncryption,
                ["Effect"] = "Deny",
                ["Principal"] = "*",
                ["Action"] = "s3:PutObject",
                ["Resource"] = bucketArn + "/*",
                ["Condition"] = new JsonObject
                {
                    ["StringNotEquals"] = new JsonObject
                    {
                        ["s3:x-amz-server-side-encryption"] = new JsonArray(ApprovedEncryption.Select(e => (JsonNode)e).ToArray()),
                    },
                    ["Null"] = new JsonObject { ["s3:x-amz-server-side-encryption"] = "false" },
                },
            },
        ];
    }

    /// <summary>ManimCloud's statements this store gets, and the ones left out with the reason for each.</summary>
    public static (JsonObject[] Kept, PolicyOmission[] LeftOut) ForStore(string bucket, string partition, PolicyStore store) =>
        Select(Statements(bucket, partition), $"s3://{bucket}", store);

    /// <summary>
    /// Of <paramref name="statements"/>, the ones this store can enforce as written, and the ones left out with why:
    /// a deny-non-TLS statement where ManimCloud itself talks plain HTTP, and every conditional statement where the store
    /// does not evaluate conditions (a conditional Deny would deny everyone, a conditional Allow would allow everyone).
    /// </summary>
    public static (JsonObject[] Kept, PolicyOmission[] LeftOut) Select(IEnumerable<JsonObject> statements, string resource, PolicyStore store)
    {
        var kept = new List<JsonObject>();
        var leftOut = new List<PolicyOmission>();
        foreach (var statement in statements)
        {
            var sid = SidOf(statement) ?? "(no Sid)";
            if (sid == DenyInsecureTransport && store.PlainHttp)
                leftOut.Add(new PolicyOmission(resource, sid,
                    "ManimCloud reaches this store over plain HTTP, so the statement would refuse ManimCloud's own requests. "
                    + "Over HTTPS (always on AWS) it is included."));
            else if (statement.ContainsKey("Condition") && store.Conditions == PolicyConditionSupport.NotEvaluated)
                leftOut.Add(new PolicyOmission(resource, sid,
                    "This store does not evaluate bucket-policy conditions: it refused a write that ManimCloud's policy allows "
                    + (Effect(statement) == "Allow"
                        ? "(moto counts every condition as matched, so this conditional Allow would allow every caller). "
                        : "(moto counts every condition as matched, so a conditional Deny denies everything). ")
                    + "On AWS the statement is kept."
                    + (sid == DenyUnapprovedEncryption ? " Default encryption still encrypts every object written here." : "")));
            else kept.Add(statement);
        }
        return (kept.ToArray(), leftOut.ToArray());
    }

    /// <summary>
    /// For commands that own statements of their own on a bucket (delivery's CloudFront read, Sid ManimCloudCdn…):
    /// <paramref name="current"/> with <paramref name="statements"/> put in (replacing statements with the same Sids),
    /// keeping only what this store can enforce. Null when no statement remains (remove the policy).
    /// </summary>
    public static (JsonObject? Policy, PolicyOmission[] LeftOut) WithStatements(JsonObject? current, IReadOnlyList<JsonObject> statements,
        string resource, PolicyStore store)
    {
        var sids = statements.Select(SidOf).Where(s => s is not null).ToHashSet();
        var (kept, leftOut) = Select(statements, resource, store);
        var all = new JsonArray();
        foreach (var s in PolicyJson.StatementsOf(current).Where(s => SidOf(s) is not { } sid || !sids.Contains(sid))) all.Add(s.DeepClone());
        foreach (var s in kept) all.Add(s.DeepClone());
        if (all.Count == 0) return (null, leftOut);
        var policy = new JsonObject { ["Version"] = "2012-10-17" };
        if (current?["Id"] is { } id) policy["Id"] = id.DeepClone();
        policy["Statement"] = all;
        return (policy, leftOut);
    }

    private static string? Effect(JsonObject statement) => statement["Effect"] is JsonValue v && v.TryGetValue<string>(out var e) ? e : null;

    /// <summary>Sids of statements that another ManimCloud command owns (delivery provision's CloudFront read):
    /// provision keeps them as it finds them.</summary>
    public const string CdnSidPrefix = SidPrefix + "Cdn";

    /// <summary>
    /// The policy the bucket should have: the statements of <paramref name="current"/> that are not ManimCloud's,
    /// followed by ManimCloud's own for this store. Null when that leaves no statement at all (S3 refuses an empty
    /// policy): the bucket then has no policy.
    /// </summary>
    public static JsonObject? Desired(string bucket, string partition, JsonObject? current, PolicyStore store)
    {
        var statements = new JsonArray();
        foreach (var foreign in PolicyJson.StatementsOf(current).Where(s => !IsOurs(s)))
            statements.Add(foreign.DeepClone());
        foreach (var ours in ForStore(bucket, partition, store).Kept) statements.Add((JsonNode)ours);
        if (statements.Count == 0) return null;
        var policy = new JsonObject { ["Version"] = "2012-10-17" };
        if (current?["Id"] is { } id) policy["Id"] = id.DeepClone();
        policy["Statement"] = statements;
        return policy;
    }

    public static string? SidOf(JsonNode? statement) => statement is JsonObject o && o["Sid"] is JsonValue v && v.TryGetValue<string>(out var sid) ? sid : null;

    /// <summary>A statement provision manages (replaces with its own list): Sid ManimCloud…, except the ones other commands own.</summary>
    public static bool IsOurs(JsonNode statement) =>
        statement is JsonObject o && o["Sid"] is JsonValue v && v.TryGetValue<string>(out var sid) && sid.StartsWith(SidPrefix, StringComparison.Ordinal)
        && !sid.StartsWith(CdnSidPrefix, StringComparison.Ordinal);
}

/// <summary>Whether an S3 store evaluates the conditions of bucket-policy statements.</summary>
public enum PolicyConditionSupport
{
    /// <summary>Not known yet: apply finds out with a probe write (never the case on AWS).</summary>
    Unknown,
    /// <summary>Conditions are evaluated as written (AWS; stores whose probe write was allowed).</summary>
    Evaluated,
    /// <summary>Conditions count as always matched (moto): a conditional Deny would deny every request.</summary>
    NotEvaluated,
}

/// <summary>What the policy has to allow for on this store: plain HTTP, and whether conditions are evaluated.</summary>
public sealed record PolicyStore(bool PlainHttp, PolicyConditionSupport Conditions)
{
    /// <summary>AWS itself: HTTPS, conditions evaluated, every statement kept.</summary>
    public static readonly PolicyStore Aws = new(false, PolicyConditionSupport.Evaluated);

    /// <summary>The words config.json and MANIMCLOUD_POLICY_CONDITIONS use.</summary>
    public static string Name(PolicyConditionSupport support) => support switch
    {
        PolicyConditionSupport.Evaluated => "evaluated",
        PolicyConditionSupport.NotEvaluated => "not-evaluated",
        _ => "probe",
    };

    public static PolicyConditionSupport Parse(string? name) => name switch
    {
        null or "probe" => PolicyConditionSupport.Unknown,
        "evaluated" => PolicyConditionSupport.Evaluated,
        "not-evaluated" => PolicyConditionSupport.NotEvaluated,
        _ => throw new ManimCloud.Domain.ManimCloudException(ManimCloud.Domain.ErrorKind.InvalidInput, $"MANIMCLOUD_POLICY_CONDITIONS is '{name}'.",
            "Use probe (the default: provision finds out), evaluated or not-evaluated."),
    };
}

/// <summary>One of ManimCloud's bucket-policy statements that a bucket does not get on this store, and why.</summary>
public sealed record PolicyOmission(string Resource, string Statement, string Reason)
{
    public JsonObject ToJson() => new() { ["resource"] = Resource, ["statement"] = Statement, ["reason"] = Reason };
}

/// <summary>
/// Canonical form of IAM-style policy JSON, so a policy reads back equal however the store re-serialises it:
/// keys sorted, a one-element array the same as its element, arrays in a fixed order, scalars as strings
/// (IAM treats "false" and false alike).
/// </summary>
public static class PolicyJson
{
    /// <summary>The policy as a JSON object, or null when the text is not one.</summary>
    public static JsonObject? TryParse(string? json)
    {
        if (string.IsNullOrWhiteSpace(json)) return null;
        try { return JsonNode.Parse(json) as JsonObject; }
        catch (System.Text.Json.JsonException) { return null; }
    }

    public static IEnumerable<JsonNode> StatementsOf(JsonObject? policy) => policy?["Statement"] switch
    {
        JsonArray a => a.Where(s => s is not null).Select(s => s!),
        JsonObject o => [o],
        _ => [],
    };

    public static string Normalize(string json) => Normalize(JsonNode.Parse(json));

    public static string Normalize(JsonNode? node) => Canonical(node)?.ToJsonString() ?? "null";

    private static JsonNode? Canonical(JsonNode? node) => node switch
    {
        null => null,
        JsonObject o => new JsonObject(o.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => KeyValuePair.Create(kv.Key, Canonical(kv.Value)))),
        JsonArray { Count: 1 } a => Canonical(a[0]),
        JsonArray a => new JsonArray(a.Select(Canonical).OrderBy(n => n?.ToJsonString(), StringComparer.Ordinal).ToArray()),
        JsonValue v => JsonValue.Create(v.ToString()),
        _ => node.DeepClone(),
    };
}
