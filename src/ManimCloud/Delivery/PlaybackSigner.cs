using System.Net;
using System.Text;

namespace ManimCloud.Delivery;

/// <summary>
/// A signed grant in both of CloudFront's forms: the query parameters of a signed URL and the three signed cookies.
/// One policy, one signature: whatever accepts one accepts the other.
/// </summary>
public sealed record SignedGrant(PlaybackPolicy Policy, string EncodedPolicy, string Signature, string KeyPairId)
{
    /// <summary><c>Policy=…&amp;Signature=…&amp;Key-Pair-Id=…</c> (CloudFront base64 needs no further escaping).</summary>
    public string Query => $"{PlaybackSigner.PolicyParameter}={EncodedPolicy}&{PlaybackSigner.SignatureParameter}={Signature}&{PlaybackSigner.KeyPairIdParameter}={KeyPairId}";

    /// <summary>The cookies CloudFront reads (CloudFront-Policy, CloudFront-Signature, CloudFront-Key-Pair-Id).</summary>
    public IReadOnlyDictionary<string, string> Cookies => new Dictionary<string, string>
    {
        [PlaybackSigner.PolicyCookie] = EncodedPolicy,
        [PlaybackSigner.SignatureCookie] = Signature,
        [PlaybackSigner.KeyPairIdCookie] = KeyPairId,
    };

    /// <summary><paramref name="url"/> with this grant's query appended.</summary>
    public string Apply(string url) => url + (url.Contains('?') ? '&' : '?') + Query;

    /// <summary>
    /// <c>Set-Cookie</c> header values for the three cookies, scoped to <paramref name="path"/> of
    /// <paramref name="domain"/> (null: the host that answers), expiring with the policy.
    /// </summary>
    public IReadOnlyList<string> SetCookieHeaders(string? domain, string path, bool secure)
    {
        var attributes = new StringBuilder();
        if (domain is not null) attributes.Append("; Domain=").Append(domain);
        attributes.Append("; Path=").Append(path);
        attributes.Append("; Expires=").Append(Policy.Expires.UtcDateTime.ToString("R", System.Globalization.CultureInfo.InvariantCulture));
        attributes.Append("; HttpOnly");
        // Players fetch from another origin than the page: cross-site cookies need SameSite=None, which needs Secure.
        attributes.Append(secure ? "; Secure; SameSite=None" : "; SameSite=Lax");
        return Cookies.Select(c => $"{c.Key}={c.Value}{attributes}").ToList();
    }
}

/// <summary>
/// Signs playback grants exactly as CloudFront verifies them: the policy JSON, signed with RSA-SHA1 (PKCS#1 v1.5),
/// both in CloudFront's URL-safe base64, with the Key-Pair-Id of the public key CloudFront (or the local service)
/// holds. Thread-safe; build one and share it.
/// </summary>
public sealed class PlaybackSigner(PlaybackKey key)
{
    public const string PolicyParameter = "Policy";
    public const string SignatureParameter = "Signature";
    public const string KeyPairIdParameter = "Key-Pair-Id";
    public const string ExpiresParameter = "Expires";
    public const string PolicyCookie = "CloudFront-Policy";
    public const string SignatureCookie = "CloudFront-Signature";
    public const string KeyPairIdCookie = "CloudFront-Key-Pair-Id";
    public const string ExpiresCookie = "CloudFront-Expires";

    public string KeyPairId => key.Id;

    /// <summary>A custom-policy grant (the form playback uses: a wildcard resource covers a whole folder).</summary>
    public SignedGrant Sign(PlaybackPolicy policy)
    {
        var json = Encoding.UTF8.GetBytes(policy.ToJson());
        byte[] signature;
        lock (key) signature = key.Sign(json); // RSA instances are not documented as safe for concurrent use
        return new SignedGrant(policy, CloudFrontBase64.Encode(json), CloudFrontBase64.Encode(signature), key.Id);
    }

    /// <summary>A canned-policy URL: one exact URL, an expiry; CloudFront rebuilds the policy from the URL.</summary>
    public string SignCanned(string url, DateTimeOffset expires)
    {
        var policy = new PlaybackPolicy(url, expires);
        if (!policy.IsCanned) throw new ArgumentException("a canned policy names one exact URL (no wildcards)", nameof(url));
        byte[] signature;
        lock (key) signature = key.Sign(Encoding.UTF8.GetBytes(policy.ToJson()));
        return url + (url.Contains('?') ? '&' : '?')
            + $"{ExpiresParameter}={expires.ToUnixTimeSeconds()}&{SignatureParameter}={CloudFrontBase64.Encode(signature)}&{KeyPairIdParameter}={key.Id}";
    }

    /// <summary>The policy of a whole folder (<c>{folderUrl}*</c>), e.g. a video's transcoded/{project}/{video}/.</summary>
    public static PlaybackPolicy FolderPolicy(string folderUrl, DateTimeOffset expires, string? sourceIp = null) =>
        new(folderUrl.EndsWith('/') ? folderUrl + "*" : folderUrl + "/*", expires, null, sourceIp);

    /// <summary>Whether a query parameter or cookie name is one of the signing ones (removed before the resource is compared).</summary>
    public static bool IsSigningParameter(string name) =>
        name is PolicyParameter or SignatureParameter or KeyPairIdParameter or ExpiresParameter;

    /// <summary>Parses "2h", "30m", "90s", "7d" (a positive duration).</summary>
    public static TimeSpan? ParseDuration(string text)
    {
        if (text.Length < 2 || !double.TryParse(text[..^1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var n) || n <= 0)
            return null;
        return text[^1] switch
        {
            's' => TimeSpan.FromSeconds(n),
            'm' => TimeSpan.FromMinutes(n),
            'h' => TimeSpan.FromHours(n),
            'd' => TimeSpan.FromDays(n),
            _ => null,
        };
    }

    internal static IPAddress? ParseIp(string? text) => text is not null && IPAddress.TryParse(text, out var ip) ? ip : null;
}
