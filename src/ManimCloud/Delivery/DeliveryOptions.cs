using ManimCloud.Domain;

namespace ManimCloud.Delivery;

/// <summary>Allow or deny list of countries (ISO 3166-1 alpha-2) for CloudFront's geo restriction.</summary>
public sealed record GeoRestriction(string Type, IReadOnlyList<string> Countries)
{
    public static readonly GeoRestriction None = new("none", []);

    /// <summary>"allow:US,CA", "deny:CN,RU" or "none".</summary>
    public static GeoRestriction Parse(string text)
    {
        if (text is "none" or "") return None;
        var colon = text.IndexOf(':');
        var type = colon < 0 ? "" : text[..colon];
        var countries = colon < 0 ? [] : text[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(c => c.ToUpperInvariant()).Distinct().Order(StringComparer.Ordinal).ToList();
        if (type is not ("allow" or "deny") || countries.Count == 0 || countries.Any(c => c.Length != 2 || !c.All(char.IsAsciiLetterUpper)))
            throw new ManimCloudException(ErrorKind.InvalidInput, $"MANIMCLOUD_CDN_GEO is '{text}'.",
                "Use none, allow:CC,CC… or deny:CC,CC… with two-letter country codes (e.g. allow:US,CA).");
        return new GeoRestriction(type == "allow" ? "whitelist" : "blacklist", countries);
    }

    public override string ToString() => Type == "none" ? "none" : $"{(Type == "whitelist" ? "allow" : "deny")}:{string.Join(',', Countries)}";
}

/// <summary>
/// Delivery settings (SPEC §3): what `delivery provision` wrote (domain, distribution id, key pair id), the signing
/// key's file, the local service's public URL, and the distribution's shape (price class, geo restriction, CORS).
/// </summary>
public sealed record DeliveryOptions
{
    public const string DefaultPublicUrl = "http://127.0.0.1:8080";

    /// <summary>MANIMCLOUD_CDN: on, off, or unset (on once a distribution id is configured).</summary>
    public bool? Enabled { get; init; }
    public string? Domain { get; init; }
    public string? DistributionId { get; init; }
    public string? KeyPairId { get; init; }
    /// <summary>Path of the PEM private key (never the key itself).</summary>
    public string? PrivateKeyPath { get; init; }
    public string PublicUrl { get; init; } = DefaultPublicUrl;
    /// <summary>Whether MANIMCLOUD_PUBLIC_URL / public_url was set; if not, `serve` points links at the address it listens on.</summary>
    public bool PublicUrlConfigured { get; init; }
    public string PriceClass { get; init; } = "PriceClass_100";
    public GeoRestriction Geo { get; init; } = GeoRestriction.None;
    /// <summary>Origins allowed to fetch from players (CORS): a fixed list, or "*".</summary>
    public IReadOnlyList<string> CorsOrigins { get; init; } = ["*"];

    /// <summary>Whether a CloudFront distribution is part of this deployment (`provision` converges it too).</summary>
    public bool IsEnabled => Enabled ?? DistributionId is not null;

    /// <summary>Whether playback goes through CloudFront (a domain is known) rather than the local service.</summary>
    public bool UsesCdn => IsEnabled && Domain is not null;

    public static readonly string[] PriceClasses = ["PriceClass_100", "PriceClass_200", "PriceClass_All"];

    internal static DeliveryOptions Load(Func<string, string, string?> pick)
    {
        var enabled = pick("MANIMCLOUD_CDN", "cdn") switch
        {
            null => (bool?)null,
            "on" or "true" or "1" => true,
            "off" or "false" or "0" => false,
            var other => throw new ManimCloudException(ErrorKind.InvalidInput, $"MANIMCLOUD_CDN is '{other}'.", "Use on or off."),
        };
        return new DeliveryOptions
        {
            Enabled = enabled,
            Domain = pick("MANIMCLOUD_CDN_DOMAIN", "cdn_domain"),
            DistributionId = pick("MANIMCLOUD_DISTRIBUTION_ID", "distribution_id"),
            KeyPairId = pick("MANIMCLOUD_CDN_KEY_PAIR_ID", "cdn_key_pair_id"),
            PrivateKeyPath = pick("MANIMCLOUD_CDN_PRIVATE_KEY", "cdn_private_key"),
            PublicUrl = (pick("MANIMCLOUD_PUBLIC_URL", "public_url") ?? DefaultPublicUrl).TrimEnd('/'),
            PublicUrlConfigured = pick("MANIMCLOUD_PUBLIC_URL", "public_url") is not null,
            PriceClass = pick("MANIMCLOUD_CDN_PRICE_CLASS", "cdn_price_class") ?? "PriceClass_100",
            Geo = GeoRestriction.Parse(pick("MANIMCLOUD_CDN_GEO", "cdn_geo") ?? "none"),
            CorsOrigins = (pick("MANIMCLOUD_CDN_CORS_ORIGINS", "cdn_cors_origins") ?? "*")
                .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order(StringComparer.Ordinal).ToList(),
        };
    }

    internal IEnumerable<string> Validate()
    {
        if (!PriceClasses.Contains(PriceClass))
            yield return $"MANIMCLOUD_CDN_PRICE_CLASS '{PriceClass}' is not one of {string.Join(", ", PriceClasses)}.";
        if (!Uri.TryCreate(PublicUrl, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https") || url.Query.Length > 0)
            yield return $"MANIMCLOUD_PUBLIC_URL '{PublicUrl}' is not an http(s) base URL (e.g. http://127.0.0.1:8080).";
        if (Domain is not null && Uri.CheckHostName(Domain) != UriHostNameType.Dns)
            yield return $"MANIMCLOUD_CDN_DOMAIN '{Domain}' is not a host name (e.g. d111111abcdef8.cloudfront.net).";
        foreach (var origin in CorsOrigins.Where(o => o != "*" && !Uri.TryCreate(o, UriKind.Absolute, out _)))
            yield return $"MANIMCLOUD_CDN_CORS_ORIGINS has '{origin}', which is not an origin (https://host[:port]) or *.";
        if (KeyPairId is not null && !KeyPairId.All(char.IsAsciiLetterOrDigit))
            yield return $"MANIMCLOUD_CDN_KEY_PAIR_ID '{KeyPairId}' is not a CloudFront public key id (letters and digits).";
    }
}
