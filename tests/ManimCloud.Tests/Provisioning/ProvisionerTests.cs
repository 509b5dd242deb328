using System.Text.Json.Nodes;
using ManimCloud.Aws;
using ManimCloud.Provisioning;
using ManimCloud.Tests.Support;
using ManimCloud.Workspace;

namespace ManimCloud.Tests.Provisioning;

/// <summary>Idempotent provisioning (SPEC: deployment utilities; R8 security, R9 cost) against a real moto_server,
/// with the AWS CLI as the independent reader.</summary>
public sealed class ProvisionerTests : IDisposable
{
    private readonly string _home = Directory.CreateTempSubdirectory("manimcloud-provision-").FullName;

    public void Dispose() => Directory.Delete(_home, recursive: true);

    private ManimCloudOptions Options(string? kmsKey = null)
    {
        var endpoint = MotoServer.Endpoint; // starts moto and sets the test credentials before any client exists
        return new ManimCloudOptions
        {
            Home = _home,
            VideoBucket = Names.Unique("videos"),
            CodeBucket = Names.Unique("code"),
            Table = Names.Unique("metadata"),
            KmsKey = kmsKey,
            Region = "us-east-1",
            EndpointUrl = endpoint,
        };
    }

    private static async Task<ProvisionPlan> ApplyAsync(ManimCloudOptions options)
    {
        using var clients = new AwsClients(options);
        using var provisioner = new Provisioner(options, clients);
        return await provisioner.ApplyAsync();
    }

    private static async Task<ProvisionPlan> PlanAsync(ManimCloudOptions options)
    {
        using var clients = new AwsClients(options);
        using var provisioner = new Provisioner(options, clients);
        return await provisioner.PlanAsync();
    }

    private static string Describe(ProvisionPlan plan) => plan.ToJson().ToJsonString();

