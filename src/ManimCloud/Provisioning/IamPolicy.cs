using System.Text.Json.Nodes;

namespace ManimCloud.Provisioning;

/// <summary>
/// The least-privilege IAM policy (SPEC R8) for the identity that runs ManimCloud (render workers, agents, the CLI
/// in daily use) against one deployment. It allows exactly what the object and metadata stores call, on exactly
/// the two buckets, the table and its indexes, and the KMS key. Provisioning itself needs more; see docs/provisioning.md.
/// </summary>
public static class IamPolicy
{
    /// <summary>Bucket-level S3 actions: listing keys, versions (code history, recovery) and unfinished multipart uploads.</summary>
    public static readonly string[] BucketActions = ["s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads", "s3:GetBucketLocation"];

    /// <summary>Object-level S3 actions: get/put/delete (any version), Object Lock retention and legal hold, multipart.</summary>
    public static readonly string[] ObjectActions =
    [
        "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion",
        "s3:GetObjectRetention", "s3:PutObjectRetention", "s3:GetObjectLegalHold", "s3:PutObjectLegalHold",
        "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
    ];

    /// <summary>DynamoDB actions on the table (transactions are authorised per item action, so they need no action of their own).</summary>
    public static readonly string[] TableActions =
    [
        "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem",
        "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable",
    ];

    public static readonly string[] IndexActions = ["dynamodb:Query"];

    public static readonly string[] KmsActions = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"];

    /// <param name="kmsKey">The key as configured (id, key ARN, alias name or alias ARN), or its resolved key ARN; null for SSE-S3.</param>
    /// <param name="region">Region of the table and key; "*" when unknown.</param>
    /// <param name="account">AWS account id; "*" when unknown (an IAM policy only grants within its own account unless the resource's policy says otherwise).</param>
    public static JsonObject ForDeployment(string videoBucket, string codeBucket, string table, string? kmsKey = null, string region = "*", string account = "*")
    {
        var partition = AwsPartition.For(region);
        var buckets = new[] { videoBucket, codeBucket }.Distinct().Select(b => $"arn:{partition}:s3:::{b}").ToArray();
        var tableArn = $"arn:{partition}:dynamodb:{region}:{account}:table/{table}";
        // JsonArray's JsonNode constructor and Add(JsonNode): its generic Add<T> (what a collection initializer of
        // JsonObjects binds to) is reflection-based and not available in the Native AOT CLI.
        var statements = new JsonArray(
            Statement("ManimCloudBuckets", BucketActions, buckets),
            Statement("ManimCloudObjects", ObjectActions, buckets.Select(b => b + "/*").ToArray()),
            Statement("ManimCloudTable", TableActions, [tableArn]),
            Statement("ManimCloudTableIndexes", IndexActions, [tableArn + "/index/*"]));
        if (kmsKey is not null) statements.Add((JsonNode)KmsStatement(kmsKey, partition, region, account));
        return new JsonObject { ["Version"] = "2012-10-17", ["Statement"] = statements };
    }

    /// <summary>What MediaConvert does as the job role: read the clips, write the renditions (multipart for large segments).</summary>
    public static readonly string[] MediaConvertReadActions = ["s3:GetObject", "s3:GetObjectVersion"];
    public static readonly string[] MediaConvertWriteActions = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"];
    /// <summary>SSE-KMS: data keys for the outputs MediaConvert writes, decryption of the clips it reads.</summary>
    public static readonly string[] MediaConvertKmsActions = ["kms:GenerateDataKey", "kms:Decrypt"];
    /// <summary>What the identity running ManimCloud needs to submit and follow jobs, besides iam:PassRole on the job role.</summary>
    public static readonly string[] MediaConvertJobActions = ["mediaconvert:CreateJob", "mediaconvert:GetJob", "mediaconvert:CancelJob"];

