using System.Xml.Linq;

namespace ManimCloud.Delivery.CloudFront;

/// <summary>A distribution as CloudFront reports it; <see cref="Config"/> is its DistributionConfig (namespace-free XML).</summary>
public sealed record CloudFrontDistribution(string Id, string Arn, string DomainName, string Status, string ETag, XElement Config)
{
    public string Comment => Config.Element("Comment")?.Value ?? "";
}

/// <summary>One row of ListDistributions.</summary>
public sealed record DistributionSummary(string Id, string Arn, string DomainName, string Status, string Comment);

public sealed record OriginAccessControl(string Id, string Name, string SigningProtocol, string SigningBehavior, string OriginType, string? ETag);

public sealed record CloudFrontPublicKey(string Id, string Name, string EncodedKey, string CallerReference, string? ETag);

public sealed record CloudFrontKeyGroup(string Id, string Name, IReadOnlyList<string> PublicKeyIds, string? ETag);

/// <summary>A cache policy or a response headers policy: its id, name and config (namespace-free XML).</summary>
public sealed record CloudFrontPolicy(string Id, string Name, XElement Config, string? ETag);

public sealed record CloudFrontInvalidation(string Id, string Status, DateTimeOffset CreateTime, IReadOnlyList<string> Paths, string CallerReference)
{
    public bool IsCompleted => string.Equals(Status, "Completed", StringComparison.OrdinalIgnoreCase);

    /// <summary>CloudFront's spelling of a status ("InProgress", "Completed"); moto answers "COMPLETED".</summary>
    public static string Spelled(string status) =>
        status.Equals("Completed", StringComparison.OrdinalIgnoreCase) ? "Completed"
        : status.Equals("InProgress", StringComparison.OrdinalIgnoreCase) || status.Equals("IN_PROGRESS", StringComparison.OrdinalIgnoreCase) ? "InProgress"
        : status;
}

/// <summary>
/// The CloudFront calls ManimCloud makes (API 2020-05-31, REST/XML). A thin typed client (<see cref="CloudFrontClient"/>)
/// implements it, since the registry here has no AWSSDK.CloudFront; the official package can implement it later without
/// touching callers. Configs travel as namespace-free XML in the API's own element names and order (the caller builds
/// them; the client adds and strips the namespace). Missing resources read as null; every other error is the SDK's
/// AmazonServiceException with CloudFront's error code.
/// </summary>
public interface ICloudFront
{
    Task<CloudFrontDistribution> CreateDistributionAsync(XElement distributionConfig, IReadOnlyDictionary<string, string> tags, CancellationToken ct);
    Task<CloudFrontDistribution?> GetDistributionAsync(string id, CancellationToken ct);
    /// <summary>The DistributionConfig and the ETag an update must name in If-Match.</summary>
    Task<(XElement Config, string ETag)?> GetDistributionConfigAsync(string id, CancellationToken ct);
    /// <summary>Replaces the config; refused (PreconditionFailed) when <paramref name="ifMatch"/> is not the current ETag.</summary>
    Task<CloudFrontDistribution> UpdateDistributionAsync(string id, XElement distributionConfig, string ifMatch, CancellationToken ct);
    IAsyncEnumerable<DistributionSummary> ListDistributionsAsync(CancellationToken ct);
    Task<IReadOnlyDictionary<string, string>> ListTagsAsync(string arn, CancellationToken ct);

    Task<OriginAccessControl> CreateOriginAccessControlAsync(string name, string description, CancellationToken ct);
    Task<OriginAccessControl?> GetOriginAccessControlAsync(string id, CancellationToken ct);
    Task<IReadOnlyList<OriginAccessControl>> ListOriginAccessControlsAsync(CancellationToken ct);

    Task<CloudFrontPublicKey> CreatePublicKeyAsync(string name, string publicKeyPem, string callerReference, string comment, CancellationToken ct);
    Task<IReadOnlyList<CloudFrontPublicKey>> ListPublicKeysAsync(CancellationToken ct);

    Task<CloudFrontKeyGroup> CreateKeyGroupAsync(string name, IReadOnlyList<string> publicKeyIds, string comment, CancellationToken ct);
    Task<CloudFrontKeyGroup?> GetKeyGroupAsync(string id, CancellationToken ct);
    Task<IReadOnlyList<CloudFrontKeyGroup>> ListKeyGroupsAsync(CancellationToken ct);
    Task<CloudFrontKeyGroup> UpdateKeyGroupAsync(string id, string name, IReadOnlyList<string> publicKeyIds, string comment, string ifMatch, CancellationToken ct);

    Task<CloudFrontPolicy> CreateCachePolicyAsync(XElement cachePolicyConfig, CancellationToken ct);
    Task<IReadOnlyList<CloudFrontPolicy>> ListCachePoliciesAsync(CancellationToken ct);
    Task<CloudFrontPolicy> CreateResponseHeadersPolicyAsync(XElement responseHeadersPolicyConfig, CancellationToken ct);
    Task<IReadOnlyList<CloudFrontPolicy>> ListResponseHeadersPoliciesAsync(CancellationToken ct);

    /// <summary>One invalidation batch. CloudFront answers a repeated <paramref name="callerReference"/> with the earlier
    /// invalidation (same paths), so a retry is one invalidation.</summary>
    Task<CloudFrontInvalidation> CreateInvalidationAsync(string distributionId, IReadOnlyList<string> paths, string callerReference, CancellationToken ct);
    Task<CloudFrontInvalidation?> GetInvalidationAsync(string distributionId, string id, CancellationToken ct);
    /// <summary>Summaries (id, status, time; no paths), newest first as CloudFront lists them, all pages.</summary>
    Task<IReadOnlyList<CloudFrontInvalidation>> ListInvalidationsAsync(string distributionId, CancellationToken ct);
}
