using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace ManimCloud.Delivery;

/// <summary>
/// Gives every relative URI inside a manifest the grant's query, so a player that resolves them against the manifest's
/// URL (which drops the manifest's own query: hls.js issue 4755, and every other player) still sends the signature
/// with each variant playlist, init segment and segment request. Manifests are small; this runs per manifest request
/// at the edge (the local service), while the stored manifests stay immutable and unsigned. Absolute URIs (other
/// hosts) are left alone: the grant is not theirs to receive.
/// </summary>
public static partial class ManifestSigning
{
    public static bool IsHls(string path) => path.EndsWith(".m3u8", StringComparison.OrdinalIgnoreCase);
    public static bool IsDash(string path) => path.EndsWith(".mpd", StringComparison.OrdinalIgnoreCase);
    public static bool IsManifest(string path) => IsHls(path) || IsDash(path);

    /// <summary>Rewrites by kind (from the path); any other content comes back unchanged.</summary>
    public static string Rewrite(string path, string manifest, string grantQuery) =>
        IsHls(path) ? RewriteHls(manifest, grantQuery) : IsDash(path) ? RewriteDash(manifest, grantQuery) : manifest;

    /// <summary>HLS: URI lines and every <c>URI="…"</c> attribute (EXT-X-MEDIA, EXT-X-MAP, EXT-X-I-FRAME-STREAM-INF, …).</summary>
    public static string RewriteHls(string playlist, string grantQuery)
    {
        var output = new StringBuilder(playlist.Length + 512);
        foreach (var line in playlist.Split('\n'))
        {
            var text = line.TrimEnd('\r');
            if (output.Length > 0) output.Append('\n');
            if (text.Length == 0) { output.Append(line); continue; }
            if (text[0] != '#') output.Append(WithGrant(text, grantQuery));
            else output.Append(UriAttribute().Replace(text, m => m.Groups[1].Value + WithGrant(m.Groups[2].Value, grantQuery) + "\""));
            if (line.EndsWith('\r')) output.Append('\r');
        }
        return output.ToString();
    }

    /// <summary>DASH: the URL attributes of SegmentTemplate, SegmentURL, Initialization and RepresentationIndex, and file BaseURLs.</summary>
    public static string RewriteDash(string mpd, string grantQuery)
    {
        var document = XDocument.Parse(mpd, LoadOptions.PreserveWhitespace);
        foreach (var element in document.Descendants())
        {
            switch (element.Name.LocalName)
            {
                case "SegmentTemplate":
                    Sign(element, "media", grantQuery); Sign(element, "initialization", grantQuery); Sign(element, "index", grantQuery);
                    break;
                case "SegmentURL":
                    Sign(element, "media", grantQuery); Sign(element, "index", grantQuery);
                    break;
                case "Initialization" or "RepresentationIndex":
                    Sign(element, "sourceURL", grantQuery);
                    break;
                // A BaseURL naming a folder is resolved against, so only the leaves get the grant; one naming a file is a leaf.
                case "BaseURL" when !element.Value.EndsWith('/') && element.Value.Trim().Length > 0:
                    element.Value = WithGrant(element.Value.Trim(), grantQuery);
                    break;
            }
        }
        var declaration = document.Declaration is null ? "" : document.Declaration + "\n";
        return declaration + document.ToString(SaveOptions.DisableFormatting);
    }

    private static void Sign(XElement element, string attribute, string grantQuery)
    {
        if (element.Attribute(attribute) is { } a) a.Value = WithGrant(a.Value, grantQuery);
    }

    /// <summary>The URI with the grant appended, unless it is absolute (another host) or already carries a signature.</summary>
    public static string WithGrant(string uri, string grantQuery)
    {
        if (uri.Length == 0 || IsAbsolute(uri) || uri.Contains(PlaybackSigner.SignatureParameter + "=", StringComparison.Ordinal)) return uri;
        var hash = uri.IndexOf('#');
        var (body, fragment) = hash < 0 ? (uri, "") : (uri[..hash], uri[hash..]);
        return body + (body.Contains('?') ? "&" : "?") + grantQuery + fragment;
    }

    private static bool IsAbsolute(string uri) => uri.StartsWith("//", StringComparison.Ordinal) || SchemePrefix().IsMatch(uri);

    [GeneratedRegex("(URI=\")([^\"]*)\"")]
    private static partial Regex UriAttribute();

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9+.-]*:")]
    private static partial Regex SchemePrefix();
}
