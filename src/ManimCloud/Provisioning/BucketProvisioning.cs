using Amazon.S3;
using Amazon.S3.Model;
using ManimCloud.Aws;
using ManimCloud.Domain;
using ManimCloud.Resilience;

namespace ManimCloud.Provisioning;

/// <summary>
/// Reads the settings of one bucket and plans what brings it into line: existence and region, versioning,
/// Object Lock (code bucket), default encryption, Block Public Access, the bucket policy and the lifecycle rules.
/// Reading writes nothing; every write is in a step's apply.
/// </summary>
internal sealed class BucketProvisioning(
    IAmazonS3 s3, RetryPipeline retry, BucketRole role, string bucket, string region, bool customEndpoint, KmsKeyRef? kms, PolicyStore policyStore,
    bool storageClasses = true)
{
    private string Resource => $"s3://{bucket}";
    private string NameSetting => role == BucketRole.Videos ? "MANIMCLOUD_VIDEO_BUCKET" : "MANIMCLOUD_CODE_BUCKET";
    private bool ObjectLock => role == BucketRole.Code;
    private string Partition => AwsPartition.For(region);

    public const string VersioningEnabled = "Enabled";
    public const string PublicAccessBlocked = "all four blocks on";

    private static readonly System.Text.RegularExpressions.Regex AwsRegionName = new("^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$");

    private string DesiredEncryption => kms is null ? "SSE-S3 (AES256)" : $"SSE-KMS key={kms.Arn} bucket_key=true";

    public async Task<List<ProvisionCheck>> InspectAsync(CancellationToken ct)
    {
        var location = await ReadLocationAsync(ct);
        if (location is null) return PlanCreation();

        var checks = new List<ProvisionCheck>
        {
            new(new ProvisionStep(Resource, "bucket", "exists", "exists", StepAction.Unchanged)),
            RegionCheck(location),
        };
        // A bucket in another region is the wrong bucket for this deployment: leave its settings alone.
        if (checks[^1].Step.Action == StepAction.Blocked) return checks;
        var versioning = await ReadAsync("versioning", async t =>
            (await s3.GetBucketVersioningAsync(new GetBucketVersioningRequest { BucketName = bucket }, t)).VersioningConfig?.Status?.Value is { Length: > 0 } s
                ? s : "Off", [], ct);
        checks.Add(ProvisionCheck.Compare(Resource, "versioning", versioning, VersioningEnabled, EnableVersioningAsync));

        if (ObjectLock)
        {
            var objectLock = await ReadAsync("Object Lock configuration", async t =>
                (await s3.GetObjectLockConfigurationAsync(new GetObjectLockConfigurationRequest { BucketName = bucket }, t))
                    .ObjectLockConfiguration?.ObjectLockEnabled?.Value == "Enabled" ? "Enabled" : "Disabled",
                ["ObjectLockConfigurationNotFoundError", "NoSuchObjectLockConfiguration"], ct, absent: "Disabled");
            checks.Add(ProvisionCheck.Compare(Resource, "object_lock", objectLock, "Enabled", EnableObjectLockAsync,
                "Object Lock can only be switched on for an existing bucket where the store allows it (AWS does for versioned buckets); "
                + "if it refuses, the bucket has to be replaced (see docs/provisioning.md)."));
        }

        var encryption = await ReadAsync("default encryption", async t =>
            DescribeEncryption((await s3.GetBucketEncryptionAsync(new GetBucketEncryptionRequest { BucketName = bucket }, t))
                .ServerSideEncryptionConfiguration?.ServerSideEncryptionRules?.FirstOrDefault()),
            ["ServerSideEncryptionConfigurationNotFoundError"], ct);
        checks.Add(ProvisionCheck.Compare(Resource, "encryption", encryption, DesiredEncryption, Optional("default encryption", EncryptionMeaning, PutEncryptionAsync)));

        var publicAccess = await ReadAsync("public access block", async t =>
            DescribePublicAccess((await s3.GetPublicAccessBlockAsync(new GetPublicAccessBlockRequest { BucketName = bucket }, t)).PublicAccessBlockConfiguration),
            ["NoSuchPublicAccessBlockConfiguration"], ct);
        checks.Add(ProvisionCheck.Compare(Resource, "public_access_block", publicAccess, PublicAccessBlocked, Optional("Block Public Access", PublicAccessMeaning, BlockPublicAccessAsync)));

        var policyText = await ReadAsync("bucket policy", async t =>
        {
            var response = await s3.GetBucketPolicyAsync(new GetBucketPolicyRequest { BucketName = bucket }, t);
            // AWSSDK.S3 4.1.0 does not throw on a 404 from GetBucketPolicy: it returns the error document as the policy text.
            if (response.HttpStatusCode == System.Net.HttpStatusCode.NotFound)
                return response.Policy?.Contains("<Code>NoSuchBucketPolicy</Code>", StringComparison.Ordinal) != false ? SettingValue.None
                    : throw new ManimCloudException(ErrorKind.NotFound, $"Reading the bucket policy of {Resource} failed (NotFound): {response.Policy}",
                        "The bucket disappeared while provisioning read it; run provision again.");
            return string.IsNullOrWhiteSpace(response.Policy) ? SettingValue.None : response.Policy;
        }, ["NoSuchBucketPolicy"], ct);
        var currentPolicy = PolicyJson.TryParse(policyText);
        var policy = currentPolicy is not null ? PolicyJson.Normalize(currentPolicy)
            : policyText is SettingValue.None or SettingValue.Unknown ? policyText : "unreadable: " + policyText;
        var desiredPolicy = BucketPolicy.Desired(bucket, Partition, currentPolicy, policyStore);
        var currentStatements = PolicyJson.StatementsOf(currentPolicy).ToList();
        checks.Add(ProvisionCheck.Compare(Resource, "policy", policy, DescribePolicy(desiredPolicy), t => PutPolicyAsync(desiredPolicy, t),
            Difference("statement",
                currentStatements.Select(s => (BucketPolicy.SidOf(s), PolicyJson.Normalize(s))),
                BucketPolicy.ForStore(bucket, Partition, policyStore).Kept.Select(s => (BucketPolicy.SidOf(s), PolicyJson.Normalize(s))),
                currentStatements.Count(s => !BucketPolicy.IsOurs(s))) + PolicyNote));

        List<LifecycleRule>? currentRules = null;
        var lifecycle = await ReadAsync("lifecycle configuration", async t =>
        {
            currentRules = (await s3.GetLifecycleConfigurationAsync(new GetLifecycleConfigurationRequest { BucketName = bucket }, t)).Configuration?.Rules;
            return currentRules is { Count: > 0 } ? LifecycleRules.Canonical(currentRules) : SettingValue.None;
        }, ["NoSuchLifecycleConfiguration"], ct);
        var desiredRules = LifecycleRules.Desired(role, currentRules, storageClasses);
        checks.Add(ProvisionCheck.Compare(Resource, "lifecycle", lifecycle, LifecycleRules.Canonical(desiredRules), Optional("these lifecycle rules", LifecycleMeaning, t => PutLifecycleAsync(desiredRules, t)),
            Difference("rule",
                (currentRules ?? []).Select(r => ((string?)r.Id, LifecycleRules.Canonical(r))),
                LifecycleRules.Ours(role, storageClasses).Select(r => ((string?)r.Id, LifecycleRules.Canonical(r))),
                (currentRules ?? []).Count(r => !LifecycleRules.IsOurs(r)))));
        return checks;
    }

    private List<ProvisionCheck> PlanCreation()
    {
        var desiredPolicy = BucketPolicy.Desired(bucket, Partition, null, policyStore);
        var desiredRules = LifecycleRules.Desired(role, null, storageClasses);
        var checks = new List<ProvisionCheck>
        {
            ProvisionCheck.OnCreate(Resource, "bucket", "exists", CreateAsync,
                ObjectLock ? "Created with Object Lock enabled (which also enables versioning)." : null),
            new(new ProvisionStep(Resource, "region", SettingValue.Absent, region, StepAction.Create)),
            ProvisionCheck.OnCreate(Resource, "versioning", VersioningEnabled, EnableVersioningAsync),
        };
        if (ObjectLock) checks.Add(ProvisionCheck.OnCreate(Resource, "object_lock", "Enabled", null, "Set at creation."));
        checks.Add(ProvisionCheck.OnCreate(Resource, "encryption", DesiredEncryption, Optional("default encryption", EncryptionMeaning, PutEncryptionAsync)));
        checks.Add(ProvisionCheck.OnCreate(Resource, "public_access_block", PublicAccessBlocked, Optional("Block Public Access", PublicAccessMeaning, BlockPublicAccessAsync)));
        checks.Add(desiredPolicy is null
            ? new(new ProvisionStep(Resource, "policy", SettingValue.None, SettingValue.None, StepAction.Unchanged, PolicyNote.TrimStart()))
            : ProvisionCheck.OnCreate(Resource, "policy", PolicyJson.Normalize(desiredPolicy), t => PutPolicyAsync(desiredPolicy, t), PolicyNote.TrimStart() is { Length: > 0 } n ? n : null));
        checks.Add(ProvisionCheck.OnCreate(Resource, "lifecycle", LifecycleRules.Canonical(desiredRules), Optional("these lifecycle rules", LifecycleMeaning, t => PutLifecycleAsync(desiredRules, t))));
        return checks;
    }

    /// <summary>
    /// On an S3-compatible store (a custom endpoint), a setting the store refuses as unsupported is skipped and
    /// reported with what that means (<see cref="StepAction.Unsupported"/>), and the other settings still apply. On
    /// AWS every refusal stays a failure: AWS supports all of them, so a refusal there is a real problem.
    /// </summary>
    private Func<CancellationToken, Task> Optional(string what, string meaning, Func<CancellationToken, Task> apply) => async ct =>
    {
        try
        {
            await apply(ct);
        }
        catch (ManimCloudException e) when (customEndpoint && SettingRead.IsRefusedAsUnsupported(e))
        {
            throw new UnsupportedByStoreException(
                $"The store does not support {what} (it answered {SettingRead.ErrorCode(e) ?? e.Kind.ToString()}): skipped. {meaning}", e);
        }
    };

    private const string EncryptionMeaning = "Objects are encrypted at rest only where the store encrypts what ManimCloud writes; "
        + "a store without server-side encryption refuses ManimCloud's per-object SSE header too (MANIMCLOUD_REQUEST_ENCRYPTION, docs/runbook.md).";
    private const string PublicAccessMeaning = "Keep the bucket private with the store's own access rules (Ceph RGW buckets are private unless an ACL or policy opens them).";
    private string LifecycleMeaning => "Incomplete multipart uploads are not aborted by the store (`manimcloud uploads abort --all --older-than-hours 168` does it), "
        + "and temporary objects and old versions do not expire."
        + (storageClasses ? " If the store only refuses the storage-class transitions, MANIMCLOUD_STORAGE_CLASSES=off provisions the rules without them." : "");

    /// <summary>Says which of ManimCloud's statements or rules are missing or differ, and how many of others' are kept.</summary>
    private static string Difference(string noun, IEnumerable<(string? Id, string Canonical)> current, IEnumerable<(string? Id, string Canonical)> ours, int others)
    {
        var now = current.Where(c => c.Id is not null).GroupBy(c => c.Id!).ToDictionary(g => g.Key, g => g.First().Canonical);
        var parts = ours.Select(o => now.TryGetValue(o.Id!, out var c) ? (c == o.Canonical ? null : $"{o.Id} differs") : $"{o.Id} missing")
            .Where(p => p is not null).ToList();
        var ourIds = ours.Select(o => o.Id).ToHashSet();
        parts.AddRange(now.Keys.Where(id => id.StartsWith("manimcloud", StringComparison.OrdinalIgnoreCase) && !id.StartsWith(BucketPolicy.CdnSidPrefix, StringComparison.Ordinal) && !ourIds.Contains(id)).Select(id => $"{id} removed"));
        parts.Add(others == 0 ? $"no other {noun}s to keep" : $"{others} other {noun}(s) kept as they are");
        return string.Join("; ", parts) + ".";
    }

    private ProvisionCheck RegionCheck(string location)
    {
        if (location == region) return new(new ProvisionStep(Resource, "region", location, region, StepAction.Unchanged));
        // S3-compatible stores name their zone groups freely ("default"): only an AWS region name is held to the configured one.
        if (customEndpoint && !AwsRegionName.IsMatch(location))
            return new(new ProvisionStep(Resource, "region", location, region, StepAction.Unchanged,
                $"The store reports the location '{location}', which is not an AWS region; it is not compared with {region}."));
        return ProvisionCheck.Blocked(Resource, "region", location, region,
            $"The bucket exists in {location}, not {region}; a bucket cannot move. Set AWS_REGION={location}, "
            + $"or set {NameSetting} to a new bucket name in {region} and copy the objects over.");
    }

    /// <summary>The bucket's region, or null when it does not exist.</summary>
    private async Task<string?> ReadLocationAsync(CancellationToken ct)
    {
        try
        {
            var response = await AwsCall.RunAsync(retry, "Reading the location of", Resource,
                t => s3.GetBucketLocationAsync(new GetBucketLocationRequest { BucketName = bucket }, t), ct);
            return response.Location?.Value switch
            {
                null or "" => "us-east-1",
                "EU" => "eu-west-1",
                var l => l,
            };
        }
        catch (ManimCloudException e) when (SettingRead.ErrorCode(e) == "NoSuchBucket")
        {
            return null;
        }
        catch (ManimCloudException e) when (e.Kind == ErrorKind.Auth)
        {
            throw new ManimCloudException(ErrorKind.Auth,
                $"Bucket {bucket} cannot be read: it belongs to another AWS account (bucket names are global), or these credentials may not read it. ({e.Message})",
                $"If the name is taken, set {NameSetting} to another name; if it is yours, grant s3:GetBucketLocation and the s3:GetBucket*/PutBucket* "
                + "actions listed in docs/provisioning.md to the identity running provision.", e);
        }
    }

    /// <summary>Reads one setting. <paramref name="absentCodes"/> mean "not configured" (→ <paramref name="absent"/>);
    /// a store that does not implement the read yields <see cref="SettingValue.Unknown"/>, so the setting is applied.</summary>
    private async Task<string> ReadAsync(string what, Func<CancellationToken, Task<string>> read, string[] absentCodes, CancellationToken ct,
        string absent = SettingValue.None)
    {
        try
        {
            return await AwsCall.RunAsync(retry, $"Reading the {what} of", Resource, read, ct);
        }
        catch (ManimCloudException e) when (SettingRead.ErrorCode(e) is { } code && absentCodes.Contains(code))
        {
            return absent;
        }
        catch (ManimCloudException e) when (SettingRead.IsUnsupported(e))
        {
            return SettingValue.Unknown;
        }
    }

    private string DescribeEncryption(ServerSideEncryptionRule? rule)
    {
        var algorithm = rule?.ServerSideEncryptionByDefault?.ServerSideEncryptionAlgorithm?.Value;
        return algorithm switch
        {
            null or "" => SettingValue.None,
            "AES256" => "SSE-S3 (AES256)",
            "aws:kms" => $"SSE-KMS key={(kms?.Canonical(rule!.ServerSideEncryptionByDefault.ServerSideEncryptionKeyManagementServiceKeyId) ?? rule!.ServerSideEncryptionByDefault.ServerSideEncryptionKeyManagementServiceKeyId ?? "(AWS managed key)")} bucket_key={(rule.BucketKeyEnabled == true ? "true" : "false")}",
            var other => $"{other} key={rule!.ServerSideEncryptionByDefault.ServerSideEncryptionKeyManagementServiceKeyId}",
        };
    }

    private static string DescribePublicAccess(PublicAccessBlockConfiguration? c)
    {
        if (c is null) return SettingValue.None;
        var off = new (string Name, bool? On)[]
        {
            ("BlockPublicAcls", c.BlockPublicAcls), ("IgnorePublicAcls", c.IgnorePublicAcls),
            ("BlockPublicPolicy", c.BlockPublicPolicy), ("RestrictPublicBuckets", c.RestrictPublicBuckets),
        }.Where(f => f.On != true).Select(f => f.Name).ToList();
        return off.Count == 0 ? PublicAccessBlocked : "off: " + string.Join(", ", off);
    }

    private Task Write(string what, Func<CancellationToken, Task> call, CancellationToken ct) =>
        AwsCall.RunAsync(retry, what, Resource, async t => { await call(t); return true; }, ct);

    private async Task CreateAsync(CancellationToken ct)
    {
        var request = new PutBucketRequest { BucketName = bucket, UseClientRegion = false };
        // us-east-1 takes no LocationConstraint (sending one is an error there); every other region needs it.
        if (region != "us-east-1") request.BucketRegionName = region;
        if (ObjectLock) request.ObjectLockEnabledForBucket = true;
        try
        {
            await Write("Creating", t => s3.PutBucketAsync(request, t), ct);
        }
        catch (ManimCloudException e) when (SettingRead.ErrorCode(e) == "BucketAlreadyOwnedByYou")
        {
            // Another provision run created it a moment ago; the settings below still apply.
        }
        catch (ManimCloudException e) when (SettingRead.ErrorCode(e) == "BucketAlreadyExists")
        {
            throw new ManimCloudException(ErrorKind.Conflict, $"Bucket name {bucket} is taken by another AWS account (bucket names are global).",
                $"Set {NameSetting} to a name nobody else uses (for example with your organisation as a prefix), then run provision again.", e);
        }
        catch (ManimCloudException e) when (SettingRead.ErrorCode(e) == "InvalidBucketName")
        {
            throw new ManimCloudException(ErrorKind.InvalidInput, $"{bucket} is not a valid S3 bucket name.",
                $"Set {NameSetting} to 3–63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit.", e);
        }
    }

    private Task EnableVersioningAsync(CancellationToken ct) => Write("Enabling versioning on", t => s3.PutBucketVersioningAsync(new PutBucketVersioningRequest
    {
        BucketName = bucket,
        VersioningConfig = new S3BucketVersioningConfig { Status = VersionStatus.Enabled },
    }, t), ct);

    private async Task EnableObjectLockAsync(CancellationToken ct)
    {
        try
        {
            // No default retention rule: ManimCloud locks individual code versions on request (SPEC R2).
            await Write("Enabling Object Lock on", t => s3.PutObjectLockConfigurationAsync(new PutObjectLockConfigurationRequest
            {
                BucketName = bucket,
                ObjectLockConfiguration = new ObjectLockConfiguration { ObjectLockEnabled = ObjectLockEnabled.Enabled },
            }, t), ct);
        }
        catch (ManimCloudException e) when (e.Kind is ErrorKind.ClientError or ErrorKind.Conflict or ErrorKind.NotFound)
        {
            throw new CannotFixInPlaceException(
                $"The code bucket {bucket} exists without Object Lock and the store refused to enable it in place ({SettingRead.ErrorCode(e) ?? e.Message}). "
                + $"Create a new code bucket with Object Lock: set {NameSetting} to a new name and run provision, then copy the objects "
                + $"(`aws s3 sync s3://{bucket} s3://NEW-NAME`) and switch the configuration over.", e);
        }
    }

    private Task PutEncryptionAsync(CancellationToken ct)
    {
        var rule = new ServerSideEncryptionRule
        {
            ServerSideEncryptionByDefault = kms is null
                ? new ServerSideEncryptionByDefault { ServerSideEncryptionAlgorithm = ServerSideEncryptionMethod.AES256 }
                : new ServerSideEncryptionByDefault { ServerSideEncryptionAlgorithm = ServerSideEncryptionMethod.AWSKMS, ServerSideEncryptionKeyManagementServiceKeyId = kms.Arn },
            // S3 Bucket Keys cut KMS requests (and cost) by orders of magnitude; they mean nothing for SSE-S3.
            BucketKeyEnabled = kms is not null,
        };
        return Write("Setting default encryption on", t => s3.PutBucketEncryptionAsync(new PutBucketEncryptionRequest
        {
            BucketName = bucket,
            ServerSideEncryptionConfiguration = new ServerSideEncryptionConfiguration { ServerSideEncryptionRules = [rule] },
        }, t), ct);
    }

    private Task PutPublicAccessBlockAsync(bool blockPublicAcls, CancellationToken ct) =>
        Write("Blocking public access to", t => s3.PutPublicAccessBlockAsync(new PutPublicAccessBlockRequest
        {
            BucketName = bucket,
            PublicAccessBlockConfiguration = new PublicAccessBlockConfiguration
            {
                BlockPublicAcls = blockPublicAcls, IgnorePublicAcls = true, BlockPublicPolicy = true, RestrictPublicBuckets = true,
            },
        }, t), ct);

    /// <summary>
    /// All four blocks. On an S3-compatible store, a probe write then checks the bucket still takes ManimCloud's writes:
    /// Ceph RGW 16 refuses every PutObject (AccessDenied) while BlockPublicAcls is on, even a private one. There
    /// BlockPublicAcls is turned off again (IgnorePublicAcls still makes any public ACL ineffective) and the step is
    /// reported as not supported. A refusal that stays without it has another cause (the policy, the credentials): the
    /// four blocks stay and the refusal is left to whatever reports it.
    /// </summary>
    private async Task BlockPublicAccessAsync(CancellationToken ct)
    {
        await PutPublicAccessBlockAsync(true, ct);
        if (!customEndpoint || await CanWriteAsync(ct) is not false) return;
        await PutPublicAccessBlockAsync(false, ct);
        if (await CanWriteAsync(ct) is not true)
        {
            await PutPublicAccessBlockAsync(true, ct);
            return;
        }
        throw new UnsupportedByStoreException("The store refuses every write while BlockPublicAcls is on (Ceph RGW 16 does), so it is left off; "
            + "IgnorePublicAcls, BlockPublicPolicy and RestrictPublicBuckets are on, so a public ACL still grants nothing.",
            new InvalidOperationException("probe write refused with BlockPublicAcls on"));
    }

    /// <summary>
    /// Whether a small write to tmp/ (expired by the lifecycle rule) is accepted: true, false when refused as access
    /// denied, null when it failed otherwise (inconclusive). No encryption header: this asks about access only.
    /// </summary>
    private async Task<bool?> CanWriteAsync(CancellationToken ct)
    {
        var key = $"{Domain.ObjectLayout.TemporaryPrefix}manimcloud-provision-access-probe-{Guid.NewGuid():N}";
        try
        {
            var written = await AwsCall.RunAsync(retry, "Writing an access probe to", Resource, t => s3.PutObjectAsync(new PutObjectRequest
            {
                // Empty: a store that refuses before reading the body (RGW answers 403 at once) would otherwise leave the
                // body's bytes on the connection, and the next request on it fails as a malformed one (400 BadRequest).
                BucketName = bucket, Key = key, ContentBody = "",
            }, t), ct);
            await AwsCall.RunAsync(retry, "Deleting the access probe from", Resource, t => s3.DeleteObjectAsync(new DeleteObjectRequest
            {
                BucketName = bucket, Key = key, VersionId = written.VersionId is null or "" or "null" ? null : written.VersionId,
            }, t), ct);
            return true;
        }
        catch (ManimCloudException e) when (e.Kind == ErrorKind.Auth)
        {
            return false;
        }
        catch (ManimCloudException)
        {
            return null;
        }
    }

    private static string DescribePolicy(System.Text.Json.Nodes.JsonObject? policy) => policy is null ? SettingValue.None : PolicyJson.Normalize(policy);

    /// <summary>What the plan says about statements this store does not get, or will be checked for on apply.</summary>
    private string PolicyNote => policyStore.Conditions == PolicyConditionSupport.Unknown
        ? " Apply then checks with a probe write that this store evaluates the policy's conditions; where it does not (moto), "
          + "the conditional statements are left out and the plan says so."
        : BucketPolicy.ForStore(bucket, Partition, policyStore).LeftOut is { Length: > 0 } leftOut
            ? " Left out on this store: " + string.Join(", ", leftOut.Select(o => o.Statement)) + " (see left_out)."
            : "";

    /// <summary>Writes the policy, or removes ManimCloud's when none of its statements suit this store and nobody else's are there.</summary>
    private Task PutPolicyAsync(System.Text.Json.Nodes.JsonObject? policy, CancellationToken ct) => policy is null
        ? Write("Removing the bucket policy of", t => s3.DeleteBucketPolicyAsync(new DeleteBucketPolicyRequest { BucketName = bucket }, t), ct)
        : Write("Setting the bucket policy of", t => s3.PutBucketPolicyAsync(new PutBucketPolicyRequest { BucketName = bucket, Policy = policy.ToJsonString() }, t), ct);

    private Task PutLifecycleAsync(List<LifecycleRule> rules, CancellationToken ct) =>
        Write("Setting the lifecycle rules of", t => s3.PutLifecycleConfigurationAsync(new PutLifecycleConfigurationRequest
        {
            BucketName = bucket,
            Configuration = new LifecycleConfiguration { Rules = rules },
        }, t), ct);
}
