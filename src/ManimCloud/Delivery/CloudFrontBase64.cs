namespace ManimCloud.Delivery;

/// <summary>
/// The URL-safe base64 CloudFront uses in signed URLs and cookies: standard base64 with '+' written '-', '=' written
/// '_' and '/' written '~' (not RFC 4648's base64url, which drops the padding and uses '_' for '/').
/// </summary>
public static class CloudFrontBase64
{
    public static string Encode(ReadOnlySpan<byte> bytes) =>
        Convert.ToBase64String(bytes).Replace('+', '-').Replace('=', '_').Replace('/', '~');

    /// <summary>The bytes, or null when the text is not CloudFront base64.</summary>
    public static byte[]? TryDecode(string text)
    {
        if (text.Length == 0 || text.Length > 16384) return null;
        var standard = text.Replace('-', '+').Replace('_', '=').Replace('~', '/');
        var buffer = new byte[standard.Length * 3 / 4 + 3];
        return Convert.TryFromBase64String(standard, buffer, out var written) ? buffer[..written] : null;
    }
}
