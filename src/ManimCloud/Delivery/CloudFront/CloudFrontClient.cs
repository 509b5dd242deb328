using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Xml.Linq;
using Amazon.Runtime;
using ManimCloud.Aws;

namespace ManimCloud.Delivery.CloudFront;

/// <summary>
/// CloudFront's REST/XML API (2020-05-31) over the shared signed <see cref="AwsHttpService"/>: a global service signed
/// for us-east-1, with the retries, endpoints (AWS_ENDPOINT_URL_CLOUDFRONT) and error classification every AWS call has.
/// Request bodies are the caller's namespace-free config elements placed in CloudFront's namespace; answers are read
/// by local name, so an emulator's spelling of the namespace does not matter.
/// </summary>
public sealed class CloudFrontClient(AwsHttpService service) : ICloudFront
{
    public const string ApiVersion = "2020-05-31";
    public static readonly XNamespace Ns = "http://cloudfront.amazonaws.com/doc/2020-05-31/";

    public static CloudFrontClient Create(AwsClients aws) => new(aws.Service(AwsServiceDescription.CloudFront));

    public AwsHttpService Service => service;

    // Distributions

    public async Task<CloudFrontDistribution> CreateDistributionAsync(XElement distributionConfig, IReadOnlyDictionary<string, string> tags, CancellationToken ct)
    {
        var body = new XElement("DistributionConfigWithTags", distributionConfig,
            new XElement("Tags", new XElement("Items", tags.OrderBy(t => t.Key, StringComparer.Ordinal)
                .Select(t => new XElement("Tag", new XElement("Key", t.Key), new XElement("Value", t.Value))))));
        var response = await SendAsync(HttpMethod.Post, "distribution?WithTags", body, null, "CreateDistributionWithTags", ct);
        return Distribution(response);
    }

    public async Task<CloudFrontDistribution?> GetDistributionAsync(string id, CancellationToken ct)
    {
        var response = await FindAsync($"distribution/{Uri.EscapeDataString(id)}", "GetDistribution", ct);
        return response is null ? null : Distribution(response);
    }

    public async Task<(XElement Config, string ETag)?> GetDistributionConfigAsync(string id, CancellationToken ct)
    {
        var response = await FindAsync($"distribution/{Uri.EscapeDataString(id)}/config", "GetDistributionConfig", ct);
        return response is null ? null : (Local(response.Xml()), ETagOf(response));
    }

    public async Task<CloudFrontDistribution> UpdateDistributionAsync(string id, XElement distributionConfig, string ifMatch, CancellationToken ct)
    {
        var response = await SendAsync(HttpMethod.Put, $"distribution/{Uri.EscapeDataString(id)}/config", distributionConfig, ifMatch, "UpdateDistribution", ct);
        return Distribution(response);
    }

