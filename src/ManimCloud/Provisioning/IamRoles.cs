using System.Text.Json.Nodes;
using ManimCloud.Domain;

namespace ManimCloud.Provisioning;

/// <summary>Who a policy is for: `iam policy --role R` (SPEC R8).</summary>
public enum IamRole
{
    /// <summary>Render workers and agents: write clips, code, renditions and metadata under ManimCloud's prefixes.</summary>
    Worker,
    /// <summary>Read-only: videos, code, renditions and metadata; no write of any kind.</summary>
    Viewer,
    /// <summary>Operates the deployment: the worker's rights plus provision, backup/restore, budgets, cost and monitoring.</summary>
    Admin,
    /// <summary>The role MediaConvert assumes for a job: read clips, write renditions.</summary>
    MediaConvert,
    /// <summary>CloudFront (Origin Access Control) reading the renditions, and what `delivery provision` needs.</summary>
    Cdn,
}

/// <summary>The resources of one deployment a policy is scoped to. Unknown parts are "*" (region, account) or absent.</summary>
public sealed record DeploymentResources(string VideoBucket, string CodeBucket, string Table)
{
    public string? KmsKey { get; init; }
    public string Region { get; init; } = "*";
    public string Account { get; init; } = "*";
    /// <summary>The SQS queue's ARN (arn:aws:sqs:REGION:ACCOUNT:NAME) when workers use one (MANIMCLOUD_QUEUE).</summary>
    public string? QueueArn { get; init; }
    public string? LogBucket { get; init; }
    public string? MediaConvertRoleArn { get; init; }
    public string? DistributionId { get; init; }
    public string Environment { get; init; } = "dev";

    public string Partition => AwsPartition.For(Region);
    public string BucketArn(string bucket) => $"arn:{Partition}:s3:::{bucket}";
    public string TableArn => $"arn:{Partition}:dynamodb:{Region}:{Account}:table/{Table}";

    /// <summary>An SQS queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME, or an emulator's …/ACCOUNT/NAME) as an ARN.</summary>
    public static string? QueueArnFromUrl(string? url, string region)
    {
        if (url is null || !Uri.TryCreate(url, UriKind.Absolute, out var uri)) return null;
        var parts = uri.AbsolutePath.Trim('/').Split('/');
        return parts.Length == 2 ? $"arn:{AwsPartition.For(region)}:sqs:{region}:{parts[0]}:{parts[1]}" : null;
    }
}

/// <summary>
/// One role's documents: the identity policy (what its user or role may do), and where a role needs them the trust
/// policy (who may assume it) and bucket-policy statements (what a service principal may do on a bucket).
/// </summary>
public sealed record RolePolicy(IamRole Role, JsonObject Policy, JsonObject? TrustPolicy, JsonArray? BucketPolicyStatements, IReadOnlyList<string> Notes)
{
    public JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["role"] = Role.ToString().ToLowerInvariant(),
            ["policy"] = Policy.DeepClone(),
            ["notes"] = new JsonArray(Notes.Select(n => (JsonNode)n).ToArray()),
        };
        if (TrustPolicy is not null) o["trust_policy"] = TrustPolicy.DeepClone();
        if (BucketPolicyStatements is not null) o["bucket_policy_statements"] = BucketPolicyStatements.DeepClone();
        return o;
    }
}

/// <summary>
/// Least-privilege policy documents per role, scoped to the deployment's buckets, prefixes, table, queue and key
/// (SPEC R8). Object actions are granted per prefix (videos/, transcoded/, code/, tmp/, audit/), never on a whole
/// bucket; no role may delete a bucket or table, bypass Object Lock governance, or delete object versions (history
/// is how overwrites are recovered) — only admin may manage backups and bucket settings.
/// </summary>
public static class IamRoles
{
    public static IamRole Parse(string? name) => name?.ToLowerInvariant() switch
    {
        "worker" => IamRole.Worker,
        "viewer" => IamRole.Viewer,
        "admin" => IamRole.Admin,
        "mediaconvert" => IamRole.MediaConvert,
        "cdn" => IamRole.Cdn,
        _ => throw new ManimCloudException(ErrorKind.InvalidInput, $"--role {name} is not a role.", "Use worker, viewer, admin, mediaconvert or cdn."),
    };

    /// <summary>Object prefixes per bucket a worker reads and writes.</summary>
    public static readonly string[] VideoPrefixes = [ObjectLayout.VideosPrefix, ObjectLayout.TranscodedPrefix, "tmp/"];
    public static readonly string[] CodePrefixes = ["code/", "tmp/"];
    /// <summary>The audit trail is shipped under audit/ in the code bucket: written, never read back by workers.</summary>
    public const string AuditPrefix = "audit/";

