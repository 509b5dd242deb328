using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace ManimCloud.Delivery;

/// <summary>What a signature check decided.</summary>
public enum PlaybackOutcome
{
    Allowed,
    /// <summary>No signing parameters in the query and no signed cookies.</summary>
    Missing,
    /// <summary>Signing parameters or cookies are there but not in CloudFront's format.</summary>
    Malformed,
    /// <summary>The Key-Pair-Id names no trusted public key.</summary>
    UnknownKeyPair,
    /// <summary>The signature does not match the policy (tampered, or signed with another key).</summary>
    BadSignature,
    Expired,
    NotYetValid,
    /// <summary>The policy's IP condition does not admit the client.</summary>
    IpNotAllowed,
    /// <summary>A valid grant, but for other URLs.</summary>
    NotCovered,
}

/// <summary>Where a request's grant came from.</summary>
public enum GrantSource { None, Query, Cookies }

/// <summary>
/// The verdict on one request: allowed or why not, with a message and a hint fit for a 403 problem document, and (when
/// allowed by a custom policy in the query) the grant's query string, which a manifest's relative URIs are given.
/// </summary>
public sealed record PlaybackVerdict(PlaybackOutcome Outcome, string Message, string Hint, GrantSource Source = GrantSource.None,
    PlaybackPolicy? Policy = null, string? GrantQuery = null)
{
    public bool Allowed => Outcome == PlaybackOutcome.Allowed;
}

/// <summary>
/// The trusted public keys by Key-Pair-Id: CloudFront's key group. Rotation is a second key in the group: URLs signed
/// with either verify until the old one is removed.
/// </summary>
public sealed class PlaybackKeyGroup
{
    private readonly Dictionary<string, RSA> _keys = new(StringComparer.Ordinal);

    public PlaybackKeyGroup Add(string id, RSA publicKey)
    {
        _keys[id] = publicKey;
        return this;
    }

    public PlaybackKeyGroup Add(PlaybackKey key) => Add(key.Id, key.PublicKey());

    public IReadOnlyCollection<string> Ids => _keys.Keys;

    internal RSA? Find(string id) => _keys.GetValueOrDefault(id);
}

/// <summary>
/// Checks requests the way CloudFront checks them, so the local service accepts exactly the URLs and cookies
/// CloudFront would: the query's <c>Policy</c>/<c>Expires</c>, <c>Signature</c> and <c>Key-Pair-Id</c>, else the
/// <c>CloudFront-Policy</c>/<c>-Expires</c>, <c>-Signature</c>, <c>-Key-Pair-Id</c> cookies; RSA-SHA1 over the policy
/// bytes with a key of the group; then expiry, start time, client IP and the resource against the request URL with
/// the signing parameters removed. A request is allowed when its query OR its cookies carry a grant that passes.
/// Pure and thread-safe; the RSA check of a grant is done once and remembered (a player sends the same grant with
/// every segment request), the time, IP and resource checks every time.
/// </summary>
public sealed class PlaybackVerifier(PlaybackKeyGroup keys)
{
    private const int CacheLimit = 8192;
    private readonly ConcurrentDictionary<(string Key, string Policy, string Signature), PlaybackPolicy?> _verified = new();

    public PlaybackKeyGroup Keys => keys;

    /// <param name="requestUrl">The full public URL requested (scheme, host, port, path and query) as the signer saw its base.</param>
    /// <param name="cookies">The request's cookies by name (only CloudFront's three are read).</param>
    /// <param name="client">The client address, for policies with an IP condition (null: such policies refuse).</param>
    public PlaybackVerdict Verify(Uri requestUrl, IReadOnlyDictionary<string, string>? cookies, DateTimeOffset now, IPAddress? client = null)
    {
        var (resource, query) = Split(requestUrl);
        PlaybackVerdict? fromQuery = null;
        if (query.ContainsKey(PlaybackSigner.SignatureParameter) || query.ContainsKey(PlaybackSigner.PolicyParameter) || query.ContainsKey(PlaybackSigner.ExpiresParameter))
        {
            fromQuery = Check(resource, query.GetValueOrDefault(PlaybackSigner.PolicyParameter), query.GetValueOrDefault(PlaybackSigner.ExpiresParameter),
                query.GetValueOrDefault(PlaybackSigner.SignatureParameter), query.GetValueOrDefault(PlaybackSigner.KeyPairIdParameter), now, client, GrantSource.Query);
            if (fromQuery.Allowed) return fromQuery;
        }
        if (cookies is not null && (cookies.ContainsKey(PlaybackSigner.SignatureCookie) || cookies.ContainsKey(PlaybackSigner.PolicyCookie)))
        {
            var fromCookies = Check(resource, cookies.GetValueOrDefault(PlaybackSigner.PolicyCookie), cookies.GetValueOrDefault(PlaybackSigner.ExpiresCookie),
                cookies.GetValueOrDefault(PlaybackSigner.SignatureCookie), cookies.GetValueOrDefault(PlaybackSigner.KeyPairIdCookie), now, client, GrantSource.Cookies);
            if (fromCookies.Allowed || fromQuery is null) return fromCookies;
        }
        return fromQuery ?? new PlaybackVerdict(PlaybackOutcome.Missing, "This address needs a signed playback link: the request carries no signature.",
            "Open the link `manimcloud video url VIDEO` prints (or send its signed cookies); an address without its signature is refused.");
    }

