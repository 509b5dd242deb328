using ManimCloud.Domain;
using ManimCloud.Web.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ManimCloud.Web.Pages;

/// <summary>
/// The service's pages: the front page, the API reference, the player (/watch/{video}, opened through a signed playback
/// link), a project's video list (/projects/{project}, with an API token), the upload page (/upload, tus) and the files
/// they load (/assets/…). Pages are static files; their scripts read what they show from the API.
/// </summary>
public static class PageRoutes
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/", (EmbeddedAssets assets) => Html(assets, "index.html")).ExcludeFromDescription();
        app.MapGet("/api", (EmbeddedAssets assets) => Html(assets, "api.html")).ExcludeFromDescription();
        app.MapGet("/watch/{video}", (HttpContext http, EmbeddedAssets assets, ManimCloudClient client, string video) =>
        {
            if (!VideoId.IsValid(video)) return Results.NotFound();
            // Behind a CDN the manifests, segments and images come from its domain: the one other origin the page may use.
            if (client.Delivery.Options.UsesCdn) http.Response.Headers.ContentSecurityPolicy = PlayerCsp(client.Delivery.PlaybackBaseUrl);
            http.Response.Headers.CacheControl = "no-store"; // the address carries a grant
            return Html(assets, "watch.html");
        }).ExcludeFromDescription();
        app.MapGet("/projects/{project}", (EmbeddedAssets assets, string project) =>
            ProjectId.IsValid(project) ? Html(assets, "project.html") : Results.NotFound()).ExcludeFromDescription();
        app.MapGet("/upload", (EmbeddedAssets assets) => Html(assets, "upload.html")).ExcludeFromDescription();
        app.MapGet("/assets/{**path}", (HttpContext http, EmbeddedAssets assets, string path) => assets.Serve(http, path)).ExcludeFromDescription();
    }

    public static IResult Html(EmbeddedAssets assets, string name) =>
        assets.Bytes(name) is { } bytes ? Results.Bytes(bytes, "text/html; charset=utf-8") : Results.NotFound();

    /// <summary>The page policy with the CDN's origin added where the player fetches media and images.</summary>
    public static string PlayerCsp(string cdnOrigin) =>
        SecurityHeaders.PageCsp.Replace("img-src 'self'", $"img-src 'self' {cdnOrigin}").Replace("media-src 'self'", $"media-src 'self' {cdnOrigin}")
            .Replace("connect-src 'self'", $"connect-src 'self' {cdnOrigin}");
}
