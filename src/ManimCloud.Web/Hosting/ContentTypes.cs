using Microsoft.AspNetCore.StaticFiles;

namespace ManimCloud.Web.Hosting;

/// <summary>Content types by extension, with the streaming ones ASP.NET Core does not know (HLS, DASH, CMAF, WebVTT).</summary>
public static class ContentTypes
{
    private static readonly FileExtensionContentTypeProvider Provider = Create();

    private static FileExtensionContentTypeProvider Create()
    {
        var p = new FileExtensionContentTypeProvider();
        p.Mappings[".m3u8"] = "application/vnd.apple.mpegurl";
        p.Mappings[".mpd"] = "application/dash+xml";
        p.Mappings[".m4s"] = "video/iso.segment";
        p.Mappings[".cmfv"] = "video/mp4";
        p.Mappings[".cmfa"] = "audio/mp4";
        p.Mappings[".m4v"] = "video/mp4";
        p.Mappings[".m4a"] = "audio/mp4";
        p.Mappings[".mp4"] = "video/mp4";
        p.Mappings[".vtt"] = "text/vtt";
        p.Mappings[".js"] = "text/javascript";
        return p;
    }

    public static string Of(string path) => Provider.TryGetContentType(path, out var type) ? type : "application/octet-stream";
}
