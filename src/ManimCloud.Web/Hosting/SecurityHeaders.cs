using Microsoft.AspNetCore.Http;

namespace ManimCloud.Web.Hosting;

/// <summary>
/// Headers on every response: no MIME sniffing, no framing, no referrer (a signed playback URL must not leak into
/// another site's logs), and for pages a content security policy that lets them load only this service's own files
/// (the players build their media and workers from blob: URLs).
/// </summary>
public sealed class SecurityHeaders(RequestDelegate next)
{
    public const string PageCsp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; " +
        "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

    public Task InvokeAsync(HttpContext http)
    {
        var h = http.Response.Headers;
        h.XContentTypeOptions = "nosniff";
        h.XFrameOptions = "DENY";
        h["Referrer-Policy"] = "no-referrer";
        h["Cross-Origin-Opener-Policy"] = "same-origin";
        h.ContentSecurityPolicy = PageCsp;
        return next(http);
    }
}