    public static readonly string[] ReadObjectActions = ["s3:GetObject", "s3:GetObjectVersion"];
    public static readonly string[] WriteObjectActions =
        ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"];
    public static readonly string[] LockActions = ["s3:GetObjectRetention", "s3:PutObjectRetention", "s3:GetObjectLegalHold", "s3:PutObjectLegalHold"];
    public static readonly string[] ListActions = ["s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads", "s3:GetBucketLocation"];
    public static readonly string[] TableReadActions = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:DescribeTable"];
    public static readonly string[] TableWriteActions =
        ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem"];
    public static readonly string[] QueueWorkerActions =
        ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"];

    /// <summary>What provision, backup/restore, budgets, cost and monitoring call (admin only).</summary>
    public static readonly string[] BucketAdminActions =
    [
        "s3:CreateBucket", "s3:GetBucketVersioning", "s3:PutBucketVersioning", "s3:GetBucketObjectLockConfiguration",
        "s3:PutBucketObjectLockConfiguration", "s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration",
        "s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock", "s3:GetBucketPolicy", "s3:PutBucketPolicy",
        "s3:DeleteBucketPolicy", "s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration", "s3:GetBucketLogging",
        "s3:PutBucketLogging", "s3:GetReplicationConfiguration", "s3:PutReplicationConfiguration",
    ];
    public static readonly string[] TableAdminActions =
    [
        "dynamodb:CreateTable", "dynamodb:UpdateTable", "dynamodb:DescribeContinuousBackups", "dynamodb:UpdateContinuousBackups",
        "dynamodb:CreateBackup", "dynamodb:DescribeBackup", "dynamodb:ListBackups", "dynamodb:RestoreTableFromBackup",
        "dynamodb:ExportTableToPointInTime", "dynamodb:DescribeExport", "dynamodb:Scan",
    ];

    public static RolePolicy For(IamRole role, DeploymentResources r) => role switch
    {
        IamRole.Worker => Worker(r),
        IamRole.Viewer => Viewer(r),
        IamRole.Admin => Admin(r),
        IamRole.MediaConvert => MediaConvert(r),
        _ => Cdn(r),
    };

    private static RolePolicy Worker(DeploymentResources r)
    {
        var s = new JsonArray(
            Statement("ManimCloudList", ListActions, [r.BucketArn(r.VideoBucket), r.BucketArn(r.CodeBucket)]),
            Statement("ManimCloudReadObjects", ReadObjectActions, Objects(r)),
            Statement("ManimCloudWriteObjects", WriteObjectActions, Objects(r)),
            Statement("ManimCloudLockCode", LockActions, [$"{r.BucketArn(r.CodeBucket)}/code/*"]),
            Statement("ManimCloudShipAudit", ["s3:PutObject"], [$"{r.BucketArn(r.CodeBucket)}/{AuditPrefix}*"]),
            Statement("ManimCloudTable", [.. TableReadActions, .. TableWriteActions], [r.TableArn]),
            Statement("ManimCloudTableIndexes", ["dynamodb:Query"], [r.TableArn + "/index/*"]),
            MetricsStatement());
        if (r.QueueArn is not null) s.Add((JsonNode)Statement("ManimCloudJobQueue", QueueWorkerActions, [r.QueueArn]));
        AddKms(s, r, IamPolicy.KmsActions);
        if (r.MediaConvertRoleArn is not null)
            foreach (var m in IamPolicy.MediaConvertCallerStatements(r.MediaConvertRoleArn, r.Region, r.Account)) s.Add(m!.DeepClone());
        return new RolePolicy(IamRole.Worker, Document(s), null, null,
        [
            "Objects only under videos/, transcoded/, tmp/ (video bucket) and code/, tmp/ (code bucket); audit/ is write-only.",
            "No s3:DeleteObjectVersion, s3:BypassGovernanceRetention, bucket or table administration.",
            r.QueueArn is null ? "No queue configured (MANIMCLOUD_QUEUE): no SQS statement." : "SQS on the job queue only.",
        ]);
    }

    private static RolePolicy Viewer(DeploymentResources r)
    {
        var s = new JsonArray(
            Statement("ManimCloudList", ListActions, [r.BucketArn(r.VideoBucket), r.BucketArn(r.CodeBucket)]),
            Statement("ManimCloudReadObjects", ReadObjectActions,
                [.. VideoPrefixes.Where(p => p != "tmp/").Select(p => $"{r.BucketArn(r.VideoBucket)}/{p}*"), $"{r.BucketArn(r.CodeBucket)}/code/*"]),
            Statement("ManimCloudReadTable", TableReadActions, [r.TableArn]),
            Statement("ManimCloudReadTableIndexes", ["dynamodb:Query"], [r.TableArn + "/index/*"]));
        AddKms(s, r, ["kms:Decrypt"]);
        return new RolePolicy(IamRole.Viewer, Document(s), null, null, ["Read only: no s3:Put*/Delete*, no DynamoDB writes, no queue, no kms:GenerateDataKey."]);
    }

