using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using ManimCloud.Delivery;
using ManimCloud.Delivery.CloudFront;
using ManimCloud.Provisioning;
using ManimCloud.Tests.Support;
using ManimCloud.Workspace;

namespace ManimCloud.Tests.Delivery;

/// <summary>
/// `delivery provision` against moto's CloudFront and S3: the distribution, its OAC, key group and bucket statement
/// created and read back with the AWS CLI, a second run that changes nothing, drift shown by the dry run and converged,
/// key rotation by a second key, and a distribution that is not ManimCloud's left alone.
/// </summary>
public sealed class DistributionProvisioningTests
{
    private static string NewKey(TempDir dir, string name)
    {
        using var rsa = RSA.Create(2048);
        var path = dir.File(name);
        File.WriteAllText(path, rsa.ExportPkcs8PrivateKeyPem());
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

    private static ManimCloudOptions Options(TestCloud cloud, string home, string keyPath, string geo = "allow:US,CA", string price = "PriceClass_200", string? distributionId = null) =>
        cloud.Options(home) with
        {
            RetryBudget = TimeSpan.FromSeconds(2),
            Delivery = new DeliveryOptions
            {
                Enabled = true, PrivateKeyPath = keyPath, PriceClass = price, Geo = GeoRestriction.Parse(geo), DistributionId = distributionId,
            },
        };

    private static async Task<ProvisionPlan> ApplyAsync(ManimCloudOptions options)
    {
        using var aws = new global::ManimCloud.Aws.AwsClients(options);
        using var p = new Provisioner(options, aws) { DeliveryOnly = true };
        return await p.ApplyAsync();
    }

    private static async Task<ProvisionPlan> PlanAsync(ManimCloudOptions options)
    {
        using var aws = new global::ManimCloud.Aws.AwsClients(options);
        using var p = new Provisioner(options, aws) { DeliveryOnly = true };
        return await p.PlanAsync();
    }

    [Fact]
    public async Task Provision_makes_a_private_origin_distribution_that_a_second_run_leaves_unchanged()
    {
        var cloud = await TestCloud.CreateAsync();
        using var home = new TempDir();
        var options = Options(cloud, home.Path, NewKey(home, "cdn.pem"));

        var plan = await PlanAsync(options);
        Assert.False(plan.Applied);
        Assert.Contains(plan.Steps, s => s.Resource.StartsWith("cloudfront:distribution/", StringComparison.Ordinal) && s.Action == StepAction.Create);
        Assert.Null(ManimCloudOptions.ConfigFileValue(home.Path, "distribution_id")); // a dry run writes nothing

        var applied = await ApplyAsync(options);
        Assert.True(applied.Changed > 0);
        Assert.All(applied.Steps.Where(s => s.Applied), s => Assert.True(s.Converged));
        var id = ManimCloudOptions.ConfigFileValue(home.Path, "distribution_id")!;
        var domain = ManimCloudOptions.ConfigFileValue(home.Path, "cdn_domain")!;
        var keyPairId = ManimCloudOptions.ConfigFileValue(home.Path, "cdn_key_pair_id")!;
        Assert.EndsWith(".cloudfront.net", domain);

        // Read back by the AWS CLI, independently of ManimCloud's client.
        var dist = (await AwsCli.JsonAsync("cloudfront", "get-distribution", "--id", id))["Distribution"]!;
        var config = dist["DistributionConfig"]!;
        Assert.Equal("http2and3", (string)config["HttpVersion"]!);
        Assert.Equal("PriceClass_200", (string)config["PriceClass"]!);
        var geo = config["Restrictions"]!["GeoRestriction"]!;
        Assert.Equal("whitelist", (string)geo["RestrictionType"]!);
        Assert.Equal(["CA", "US"], geo["Items"]!.AsArray().Select(x => (string)x!).Order());
        var origins = config["Origins"]!["Items"]!.AsArray();
        Assert.All(origins, o => Assert.Equal($"{cloud.VideoBucket}.s3.us-east-1.amazonaws.com", (string)o!["DomainName"]!));
        // The default behaviour goes to the bucket under a prefix nobody is granted: nothing but transcoded media is served.
        var defaultBehaviour = config["DefaultCacheBehavior"]!;
        Assert.Equal(DistributionDefinition.NotServedOrigin, (string)defaultBehaviour["TargetOriginId"]!);
        Assert.Equal(DistributionDefinition.NotServedPath, (string)origins.Single(o => (string)o!["Id"]! == DistributionDefinition.NotServedOrigin)!["OriginPath"]!);
        var behaviours = config["CacheBehaviors"]!["Items"]!.AsArray();
        Assert.Equal(DistributionDefinition.Behaviours.Select(b => b.Pattern), behaviours.Select(b => (string)b!["PathPattern"]!));
        foreach (var b in behaviours.Append(defaultBehaviour))
        {
            Assert.Equal("redirect-to-https", (string)b!["ViewerProtocolPolicy"]!);
            Assert.False((bool)b["Compress"]!);
            Assert.True((bool)b["TrustedKeyGroups"]!["Enabled"]!);
            Assert.False((bool)b["ForwardedValues"]!["QueryString"]!); // moto: legacy TTLs, the cache key is the path
        }
        long Ttl(string pattern) => (long)behaviours.Single(b => (string)b!["PathPattern"]! == pattern)!["MaxTTL"]!;
        Assert.Equal(31_536_000, Ttl("transcoded/*.m4s"));
        Assert.Equal(31_536_000, Ttl("transcoded/*/init.mp4"));
        Assert.Equal(31_536_000, Ttl("transcoded/*/poster.jpg"));
        Assert.Equal(31_536_000, Ttl("transcoded/*/storyboard/*"));
        Assert.Equal(60, Ttl("transcoded/*.m3u8"));
        Assert.Equal(60, Ttl("transcoded/*.mpd"));
        var errors = config["CustomErrorResponses"]!["Items"]!.AsArray();
        Assert.Equal([403, 404], errors.Select(e => (int)e!["ErrorCode"]!).Order());
        Assert.All(errors, e => Assert.Equal(10, (long)e!["ErrorCachingMinTTL"]!));
        var tags = (await AwsCli.JsonAsync("cloudfront", "list-tags-for-resource", "--resource", (string)dist["ARN"]!))["Tags"]!["Items"]!.AsArray();
        Assert.Contains(tags, t => (string)t!["Key"]! == DistributionDefinition.BucketTag && (string)t["Value"]! == cloud.VideoBucket);

        // The key group trusts the configured signing key, registered under the id recorded as cdn_key_pair_id.
        var groupId = (string)defaultBehaviour["TrustedKeyGroups"]!["Items"]![0]!;
        var group = (await AwsCli.JsonAsync("cloudfront", "get-key-group", "--id", groupId))["KeyGroup"]!["KeyGroupConfig"]!;
        Assert.Equal([keyPairId], group["Items"]!.AsArray().Select(x => (string)x!));
        Assert.True(File.Exists(Path.Combine(home.Path, "keys", "trusted", keyPairId + ".pem")));

        // The bucket grants CloudFront's service principal GetObject on transcoded/* for this distribution only.
        var policy = JsonNode.Parse((string)(await AwsCli.JsonAsync("s3api", "get-bucket-policy", "--bucket", cloud.VideoBucket))["Policy"]!)!;
        var statement = policy["Statement"]!.AsArray().Single(s => (string)s!["Sid"]! == DistributionDefinition.CdnReadSid)!;
        Assert.Equal("Allow", (string)statement["Effect"]!);
        Assert.Equal("cloudfront.amazonaws.com", (string)statement["Principal"]!["Service"]!);
        Assert.Equal("s3:GetObject", (string)statement["Action"]!);
        Assert.Equal($"arn:aws:s3:::{cloud.VideoBucket}/transcoded/*", (string)statement["Resource"]!);
        Assert.Equal((string)dist["ARN"]!, (string)statement["Condition"]!["StringEquals"]!["AWS:SourceArn"]!);

        // A second run changes nothing (moto's gaps are reported once, as notes, not "fixed" every time).
        var again = await ApplyAsync(options with { Delivery = options.Delivery with { DistributionId = id, Domain = domain, KeyPairId = keyPairId } });
        Assert.Equal(0, again.Changed);
        Assert.Contains(again.Steps, s => s.Note?.Contains("OriginAccessControlId", StringComparison.Ordinal) == true);
        Assert.Contains(again.Steps, s => s.Action == StepAction.Unsupported && s.Resource == "cloudfront:policies");
    }

    [Fact]
    public async Task Drift_is_shown_by_the_dry_run_and_converged_with_the_ETag_and_a_second_key_joins_the_group()
    {
        var cloud = await TestCloud.CreateAsync();
        using var home = new TempDir();
        var options = Options(cloud, home.Path, NewKey(home, "cdn.pem"));
        await ApplyAsync(options);
        var id = ManimCloudOptions.ConfigFileValue(home.Path, "distribution_id")!;
        var firstKey = ManimCloudOptions.ConfigFileValue(home.Path, "cdn_key_pair_id")!;

        // Someone changes the price class and the error caching by hand.
        using (var aws = cloud.Clients())
        {
            var cf = CloudFrontClient.Create(aws);
            var (config, etag) = (await cf.GetDistributionConfigAsync(id, default))!.Value;
            config.Element("PriceClass")!.Value = "PriceClass_All";
            foreach (var ttl in config.Descendants("ErrorCachingMinTTL")) ttl.Value = "31536000";
            await cf.UpdateDistributionAsync(id, config, etag, default);
        }
        var drift = await PlanAsync(options);
        var changed = drift.Steps.Where(s => s.WouldChange).Select(s => s.Setting).Order().ToList();
        Assert.Equal(["error responses", "price class"], changed);
        Assert.Contains("PriceClass_All", drift.Steps.Single(s => s.Setting == "price class").Current);
        Assert.Contains("price class", drift.ToText());

        var fixedPlan = await ApplyAsync(options);
        Assert.All(fixedPlan.Steps.Where(s => s.Applied), s => Assert.True(s.Converged));
        var read = await AwsCli.JsonAsync("cloudfront", "get-distribution-config", "--id", id);
        Assert.Equal("PriceClass_200", (string)read["DistributionConfig"]!["PriceClass"]!);
        Assert.Equal(0, (await PlanAsync(options)).Changed);

        // Rotation: a second signing key is registered and planned into the group beside the first (never instead of it).
        var rotated = options with { Delivery = options.Delivery with { PrivateKeyPath = NewKey(home, "cdn2.pem") } };
        var rotation = await PlanAsync(rotated);
        var keysStep = rotation.Steps.Single(s => s.Resource.StartsWith("cloudfront:key-group/", StringComparison.Ordinal));
        Assert.Equal(firstKey, keysStep.Current);
        Assert.Contains(firstKey, keysStep.Desired.Split(','));
        Assert.Equal(2, keysStep.Desired.Split(',').Length);
        var done = await ApplyAsync(rotated);
        var secondKey = ManimCloudOptions.ConfigFileValue(home.Path, "cdn_key_pair_id")!;
        Assert.NotEqual(firstKey, secondKey);
        var keys = (await AwsCli.JsonAsync("cloudfront", "list-public-keys"))["PublicKeyList"]!["Items"]!.AsArray().Select(k => (string)k!["Id"]!).ToList();
        Assert.Contains(firstKey, keys);
        Assert.Contains(secondKey, keys);
        // moto has no UpdateKeyGroup: the step says so (Unsupported) instead of failing or pretending; on AWS the group gets both keys.
        var groupStep = done.Steps.Single(s => s.Resource.StartsWith("cloudfront:key-group/", StringComparison.Ordinal));
        Assert.Equal(StepAction.Unsupported, groupStep.Action);
        Assert.Contains("UpdateKeyGroup", groupStep.Note);
        Assert.True(File.Exists(Path.Combine(home.Path, "keys", "trusted", firstKey + ".pem")));
    }

    [Fact]
    public async Task A_distribution_that_is_not_ManimCloud_s_is_never_changed()
    {
        var cloud = await TestCloud.CreateAsync();
        using var home = new TempDir();
        using var aws = cloud.Clients();
        var cf = CloudFrontClient.Create(aws);
        var foreignConfig = DistributionDefinition.Config("dev", "someone-elses-bucket", "us-east-1", new DeliveryOptions { PriceClass = "PriceClass_All" },
            new DistributionRefs("", "", null), Names.Unique("foreign"));
        foreach (var k in foreignConfig.Descendants("TrustedKeyGroups").ToList())
            k.ReplaceWith(new XElement("TrustedKeyGroups", new XElement("Enabled", false), new XElement("Quantity", 0)));
        var foreign = await cf.CreateDistributionAsync(foreignConfig, new Dictionary<string, string> { ["owner"] = "someone else" }, default);
        var before = (await AwsCli.JsonAsync("cloudfront", "get-distribution-config", "--id", foreign.Id))["DistributionConfig"]!.ToJsonString();

        var options = Options(cloud, home.Path, NewKey(home, "cdn.pem"), distributionId: foreign.Id);
        var plan = await PlanAsync(options);
        var blocked = Assert.Single(plan.Steps, s => s.Action == StepAction.Blocked);
        Assert.Equal("ownership", blocked.Setting);
        Assert.Contains("never changes", blocked.Note);
        var e = await Assert.ThrowsAsync<ProvisioningIncompleteException>(() => ApplyAsync(options));
        Assert.Contains("ownership", e.Message);
        Assert.Equal(before, (await AwsCli.JsonAsync("cloudfront", "get-distribution-config", "--id", foreign.Id))["DistributionConfig"]!.ToJsonString());
        var policy = await AwsCli.RunAsync("s3api", "get-bucket-policy", "--bucket", cloud.VideoBucket);
        Assert.DoesNotContain(foreign.Id, policy.Stdout);
    }

    [Fact]
    public void The_definition_keys_the_cache_on_the_path_alone_and_adds_CORS_after_the_cache()
    {
        // What AWS gets (moto has no policies): cache policies without query strings, cookies or headers in the key,
        // and CORS from the response-headers policy with OriginOverride, so no answer is cached per Origin.
        var immutable = DistributionDefinition.CachePolicy("p", immutable: true);
        var key = immutable.Element("ParametersInCacheKeyAndForwardedToOrigin")!;
        Assert.Equal("none", key.Element("QueryStringsConfig")!.Element("QueryStringBehavior")!.Value);
        Assert.Equal("none", key.Element("HeadersConfig")!.Element("HeaderBehavior")!.Value);
        Assert.Equal("none", key.Element("CookiesConfig")!.Element("CookieBehavior")!.Value);
        Assert.Equal("31536000", immutable.Element("MinTTL")!.Value);
        Assert.Equal("60", DistributionDefinition.CachePolicy("m", immutable: false).Element("MaxTTL")!.Value);
        var headers = DistributionDefinition.ResponseHeadersPolicy("h", ["https://app.example"]);
        Assert.Equal("true", headers.Element("CorsConfig")!.Element("OriginOverride")!.Value);
        Assert.Equal("https://app.example", headers.Descendants("Origin").Single().Value);
        var config = DistributionDefinition.Config("prod", "b", "us-east-1", new DeliveryOptions(), new DistributionRefs("oac", "kg", new EdgePolicies("imm", "man", "hdr")));
        var behaviours = config.Element("CacheBehaviors")!.Element("Items")!.Elements().ToList();
        Assert.All(behaviours, b => Assert.Null(b.Element("ForwardedValues")));
        Assert.Equal("man", behaviours.Single(b => b.Element("PathPattern")!.Value == "transcoded/*.m3u8").Element("CachePolicyId")!.Value);
        Assert.Equal("imm", behaviours.Single(b => b.Element("PathPattern")!.Value == "transcoded/*.m4s").Element("CachePolicyId")!.Value);
        Assert.All(behaviours, b => Assert.Equal("hdr", b.Element("ResponseHeadersPolicyId")!.Value));
    }

    [Fact]
    public async Task Provision_with_delivery_on_makes_the_distribution_and_delivery_provision_then_finds_nothing_to_do()
    {
        var cloud = await TestCloud.CreateAsync(create: false);
        using var home = new TempDir();
        var env = cloud.Environment(home.Path);
        env["MANIMCLOUD_CDN"] = "on";
        env["MANIMCLOUD_CDN_PRIVATE_KEY"] = NewKey(home, "cdn.pem");
        env["MANIMCLOUD_CDN_GEO"] = "deny:KP";

        var run = CliRunner.Run(env, "provision", "--json");
        Assert.True(run.ExitCode == 0, run.Stderr);
        var steps = run.Json["steps"]!.AsArray();
        Assert.Contains(steps, s => ((string)s!["resource"]!).StartsWith("cloudfront:distribution/", StringComparison.Ordinal) && (bool?)s["applied"] == true);
        Assert.Contains(steps, s => (string)s!["resource"]! == $"s3://{cloud.VideoBucket}");
        var id = ManimCloudOptions.ConfigFileValue(home.Path, "distribution_id");
        Assert.NotNull(id);
        var geo = (await AwsCli.JsonAsync("cloudfront", "get-distribution-config", "--id", id!))["DistributionConfig"]!["Restrictions"]!["GeoRestriction"]!;
        Assert.Equal("blacklist", (string)geo["RestrictionType"]!);

        var again = CliRunner.Run(env, "delivery", "provision", "--dry-run", "--json");
        Assert.True(again.ExitCode == 0, again.Stderr);
        Assert.Equal(0, (int)again.Json["changed"]!);
        Assert.True((bool)again.Json["dry_run"]!);
        var text = CliRunner.Run(env, "delivery", "provision", "--dry-run");
        Assert.Contains("(unchanged)", text.Stdout);

        var help = CliRunner.Run(env, "delivery", "provision", "--help");
        Assert.Contains("If-Match", help.Stdout);
    }
}
