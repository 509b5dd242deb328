using System.Xml.Linq;
using Amazon.Runtime;
using ManimCloud.Aws;
using ManimCloud.Delivery.CloudFront;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Delivery;

/// <summary>
/// The typed CloudFront client against moto's CloudFront: distributions with tags, config read back and updated only
/// with the current ETag, Origin Access Control, public keys and key groups, invalidations. (moto drops an origin's
/// OAC id, serves no content, has no cache or response-headers policies, and completes invalidations at once.)
/// </summary>
public sealed class CloudFrontClientTests
{
    private static AwsClients Clients() =>
        new(new Workspace.ManimCloudOptions { Home = Path.GetTempPath(), Region = "us-east-1", EndpointUrl = MotoServer.Endpoint, RetryBudget = TimeSpan.FromSeconds(2) });

    /// <summary>A minimal DistributionConfig in the API's element order: one private S3 origin, HTTPS only, HTTP/2+3.</summary>
    private static XElement Config(string callerReference, string bucket, string comment, string oacId, string keyGroupId, string priceClass = "PriceClass_100") =>
        new("DistributionConfig",
            new XElement("CallerReference", callerReference),
            new XElement("Origins", new XElement("Quantity", 1), new XElement("Items",
                new XElement("Origin",
                    new XElement("Id", "videos"),
                    new XElement("DomainName", $"{bucket}.s3.us-east-1.amazonaws.com"),
                    new XElement("OriginPath", ""),
                    new XElement("S3OriginConfig", new XElement("OriginAccessIdentity", "")),
                    new XElement("OriginAccessControlId", oacId)))),
            new XElement("DefaultCacheBehavior",
                new XElement("TargetOriginId", "videos"),
                new XElement("TrustedKeyGroups", new XElement("Enabled", true), new XElement("Quantity", 1), new XElement("Items", new XElement("KeyGroup", keyGroupId))),
                new XElement("ViewerProtocolPolicy", "redirect-to-https"),
                new XElement("Compress", false),
                new XElement("ForwardedValues", new XElement("QueryString", false), new XElement("Cookies", new XElement("Forward", "none"))),
                new XElement("MinTTL", 0), new XElement("DefaultTTL", 60), new XElement("MaxTTL", 60)),
            new XElement("Comment", comment),
            new XElement("PriceClass", priceClass),
            new XElement("Enabled", true),
            new XElement("Restrictions", new XElement("GeoRestriction", new XElement("RestrictionType", "whitelist"), new XElement("Quantity", 2),
                new XElement("Items", new XElement("Location", "CA"), new XElement("Location", "US")))),
            new XElement("HttpVersion", "http2and3"));

    private static string PublicKeyPem()
    {
        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        return rsa.ExportSubjectPublicKeyInfoPem();
    }

