using System.Xml.Linq;

namespace ManimCloud.Delivery;

/// <summary>The ids a distribution's config refers to (found or created by provisioning; "(new)" in a dry run).</summary>
/// <param name="CachePolicies">Null where the CloudFront has no cache or response-headers policies (moto): the
/// behaviours then carry legacy ForwardedValues and TTLs, and no security or CORS headers are added at the edge.</param>
public sealed record DistributionRefs(string OriginAccessControlId, string KeyGroupId, EdgePolicies? CachePolicies);

/// <summary>The cache policies (immutable objects, manifests) and the response-headers policy the behaviours use.</summary>
public sealed record EdgePolicies(string ImmutableCachePolicyId, string ManifestCachePolicyId, string ResponseHeadersPolicyId);

/// <summary>
/// What ManimCloud's CloudFront distribution of one environment is (SPEC R5), as CloudFront's DistributionConfig
/// (namespace-free, the API's element order). Pure: built from the options and the ids it refers to, so the plan can
/// show it and a test can read it without CloudFront.
///
/// Paths: segments (<c>.m4s</c>), init segments, posters and storyboards are immutable (a year); manifests are short
/// (up to a minute; CloudFront honours the origin's shorter Cache-Control); the default behaviour points at an origin
/// path outside <c>transcoded/</c>, which the bucket policy does not grant, so nothing else is served. Every behaviour
/// requires a signature from the key group, redirects HTTP to HTTPS, serves GET/HEAD only and does not compress
/// (media is compressed already). The cache key never holds the query string, cookies or the Origin header: CloudFront
/// checks signed URLs before the cache, and CORS headers come from the response-headers policy after it, so an answer
/// cached for one site's player is right for every site's.
/// </summary>
public static class DistributionDefinition
{
    public const string VideosOrigin = "videos";
    /// <summary>The default behaviour's origin: the bucket under a prefix nobody is granted, so S3 refuses everything there.</summary>
    public const string NotServedOrigin = "not-served";
    public const string NotServedPath = "/manimcloud-not-served";

    public const int ImmutableSeconds = 31_536_000;
    /// <summary>Manifests: at most a minute at the edge (the origin's Cache-Control, shorter, wins up to this).</summary>
    public const int ManifestMaxSeconds = 60;
    public const int ManifestDefaultSeconds = 10;
    /// <summary>403 and 404 answers are cached this long, not a year.</summary>
    public const int ErrorCacheSeconds = 10;

    /// <summary>The tags that mark a distribution as ManimCloud's: the environment and the video bucket it serves.
    /// A distribution without both (matching) is never touched.</summary>
    public const string EnvironmentTag = "manimcloud:environment";
    public const string BucketTag = "manimcloud:bucket";

    /// <summary>The Sid of the video bucket's statement letting this distribution read transcoded/ (kept as found by `provision`).</summary>
    public const string CdnReadSid = ManimCloud.Provisioning.BucketPolicy.CdnSidPrefix + "Read";

    /// <summary>The name part shared by this deployment's CloudFront resources: the environment and a short hash of the
    /// video bucket (names are global to the account, and an account may hold several deployments of one environment).</summary>
    public static string Deployment(string environment, string bucket) =>
        $"{environment}-{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(bucket)))[..10]}";

    /// <summary>Path patterns served, in evaluation order, and whether they are immutable.</summary>
    public static readonly IReadOnlyList<(string Pattern, bool Immutable)> Behaviours =
    [
        ("transcoded/*.m4s", true),
        ("transcoded/*/init.mp4", true),
        ("transcoded/*/poster.jpg", true),
        ("transcoded/*/storyboard/*", true),
        ("transcoded/*.m3u8", false),
        ("transcoded/*.mpd", false),
    ];

    public static string Comment(string environment) => $"ManimCloud {environment}: transcoded videos";
    public static string CallerReference(string deployment) => $"manimcloud-{deployment}";
    public static string OriginDomain(string bucket, string region) => $"{bucket}.s3.{region}.amazonaws.com";

