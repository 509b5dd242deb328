using System.Text.Json.Nodes;

namespace ManimCloud.Provisioning;

/// <summary>
/// The bucket policy ManimCloud maintains on both buckets (SPEC R8): deny requests that are not over TLS, and deny
/// writes that ask for an encryption other than SSE-S3 or SSE-KMS. Its statements carry Sids starting with
/// <see cref="SidPrefix"/>; statements anyone else added to the policy are kept as they are.
/// </summary>
public static class BucketPolicy
{
    public const string SidPrefix = "ManimCloud";

    /// <summary>The encryption values a write may ask for. Anything else in the header is refused.</summary>
    public static readonly string[] ApprovedEncryption = ["AES256", "aws:kms"];

    /// <param name="requireTls">
    /// False only when ManimCloud itself talks to the store over plain HTTP (a local or self-hosted endpoint): a
    /// deny-non-TLS statement there would lock ManimCloud out of its own buckets (moto enforces it, as AWS would).
    /// </param>
    public static JsonObject[] Statements(string bucket, string partition, bool requireTls = true)
    {
        var bucketArn = $"arn:{partition}:s3:::{bucket}";
        JsonObject[] all =
        [
            new JsonObject
            {
                ["Sid"] = SidPrefix + "DenyInsecureTransport",
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
                ["Sid"] = SidPrefix + "DenyUnapprovedEncryption",
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
        return requireTls ? all : all.Where(s => SidOf(s) != SidPrefix + "DenyInsecureTransport").ToArray();
    }

    /// <summary>
    /// The policy the bucket should have: the statements of <paramref name="currentPolicy"/> that are not ManimCloud's,
    /// followed by ManimCloud's own.
    /// </summary>
    public static JsonObject Desired(string bucket, string partition, JsonObject? current, bool requireTls = true)
    {
        var statements = new JsonArray();
        foreach (var foreign in PolicyJson.StatementsOf(current).Where(s => !IsOurs(s)))
            statements.Add(foreign.DeepClone());
        foreach (var ours in Statements(bucket, partition, requireTls)) statements.Add((JsonNode)ours);
        var policy = new JsonObject { ["Version"] = "2012-10-17" };
        if (current?["Id"] is { } id) policy["Id"] = id.DeepClone();
        policy["Statement"] = statements;
        return policy;
    }

    public static string? SidOf(JsonNode? statement) => statement is JsonObject o && o["Sid"] is JsonValue v && v.TryGetValue<string>(out var sid) ? sid : null;

    public static bool IsOurs(JsonNode statement) =>
        statement is JsonObject o && o["Sid"] is JsonValue v && v.TryGetValue<string>(out var sid) && sid.StartsWith(SidPrefix, StringComparison.Ordinal);
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
