using System.Collections.Concurrent;
using System.Text;
using ManimCloud.Delivery;
using ManimCloud.Domain;
using ManimCloud.Web.Api;
using ManimCloud.Web.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Net.Http.Headers;

namespace ManimCloud.Web.Playback;

/// <summary>
/// /transcoded/…: the service standing in for the CDN edge. Every request is checked with delivery's verifier (the
/// same rule CloudFront applies: a grant in the query or in the cookies, covering the URL under
/// <see cref="DeliveryService.PlaybackBaseUrl"/>); a manifest allowed by a query grant is served with that grant
/// appended to its relative URIs (delivery's <see cref="ManifestSigning"/>), so segments need no player code.
/// Everything else under transcoded/ is immutable, so key → blob file is looked up once and the file sent as it is.
/// </summary>
public sealed class PlaybackEdge(ManimCloudClient client)
{
    private readonly PlaybackVerifier _verifier = client.Delivery.CreateVerifier();
    private readonly ConcurrentDictionary<string, (string Path, string Sha256)> _immutable = new(StringComparer.Ordinal);

    public static void Map(IEndpointRouteBuilder app) =>
        app.MapMethods("/transcoded/{**path}", ["GET", "HEAD"], (HttpContext http, PlaybackEdge edge, string path, CancellationToken ct) => edge.ServeAsync(http, path, ct))
            .WithTags("playback")
            .WithSummary("Renditions (HLS/DASH manifests, CMAF segments, poster, storyboard) under a signed playback URL or signed cookies")
            .Produces(200).Produces(206).ProducesProblem(403).ProducesProblem(404);

    public async Task<IResult> ServeAsync(HttpContext http, string path, CancellationToken ct)
    {
        http.Response.Headers.AccessControlAllowOrigin = "*"; // as a CDN: the grant, not the origin, authorises
        if (path.Split('/').Any(s => s is "" or "." or ".." || s.Contains('\\')))
            throw new WebInputException(Problem.BadInput($"'{path}' is not a rendition path.", "Request the URLs the manifests name."));
        var verdict = Check(http, http.Request.Path + http.Request.QueryString);
        if (!verdict.Allowed) return Refusal(verdict);

        var key = ObjectLayout.TranscodedPrefix + path;
        if (ManifestSigning.IsManifest(key))
        {
            var (file, _) = await LocateAsync(key, ct);
            var text = await File.ReadAllTextAsync(file, ct);
            var rewritten = verdict.GrantQuery is { } grant;
            if (rewritten) text = ManifestSigning.Rewrite(key, text, verdict.GrantQuery!);
            // A rewritten manifest carries one viewer's grant: never in a shared cache.
            http.Response.Headers.CacheControl = rewritten ? "private, max-age=10" : "public, max-age=10";
            return Results.Text(text, ContentTypes.Of(key), Encoding.UTF8);
        }
        var (blob, sha) = _immutable.TryGetValue(key, out var known) ? known : await LocateAsync(key, ct);
        _immutable.TryAdd(key, (blob, sha));
        http.Response.Headers.CacheControl = "public, max-age=31536000, immutable";
        return Results.File(blob, ContentTypes.Of(key), entityTag: new EntityTagHeaderValue($"\"{sha}\""), enableRangeProcessing: true);
    }

    /// <summary>
    /// The verdict on this request's grant (its query's signing parameters, or its signed cookies) for a path under the
    /// playback base URL (<paramref name="pathAndQuery"/> starts with '/'). The player page's reads use it to ask
    /// "would the edge serve this viewer that manifest?" before they answer.
    /// </summary>
    public PlaybackVerdict Check(HttpContext http, string pathAndQuery)
    {
        var cookies = http.Request.Cookies.ToDictionary(c => c.Key, c => c.Value);
        var url = new Uri(client.Delivery.PlaybackBaseUrl + pathAndQuery);
        return _verifier.Verify(url, cookies, DateTimeOffset.UtcNow, http.Connection.RemoteIpAddress);
    }

    /// <summary>A refused grant as a 403 problem: the outcome (Expired, BadSignature, …) as its title, and what to do.</summary>
    public static Problem Refusal(PlaybackVerdict verdict) => new(403, "auth", verdict.Outcome.ToString(), verdict.Message, verdict.Hint);

    /// <summary>The workspace blob holding a key; in cloud mode a key only the bucket has is fetched into the workspace first.</summary>
    private async Task<(string Path, string Sha256)> LocateAsync(string key, CancellationToken ct)
    {
        var head = await client.Local.Videos.HeadAsync(key, ct);
        if (head?.Sha256 is { } sha && client.Blobs.Contains(sha)) return (client.Blobs.PathOf(sha), sha);
        if (client.Cloud is { } cloud && await cloud.Videos.HeadAsync(key, ct) is { } remote)
        {
            await using var s = await cloud.Videos.OpenReadAsync(key, null, ct);
            var (added, _) = await client.Blobs.AddAsync(s, remote.Sha256, ct);
            return (client.Blobs.PathOf(added), added);
        }
        throw new ManimCloudException(ErrorKind.NotFound, $"{key} is not published.",
            "Transcode the version first (`manimcloud video transcode V`); `video renditions V` lists what is published.");
    }
}