    private static RolePolicy Admin(DeploymentResources r)
    {
        var worker = Worker(r).Policy["Statement"]!.AsArray();
        var s = new JsonArray(worker.Select(x => x!.DeepClone()).ToArray());
        var buckets = new List<string> { r.BucketArn(r.VideoBucket), r.BucketArn(r.CodeBucket) };
        if (r.LogBucket is not null) buckets.Add(r.BucketArn(r.LogBucket));
        s.Add((JsonNode)Statement("ManimCloudProvisionBuckets", BucketAdminActions, [.. buckets]));
        if (r.LogBucket is not null)
            s.Add((JsonNode)Statement("ManimCloudReadAccessLogs", ["s3:ListBucket", "s3:GetObject", "s3:PutObject"], [r.BucketArn(r.LogBucket), r.BucketArn(r.LogBucket) + "/*"]));
        // provision's probe write (WriteProbe) removes its object, version and all.
        s.Add((JsonNode)Statement("ManimCloudProvisionProbe", ["s3:DeleteObjectVersion"],
            [$"{r.BucketArn(r.VideoBucket)}/{WriteProbe.KeyPrefix}*", $"{r.BucketArn(r.CodeBucket)}/{WriteProbe.KeyPrefix}*"]));
        s.Add((JsonNode)Statement("ManimCloudReadAudit", ReadObjectActions, [$"{r.BucketArn(r.CodeBucket)}/{AuditPrefix}*"]));
        // `backup create`: DynamoDB writes the table export (as this identity) and the tool its manifest under backups/;
        // `backup list|restore` read them back.
        s.Add((JsonNode)Statement("ManimCloudBackupExports", ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
            [$"{r.BucketArn(r.VideoBucket)}/{Operations.Backup.BackupManifest.KeyPrefix}*"]));
        s.Add((JsonNode)Statement("ManimCloudAdministerTable", TableAdminActions, [r.TableArn, $"{r.TableArn}/backup/*", $"{r.TableArn}/export/*"]));
        // A restore creates a new table: only one named after the deployment's (…-restored-…).
        s.Add((JsonNode)Statement("ManimCloudRestoreTable",
            ["dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:PutItem", "dynamodb:BatchWriteItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:UpdateItem", "dynamodb:UpdateContinuousBackups"],
            [$"arn:{r.Partition}:dynamodb:{r.Region}:{r.Account}:table/{r.Table}-restored-*"]));
        s.Add((JsonNode)Statement("ManimCloudBudgets", ["budgets:ViewBudget", "budgets:ModifyBudget"], [$"arn:{r.Partition}:budgets::{r.Account}:budget/manimcloud-{r.Environment}-*"]));
        // Cost Explorer and CloudWatch's read and alarm APIs take no resource scoping (AWS authorises them on "*").
        s.Add((JsonNode)Statement("ManimCloudCostAndMonitoring",
            ["ce:GetCostAndUsage", "cloudwatch:GetMetricStatistics", "cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms",
             "cloudwatch:DeleteAlarms", "cloudwatch:PutDashboard", "cloudwatch:GetDashboard"], ["*"]));
        return new RolePolicy(IamRole.Admin, Document(s), null, null,
        [
            "Everything the worker has, plus provisioning the buckets (no s3:DeleteBucket) and table (no dynamodb:DeleteTable), backups and restores into new tables named TABLE-restored-*, budgets named manimcloud-ENV-*, cost and monitoring.",
            "ce:* and CloudWatch's alarm and read APIs accept only Resource \"*\" on AWS.",
        ]);
    }

    private static RolePolicy MediaConvert(DeploymentResources r) => new(IamRole.MediaConvert,
        IamPolicy.ForMediaConvertRole(r.VideoBucket, r.KmsKey, r.Region, r.Account), IamPolicy.MediaConvertTrustPolicy(r.Account), null,
        [
            "Attach to the role named by MANIMCLOUD_MEDIACONVERT_ROLE; the trust policy lets only MediaConvert assume it.",
            "The worker (or admin) that submits jobs also needs iam:PassRole on this role (in `iam policy --role worker` once MANIMCLOUD_MEDIACONVERT_ROLE is set).",
        ]);

