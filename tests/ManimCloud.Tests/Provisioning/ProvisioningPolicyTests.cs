using System.Text.Json.Nodes;
using Amazon.S3.Model;
using ManimCloud.Provisioning;

namespace ManimCloud.Tests.Provisioning;

/// <summary>The policy documents provisioning produces (SPEC R8) and the normalisation that makes plans comparable.</summary>
public sealed class ProvisioningPolicyTests
{
    [Fact]
    public void The_IAM_policy_is_valid_JSON_and_names_exactly_the_deployment_resources()
    {
        var policy = JsonNode.Parse(IamPolicy.ForDeployment("v-bucket", "c-bucket", "meta", region: "eu-west-1", account: "123456789012").ToJsonString())!;

        Assert.Equal("2012-10-17", (string?)policy["Version"]);
        var statements = policy["Statement"]!.AsArray();
        Assert.All(statements, s => Assert.Equal("Allow", (string?)s!["Effect"]));
        var resources = statements.SelectMany(s => s!["Resource"]!.AsArray().Select(r => (string)r!)).Order().ToArray();
        Assert.Equal(new[]
        {
            "arn:aws:dynamodb:eu-west-1:123456789012:table/meta",
            "arn:aws:dynamodb:eu-west-1:123456789012:table/meta/index/*",
            "arn:aws:s3:::c-bucket",
            "arn:aws:s3:::c-bucket/*",
            "arn:aws:s3:::v-bucket",
            "arn:aws:s3:::v-bucket/*",
        }, resources);
        var actions = statements.SelectMany(s => s!["Action"]!.AsArray().Select(a => (string)a!)).ToArray();
        Assert.DoesNotContain(actions, a => a.Contains('*'));
        Assert.DoesNotContain(actions, a => a.StartsWith("kms:"));
        Assert.Contains("s3:PutObjectRetention", actions);
        Assert.Contains("s3:PutObjectLegalHold", actions);
        Assert.Contains("s3:ListBucketVersions", actions);
        Assert.Contains("s3:AbortMultipartUpload", actions);
        Assert.Contains("dynamodb:Query", actions);
        Assert.DoesNotContain("s3:DeleteBucket", actions);
        Assert.DoesNotContain("s3:PutBucketPolicy", actions);
        Assert.DoesNotContain("dynamodb:DeleteTable", actions);
        Assert.DoesNotContain("s3:BypassGovernanceRetention", actions);
    }

    [Theory]
    [InlineData("arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", null)]
    [InlineData("1234abcd-12ab-34cd-56ef-1234567890ab", "arn:aws:kms:eu-west-1:*:key/1234abcd-12ab-34cd-56ef-1234567890ab", null)]
    [InlineData("alias/manimcloud", "arn:aws:kms:eu-west-1:*:key/*", "alias/manimcloud")]
    public void The_IAM_policy_grants_encrypt_decrypt_and_data_keys_on_the_KMS_key_only(string key, string resource, string? alias)
    {
        var policy = IamPolicy.ForDeployment("v-bucket", "c-bucket", "meta", key, region: "eu-west-1");
        var kms = policy["Statement"]!.AsArray().Single(s => (string?)s!["Sid"] == "ManimCloudKmsKey")!;
        Assert.Equal(["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"], kms["Action"]!.AsArray().Select(a => (string)a!));
        Assert.Equal(resource, (string?)kms["Resource"]![0]);
        Assert.Equal(alias, (string?)kms["Condition"]?["ForAnyValue:StringEquals"]?["kms:ResourceAliases"]);
    }

    [Fact]
    public void The_bucket_policy_denies_plain_HTTP_and_only_writes_that_ask_for_an_unapproved_encryption()
    {
        var statements = BucketPolicy.Statements("b", "aws");
        var tls = statements.Single(s => (string?)s["Sid"] == "ManimCloudDenyInsecureTransport");
        Assert.Equal("s3:*", (string?)tls["Action"]);
        Assert.Equal(["arn:aws:s3:::b", "arn:aws:s3:::b/*"], tls["Resource"]!.AsArray().Select(r => (string)r!));

        var sse = statements.Single(s => (string?)s["Sid"] == "ManimCloudDenyUnapprovedEncryption");
        var condition = sse["Condition"]!.AsObject();
        // Present-and-wrong only: a Null=true deny would refuse UploadPart, which never carries the header.
        Assert.Equal("false", (string?)condition["Null"]!["s3:x-amz-server-side-encryption"]);
        Assert.DoesNotContain(condition, c => c.Value?["s3:x-amz-server-side-encryption"] is JsonValue v && (string?)v == "true");
    }