    private PlaybackVerdict Check(string resource, string? encodedPolicy, string? expires, string? signature, string? keyPairId, DateTimeOffset now,
        IPAddress? client, GrantSource source)
    {
        if (string.IsNullOrEmpty(signature) || string.IsNullOrEmpty(keyPairId) || (encodedPolicy is null) == (expires is null))
            return Refuse(PlaybackOutcome.Malformed, "The playback signature is incomplete: it needs Signature, Key-Pair-Id and one of Policy or Expires.",
                "Use the whole link as printed; copying it may have cut it short.", source);
        var key = keys.Find(keyPairId);
        if (key is null)
            return Refuse(PlaybackOutcome.UnknownKeyPair, $"The playback link was signed with key {keyPairId}, which this server does not trust.",
                "The signing key may have been rotated out of the key group: ask for a new link (`manimcloud video url`).", source);

        // A canned grant's policy is the request URL itself and its expiry.
        var cannedPolicy = expires is null ? null
            : long.TryParse(expires, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds < 253402300800
                ? new PlaybackPolicy(resource, DateTimeOffset.FromUnixTimeSeconds(seconds)) : null;
        if (expires is not null && cannedPolicy is null)
            return Refuse(PlaybackOutcome.Malformed, "The playback link's Expires is not a time.", "Use the link as printed.", source);
        var cacheKey = (keyPairId, encodedPolicy ?? cannedPolicy!.ToJson(), signature);
        if (!_verified.TryGetValue(cacheKey, out var policy))
        {
            policy = VerifySignature(key, encodedPolicy, cannedPolicy, signature, out var malformed);
            if (malformed) return Refuse(PlaybackOutcome.Malformed, "The playback policy is not in CloudFront's format.", "Use the link as printed.", source);
            if (_verified.Count >= CacheLimit) _verified.Clear();
            _verified[cacheKey] = policy;
        }
        if (policy is null)
            return Refuse(PlaybackOutcome.BadSignature, "The playback signature does not match: the link was altered or signed with another key.",
                "Use the link exactly as printed, or ask for a new one (`manimcloud video url`).", source);
        if (now >= policy.Expires)
            return Refuse(PlaybackOutcome.Expired, $"This playback link expired at {policy.Expires.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC.",
                "Ask for a new link (`manimcloud video url VIDEO --expires 2h`); if it should still be valid, check this machine's clock.", source);
        if (policy.NotBefore is { } start && now < start)
            return Refuse(PlaybackOutcome.NotYetValid, $"This playback link is valid only from {start.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC.",
                "Wait until then, or check this machine's clock.", source);
        if (!policy.Admits(client))
            return Refuse(PlaybackOutcome.IpNotAllowed, $"This playback link is for clients in {policy.SourceIp}; this request came from {client?.ToString() ?? "an unknown address"}.",
                "Ask for a link without an IP condition, or one for your address.", source);
        if (!policy.Covers(resource))
            return Refuse(PlaybackOutcome.NotCovered, "The playback link is valid, but not for this address.",
                "A link covers one video's published renditions; ask for a link to this video.", source);
        var query = source == GrantSource.Query && encodedPolicy is not null
            ? $"{PlaybackSigner.PolicyParameter}={encodedPolicy}&{PlaybackSigner.SignatureParameter}={signature}&{PlaybackSigner.KeyPairIdParameter}={keyPairId}"
            : null;
        return new PlaybackVerdict(PlaybackOutcome.Allowed, "Allowed.", "", source, policy, query);
    }

    /// <summary>The policy when the signature is valid; null when it is not; <paramref name="malformed"/> when the grant is not even readable.</summary>
    private static PlaybackPolicy? VerifySignature(RSA key, string? encodedPolicy, PlaybackPolicy? canned, string signature, out bool malformed)
    {
        malformed = false;
        var signatureBytes = CloudFrontBase64.TryDecode(signature);
        var policyBytes = encodedPolicy is null ? Encoding.UTF8.GetBytes(canned!.ToJson()) : CloudFrontBase64.TryDecode(encodedPolicy);
        if (policyBytes is null) { malformed = true; return null; }
        if (signatureBytes is null || !key.VerifyData(policyBytes, signatureBytes, HashAlgorithmName.SHA1, RSASignaturePadding.Pkcs1)) return null;
        if (canned is not null) return canned;
        var policy = PlaybackPolicy.TryParse(policyBytes);
        if (policy is null) malformed = true;
        return policy;
    }

    private static PlaybackVerdict Refuse(PlaybackOutcome outcome, string message, string hint, GrantSource source) => new(outcome, message, hint, source);

    /// <summary>The URL CloudFront compares with the policy (the signing parameters taken out of the query), and the query's parameters.</summary>
    internal static (string Resource, Dictionary<string, string> Query) Split(Uri url)
    {
        var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        var raw = url.Query.Length > 1 ? url.Query[1..] : "";
        var kept = new StringBuilder();
        foreach (var part in raw.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=');
            var name = Uri.UnescapeDataString(eq < 0 ? part : part[..eq]);
            if (PlaybackSigner.IsSigningParameter(name))
            {
                parameters.TryAdd(name, Uri.UnescapeDataString(eq < 0 ? "" : part[(eq + 1)..]));
                continue;
            }
            if (kept.Length > 0) kept.Append('&');
            kept.Append(part);
        }
        var withoutQuery = url.GetLeftPart(UriPartial.Path);
        return (kept.Length > 0 ? withoutQuery + "?" + kept : withoutQuery, parameters);
    }
}