    [Fact]
    public async Task Provisioning_twice_creates_everything_then_changes_nothing_and_the_AWS_CLI_sees_every_setting()
    {
        var options = Options();

        var first = await ApplyAsync(options);
        Assert.True(first.Applied);
        Assert.True(first.Changed > 0);
        Assert.Equal(0, first.Blocked);
        Assert.Contains(first.Steps, s => s.Resource == $"s3://{options.VideoBucket}" && s.Setting == "bucket" && s.Action == StepAction.Create);
        Assert.Contains(first.Steps, s => s.Resource == $"dynamodb:{options.Table}" && s.Setting == "table" && s.Action == StepAction.Create);
        Assert.All(first.Steps.Where(s => s.Applied), s => Assert.True(s.Converged, $"{s.Resource} {s.Setting} did not read back: {s.Note}"));

        // The workspace now points at this deployment (environment variables would still win).
        var saved = ManimCloudOptions.Load(new Dictionary<string, string?> { ["MANIMCLOUD_HOME"] = _home });
        Assert.Equal((options.VideoBucket, options.CodeBucket, options.Table, "us-east-1"), (saved.VideoBucket, saved.CodeBucket, saved.Table, saved.Region));
        Assert.Equal(options.ConfigPath, (string?)first.ToJson()["config_saved"]);

        Assert.Equal("not-evaluated", first.PolicyConditions);
        Assert.Contains("Left out of the bucket policies", first.ToText());
        Assert.Equal("not-evaluated", (string?)JsonNode.Parse(File.ReadAllText(options.ConfigPath))![Provisioner.PolicyConditionsKey]);

        var second = await ApplyAsync(options);
        Assert.True(second.Changed == 0, Describe(second));
        Assert.All(second.Steps, s => Assert.Equal(StepAction.Unchanged, s.Action));
        Assert.Equal(4, second.LeftOut.Count);
        Assert.Equal(first.Steps.Select(s => (s.Resource, s.Setting)), second.Steps.Select(s => (s.Resource, s.Setting)));

        foreach (var bucket in new[] { options.VideoBucket!, options.CodeBucket! })
        {
            var versioning = await AwsCli.JsonAsync("s3api", "get-bucket-versioning", "--bucket", bucket);
            Assert.Equal("Enabled", (string?)versioning["Status"]);

            var encryption = await AwsCli.JsonAsync("s3api", "get-bucket-encryption", "--bucket", bucket);
            Assert.Equal("AES256", (string?)encryption["ServerSideEncryptionConfiguration"]!["Rules"]![0]!["ApplyServerSideEncryptionByDefault"]!["SSEAlgorithm"]);

            var block = (await AwsCli.JsonAsync("s3api", "get-public-access-block", "--bucket", bucket))["PublicAccessBlockConfiguration"]!;
            foreach (var flag in new[] { "BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets" })
                Assert.True((bool)block[flag]!, $"{flag} on {bucket}");

            // moto is reached over plain HTTP (a deny-non-TLS statement would lock ManimCloud out) and counts every policy
            // condition as matched (the conditional encryption Deny would refuse every write): apply found that out with a
            // probe write and left both statements out, so the bucket has no policy. ProvisioningPolicyTests checks AWS keeps them.
            Assert.NotEqual(0, (await AwsCli.RunAsync("s3api", "get-bucket-policy", "--bucket", bucket)).ExitCode);
            Assert.Equal([BucketPolicy.DenyInsecureTransport, BucketPolicy.DenyUnapprovedEncryption],
                first.LeftOut.Where(o => o.Resource == $"s3://{bucket}").Select(o => o.Statement));
            // No probe object stays behind.
            var listed = await AwsCli.JsonAsync("s3api", "list-object-versions", "--bucket", bucket);
            Assert.Null(listed["Versions"]);
            Assert.Null(listed["DeleteMarkers"]);

            var rules = (await AwsCli.JsonAsync("s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket))["Rules"]!.AsArray();
            JsonNode Rule(string id) => rules.Single(r => (string?)r!["ID"] == id)!;
            Assert.Equal(7, (int)Rule("manimcloud-abort-incomplete-multipart")["AbortIncompleteMultipartUpload"]!["DaysAfterInitiation"]!);
            Assert.Equal("tmp/", (string?)Rule("manimcloud-expire-tmp")["Filter"]!["Prefix"]);
            Assert.Equal(1, (int)Rule("manimcloud-expire-tmp")["Expiration"]!["Days"]!);
            var noncurrent = Rule("manimcloud-noncurrent-versions");
            Assert.Equal(["30:STANDARD_IA", "90:GLACIER_IR"],
                noncurrent["NoncurrentVersionTransitions"]!.AsArray().Select(t => $"{(int)t!["NoncurrentDays"]!}:{(string)t["StorageClass"]!}"));
            Assert.Equal(365, (int)noncurrent["NoncurrentVersionExpiration"]!["NoncurrentDays"]!);
            Assert.True(rules.All(r => (string?)r!["Status"] == "Enabled"));
            if (bucket == options.VideoBucket)
            {
                var tiering = Rule("manimcloud-videos-intelligent-tiering");
                Assert.Equal("videos/", (string?)tiering["Filter"]!["Prefix"]);
                Assert.Equal("INTELLIGENT_TIERING", (string?)tiering["Transitions"]![0]!["StorageClass"]);
            }
            else Assert.DoesNotContain(rules, r => (string?)r!["ID"] == "manimcloud-videos-intelligent-tiering");
        }

        var objectLock = await AwsCli.JsonAsync("s3api", "get-object-lock-configuration", "--bucket", options.CodeBucket!);
        Assert.Equal("Enabled", (string?)objectLock["ObjectLockConfiguration"]!["ObjectLockEnabled"]);
        var videoLock = await AwsCli.RunAsync("s3api", "get-object-lock-configuration", "--bucket", options.VideoBucket!);
        Assert.NotEqual(0, videoLock.ExitCode);

        var table = (await AwsCli.JsonAsync("dynamodb", "describe-table", "--table-name", options.Table!))["Table"]!;
        Assert.Equal("ACTIVE", (string?)table["TableStatus"]);
        Assert.Equal("PAY_PER_REQUEST", (string?)table["BillingModeSummary"]!["BillingMode"]);
        Assert.Equal(["pk:HASH", "sk:RANGE"], table["KeySchema"]!.AsArray().Select(k => $"{(string)k!["AttributeName"]!}:{(string)k["KeyType"]!}"));
        Assert.All(table["AttributeDefinitions"]!.AsArray(), a => Assert.Equal("S", (string?)a!["AttributeType"]));
        var index = table["GlobalSecondaryIndexes"]!.AsArray().Single()!;
        Assert.Equal("by_project", (string?)index["IndexName"]);
        Assert.Equal(["gsi1pk:HASH", "gsi1sk:RANGE"], index["KeySchema"]!.AsArray().Select(k => $"{(string)k!["AttributeName"]!}:{(string)k["KeyType"]!}"));
        Assert.Equal("ALL", (string?)index["Projection"]!["ProjectionType"]);
        Assert.Null(table["SSEDescription"]); // no SSEDescription = encrypted with the AWS owned key

        var backups = await AwsCli.JsonAsync("dynamodb", "describe-continuous-backups", "--table-name", options.Table!);
        Assert.Equal("ENABLED", (string?)backups["ContinuousBackupsDescription"]!["PointInTimeRecoveryDescription"]!["PointInTimeRecoveryStatus"]);
    }

    [Fact]
    public async Task A_dry_run_on_fresh_names_plans_every_creation_and_writes_nothing()
    {
        var options = Options();

        var plan = await PlanAsync(options);

        Assert.False(plan.Applied);
        Assert.Equal(0, plan.Blocked);
        Assert.All(plan.Steps, s => Assert.Equal(StepAction.Create, s.Action));
        Assert.All(plan.Steps, s => Assert.False(s.Applied));
        Assert.Equal(plan.Steps.Count, plan.Changed);
        Assert.True((bool)plan.ToJson()["dry_run"]!);
        Assert.Contains("nothing written", plan.ToText());
        Assert.False(File.Exists(options.ConfigPath));

        Assert.NotEqual(0, (await AwsCli.RunAsync("s3api", "head-bucket", "--bucket", options.VideoBucket!)).ExitCode);
        Assert.NotEqual(0, (await AwsCli.RunAsync("s3api", "head-bucket", "--bucket", options.CodeBucket!)).ExitCode);
        var table = await AwsCli.RunAsync("dynamodb", "describe-table", "--table-name", options.Table!);
        Assert.NotEqual(0, table.ExitCode);
        Assert.Contains("ResourceNotFoundException", table.Stderr);
    }

    [Fact]
    public async Task Versioning_suspended_out_of_band_is_the_one_step_planned_and_apply_restores_it()
    {
        var options = Options();
        await ApplyAsync(options);
        await AwsCli.OkAsync("s3api", "put-bucket-versioning", "--bucket", options.VideoBucket!, "--versioning-configuration", "Status=Suspended");
        Assert.Equal("Suspended", (string?)(await AwsCli.JsonAsync("s3api", "get-bucket-versioning", "--bucket", options.VideoBucket!))["Status"]);

        var plan = await PlanAsync(options);
        var drift = Assert.Single(plan.Steps, s => s.Action != StepAction.Unchanged);
        Assert.Equal($"s3://{options.VideoBucket}", drift.Resource);
        Assert.Equal("versioning", drift.Setting);
        Assert.Equal("Suspended", drift.Current);
        Assert.Equal("Enabled", drift.Desired);
        Assert.Equal(StepAction.Update, drift.Action);
        Assert.Equal(1, plan.Changed);
        Assert.Contains("Suspended -> Enabled [update]", plan.ToText());
        // Planning is reading only: the drift is still there.
        Assert.Equal("Suspended", (string?)(await AwsCli.JsonAsync("s3api", "get-bucket-versioning", "--bucket", options.VideoBucket!))["Status"]);

        var applied = await ApplyAsync(options);
        var fixedStep = Assert.Single(applied.Steps, s => s.Applied);
        Assert.Equal(("versioning", true), (fixedStep.Setting, fixedStep.Converged == true));
        Assert.Equal(1, applied.Changed);
        Assert.Equal("Enabled", (string?)(await AwsCli.JsonAsync("s3api", "get-bucket-versioning", "--bucket", options.VideoBucket!))["Status"]);
        Assert.Equal(0, (await PlanAsync(options)).Changed);
    }

    [Fact]
    public async Task Drift_in_policy_lifecycle_and_point_in_time_recovery_is_repaired_and_foreign_rules_and_statements_are_kept()
    {
        var options = Options();
        await ApplyAsync(options);
        var bucket = options.CodeBucket!;
        // Someone replaces the policy with their own statement plus the conditional Deny an older ManimCloud put on every
        // store (which moto, counting its conditions as matched, turns into "refuse every write"), replaces the lifecycle
        // with their own rule, and turns PITR off.
        var foreignStatement = """{"Sid":"TeamReadOnly","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::BUCKET/*"}""".Replace("BUCKET", bucket);
        var oldDeny = BucketPolicy.Statements(bucket, "aws").Single(s => BucketPolicy.SidOf(s) == BucketPolicy.DenyUnapprovedEncryption).ToJsonString();
        await AwsCli.OkAsync("s3api", "put-bucket-policy", "--bucket", bucket, "--policy", $$"""{"Version":"2012-10-17","Statement":[{{foreignStatement}},{{oldDeny}}]}""");
        await AwsCli.OkAsync("s3api", "put-bucket-lifecycle-configuration", "--bucket", bucket, "--lifecycle-configuration",
            """{"Rules":[{"ID":"team-logs","Status":"Enabled","Filter":{"Prefix":"logs/"},"Expiration":{"Days":30}}]}""");
        await AwsCli.OkAsync("dynamodb", "update-continuous-backups", "--table-name", options.Table!,
            "--point-in-time-recovery-specification", "PointInTimeRecoveryEnabled=false");

        var plan = await PlanAsync(options);
        Assert.Equal(
            [($"s3://{bucket}", "policy"), ($"s3://{bucket}", "lifecycle"), ($"dynamodb:{options.Table}", "point_in_time_recovery")],
            plan.Steps.Where(s => s.WouldChange).Select(s => (s.Resource, s.Setting)));

        Assert.Contains("ManimCloudDenyUnapprovedEncryption removed", plan.Steps.Single(s => s.Setting == "policy" && s.WouldChange).Note);
        var applied = await ApplyAsync(options);
        Assert.Equal(3, applied.Changed);
        Assert.All(applied.Steps.Where(s => s.Applied), s => Assert.True(s.Converged));

        var policy = JsonNode.Parse((string)(await AwsCli.JsonAsync("s3api", "get-bucket-policy", "--bucket", bucket))["Policy"]!)!;
        // ManimCloud's conditional statements are left out on moto (it cannot evaluate them); someone else's stays.
        Assert.Equal(["TeamReadOnly"], policy["Statement"]!.AsArray().Select(s => (string)s!["Sid"]!).Order());
        var rules = (await AwsCli.JsonAsync("s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket))["Rules"]!.AsArray();
        Assert.Contains(rules, r => (string?)r!["ID"] == "team-logs");
        Assert.Contains(rules, r => (string?)r!["ID"] == "manimcloud-expire-tmp");
        Assert.Equal(0, (await PlanAsync(options)).Changed);
    }

    [Fact]
    public async Task An_existing_code_bucket_without_Object_Lock_gets_it_enabled_in_place()
    {
        var options = Options();
        await AwsCli.JsonAsync("s3api", "create-bucket", "--bucket", options.CodeBucket!);

        var plan = await PlanAsync(options);
        var lockStep = plan.Steps.Single(s => s.Resource == $"s3://{options.CodeBucket}" && s.Setting == "object_lock");
        Assert.Equal(("Disabled", StepAction.Update), (lockStep.Current, lockStep.Action));
        Assert.Equal(StepAction.Update, plan.Steps.Single(s => s.Resource == $"s3://{options.CodeBucket}" && s.Setting == "versioning").Action);

        var applied = await ApplyAsync(options);
        Assert.True(applied.Steps.Single(s => s.Resource == $"s3://{options.CodeBucket}" && s.Setting == "object_lock").Applied);
        var objectLock = await AwsCli.JsonAsync("s3api", "get-object-lock-configuration", "--bucket", options.CodeBucket!);
        Assert.Equal("Enabled", (string?)objectLock["ObjectLockConfiguration"]!["ObjectLockEnabled"]);
        Assert.Equal(0, (await PlanAsync(options)).Changed);
    }

    [Fact]
    public async Task A_bucket_in_another_region_is_blocked_with_its_fix_and_everything_else_is_still_provisioned()
    {
        var options = Options();
        await AwsCli.JsonAsync("s3api", "create-bucket", "--bucket", options.VideoBucket!, "--region", "eu-west-1",
            "--create-bucket-configuration", "LocationConstraint=eu-west-1");

        var plan = await PlanAsync(options);
        var region = plan.Steps.Single(s => s.Resource == $"s3://{options.VideoBucket}" && s.Setting == "region");
        Assert.Equal(("eu-west-1", "us-east-1", StepAction.Blocked), (region.Current, region.Desired, region.Action));
        Assert.Contains("AWS_REGION=eu-west-1", region.Note);
        Assert.Equal(1, plan.Blocked);

        var e = await Assert.ThrowsAsync<ProvisioningIncompleteException>(() => ApplyAsync(options));
        Assert.Equal(ManimCloud.Domain.ErrorKind.Conflict, e.Kind);
        Assert.Contains($"s3://{options.VideoBucket}", e.Message);
        Assert.Contains("MANIMCLOUD_VIDEO_BUCKET", e.Hint);
        Assert.All(e.Plan.Steps.Where(s => !s.Resource.Contains(options.VideoBucket!)), s => Assert.True(s.Applied, $"{s.Resource} {s.Setting}"));
        Assert.DoesNotContain(e.Plan.Steps, s => s.Resource.Contains(options.VideoBucket!) && s.Applied);
        // The wrong-region bucket was left alone.
        Assert.NotEqual(0, (await AwsCli.RunAsync("s3api", "get-bucket-policy", "--bucket", options.VideoBucket!)).ExitCode);
        Assert.Equal("Enabled", (string?)(await AwsCli.JsonAsync("s3api", "get-bucket-versioning", "--bucket", options.CodeBucket!))["Status"]);
    }

    [Fact]
    public async Task A_table_with_other_keys_is_blocked_and_left_alone()
    {
        var options = Options();
        await AwsCli.JsonAsync("dynamodb", "create-table", "--table-name", options.Table!, "--billing-mode", "PAY_PER_REQUEST",
            "--attribute-definitions", "AttributeName=id,AttributeType=S", "--key-schema", "AttributeName=id,KeyType=HASH");

        var e = await Assert.ThrowsAsync<ProvisioningIncompleteException>(() => ApplyAsync(options));

        var keys = e.Plan.Steps.Single(s => s.Resource == $"dynamodb:{options.Table}" && s.Setting == "key_schema");
        Assert.Equal(("id (S) HASH", StepAction.Blocked), (keys.Current, keys.Action));
        Assert.Contains("MANIMCLOUD_TABLE", e.Hint);
        Assert.DoesNotContain(e.Plan.Steps, s => s.Resource == $"dynamodb:{options.Table}" && s.Setting.StartsWith("index"));
        var backups = await AwsCli.JsonAsync("dynamodb", "describe-continuous-backups", "--table-name", options.Table!);
        Assert.Equal("DISABLED", (string?)backups["ContinuousBackupsDescription"]!["PointInTimeRecoveryDescription"]!["PointInTimeRecoveryStatus"]);
        Assert.True(e.Plan.Steps.Single(s => s.Resource == $"s3://{options.CodeBucket}" && s.Setting == "bucket").Applied);
    }

    [Fact]
    public async Task With_a_KMS_key_buckets_use_SSE_KMS_with_bucket_keys_and_the_table_uses_the_key()
    {
        var alias = "alias/" + Names.Unique("manimcloud");
        var keyArn = (string)(await AwsCli.JsonAsync("kms", "create-key"))["KeyMetadata"]!["Arn"]!;
        await AwsCli.OkAsync("kms", "create-alias", "--alias-name", alias, "--target-key-id", keyArn);
        var options = Options(kmsKey: alias);

        var first = await ApplyAsync(options);
        Assert.Equal(0, first.NotConverged);
        var second = await ApplyAsync(options);
        Assert.True(second.Changed == 0, Describe(second));

        foreach (var bucket in new[] { options.VideoBucket!, options.CodeBucket! })
        {
            var rule = (await AwsCli.JsonAsync("s3api", "get-bucket-encryption", "--bucket", bucket))["ServerSideEncryptionConfiguration"]!["Rules"]![0]!;
            Assert.Equal("aws:kms", (string?)rule["ApplyServerSideEncryptionByDefault"]!["SSEAlgorithm"]);
            Assert.Equal(keyArn, (string?)rule["ApplyServerSideEncryptionByDefault"]!["KMSMasterKeyID"]);
            Assert.True((bool)rule["BucketKeyEnabled"]!);
        }
        var sse = (await AwsCli.JsonAsync("dynamodb", "describe-table", "--table-name", options.Table!))["Table"]!["SSEDescription"]!;
        Assert.Equal(("ENABLED", "KMS", keyArn), ((string?)sse["Status"], (string?)sse["SSEType"], (string?)sse["KMSMasterKeyArn"]));

        var statement = second.IamPolicy["Statement"]!.AsArray().Single(s => (string?)s!["Sid"] == "ManimCloudKmsKey")!;
        Assert.Equal(keyArn, (string?)statement["Resource"]![0]);
    }

    [Fact]
    public async Task Converged_is_reported_exactly_when_the_setting_reads_back_as_desired()
    {
        var options = Options();
        await ApplyAsync(options);
        var keyArn = (string)(await AwsCli.JsonAsync("kms", "create-key"))["KeyMetadata"]!["Arn"]!;

        // Switching an existing deployment to a KMS key: buckets and table change their encryption.
        var applied = await ApplyAsync(options with { KmsKey = keyArn });
        var replanned = await PlanAsync(options with { KmsKey = keyArn });

        Assert.Equal(3, applied.Changed);
        foreach (var step in applied.Steps.Where(s => s.Applied))
        {
            Assert.Equal("encryption", step.Setting);
            var now = replanned.Steps.Single(s => (s.Resource, s.Setting) == (step.Resource, step.Setting));
            Assert.Equal(now.Action == StepAction.Unchanged, step.Converged);
        }
        Assert.All(applied.Steps.Where(s => s.Resource.StartsWith("s3://")), s => Assert.NotEqual(false, s.Converged));
        // moto 5.2.1 ignores SSESpecification in UpdateTable: the table step is then reported, not hidden.
        Assert.Equal(applied.NotConverged, replanned.Changed);
    }

    [Fact]
    public async Task A_KMS_key_that_does_not_exist_is_refused_naming_the_setting()
    {
        var options = Options(kmsKey: "alias/" + Names.Unique("missing"));
        var e = await Assert.ThrowsAnyAsync<ManimCloud.Domain.ManimCloudException>(() => PlanAsync(options));
        Assert.Contains("MANIMCLOUD_KMS_KEY", e.Message + e.Hint);
    }

    [Fact]
    public async Task A_disabled_KMS_key_is_refused_before_anything_is_written()
    {
        var keyId = (string)(await AwsCli.JsonAsync("kms", "create-key"))["KeyMetadata"]!["KeyId"]!;
        await AwsCli.OkAsync("kms", "disable-key", "--key-id", keyId);
        var options = Options(kmsKey: keyId);

        var e = await Assert.ThrowsAnyAsync<ManimCloud.Domain.ManimCloudException>(() => ApplyAsync(options));

        Assert.Contains("Disabled", e.Message);
        Assert.Contains("MANIMCLOUD_KMS_KEY", e.Hint);
        Assert.NotEqual(0, (await AwsCli.RunAsync("s3api", "head-bucket", "--bucket", options.VideoBucket!)).ExitCode);
    }

    [Fact]
    public async Task The_plan_renders_as_JSON_and_as_text_with_the_IAM_policy()
    {
        var options = Options();
        var plan = await PlanAsync(options);

        var json = JsonNode.Parse(plan.ToJson().ToJsonString())!.AsObject();
        Assert.Equal(options.VideoBucket, (string?)json["video_bucket"]);
        Assert.Equal(plan.Steps.Count, json["steps"]!.AsArray().Count);
        Assert.All(json["steps"]!.AsArray(), s => Assert.Equal("create", (string?)s!["action"]));
        Assert.Equal("2012-10-17", (string?)json["iam_policy"]!["Version"]);
        var text = plan.ToText();
        Assert.Contains(options.Table!, text);
        Assert.Contains("Least-privilege IAM policy", text);
    }

    [Fact]
    public void Default_names_come_from_the_environment_and_explicit_names_are_used_exactly()
    {
        var defaults = new Provisioner(new ManimCloudOptions { Home = _home, Environment = "staging", Region = "eu-west-1" },
            new AwsClients(new ManimCloudOptions { Home = _home }));
        Assert.Equal(new ProvisionNames("manimcloud-staging-videos", "manimcloud-staging-code", "manimcloud-staging-metadata"), defaults.Names);

        var named = new Provisioner(new ManimCloudOptions { Home = _home, VideoBucket = "my.videos-1", CodeBucket = "my-code", Table = "My_Table", Region = "eu-west-1" },
            new AwsClients(new ManimCloudOptions { Home = _home }));
        Assert.Equal(new ProvisionNames("my.videos-1", "my-code", "My_Table"), named.Names);

        var bad = Assert.Throws<ManimCloud.Domain.ManimCloudException>(() => new Provisioner(
            new ManimCloudOptions { Home = _home, VideoBucket = "Bad_Name", CodeBucket = "ok-code", Table = "table1", Region = "us-east-1" },
            new AwsClients(new ManimCloudOptions { Home = _home })));
        Assert.Contains("MANIMCLOUD_VIDEO_BUCKET", bad.Message);
    }

    [Fact]
    public async Task A_table_made_without_the_project_index_gets_it_and_the_second_run_changes_nothing()
    {
        var options = Options();
        using (var clients = new AwsClients(options))
        {
            var bare = DynamoMetadataStore.TableSchema(options.Table!);
            bare.GlobalSecondaryIndexes = null;
            bare.AttributeDefinitions = bare.AttributeDefinitions.Where(a => a.AttributeName is "pk" or "sk").ToList();
            await clients.DynamoDB.CreateTableAsync(bare);
        }
        var plan = await PlanAsync(options);
        Assert.Contains(plan.Steps, s => s.Resource.Contains(options.Table!) && s.Setting.StartsWith("index") && s.WouldChange);

        await ApplyAsync(options);
        var table = await AwsCli.JsonAsync("dynamodb", "describe-table", "--table-name", options.Table!);
        var index = table["Table"]!["GlobalSecondaryIndexes"]!.AsArray().Single(i => (string)i!["IndexName"]! == DynamoMetadataStore.ProjectIndex)!;
        Assert.Equal(["gsi1pk", "gsi1sk"], index["KeySchema"]!.AsArray().Select(k => (string)k!["AttributeName"]!));
        Assert.Equal(0, (await PlanAsync(options)).Changed);
    }
}
