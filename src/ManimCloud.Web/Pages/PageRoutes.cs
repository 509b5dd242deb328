using ManimCloud.Web.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ManimCloud.Web.Pages;

/// <summary>The service's pages: the front page, the API reference, and the files they load (/assets/…).</summary>
public static class PageRoutes
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/", (EmbeddedAssets assets) => Html(assets, "index.html")).ExcludeFromDescription();
        app.MapGet("/api", (EmbeddedAssets assets) => Html(assets, "api.html")).ExcludeFromDescription();
        app.MapGet("/assets/{**path}", (HttpContext http, EmbeddedAssets assets, string path) => assets.Serve(http, path)).ExcludeFromDescription();
    }

    public static IResult Html(EmbeddedAssets assets, string name) =>
        assets.Bytes(name) is { } bytes ? Results.Bytes(bytes, "text/html; charset=utf-8") : Results.NotFound();
}