    /// <summary>
    /// The trust policy of the MediaConvert job role (MANIMCLOUD_MEDIACONVERT_ROLE): only MediaConvert may assume it,
    /// and with a known <paramref name="account"/> only on behalf of that account (the confused-deputy guard).
    /// </summary>
    public static JsonObject MediaConvertTrustPolicy(string account = "*")
    {
        var statement = new JsonObject
        {
            ["Sid"] = "MediaConvertAssumesRole",
            ["Effect"] = "Allow",
            ["Principal"] = new JsonObject { ["Service"] = "mediaconvert.amazonaws.com" },
            ["Action"] = "sts:AssumeRole",
        };
        if (account != "*")
            statement["Condition"] = new JsonObject { ["StringEquals"] = new JsonObject { ["aws:SourceAccount"] = account } };
        return new JsonObject { ["Version"] = "2012-10-17", ["Statement"] = new JsonArray(statement) };
    }

    /// <summary>
    /// The permissions of the MediaConvert job role: read the clips under videos/ (and the silent audio stand-in
    /// there), write under transcoded/ only, and use the KMS key when SSE-KMS is configured. Nothing else: no
    /// listing, no deletes, no other prefix, no other bucket.
    /// </summary>
    public static JsonObject ForMediaConvertRole(string videoBucket, string? kmsKey = null, string region = "*", string account = "*")
    {
        var partition = AwsPartition.For(region);
        var bucket = $"arn:{partition}:s3:::{videoBucket}";
        var statements = new JsonArray(
            Statement("MediaConvertReadsClips", MediaConvertReadActions, [$"{bucket}/{Domain.ObjectLayout.VideosPrefix}*"]),
            Statement("MediaConvertWritesRenditions", MediaConvertWriteActions, [$"{bucket}/{Domain.ObjectLayout.TranscodedPrefix}*"]),
            Statement("MediaConvertFindsBucket", ["s3:GetBucketLocation"], [bucket]));
        if (kmsKey is not null) statements.Add((JsonNode)KmsStatement(kmsKey, partition, region, account, MediaConvertKmsActions, "MediaConvertKmsKey"));
        return new JsonObject { ["Version"] = "2012-10-17", ["Statement"] = statements };
    }

    /// <summary>
    /// Statements the identity that runs ManimCloud needs on top of <see cref="ForDeployment"/> when MediaConvert is
    /// configured: submit, follow and cancel jobs, and pass exactly the job role to MediaConvert.
    /// </summary>
    public static JsonArray MediaConvertCallerStatements(string roleArn, string region = "*", string account = "*")
    {
        var partition = AwsPartition.For(region);
        var pass = Statement("ManimCloudPassesMediaConvertRole", ["iam:PassRole"], [roleArn]);
        pass["Condition"] = new JsonObject { ["StringEquals"] = new JsonObject { ["iam:PassedToService"] = "mediaconvert.amazonaws.com" } };
        return new JsonArray(
            Statement("ManimCloudMediaConvertJobs", MediaConvertJobActions,
                [$"arn:{partition}:mediaconvert:{region}:{account}:*"]),
            pass);
    }

    private static JsonObject Statement(string sid, string[] actions, string[] resources) => new()
    {
        ["Sid"] = sid,
        ["Effect"] = "Allow",
        ["Action"] = Array(actions),
        ["Resource"] = Array(resources),
    };

    private static JsonObject KmsStatement(string key, string partition, string region, string account, string[]? actions = null, string sid = "ManimCloudKmsKey")
    {
        actions ??= KmsActions;
        if (key.StartsWith("arn:", StringComparison.Ordinal) && key.Contains(":key/", StringComparison.Ordinal))
            return Statement(sid, actions, [key]);
        if (!key.Contains("alias/", StringComparison.Ordinal))
            return Statement(sid, actions, [$"arn:{partition}:kms:{region}:{account}:key/{key}"]);
        // An alias is not a resource IAM authorises key operations on: allow the keys that carry that alias.
        var alias = key[key.IndexOf("alias/", StringComparison.Ordinal)..];
        var statement = Statement(sid, actions, [$"arn:{partition}:kms:{region}:{account}:key/*"]);
        statement["Condition"] = new JsonObject
        {
            ["ForAnyValue:StringEquals"] = new JsonObject { ["kms:ResourceAliases"] = alias },
        };
        return statement;
    }

    private static JsonArray Array(string[] values) => new(values.Select(v => (JsonNode)v).ToArray());
}