    public async IAsyncEnumerable<DistributionSummary> ListDistributionsAsync([EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (var item in PagesAsync("distribution", "ListDistributions", "DistributionSummary", ct))
            yield return new DistributionSummary(Text(item, "Id"), Text(item, "ARN"), Text(item, "DomainName"), Text(item, "Status"), Text(item, "Comment"));
    }

    public async Task<IReadOnlyDictionary<string, string>> ListTagsAsync(string arn, CancellationToken ct)
    {
        var response = await SendAsync(HttpMethod.Get, $"tagging?Resource={Uri.EscapeDataString(arn)}", null, null, "ListTagsForResource", ct);
        return Local(response.Xml()).Descendants("Tag")
            .ToDictionary(t => Text(t, "Key"), t => t.Element("Value")?.Value ?? "", StringComparer.Ordinal);
    }

    // Origin Access Control

    public async Task<OriginAccessControl> CreateOriginAccessControlAsync(string name, string description, CancellationToken ct)
    {
        var body = new XElement("OriginAccessControlConfig",
            new XElement("Name", name), new XElement("Description", description),
            new XElement("SigningProtocol", "sigv4"), new XElement("SigningBehavior", "always"),
            new XElement("OriginAccessControlOriginType", "s3"));
        var response = await SendAsync(HttpMethod.Post, "origin-access-control", body, null, "CreateOriginAccessControl", ct);
        return Oac(Local(response.Xml()), ETagOf(response));
    }

    public async Task<OriginAccessControl?> GetOriginAccessControlAsync(string id, CancellationToken ct)
    {
        var response = await FindAsync($"origin-access-control/{Uri.EscapeDataString(id)}", "GetOriginAccessControl", ct);
        return response is null ? null : Oac(Local(response.Xml()), ETagOf(response));
    }

    public async Task<IReadOnlyList<OriginAccessControl>> ListOriginAccessControlsAsync(CancellationToken ct)
    {
        var list = new List<OriginAccessControl>();
        await foreach (var item in PagesAsync("origin-access-control", "ListOriginAccessControls", "OriginAccessControlSummary", ct))
            list.Add(new OriginAccessControl(Text(item, "Id"), Text(item, "Name"), Text(item, "SigningProtocol"), Text(item, "SigningBehavior"),
                Text(item, "OriginAccessControlOriginType"), null));
        return list;
    }

    private static OriginAccessControl Oac(XElement root, string? etag)
    {
        var config = root.Element("OriginAccessControlConfig") ?? root;
        return new OriginAccessControl(Text(root, "Id"), Text(config, "Name"), Text(config, "SigningProtocol"), Text(config, "SigningBehavior"),
            Text(config, "OriginAccessControlOriginType"), etag);
    }

    // Public keys and key groups

    public async Task<CloudFrontPublicKey> CreatePublicKeyAsync(string name, string publicKeyPem, string callerReference, string comment, CancellationToken ct)
    {
        var body = new XElement("PublicKeyConfig",
            new XElement("CallerReference", callerReference), new XElement("Name", name),
            new XElement("EncodedKey", publicKeyPem), new XElement("Comment", comment));
        var response = await SendAsync(HttpMethod.Post, "public-key", body, null, "CreatePublicKey", ct);
        var root = Local(response.Xml());
        var config = root.Element("PublicKeyConfig")!;
        return new CloudFrontPublicKey(Text(root, "Id"), Text(config, "Name"), Text(config, "EncodedKey"), Text(config, "CallerReference"), ETagOf(response));
    }

    public async Task<IReadOnlyList<CloudFrontPublicKey>> ListPublicKeysAsync(CancellationToken ct)
    {
        var list = new List<CloudFrontPublicKey>();
        await foreach (var item in PagesAsync("public-key", "ListPublicKeys", "PublicKeySummary", ct))
            list.Add(new CloudFrontPublicKey(Text(item, "Id"), Text(item, "Name"), Text(item, "EncodedKey"), "", null));
        return list;
    }

    public async Task<CloudFrontKeyGroup> CreateKeyGroupAsync(string name, IReadOnlyList<string> publicKeyIds, string comment, CancellationToken ct)
    {
        var response = await SendAsync(HttpMethod.Post, "key-group", KeyGroupConfig(name, publicKeyIds, comment), null, "CreateKeyGroup", ct);
        return KeyGroup(Local(response.Xml()), ETagOf(response));
    }

    public async Task<CloudFrontKeyGroup?> GetKeyGroupAsync(string id, CancellationToken ct)
    {
        var response = await FindAsync($"key-group/{Uri.EscapeDataString(id)}", "GetKeyGroup", ct);
        return response is null ? null : KeyGroup(Local(response.Xml()), ETagOf(response));
    }

    public async Task<IReadOnlyList<CloudFrontKeyGroup>> ListKeyGroupsAsync(CancellationToken ct)
    {
        var list = new List<CloudFrontKeyGroup>();
        await foreach (var item in PagesAsync("key-group", "ListKeyGroups", "KeyGroupSummary", ct))
            list.Add(KeyGroup(item.Element("KeyGroup") ?? item, null));
        return list;
    }

    public async Task<CloudFrontKeyGroup> UpdateKeyGroupAsync(string id, string name, IReadOnlyList<string> publicKeyIds, string comment, string ifMatch, CancellationToken ct)
    {
        var response = await SendAsync(HttpMethod.Put, $"key-group/{Uri.EscapeDataString(id)}", KeyGroupConfig(name, publicKeyIds, comment), ifMatch, "UpdateKeyGroup", ct);
        return KeyGroup(Local(response.Xml()), ETagOf(response));
    }

    private static XElement KeyGroupConfig(string name, IReadOnlyList<string> ids, string comment) =>
        new("KeyGroupConfig", new XElement("Name", name), new XElement("Items", ids.Select(i => new XElement("PublicKey", i))), new XElement("Comment", comment));

    private static CloudFrontKeyGroup KeyGroup(XElement root, string? etag)
    {
        var group = root.Name.LocalName == "KeyGroup" ? root : root.Element("KeyGroup") ?? root;
        var config = group.Element("KeyGroupConfig") ?? group;
        return new CloudFrontKeyGroup(Text(group, "Id"), Text(config, "Name"),
            config.Element("Items")?.Elements("PublicKey").Select(e => e.Value).ToList() ?? [], etag);
    }

    // Cache and response headers policies

    public async Task<CloudFrontPolicy> CreateCachePolicyAsync(XElement cachePolicyConfig, CancellationToken ct)
    {
        var response = await SendAsync(HttpMethod.Post, "cache-policy", cachePolicyConfig, null, "CreateCachePolicy", ct);
        return Policy(Local(response.Xml()), "CachePolicyConfig", ETagOf(response));
    }

    public async Task<IReadOnlyList<CloudFrontPolicy>> ListCachePoliciesAsync(CancellationToken ct)
    {
        var list = new List<CloudFrontPolicy>();
        await foreach (var item in PagesAsync("cache-policy?Type=custom", "ListCachePolicies", "CachePolicySummary", ct))
            list.Add(Policy(item.Element("CachePolicy")!, "CachePolicyConfig", null));
        return list;
    }

    public async Task<CloudFrontPolicy> CreateResponseHeadersPolicyAsync(XElement responseHeadersPolicyConfig, CancellationToken ct)
    {
        var response = await SendAsync(HttpMethod.Post, "response-headers-policy", responseHeadersPolicyConfig, null, "CreateResponseHeadersPolicy", ct);
        return Policy(Local(response.Xml()), "ResponseHeadersPolicyConfig", ETagOf(response));
    }

    public async Task<IReadOnlyList<CloudFrontPolicy>> ListResponseHeadersPoliciesAsync(CancellationToken ct)
    {
        var list = new List<CloudFrontPolicy>();
        await foreach (var item in PagesAsync("response-headers-policy?Type=custom", "ListResponseHeadersPolicies", "ResponseHeadersPolicySummary", ct))
            list.Add(Policy(item.Element("ResponseHeadersPolicy")!, "ResponseHeadersPolicyConfig", null));
        return list;
    }

    private static CloudFrontPolicy Policy(XElement policy, string configName, string? etag)
    {
        var config = policy.Element(configName) ?? throw new InvalidOperationException($"CloudFront's answer has no {configName}.");
        return new CloudFrontPolicy(Text(policy, "Id"), Text(config, "Name"), config, etag);
    }

    // Invalidations

    public async Task<CloudFrontInvalidation> CreateInvalidationAsync(string distributionId, IReadOnlyList<string> paths, string callerReference, CancellationToken ct)
    {
        if (paths.Count == 0) throw new ArgumentException("An invalidation needs at least one path.", nameof(paths));
        var body = new XElement("InvalidationBatch",
            new XElement("Paths", new XElement("Quantity", paths.Count), new XElement("Items", paths.Select(p => new XElement("Path", p)))),
            new XElement("CallerReference", callerReference));
        var response = await SendAsync(HttpMethod.Post, $"distribution/{Uri.EscapeDataString(distributionId)}/invalidation", body, null, "CreateInvalidation", ct);
        return Invalidation(Local(response.Xml()));
    }

    public async Task<CloudFrontInvalidation?> GetInvalidationAsync(string distributionId, string id, CancellationToken ct)
    {
        var response = await FindAsync($"distribution/{Uri.EscapeDataString(distributionId)}/invalidation/{Uri.EscapeDataString(id)}", "GetInvalidation", ct);
        return response is null ? null : Invalidation(Local(response.Xml()));
    }

    public async Task<IReadOnlyList<CloudFrontInvalidation>> ListInvalidationsAsync(string distributionId, CancellationToken ct)
    {
        var list = new List<CloudFrontInvalidation>();
        await foreach (var item in PagesAsync($"distribution/{Uri.EscapeDataString(distributionId)}/invalidation", "ListInvalidations", "InvalidationSummary", ct))
            list.Add(new CloudFrontInvalidation(Text(item, "Id"), CloudFrontInvalidation.Spelled(Text(item, "Status")), Time(item), [], ""));
        return list;
    }

    private static CloudFrontInvalidation Invalidation(XElement root)
    {
        var inv = root.Name.LocalName == "Invalidation" ? root : root.Element("Invalidation") ?? root;
        var batch = inv.Element("InvalidationBatch");
        return new CloudFrontInvalidation(Text(inv, "Id"), CloudFrontInvalidation.Spelled(Text(inv, "Status")), Time(inv),
            batch?.Element("Paths")?.Element("Items")?.Elements("Path").Select(p => p.Value).ToList() ?? [],
            batch?.Element("CallerReference")?.Value ?? "");
    }

    // Protocol

    private static CloudFrontDistribution Distribution(AwsResponse response)
    {
        var root = Local(response.Xml());
        var d = root.Name.LocalName == "Distribution" ? root : root.Element("Distribution") ?? root;
        return new CloudFrontDistribution(Text(d, "Id"), Text(d, "ARN"), Text(d, "DomainName"), Text(d, "Status"), ETagOf(response),
            d.Element("DistributionConfig") ?? throw new InvalidOperationException("CloudFront's answer has no DistributionConfig."));
    }

    private Task<AwsResponse> SendAsync(HttpMethod method, string path, XElement? body, string? ifMatch, string api, CancellationToken ct)
    {
        var text = body is null ? null : new XDocument(new XDeclaration("1.0", "UTF-8", null), InNamespace(body)).Declaration + InNamespace(body).ToString(SaveOptions.DisableFormatting);
        return service.SendAsync(() =>
        {
            var request = new HttpRequestMessage(method, $"{ApiVersion}/{path}");
            if (text is not null)
            {
                request.Content = new StringContent(text, Encoding.UTF8);
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/xml");
            }
            if (ifMatch is not null) request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
            return request;
        }, ct, api);
    }

    /// <summary>A GET whose NoSuch… answer (404) means "there is none".</summary>
    private async Task<AwsResponse?> FindAsync(string path, string api, CancellationToken ct)
    {
        try
        {
            return await SendAsync(HttpMethod.Get, path, null, null, api, ct);
        }
        catch (Exception e) when (Unwrap(e) is AmazonServiceException { StatusCode: HttpStatusCode.NotFound } s && s.ErrorCode.StartsWith("NoSuch", StringComparison.Ordinal))
        {
            return null;
        }
    }

    private static Exception Unwrap(Exception e) => e is Resilience.RetryPipeline.BudgetExhaustedException { InnerException: { } inner } ? inner : e;

    /// <summary>Every item of a Marker/NextMarker-paged list.</summary>
    private async IAsyncEnumerable<XElement> PagesAsync(string path, string api, string itemName, [EnumeratorCancellation] CancellationToken ct)
    {
        string? marker = null;
        do
        {
            var separator = path.Contains('?') ? '&' : '?';
            var page = marker is null ? path : $"{path}{separator}Marker={Uri.EscapeDataString(marker)}";
            var root = Local((await SendAsync(HttpMethod.Get, page, null, null, api, ct)).Xml());
            foreach (var item in root.Element("Items")?.Elements(itemName) ?? []) yield return item;
            var truncated = root.Element("IsTruncated")?.Value == "true";
            marker = truncated ? root.Element("NextMarker")?.Value : null;
        }
        while (marker is { Length: > 0 });
    }

    private static string ETagOf(AwsResponse response) => response.Header("ETag") ?? "";

    private static DateTimeOffset Time(XElement e) =>
        e.Element("CreateTime") is { } t && DateTimeOffset.TryParse(t.Value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at : DateTimeOffset.MinValue;

    private static string Text(XElement e, string name) => e.Element(name)?.Value ?? "";

    /// <summary>A copy with every element in no namespace (answers are read by local name).</summary>
    public static XElement Local(XElement e) =>
        new(e.Name.LocalName, e.Attributes().Where(a => !a.IsNamespaceDeclaration), e.Nodes().Select(n => n is XElement c ? Local(c) : n));

    /// <summary>A copy of a namespace-free config in CloudFront's namespace, as its API takes request bodies.</summary>
    public static XElement InNamespace(XElement e) =>
        new(Ns + e.Name.LocalName, e.Attributes(), e.Nodes().Select(n => n is XElement c ? InNamespace(c) : n));
}
