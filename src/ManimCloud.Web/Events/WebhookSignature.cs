using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace ManimCloud.Web.Events;

/// <summary>
/// How a webhook delivery proves where it came from: header <c>ManimCloud-Signature: t=UNIX_SECONDS,v1=HEX</c>, where
/// HEX is HMAC-SHA256 with the webhook's secret over "t.body". A receiver checks the MAC, refuses a timestamp outside
/// the tolerance (a replayed capture), and drops a <c>ManimCloud-Delivery</c> id it has already seen (a retry it took).
/// </summary>
public static class WebhookSignature
{
    public const string Header = "ManimCloud-Signature";
    public const string DeliveryHeader = "ManimCloud-Delivery";
    public const string EventHeader = "ManimCloud-Event";
    public static readonly TimeSpan DefaultTolerance = TimeSpan.FromMinutes(5);

    public enum Verdict { Valid, Malformed, BadSignature, Stale }

    public static string Sign(string secret, DateTimeOffset at, ReadOnlySpan<byte> body)
    {
        var t = at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        return $"t={t},v1={Convert.ToHexStringLower(Mac(secret, t, body))}";
    }

    public static Verdict Verify(string secret, string? header, ReadOnlySpan<byte> body, DateTimeOffset now, TimeSpan? tolerance = null)
    {
        if (string.IsNullOrEmpty(header)) return Verdict.Malformed;
        string? t = null;
        var macs = new List<byte[]>();
        foreach (var part in header.Split(','))
        {
            var kv = part.Trim().Split('=', 2);
            if (kv.Length != 2) return Verdict.Malformed;
            if (kv[0] == "t") t = kv[1];
            else if (kv[0] == "v1" && kv[1].Length == 64)
            {
                try { macs.Add(Convert.FromHexString(kv[1])); } catch (FormatException) { return Verdict.Malformed; }
            }
        }
        if (t is null || macs.Count == 0 || !long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)) return Verdict.Malformed;
        var expected = Mac(secret, t, body);
        if (!macs.Any(m => CryptographicOperations.FixedTimeEquals(m, expected))) return Verdict.BadSignature;
        var age = now - DateTimeOffset.FromUnixTimeSeconds(seconds);
        return age.Duration() > (tolerance ?? DefaultTolerance) ? Verdict.Stale : Verdict.Valid;
    }

    private static byte[] Mac(string secret, string t, ReadOnlySpan<byte> body)
    {
        using var h = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(secret));
        h.AppendData(Encoding.ASCII.GetBytes(t + "."));
        h.AppendData(body);
        return h.GetHashAndReset();
    }
}
