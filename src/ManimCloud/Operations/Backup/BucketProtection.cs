using Amazon.S3;
using Amazon.S3.Model;
using ManimCloud.Aws;
using ManimCloud.Domain;
using ManimCloud.Resilience;

namespace ManimCloud.Operations.Backup;

/// <summary>How one bucket's objects are protected: versioning (every overwrite and delete recoverable) and replication.</summary>
/// <param name="Versioning">Enabled, Suspended or Off.</param>
/// <param name="ReplicatesTo">Destination buckets of enabled replication rules.</param>
public sealed record BucketState(string Bucket, string Role, string Versioning, IReadOnlyList<string> ReplicatesTo)
{
    public bool Versioned => Versioning == "Enabled";
}

/// <summary>
/// The objects' side of a backup. The table is backed up by DynamoDB; the clips, renditions and code are kept by the
/// buckets' versioning (provision turns it on; a backup checks it), and optionally copied by an S3 replication rule to
/// a second bucket (another region or account), which only replicates objects written after the rule exists.
/// </summary>
public sealed class BucketProtection(IAmazonS3 s3, RetryPipeline retry)
{
    /// <summary>The id of ManimCloud's replication rule; rules with other ids are kept as they are.</summary>
    public const string RuleId = "ManimCloudReplication";

    public async Task<BucketState> ReadAsync(string bucket, string role, CancellationToken ct)
    {
        var versioning = await AwsCall.RunAsync(retry, "Reading the versioning of", $"s3://{bucket}",
            t => s3.GetBucketVersioningAsync(new GetBucketVersioningRequest { BucketName = bucket }, t), ct);
        var rules = await ReadRulesAsync(bucket, ct);
        return new BucketState(bucket, role, versioning.VersioningConfig?.Status?.Value is { Length: > 0 } s ? s : "Off",
            rules.Where(r => r.Status == ReplicationRuleStatus.Enabled && r.Destination?.BucketArn is not null)
                .Select(r => BucketName(r.Destination.BucketArn)).ToList());
    }

    /// <summary>
    /// Adds (or brings into line) ManimCloud's rule replicating every object of <paramref name="source"/>, delete
    /// markers included, to <paramref name="destination"/> as <paramref name="role"/>. Both buckets must be versioned.
    /// Returns whether the configuration was written.
    /// </summary>
    public async Task<bool> EnsureReplicationAsync(string source, string destination, string role, string? kmsKey, CancellationToken ct)
    {
        if (source == destination)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"s3://{source} cannot replicate into itself.", "Name a second bucket, ideally in another region or account.");
        if (!role.StartsWith("arn:", StringComparison.Ordinal) || !role.Contains(":role/", StringComparison.Ordinal))
            throw new ManimCloudException(ErrorKind.InvalidInput, $"--replication-role {role} is not an IAM role ARN.",
                "Give the ARN of a role S3 may assume (trust s3.amazonaws.com) with s3:GetObjectVersion* on the source and s3:Replicate* on the destination (docs/operations.md).");
        var dest = await ReadAsync(destination, "replica", ct);
        if (!dest.Versioned)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"The replica bucket s3://{destination} is not versioned (versioning {dest.Versioning}); S3 replicates only into versioned buckets.",
                $"`aws s3api put-bucket-versioning --bucket {destination} --versioning-configuration Status=Enabled`, then run the backup again.");
        var partition = Provisioning.AwsPartition.For(null);
        var wanted = new ReplicationRule
        {
            Id = RuleId,
            Priority = 0,
            Status = ReplicationRuleStatus.Enabled,
            Filter = new ReplicationRuleFilter { Prefix = "" },
            DeleteMarkerReplication = new DeleteMarkerReplication { Status = DeleteMarkerReplicationStatus.Enabled },
            Destination = new ReplicationDestination
            {
                BucketArn = $"arn:{partition}:s3:::{destination}",
                EncryptionConfiguration = kmsKey is null ? null : new EncryptionConfiguration { ReplicaKmsKeyID = kmsKey },
            },
            SourceSelectionCriteria = kmsKey is null ? null : new SourceSelectionCriteria
            {
                SseKmsEncryptedObjects = new SseKmsEncryptedObjects { SseKmsEncryptedObjectsStatus = SseKmsEncryptedObjectsStatus.Enabled },
            },
        };
        var current = await ReadRulesAsync(source, ct);
        var ours = current.FirstOrDefault(r => r.Id == RuleId);
        if (ours is not null && ours.Status == ReplicationRuleStatus.Enabled && ours.Destination?.BucketArn == wanted.Destination.BucketArn
            && await CurrentRoleAsync(source, ct) == role)
            return false;
        var others = current.Where(r => r.Id != RuleId).ToList();
        wanted.Priority = others.Count == 0 ? 0 : others.Max(r => r.Priority ?? 0) + 1;
        await AwsCall.RunAsync(retry, "Setting the replication rule of", $"s3://{source}", t => s3.PutBucketReplicationAsync(new PutBucketReplicationRequest
        {
            BucketName = source,
            Configuration = new ReplicationConfiguration { Role = role, Rules = [.. others, wanted] },
        }, t), ct);
        return true;
    }

    private async Task<string?> CurrentRoleAsync(string bucket, CancellationToken ct)
    {
        try
        {
            return (await AwsCall.RunAsync(retry, "Reading the replication of", $"s3://{bucket}",
                t => s3.GetBucketReplicationAsync(new GetBucketReplicationRequest { BucketName = bucket }, t), ct)).Configuration?.Role;
        }
        catch (ManimCloudException e) when (NoReplication(e))
        {
            return null;
        }
    }

    private async Task<List<ReplicationRule>> ReadRulesAsync(string bucket, CancellationToken ct)
    {
        try
        {
            return (await AwsCall.RunAsync(retry, "Reading the replication of", $"s3://{bucket}",
                t => s3.GetBucketReplicationAsync(new GetBucketReplicationRequest { BucketName = bucket }, t), ct)).Configuration?.Rules ?? [];
        }
        catch (ManimCloudException e) when (NoReplication(e))
        {
            return [];
        }
    }

    private static bool NoReplication(ManimCloudException e) =>
        (e.InnerException as Amazon.Runtime.AmazonServiceException)?.ErrorCode is "ReplicationConfigurationNotFoundError" or "NotImplemented"
        || (e.InnerException as Amazon.Runtime.AmazonServiceException)?.StatusCode == System.Net.HttpStatusCode.NotImplemented;

    private static string BucketName(string arn) => arn[(arn.LastIndexOf(':') + 1)..];
}
