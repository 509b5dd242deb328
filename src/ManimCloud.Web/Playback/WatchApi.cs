using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Delivery;
using ManimCloud.Domain;
using ManimCloud.Metadata;
using ManimCloud.Pipeline;
using ManimCloud.Web.Access;
using ManimCloud.Web.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ManimCloud.Web.Playback;

/// <summary>
/// What the player page (/watch/{video}) reads. The page is opened with a signed playback link, not an API token, so
/// these reads are authorised by that link's grant: a request is answered when the grant in its query (or its signed
/// cookies) would make the playback edge serve the version's HLS manifest — expired, tampered, other-video and missing
/// grants are refused with the edge's own 403. A watch link thereby shares one video: its pictures, its title and the
/// lineage of its code (each version's code and the diff between two), and nothing else of the project.
/// `/videos/{id}/url` is the token-authorised way to get such a link (`video url`), for the project page.
/// </summary>
public static class WatchApi
{
    private static readonly string[] GrantParameters =
        [PlaybackSigner.PolicyParameter, PlaybackSigner.ExpiresParameter, PlaybackSigner.SignatureParameter, PlaybackSigner.KeyPairIdParameter];

    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapGet("/videos/{id}/watch", Show)
            .WithSummary("The player's view of a video (versions with their manifests, poster, storyboard, chapters, code), authorised by the signed playback link's grant in the query (Policy, Signature, Key-Pair-Id) instead of a token")
            .WithTags("playback").Produces<JsonObject>(200).ProducesProblem(403).ProducesProblem(404);
        api.MapGet("/videos/{id}/watch/diff", Diff)
            .WithSummary("The code diff between two versions (?from=1&to=2) for the player, authorised by the playback link's grant")
            .WithTags("playback").Produces<JsonObject>(200).ProducesProblem(403).ProducesProblem(404);
        api.MapGet("/videos/{id}/url", Url).Requires(Role.Viewer)
            .WithSummary("A signed playback link and its player page URL (`video url`): ?version=N&format=hls|dash&expires=2h")
            .WithTags("playback").Produces<JsonObject>(200).ProducesProblem(400).ProducesProblem(404);
    }

    private static async Task<IResult> Show(HttpContext http, ManimCloudClient client, PlaybackEdge edge, string id, CancellationToken ct)
    {
        var video = await client.GetVideoAsync(VideoId.Parse(id), ct);
        var (allowed, refusal, grantQuery) = Authorise(http, client, edge, video);
        if (refusal is not null) return refusal;

        var base_ = client.Delivery.Options.UsesCdn ? client.Delivery.PlaybackBaseUrl : "";
        string Url(string key) => $"{base_}/{key}" + (grantQuery is null ? "" : "?" + grantQuery);
        var history = await client.CodeHistoryAsync(video.Id, ct);
        var versions = new JsonArray();
        foreach (var set in allowed)
        {
            var code = history.FirstOrDefault(c => c.Version == set.Version);
            versions.Add(new JsonObject
            {
                ["version"] = set.Version,
                ["duration_seconds"] = set.DurationSeconds,
                ["engine"] = set.Engine,
                ["hls"] = Url(set.HlsMasterKey),
                ["dash"] = Url(set.DashManifestKey),
                ["poster"] = set.PosterKey is { } poster ? Url(poster) : null,
                ["storyboard"] = set.StoryboardKeys.Count > 0 ? Url(set.StoryboardKeys[0]) : null,
                ["rungs"] = new JsonArray(set.Rungs.Select(r => (JsonNode)new JsonObject
                {
                    ["name"] = r.Name, ["width"] = r.Width, ["height"] = r.Height, ["peak_bitrate"] = r.PeakBitrate, ["average_bitrate"] = r.AverageBitrate,
                }).ToArray()),
                ["audio"] = set.Audio is not null,
                ["chapters"] = Chapters(set, code is null ? null : await CodeTextAsync(client, video.Id, code.Version, ct)),
                ["code"] = code is null ? null : RecordJson.ToJson(code),
            });
        }
        http.Response.Headers.CacheControl = "private, no-store";
        return new JsonResult(new JsonObject
        {
            ["video_id"] = video.Id.ToString(),
            ["project"] = video.Project.ToString(),
            ["title"] = video.Title,
            ["description"] = video.Description,
            ["status"] = video.Status.ToWire(),
            ["versions"] = versions,
            ["code_versions"] = new JsonArray(history.Select(c => (JsonNode)c.Version).ToArray()),
            // The page appends it to what it fetches itself (the storyboard's sprite sheets); null for a cookie grant.
            ["grant_query"] = grantQuery,
        });
    }

    private static async Task<IResult> Diff(HttpContext http, ManimCloudClient client, PlaybackEdge edge, string id, string? from, string? to, CancellationToken ct)
    {
        var video = await client.GetVideoAsync(VideoId.Parse(id), ct);
        var (_, refusal, _) = Authorise(http, client, edge, video);
        if (refusal is not null) return refusal;
        var diff = await CodeApi.DiffAsync(client, video.Id, from, to, ct);
        http.Response.Headers.CacheControl = "private, no-store";
        return new JsonResult(diff.Json);
    }

    private static async Task<IResult> Url(HttpContext http, ManimCloudClient client, string id, int? version, string? format, string? expires, CancellationToken ct)
    {
        var video = await VideoApi.LoadAsync(http, client, id, ct);
        var streamFormat = format switch
        {
            null or "hls" => StreamFormat.Hls,
            "dash" => StreamFormat.Dash,
            _ => throw new ManimCloudException(ErrorKind.InvalidInput, $"format={format} is not a format.", "Use format=hls or format=dash."),
        };
        var span = expires is null ? TimeSpan.FromHours(2) : PlaybackSigner.ParseDuration(expires)
            ?? throw new ManimCloudException(ErrorKind.InvalidInput, $"expires={expires} is not a duration.", "Use a number and a unit: 90s, 30m, 2h, 7d.");
        if (span <= TimeSpan.Zero || span > TimeSpan.FromDays(365))
            throw new ManimCloudException(ErrorKind.InvalidInput, $"expires={expires} is not between a second and a year.", "Links are meant to expire: give e.g. 2h.");
        var link = client.Delivery.Link(video, version, streamFormat, DateTimeOffset.UtcNow + span);
        var json = link.ToJson(withCookies: false);
        // The player page of this service, whatever MANIMCLOUD_PUBLIC_URL says (a page on another origin follows it as is).
        json["watch_path"] = $"/watch/{video.Id}?v={link.Version}{(streamFormat == StreamFormat.Dash ? "&format=dash" : "")}&{link.Grant.Query}";
        return new JsonResult(json);
    }

    /// <summary>
    /// The versions whose HLS manifest this request's grant opens at the edge, newest last, and the grant's query
    /// (for URLs the page builds); a 403 problem with the edge's verdict when it opens none, a 404 when nothing is published.
    /// </summary>
    private static (IReadOnlyList<RenditionSet> Allowed, IResult? Refusal, string? GrantQuery) Authorise(HttpContext http, ManimCloudClient client,
        PlaybackEdge edge, VideoRecord video)
    {
        if (video.Renditions.Count == 0)
            return ([], Problem.NotFound($"Video {video.Id} has no published renditions yet.", "Transcode it first: `manimcloud video transcode VIDEO --wait`."), null);
        var grant = string.Join('&', (http.Request.QueryString.Value ?? "").TrimStart('?').Split('&')
            .Where(p => GrantParameters.Contains(p.Split('=')[0], StringComparer.Ordinal)));
        var allowed = new List<RenditionSet>();
        PlaybackVerdict? refused = null;
        string? grantQuery = null;
        foreach (var set in video.Renditions.OrderBy(r => r.Key).Select(r => r.Value))
        {
            var verdict = edge.Check(http, "/" + set.HlsMasterKey + (grant.Length > 0 ? "?" + grant : ""));
            if (!verdict.Allowed)
            {
                refused ??= verdict;
                continue;
            }
            allowed.Add(set);
            grantQuery ??= verdict.GrantQuery;
        }
        return allowed.Count > 0 ? (allowed, null, grantQuery) : ([], PlaybackEdge.Refusal(refused!), null);
    }

    /// <summary>
    /// A chapter per scene, in order on the timeline, named after the scene's class in the version's code when the
    /// code has exactly one class per scene (Manim renders them in that order), else "Scene N".
    /// </summary>
    private static JsonArray Chapters(RenditionSet set, string? code)
    {
        var names = code is null ? [] : ManimScenes.Parse(code).Scenes;
        var scenes = set.Scenes.OrderBy(s => s.Scene).ToList();
        var chapters = new JsonArray();
        var start = 0.0;
        foreach (var s in scenes)
        {
            var title = names.Count == scenes.Count && s.Scene >= 1 ? $"{s.Scene}. {names[s.Scene - 1].Name}"
                : s.Scene == 0 ? "Full video" : string.Create(CultureInfo.InvariantCulture, $"Scene {s.Scene}");
            chapters.Add(new JsonObject
            {
                ["scene"] = s.Scene, ["title"] = title, ["start"] = Math.Round(start, 3), ["end"] = Math.Round(start + s.DurationSeconds, 3),
                ["encoded_in_version"] = s.EncodedInVersion,
            });
            start += s.DurationSeconds;
        }
        return chapters;
    }

    private static async Task<string?> CodeTextAsync(ManimCloudClient client, VideoId video, int version, CancellationToken ct)
    {
        try
        {
            var (_, content) = await client.GetCodeAsync(video, version, ct);
            return Encoding.UTF8.GetString(content);
        }
        catch (ManimCloudException e) when (e.Kind == ErrorKind.NotFound)
        {
            return null; // the version's code is not readable here (evicted and the cloud unreachable): chapters by number
        }
    }
}