    public static XElement Config(string environment, string bucket, string region, DeliveryOptions options, DistributionRefs refs, string? callerReference = null) =>
        new("DistributionConfig",
            new XElement("CallerReference", callerReference ?? CallerReference(Deployment(environment, bucket))),
            new XElement("Origins", new XElement("Quantity", 2), new XElement("Items",
                Origin(VideosOrigin, bucket, region, "", refs.OriginAccessControlId),
                Origin(NotServedOrigin, bucket, region, NotServedPath, refs.OriginAccessControlId))),
            Behaviour("DefaultCacheBehavior", null, NotServedOrigin, refs, immutable: false),
            new XElement("CacheBehaviors", new XElement("Quantity", Behaviours.Count),
                new XElement("Items", Behaviours.Select(b => Behaviour("CacheBehavior", b.Pattern, VideosOrigin, refs, b.Immutable)))),
            new XElement("CustomErrorResponses", new XElement("Quantity", 2), new XElement("Items",
                new[] { 403, 404 }.Select(code => new XElement("CustomErrorResponse",
                    new XElement("ErrorCode", code), new XElement("ErrorCachingMinTTL", ErrorCacheSeconds))))),
            new XElement("Comment", Comment(environment)),
            new XElement("PriceClass", options.PriceClass),
            new XElement("Enabled", true),
            new XElement("Restrictions", new XElement("GeoRestriction",
                new XElement("RestrictionType", options.Geo.Type),
                new XElement("Quantity", options.Geo.Countries.Count),
                options.Geo.Countries.Count == 0 ? null : new XElement("Items", options.Geo.Countries.Select(c => new XElement("Location", c))))),
            new XElement("HttpVersion", "http2and3"),
            new XElement("IsIPV6Enabled", true));

    private static XElement Origin(string id, string bucket, string region, string path, string oacId) =>
        new("Origin",
            new XElement("Id", id),
            new XElement("DomainName", OriginDomain(bucket, region)),
            new XElement("OriginPath", path),
            // An OAC origin keeps an empty origin access identity (the legacy OAI), as CloudFront requires.
            new XElement("S3OriginConfig", new XElement("OriginAccessIdentity", "")),
            new XElement("OriginAccessControlId", oacId));

    private static XElement Behaviour(string element, string? pattern, string origin, DistributionRefs refs, bool immutable)
    {
        var policies = refs.CachePolicies;
        var ttl = immutable ? (ImmutableSeconds, ImmutableSeconds, ImmutableSeconds) : (0, ManifestDefaultSeconds, ManifestMaxSeconds);
        return new XElement(element,
            pattern is null ? null : new XElement("PathPattern", pattern),
            new XElement("TargetOriginId", origin),
            new XElement("TrustedKeyGroups", new XElement("Enabled", true), new XElement("Quantity", 1),
                new XElement("Items", new XElement("KeyGroup", refs.KeyGroupId))),
            new XElement("ViewerProtocolPolicy", "redirect-to-https"),
            new XElement("AllowedMethods", new XElement("Quantity", 2), new XElement("Items", new XElement("Method", "GET"), new XElement("Method", "HEAD")),
                new XElement("CachedMethods", new XElement("Quantity", 2), new XElement("Items", new XElement("Method", "GET"), new XElement("Method", "HEAD")))),
            new XElement("Compress", false),
            policies is null ? null : new XElement("CachePolicyId", immutable ? policies.ImmutableCachePolicyId : policies.ManifestCachePolicyId),
            policies is null ? null : new XElement("ResponseHeadersPolicyId", policies.ResponseHeadersPolicyId),
            policies is not null ? null : new XElement("ForwardedValues",
                new XElement("QueryString", false), new XElement("Cookies", new XElement("Forward", "none")),
                new XElement("Headers", new XElement("Quantity", 0))),
            policies is not null ? null : new XElement("MinTTL", ttl.Item1),
            policies is not null ? null : new XElement("DefaultTTL", ttl.Item2),
            policies is not null ? null : new XElement("MaxTTL", ttl.Item3));
    }

    public static string ImmutablePolicyName(string deployment) => $"manimcloud-{deployment}-immutable";
    public static string ManifestPolicyName(string deployment) => $"manimcloud-{deployment}-manifests";
    public static string HeadersPolicyName(string deployment) => $"manimcloud-{deployment}-playback";

    /// <summary>A cache policy whose key is the path alone (no query string, cookies or headers; signatures are checked before the cache).</summary>
    public static XElement CachePolicy(string name, bool immutable) =>
        new("CachePolicyConfig",
            new XElement("Comment", immutable ? "ManimCloud segments, init segments, posters, storyboards: immutable paths" : "ManimCloud manifests: short"),
            new XElement("Name", name),
            new XElement("DefaultTTL", immutable ? ImmutableSeconds : ManifestDefaultSeconds),
            new XElement("MaxTTL", immutable ? ImmutableSeconds : ManifestMaxSeconds),
            new XElement("MinTTL", immutable ? ImmutableSeconds : 0),
            new XElement("ParametersInCacheKeyAndForwardedToOrigin",
                new XElement("EnableAcceptEncodingGzip", false),
                new XElement("EnableAcceptEncodingBrotli", false),
                new XElement("HeadersConfig", new XElement("HeaderBehavior", "none")),
                new XElement("CookiesConfig", new XElement("CookieBehavior", "none")),
                new XElement("QueryStringsConfig", new XElement("QueryStringBehavior", "none"))));

