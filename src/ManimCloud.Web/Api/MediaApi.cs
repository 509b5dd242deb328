using ManimCloud.Domain;
using ManimCloud.Web.Access;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Net.Http.Headers;

namespace ManimCloud.Web.Api;

/// <summary>Media download (`video get`): Range requests, the content's SHA-256 as a strong ETag.</summary>
public static class MediaApi
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapGet("/videos/{id}/media/{slot}", Download).Requires(Role.Viewer)
            .WithSummary("A scene clip (scene_001 or 1) or the full video (full), with Range; ?version=N; ETag is the SHA-256")
            .WithTags("media").Produces(200, contentType: "video/mp4").Produces(206, contentType: "video/mp4").ProducesProblem(404).ProducesProblem(416);
    }

    public static MediaSlot ParseSlot(string value)
    {
        if (value == "full") return MediaSlot.Full;
        var digits = value.StartsWith("scene_", StringComparison.Ordinal) ? value[6..] : value;
        if (digits.Length is >= 1 and <= 3 && digits.All(char.IsAsciiDigit)) return MediaSlot.ForScene(int.Parse(digits));
        throw new ManimCloudException(ErrorKind.InvalidInput, $"'{value}' is not a media slot.", "Use 'full' or a scene such as 'scene_001' (or '1').");
    }

    private static async Task<IResult> Download(HttpContext http, ManimCloudClient client, string id, string slot, int? version, CancellationToken ct)
    {
        var video = await VideoApi.LoadAsync(http, client, id, ct);
        var s = ParseSlot(slot);
        var n = version ?? (video.Media.TryGetValue(s.Name, out var m) ? m.Version : Math.Max(1, video.CurrentVersion));
        var key = s.IsFull ? ObjectLayout.FullVideoKey(video.Project, video.Id, n) : ObjectLayout.ClipKey(video.Project, video.Id, n, s.Scene!.Value);
        var head = await client.Local.Videos.HeadAsync(key, ct);
        string path;
        if (head?.Sha256 is { } sha && client.Blobs.Contains(sha))
        {
            path = client.Blobs.PathOf(sha);
        }
        else
        {
            // Not in the workspace (evicted, or written by another machine): fetched verified from the cloud through the
            // library's own read path into a private file that is deleted once the response is sent.
            path = Path.Combine(client.Options.Home, "tmp", $"media-{Guid.NewGuid():N}.mp4");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var fetched = await client.GetMediaAsync(video.Id, s, n, path, ct);
            head = new Storage.StoredObject(fetched.Key, fetched.Size, fetched.Sha256, null, fetched.StoredAt, new Dictionary<string, string>());
            var tmp = path;
            http.Response.RegisterForDispose(new DeleteOnDispose(tmp));
        }
        http.Response.Headers.CacheControl = "private, max-age=3600";
        return Results.File(path, "video/mp4", $"{video.Id}_v{n}_{s.Name}.mp4", head!.LastModified,
            new EntityTagHeaderValue($"\"{head.Sha256}\""), enableRangeProcessing: true);
    }

    private sealed class DeleteOnDispose(string path) : IDisposable
    {
        public void Dispose()
        {
            try { File.Delete(path); } catch (IOException) { /* the sweeper of tmp/ removes it later */ }
        }
    }
}
