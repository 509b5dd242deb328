using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace ManimCloud.Tests.Streaming.MediaConvert;

/// <summary>
/// Test-side check of an AWS Signature Version 4 request signature (the production code never signs by hand: it
/// uses AWSSDK.Core's SigV4SigningHandler). Recomputes the signature from the request as received and the secret key
/// the test gave the client, so a request that merely looks signed does not pass.
/// </summary>
public static class SigV4Verifier
{
    /// <summary>Null when the request is signed correctly for <paramref name="service"/> in <paramref name="region"/>; otherwise what is wrong.</summary>
    public static string? Problem(HttpListenerRequest request, byte[] body, string secretKey, string region, string service)
    {
        var authorization = request.Headers["Authorization"];
        if (authorization is null) return "no Authorization header";
        if (!authorization.StartsWith("AWS4-HMAC-SHA256 ", StringComparison.Ordinal)) return $"not AWS4-HMAC-SHA256: {authorization}";
        var parts = authorization["AWS4-HMAC-SHA256 ".Length..].Split(',', StringSplitOptions.TrimEntries)
            .Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "");
        if (!parts.TryGetValue("Credential", out var credential) || !parts.TryGetValue("SignedHeaders", out var signedHeaders) || !parts.TryGetValue("Signature", out var signature))
            return $"Authorization lacks Credential, SignedHeaders or Signature: {authorization}";
        var scopeParts = credential.Split('/');
        if (scopeParts.Length != 5) return $"malformed credential scope {credential}";
        var (date, scopeRegion, scopeService, terminator) = (scopeParts[1], scopeParts[2], scopeParts[3], scopeParts[4]);
        if (scopeRegion != region || scopeService != service || terminator != "aws4_request")
            return $"credential scope {scopeRegion}/{scopeService}/{terminator}, expected {region}/{service}/aws4_request";
        var amzDate = request.Headers["X-Amz-Date"];
        if (amzDate is null || !amzDate.StartsWith(date, StringComparison.Ordinal)) return $"X-Amz-Date {amzDate ?? "(missing)"} does not match the scope date {date}";

        var headerNames = signedHeaders.Split(';');
        if (!headerNames.Contains("host") || !headerNames.Contains("x-amz-date")) return $"SignedHeaders {signedHeaders} must include host and x-amz-date";
        var canonicalHeaders = new StringBuilder();
        foreach (var name in headerNames)
        {
            var value = name == "host" ? request.Headers["Host"] : request.Headers[name];
            if (value is null) return $"signed header {name} is not in the request";
            canonicalHeaders.Append(name).Append(':').Append(string.Join(' ', value.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries))).Append('\n');
        }
        var rawUrl = request.RawUrl ?? "/";
        var q = rawUrl.IndexOf('?');
        var path = q < 0 ? rawUrl : rawUrl[..q];
        var query = q < 0 ? "" : string.Join('&', rawUrl[(q + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Contains('=') ? p : p + "=").Order(StringComparer.Ordinal));
        var payloadHash = request.Headers["X-Amz-Content-SHA256"] ?? Hex(SHA256.HashData(body));
        if (payloadHash != "UNSIGNED-PAYLOAD" && payloadHash != Hex(SHA256.HashData(body))) return "X-Amz-Content-SHA256 does not match the body";
        var canonicalRequest = $"{request.HttpMethod}\n{path}\n{query}\n{canonicalHeaders}\n{signedHeaders}\n{payloadHash}";
        var stringToSign = $"AWS4-HMAC-SHA256\n{amzDate}\n{date}/{region}/{service}/aws4_request\n{Hex(SHA256.HashData(Encoding.UTF8.GetBytes(canonicalRequest)))}";
        var key = Hmac(Hmac(Hmac(Hmac(Encoding.UTF8.GetBytes("AWS4" + secretKey), date), region), service), "aws4_request");
        var expected = Hex(Hmac(key, stringToSign));
        return expected == signature ? null : $"signature mismatch for canonical request:\n{canonicalRequest}";
    }

    private static byte[] Hmac(byte[] key, string data) => HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(data));
    private static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes);
}