    [Fact]
    public async Task A_distribution_with_OAC_and_a_key_group_round_trips_and_updates_with_the_ETag_of_its_config()
    {
        using var aws = Clients();
        var cf = CloudFrontClient.Create(aws);
        var ct = CancellationToken.None;
        var name = Names.Unique("mc-cdn");

        var oac = await cf.CreateOriginAccessControlAsync(name, "ManimCloud test", ct);
        Assert.Equal(("sigv4", "always", "s3"), (oac.SigningProtocol, oac.SigningBehavior, oac.OriginType));
        Assert.Equal(name, (await cf.GetOriginAccessControlAsync(oac.Id, ct))?.Name);
        Assert.Contains(await cf.ListOriginAccessControlsAsync(ct), o => o.Id == oac.Id);

        var pem = PublicKeyPem();
        var key = await cf.CreatePublicKeyAsync(name, pem, name, "signing key", ct);
        Assert.Equal(pem.Trim(), key.EncodedKey.Trim());
        Assert.Contains(await cf.ListPublicKeysAsync(ct), k => k.Id == key.Id);
        var group = await cf.CreateKeyGroupAsync(name, [key.Id], "trusted", ct);
        Assert.Equal([key.Id], (await cf.GetKeyGroupAsync(group.Id, ct))!.PublicKeyIds);
        Assert.Contains(await cf.ListKeyGroupsAsync(ct), g => g.Id == group.Id && g.PublicKeyIds.SequenceEqual([key.Id]));

        var created = await cf.CreateDistributionAsync(Config(name, "videos-bucket", $"manimcloud:{name}", oac.Id, group.Id),
            new Dictionary<string, string> { ["manimcloud"] = name }, ct);
        Assert.EndsWith(".cloudfront.net", created.DomainName);
        Assert.NotEmpty(created.ETag);
        Assert.Equal(name, (await cf.ListTagsAsync(created.Arn, ct))["manimcloud"]);
        var summaries = new List<DistributionSummary>();
        await foreach (var s in cf.ListDistributionsAsync(ct)) summaries.Add(s);
        // moto's list leaves Comment out of the summaries; GetDistribution has it.
        Assert.Contains(summaries, s => s.Id == created.Id);
        Assert.Equal($"manimcloud:{name}", (await cf.GetDistributionAsync(created.Id, ct))!.Comment);

        var (config, etag) = (await cf.GetDistributionConfigAsync(created.Id, ct))!.Value;
        var geo = config.Element("Restrictions")!.Element("GeoRestriction")!;
        Assert.Equal("whitelist", geo.Element("RestrictionType")!.Value);
        Assert.Equal(["CA", "US"], geo.Element("Items")!.Elements("Location").Select(l => l.Value).Order());
        Assert.Equal("http2and3", config.Element("HttpVersion")!.Value);
        Assert.Equal("redirect-to-https", config.Element("DefaultCacheBehavior")!.Element("ViewerProtocolPolicy")!.Value);
        Assert.Equal("false", config.Element("DefaultCacheBehavior")!.Element("Compress")!.Value);

        // moto accepts any If-Match value (it only refuses a missing one), so a stale ETag cannot be shown refused here;
        // the client always sends the ETag GetDistributionConfig returned.
        Assert.NotEmpty(etag);
        var updated = await cf.UpdateDistributionAsync(created.Id, Config(name, "videos-bucket", $"manimcloud:{name}", oac.Id, group.Id, "PriceClass_All"), etag, ct);
        Assert.Equal("PriceClass_All", updated.Config.Element("PriceClass")!.Value);
        Assert.Equal("PriceClass_All", (await cf.GetDistributionAsync(created.Id, ct))!.Config.Element("PriceClass")!.Value);

        Assert.Null(await cf.GetDistributionAsync("E0NOSUCHDIST", ct));
        Assert.Null(await cf.GetDistributionConfigAsync("E0NOSUCHDIST", ct));
    }

    [Fact]
    public async Task Invalidations_are_created_with_their_paths_and_listed_and_followed_to_completed()
    {
        using var aws = Clients();
        var cf = CloudFrontClient.Create(aws);
        var ct = CancellationToken.None;
        var name = Names.Unique("mc-inv");
        var oac = await cf.CreateOriginAccessControlAsync(name, "", ct);
        var key = await cf.CreatePublicKeyAsync(name, PublicKeyPem(), name, "", ct);
        var group = await cf.CreateKeyGroupAsync(name, [key.Id], "", ct);
        var d = await cf.CreateDistributionAsync(Config(name, "b", "x", oac.Id, group.Id), new Dictionary<string, string>(), ct);

        string[] paths = ["/transcoded/p/v/v2/hls/master.m3u8", "/transcoded/p/v/v2/dash/manifest.mpd"];
        var inv = await cf.CreateInvalidationAsync(d.Id, paths, name + "-change-1", ct);
        Assert.Equal(paths, inv.Paths);
        Assert.Equal(name + "-change-1", inv.CallerReference);
        var read = await cf.GetInvalidationAsync(d.Id, inv.Id, ct);
        Assert.True(read!.IsCompleted);
        Assert.Equal(paths, read.Paths);
        Assert.Contains(await cf.ListInvalidationsAsync(d.Id, ct), i => i.Id == inv.Id);
        await Assert.ThrowsAsync<ArgumentException>(() => cf.CreateInvalidationAsync(d.Id, [], "empty", ct));
    }

    [Fact]
    public async Task Cache_and_response_headers_policies_are_refused_by_moto_as_not_found_not_retried()
    {
        // SPEC §4: moto has no cache or response-headers policies. The call must fail fast as NotFound, not hang in retries.
        using var aws = Clients();
        var cf = CloudFrontClient.Create(aws);
        var e = await Assert.ThrowsAnyAsync<Exception>(() => cf.ListCachePoliciesAsync(CancellationToken.None));
        Assert.Equal(Domain.ErrorKind.NotFound, AwsErrors.Classify(e));
        var r = await Assert.ThrowsAnyAsync<Exception>(() => cf.ListResponseHeadersPoliciesAsync(CancellationToken.None));
        Assert.Equal(Domain.ErrorKind.NotFound, AwsErrors.Classify(r));
    }
}