    private static RolePolicy Cdn(DeploymentResources r)
    {
        var distribution = r.DistributionId is { } id ? $"arn:{r.Partition}:cloudfront::{r.Account}:distribution/{id}" : $"arn:{r.Partition}:cloudfront::{r.Account}:distribution/*";
        var read = new JsonObject
        {
            ["Sid"] = BucketPolicy.CdnSidPrefix + "OriginAccessControlRead",
            ["Effect"] = "Allow",
            ["Principal"] = new JsonObject { ["Service"] = "cloudfront.amazonaws.com" },
            ["Action"] = "s3:GetObject",
            ["Resource"] = $"{r.BucketArn(r.VideoBucket)}/{ObjectLayout.TranscodedPrefix}*",
            ["Condition"] = new JsonObject { ["StringEquals"] = new JsonObject { ["AWS:SourceArn"] = distribution } },
        };
        var s = new JsonArray(
            Statement("ManimCloudCdnDistribution",
                ["cloudfront:CreateDistribution", "cloudfront:GetDistribution", "cloudfront:GetDistributionConfig", "cloudfront:UpdateDistribution",
                 "cloudfront:CreateInvalidation", "cloudfront:GetInvalidation", "cloudfront:TagResource"], [distribution]),
            Statement("ManimCloudCdnPolicies",
                ["cloudfront:CreateOriginAccessControl", "cloudfront:GetOriginAccessControl", "cloudfront:ListOriginAccessControls",
                 "cloudfront:CreateCachePolicy", "cloudfront:GetCachePolicy", "cloudfront:ListCachePolicies",
                 "cloudfront:CreateResponseHeadersPolicy", "cloudfront:GetResponseHeadersPolicy", "cloudfront:ListResponseHeadersPolicies",
                 "cloudfront:CreatePublicKey", "cloudfront:GetPublicKey", "cloudfront:ListPublicKeys",
                 "cloudfront:CreateKeyGroup", "cloudfront:GetKeyGroup", "cloudfront:ListKeyGroups", "cloudfront:ListDistributions"], ["*"]),
            Statement("ManimCloudCdnOriginBucketPolicy", ["s3:GetBucketPolicy", "s3:PutBucketPolicy"], [r.BucketArn(r.VideoBucket)]),
            Statement("ManimCloudCdnMetrics", ["cloudwatch:GetMetricStatistics"], ["*"]));
        return new RolePolicy(IamRole.Cdn, Document(s), null, new JsonArray(read),
        [
            "bucket_policy_statements go on the VIDEO bucket: CloudFront (Origin Access Control) may read transcoded/* only, for this distribution only.",
            "policy is for the identity that runs `delivery provision`, `delivery invalidate` and `delivery stats`; CloudFront's policy, key and OAC APIs accept only Resource \"*\".",
            r.DistributionId is null ? "No MANIMCLOUD_DISTRIBUTION_ID yet: the distribution is distribution/* until `delivery provision` has made it." : $"Scoped to distribution {r.DistributionId}.",
        ]);
    }

    private static string[] Objects(DeploymentResources r) =>
        [.. VideoPrefixes.Select(p => $"{r.BucketArn(r.VideoBucket)}/{p}*"), .. CodePrefixes.Select(p => $"{r.BucketArn(r.CodeBucket)}/{p}*")];

    private static JsonObject MetricsStatement()
    {
        // PutMetricData takes no resource; the namespace condition keeps it to ManimCloud's metrics.
        var s = Statement("ManimCloudMetrics", ["cloudwatch:PutMetricData"], ["*"]);
        s["Condition"] = new JsonObject { ["StringEquals"] = new JsonObject { ["cloudwatch:namespace"] = "ManimCloud" } };
        return s;
    }

    private static void AddKms(JsonArray statements, DeploymentResources r, string[] actions)
    {
        if (r.KmsKey is null) return;
        var key = IamPolicy.ForDeployment(r.VideoBucket, r.CodeBucket, r.Table, r.KmsKey, r.Region, r.Account)["Statement"]!.AsArray()
            .Single(s => (string?)s!["Sid"] == "ManimCloudKmsKey")!.DeepClone().AsObject();
        key["Action"] = new JsonArray(actions.Select(a => (JsonNode)a).ToArray());
        statements.Add((JsonNode)key);
    }

    private static JsonObject Document(JsonArray statements) => new() { ["Version"] = "2012-10-17", ["Statement"] = statements };

    private static JsonObject Statement(string sid, string[] actions, string[] resources) => new()
    {
        ["Sid"] = sid,
        ["Effect"] = "Allow",
        ["Action"] = new JsonArray(actions.Select(a => (JsonNode)a).ToArray()),
        ["Resource"] = new JsonArray(resources.Select(a => (JsonNode)a).ToArray()),
    };
}