    /// <summary>
    /// Security headers and CORS for players, added by CloudFront after the cache (OriginOverride): the answer for one
    /// site's Origin is never what another site's player gets from the cache.
    /// </summary>
    public static XElement ResponseHeadersPolicy(string name, IReadOnlyList<string> corsOrigins) =>
        new("ResponseHeadersPolicyConfig",
            new XElement("Comment", "ManimCloud playback: security headers, CORS for players"),
            new XElement("Name", name),
            new XElement("CorsConfig",
                new XElement("AccessControlAllowOrigins", new XElement("Quantity", corsOrigins.Count),
                    new XElement("Items", corsOrigins.Select(o => new XElement("Origin", o)))),
                new XElement("AccessControlAllowHeaders", new XElement("Quantity", 1), new XElement("Items", new XElement("Header", "Range"))),
                new XElement("AccessControlAllowMethods", new XElement("Quantity", 3),
                    new XElement("Items", new XElement("Method", "GET"), new XElement("Method", "HEAD"), new XElement("Method", "OPTIONS"))),
                new XElement("AccessControlAllowCredentials", false),
                new XElement("AccessControlExposeHeaders", new XElement("Quantity", 2),
                    new XElement("Items", new XElement("Header", "Content-Length"), new XElement("Header", "Content-Range"))),
                new XElement("AccessControlMaxAgeSec", 600),
                new XElement("OriginOverride", true)),
            new XElement("SecurityHeadersConfig",
                new XElement("FrameOptions", new XElement("Override", true), new XElement("FrameOption", "DENY")),
                new XElement("ReferrerPolicy", new XElement("Override", true), new XElement("ReferrerPolicy", "strict-origin-when-cross-origin")),
                new XElement("ContentTypeOptions", new XElement("Override", true)),
                new XElement("StrictTransportSecurity", new XElement("Override", true), new XElement("IncludeSubdomains", true),
                    new XElement("Preload", false), new XElement("AccessControlMaxAgeSec", 63_072_000))));

    /// <summary>
    /// <paramref name="current"/> seen through the shape of <paramref name="desired"/>, as text: only elements the
    /// desired config sets are compared (CloudFront fills in defaults of its own), set-like lists are sorted, and
    /// booleans are lower case. An element the desired config sets that is absent from <paramref name="current"/> is
    /// written "(absent)" — unless <paramref name="notKept"/> is given: then it is left out of the comparison and its
    /// path added there (a CloudFront emulator that does not store it; on AWS absence is drift).
    /// </summary>
    public static string Canonical(XElement desired, XElement? current, List<string>? notKept = null, string path = "")
    {
        var here = path.Length == 0 ? desired.Name.LocalName : path + "/" + desired.Name.LocalName;
        if (current is null)
        {
            if (notKept is null || path.Length == 0) return $"<{desired.Name.LocalName}>(absent)";
            notKept.Add(here);
            return "";
        }
        if (!desired.HasElements) return $"<{desired.Name.LocalName}>{Value(current.HasElements ? "(a list)" : current.Value)}";
        if (desired.Name.LocalName == "Items")
        {
            // A list: every current item counts (a stray one is drift), each seen through the desired items' shape.
            var template = desired.Elements().FirstOrDefault();
            var items = current.Elements().Select(item => template is null || !template.HasElements
                ? $"<{item.Name.LocalName}>{Value(item.Value)}"
                : Canonical(template, item, notKept, here)).ToList();
            // The order of behaviours is the order CloudFront matches them in; everything else is a set.
            if (path.EndsWith("CacheBehaviors", StringComparison.Ordinal) is false) items.Sort(StringComparer.Ordinal);
            return $"<Items>[{string.Join(",", items)}]";
        }
        var parts = desired.Elements().Select(d => Canonical(d, current.Element(d.Name.LocalName), notKept, here)).Where(p => p.Length > 0);
        return $"<{desired.Name.LocalName}>{{{string.Join("", parts)}}}";
    }

    private static string Value(string v) => v is "True" or "False" ? v.ToLowerInvariant() : v;
}