    [Fact]
    public void Over_a_plain_HTTP_endpoint_the_TLS_statement_is_left_out_so_ManimCloud_does_not_lock_itself_out()
    {
        var (kept, leftOut) = BucketPolicy.ForStore("b", "aws", new PolicyStore(PlainHttp: true, PolicyConditionSupport.Evaluated));
        Assert.Equal([BucketPolicy.DenyUnapprovedEncryption], kept.Select(s => BucketPolicy.SidOf(s)));
        var omission = Assert.Single(leftOut);
        Assert.Equal((BucketPolicy.DenyInsecureTransport, "s3://b"), (omission.Statement, omission.Resource));
        Assert.Contains("plain HTTP", omission.Reason);
    }

    [Fact]
    public void On_AWS_the_full_policy_stays_and_nothing_is_left_out()
    {
        var (kept, leftOut) = BucketPolicy.ForStore("b", "aws", PolicyStore.Aws);
        Assert.Equal([BucketPolicy.DenyInsecureTransport, BucketPolicy.DenyUnapprovedEncryption], kept.Select(s => BucketPolicy.SidOf(s)));
        Assert.Empty(leftOut);
    }

    [Fact]
    public void A_store_that_does_not_evaluate_conditions_gets_no_conditional_statement_and_each_is_named_with_why()
    {
        var store = new PolicyStore(PlainHttp: true, PolicyConditionSupport.NotEvaluated);
        var (kept, leftOut) = BucketPolicy.ForStore("b", "aws", store);
        Assert.Empty(kept);
        Assert.Equal([BucketPolicy.DenyInsecureTransport, BucketPolicy.DenyUnapprovedEncryption], leftOut.Select(o => o.Statement));
        Assert.Contains("does not evaluate bucket-policy conditions", leftOut[1].Reason);
        // Nothing of ManimCloud's is left, so a bucket without other statements gets no policy at all (S3 refuses an empty one),
        // and someone else's statements stay.
        Assert.Null(BucketPolicy.Desired("b", "aws", null, store));
        var foreign = JsonNode.Parse("""{"Version":"2012-10-17","Statement":[{"Sid":"Team","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}""")!.AsObject();
        Assert.Equal(["Team"], BucketPolicy.Desired("b", "aws", foreign, store)!["Statement"]!.AsArray().Select(s => BucketPolicy.SidOf(s)));
    }

    [Fact]
    public void Policies_compare_equal_however_the_store_spells_them()
    {
        var ours = BucketPolicy.Desired("b", "aws", null, PolicyStore.Aws);
        // The same policy the way a store might return it: keys reordered, one-element arrays, booleans unquoted.
        var respelled = """
            {"Statement":[
              {"Condition":{"Null":{"s3:x-amz-server-side-encryption":false},"StringNotEquals":{"s3:x-amz-server-side-encryption":["aws:kms","AES256"]}},
               "Resource":["arn:aws:s3:::b/*"],"Action":["s3:PutObject"],"Principal":"*","Effect":"Deny","Sid":"ManimCloudDenyUnapprovedEncryption"},
              {"Sid":"ManimCloudDenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b/*","arn:aws:s3:::b"],
               "Condition":{"Bool":{"aws:SecureTransport":false}}}],
             "Version":"2012-10-17"}
            """;
        Assert.Equal(PolicyJson.Normalize(ours), PolicyJson.Normalize(respelled));
        Assert.NotEqual(PolicyJson.Normalize(ours), PolicyJson.Normalize(respelled.Replace("\"aws:kms\",", "")));
    }

    [Fact]
    public void Lifecycle_rules_compare_equal_whether_the_prefix_is_in_the_filter_or_a_predicate()
    {
        var ours = LifecycleRules.Ours(BucketRole.Videos);
        var respelled = LifecycleRules.Ours(BucketRole.Videos);
        respelled.Reverse();
        foreach (var r in respelled)
            r.Filter = new LifecycleFilter { LifecycleFilterPredicate = new LifecyclePrefixPredicate { Prefix = r.Filter!.Prefix } };
        Assert.Equal(LifecycleRules.Canonical(ours), LifecycleRules.Canonical(respelled));

        respelled[0].Status = Amazon.S3.LifecycleRuleStatus.Disabled;
        Assert.NotEqual(LifecycleRules.Canonical(ours), LifecycleRules.Canonical(respelled));
    }
}
