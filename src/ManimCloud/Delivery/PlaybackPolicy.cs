using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace ManimCloud.Delivery;

/// <summary>
/// A CloudFront access policy: which URLs (<see cref="Resource"/>, with <c>*</c> and <c>?</c> wildcards) may be
/// fetched until when (<see cref="Expires"/>), optionally not before <see cref="NotBefore"/> and only from
/// <see cref="SourceIp"/> (an IPv4 or IPv6 CIDR). A canned policy is the special case of one exact URL and an expiry;
/// CloudFront rebuilds it from the URL, so its JSON must be written byte for byte as CloudFront writes it.
/// </summary>
public sealed record PlaybackPolicy(string Resource, DateTimeOffset Expires, DateTimeOffset? NotBefore = null, string? SourceIp = null)
{
    /// <summary>
    /// The policy JSON, in CloudFront's own order and without whitespace (the bytes that are signed). For a canned
    /// policy (an exact resource and only an expiry) this is the statement CloudFront rebuilds to check a canned URL.
    /// </summary>
    public string ToJson()
    {
        var json = new StringBuilder(Resource.Length + 160);
        json.Append("{\"Statement\":[{\"Resource\":\"");
        AppendEscaped(json, Resource);
        json.Append("\",\"Condition\":{\"DateLessThan\":{\"AWS:EpochTime\":").Append(Expires.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)).Append('}');
        if (SourceIp is not null)
        {
            json.Append(",\"IpAddress\":{\"AWS:SourceIp\":\"");
            AppendEscaped(json, SourceIp);
            json.Append("\"}");
        }
        if (NotBefore is { } start)
            json.Append(",\"DateGreaterThan\":{\"AWS:EpochTime\":").Append(start.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)).Append('}');
        json.Append("}}]}");
        return json.ToString();
    }

    /// <summary>Whether CloudFront would accept this as a canned policy (one exact URL, only an expiry).</summary>
    public bool IsCanned => NotBefore is null && SourceIp is null && !Resource.Contains('*') && !Resource.Contains('?');

    /// <summary>Reads a policy CloudFront's way: one statement, a resource, DateLessThan required. Null when it is not one.</summary>
    public static PlaybackPolicy? TryParse(ReadOnlySpan<byte> json)
    {
        try
        {
            if (JsonNode.Parse(json) is not JsonObject root || root["Statement"] is not JsonArray { Count: 1 } statements
                || statements[0] is not JsonObject statement) return null;
            if (statement["Resource"] is not JsonValue resourceValue || !resourceValue.TryGetValue<string>(out var resource)) return null;
            if (statement["Condition"] is not JsonObject condition) return null;
            var expires = EpochOf(condition["DateLessThan"]);
            if (expires is null) return null;
            var notBefore = condition["DateGreaterThan"] is null ? null : EpochOf(condition["DateGreaterThan"]) ?? (DateTimeOffset?)DateTimeOffset.MaxValue;
            string? ip = null;
            if (condition["IpAddress"] is JsonObject ipCondition)
            {
                if (ipCondition["AWS:SourceIp"] is not JsonValue ipValue || !ipValue.TryGetValue(out ip) || !TryParseCidr(ip, out _, out _)) return null;
            }
            return new PlaybackPolicy(resource, expires.Value, notBefore, ip);
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    /// <summary>Whether <paramref name="url"/> (the request URL without the signing parameters) is one this policy names.</summary>
    public bool Covers(string url) => Wildcard.Matches(Resource, url);

    /// <summary>Whether a client address satisfies the IP condition (always, when there is none).</summary>
    public bool Admits(IPAddress? client)
    {
        if (SourceIp is null) return true;
        if (client is null || !TryParseCidr(SourceIp, out var network, out var bits)) return false;
        if (client.IsIPv4MappedToIPv6) client = client.MapToIPv4();
        if (client.AddressFamily != network.AddressFamily) return false;
        var a = client.GetAddressBytes();
        var b = network.GetAddressBytes();
        for (var i = 0; i < a.Length && bits > 0; i++, bits -= 8)
        {
            var mask = bits >= 8 ? 0xFF : (byte)(0xFF << (8 - bits));
            if ((a[i] & mask) != (b[i] & mask)) return false;
        }
        return true;
    }

    public static bool TryParseCidr(string cidr, out IPAddress network, out int bits)
    {
        network = IPAddress.None;
        bits = 0;
        var slash = cidr.IndexOf('/');
        if (!IPAddress.TryParse(slash < 0 ? cidr : cidr[..slash], out var address)) return false;
        var max = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (slash < 0) bits = max;
        else if (!int.TryParse(cidr[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out bits) || bits > max) return false;
        network = address;
        return true;
    }

    private static DateTimeOffset? EpochOf(JsonNode? node)
    {
        if (node is not JsonObject o || o["AWS:EpochTime"] is not JsonValue v) return null;
        if (v.TryGetValue<long>(out var seconds) || (v.TryGetValue<string>(out var text) && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out seconds)))
            return seconds is >= 0 and < 253402300800 ? DateTimeOffset.FromUnixTimeSeconds(seconds) : null;
        return null;
    }

    /// <summary>JSON string escaping as CloudFront's own signers write it: only what JSON requires.</summary>
    private static void AppendEscaped(StringBuilder json, string value)
    {
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': json.Append("\\\""); break;
                case '\\': json.Append("\\\\"); break;
                case < ' ': json.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture)); break;
                default: json.Append(c); break;
            }
        }
    }
}

/// <summary>CloudFront's resource wildcards: <c>*</c> any run of characters (including none and '/'), <c>?</c> exactly one.</summary>
internal static class Wildcard
{
    public static bool Matches(string pattern, string text)
    {
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == text[t])) { p++; t++; }
            else if (p < pattern.Length && pattern[p] == '*') { star = p++; mark = t; }
            else if (star >= 0) { p = star + 1; t = ++mark; }
            else return false;
        }
        while (p < pattern.Length && pattern[p] == '*') p++;
        return p == pattern.Length;
    }
}
