using System.Collections.Frozen;
using System.Reflection;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;

namespace ManimCloud.Web.Hosting;

/// <summary>
/// The page files compiled into the executable (wwwroot/: our scripts and styles, the vendored players and their
/// licences), served at /assets/… with a content hash ETag. Read once at start: a few MB.
/// </summary>
public sealed class EmbeddedAssets
{
    private readonly FrozenDictionary<string, (byte[] Bytes, string Type, string ETag)> _files;

    public EmbeddedAssets()
    {
        var assembly = typeof(EmbeddedAssets).Assembly;
        var files = new Dictionary<string, (byte[], string, string)>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith("wwwroot/", StringComparison.Ordinal)))
        {
            using var s = assembly.GetManifestResourceStream(name)!;
            using var m = new MemoryStream();
            s.CopyTo(m);
            var bytes = m.ToArray();
            files[name["wwwroot/".Length..]] = (bytes, ContentTypes.Of(name), $"\"{Convert.ToHexStringLower(SHA256.HashData(bytes))[..16]}\"");
        }
        _files = files.ToFrozenDictionary(StringComparer.Ordinal);
    }

    public IEnumerable<string> Names => _files.Keys;

    public byte[]? Bytes(string path) => _files.TryGetValue(path, out var f) ? f.Bytes : null;

    public IResult Serve(HttpContext http, string path)
    {
        if (!_files.TryGetValue(path, out var f)) return Results.NotFound();
        http.Response.Headers.ETag = f.ETag;
        http.Response.Headers.CacheControl = "public, max-age=300";
        if (http.Request.Headers.IfNoneMatch.ToString() == f.ETag) return Results.StatusCode(304);
        var type = f.Type.StartsWith("text/", StringComparison.Ordinal) ? f.Type + "; charset=utf-8" : f.Type;
        return Results.Bytes(f.Bytes, type);
    }
}
