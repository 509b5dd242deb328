using System.Text.Json.Nodes;
using ManimCloud.Domain;

namespace ManimCloud.Delivery;

public enum StreamFormat { Hls, Dash }

/// <summary>
/// A signed playback link to one version's manifest. The grant covers the video's whole transcoded folder
/// (<c>transcoded/{project}/{video}/*</c>), because a later version's manifests may point at segments an earlier
/// version published. <see cref="StartBy"/> is the time asked for; the grant itself lasts until
/// <see cref="GrantExpires"/>, one playtime (plus a margin) later, so a session started just before the deadline
/// plays to the end instead of breaking mid-play.
/// </summary>
public sealed record PlaybackLink(string Url, string ManifestUrl, string FolderUrl, SignedGrant Grant, DateTimeOffset StartBy, DateTimeOffset GrantExpires,
    StreamFormat Format, int Version, string? WatchUrl)
{
    /// <summary>Margin beyond the playtime: clock skew between this machine and the edge, and a paused player.</summary>
    public static readonly TimeSpan Margin = TimeSpan.FromMinutes(5);

    /// <summary>The path cookies are scoped to: the video's folder, so they go with every request for it and no other.</summary>
    public string CookiePath => new Uri(FolderUrl).AbsolutePath;

    public JsonObject ToJson(bool withCookies)
    {
        var json = new JsonObject
        {
            ["url"] = Url,
            ["manifest"] = ManifestUrl,
            ["format"] = Format.ToString().ToLowerInvariant(),
            ["version"] = Version,
            ["resource"] = Grant.Policy.Resource,
            ["start_by"] = StartBy.ToString("O"),
            ["expires_at"] = GrantExpires.ToString("O"),
            ["key_pair_id"] = Grant.KeyPairId,
        };
        if (WatchUrl is not null) json["watch_url"] = WatchUrl;
        if (withCookies)
        {
            var cookies = new JsonObject();
            foreach (var (name, value) in Grant.Cookies) cookies[name] = value;
            json["cookies"] = cookies;
            json["cookie_path"] = CookiePath;
            json["set_cookie"] = new JsonArray(Grant.SetCookieHeaders(null, CookiePath, Url.StartsWith("https:", StringComparison.Ordinal))
                .Select(h => (JsonNode)JsonValue.Create(h)!).ToArray());
        }
        return json;
    }
}
