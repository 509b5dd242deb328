using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Code;
using ManimCloud.Domain;
using ManimCloud.Metadata;
using ManimCloud.Web.Access;
using ManimCloud.Web.Events;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ManimCloud.Web.Api;

/// <summary>Code versions: history, one version (raw or JSON), a new version, and the diff between two versions.</summary>
public static class CodeApi
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapGet("/videos/{id}/code", History).Requires(Role.Viewer)
            .WithSummary("The code versions (`code history`)").WithTags("code").Produces<JsonObject>(200).ProducesProblem(404);
        api.MapPost("/videos/{id}/code", Put).Requires(Role.Editor)
            .WithSummary("Store a new code version (`code put`); the body is the UTF-8 Python source (text/x-python or text/plain)")
            .WithTags("code").Accepts<string>("text/x-python", "text/plain").Produces<JsonObject>(201).ProducesProblem(400).ProducesProblem(413).ProducesProblem(415);
        api.MapGet("/videos/{id}/code/diff", Diff).Requires(Role.Viewer)
            .WithSummary("The unified diff between two versions (?from=1&to=2; JSON with Accept: application/json)")
            .WithTags("code").Produces<string>(200, "text/x-diff").Produces<JsonObject>(200).ProducesProblem(404);
        api.MapGet("/videos/{id}/code/{version}", Get).Requires(Role.Viewer)
            .WithSummary("One version's source ('latest' or a number; `code get`); JSON with its record with Accept: application/json")
            .WithTags("code").Produces<string>(200, "text/x-python").Produces<JsonObject>(200).ProducesProblem(404);
    }

    private static async Task<IResult> History(HttpContext http, ManimCloudClient client, string id, CancellationToken ct)
    {
        var video = await VideoApi.LoadAsync(http, client, id, ct);
        var versions = await client.CodeHistoryAsync(video.Id, ct);
        var queued = client.QueuedOperationIds();
        return new JsonResult(new JsonObject
        {
            ["versions"] = new JsonArray(versions.Select(v =>
            {
                var j = RecordJson.ToJson(v);
                j["pending"] = queued.Contains(v.OperationId);
                return (JsonNode)j;
            }).ToArray()),
        });
    }

    private static async Task<IResult> Get(HttpContext http, ManimCloudClient client, string id, string version, CancellationToken ct)
    {
        var video = await VideoApi.LoadAsync(http, client, id, ct);
        var (v, content) = await client.GetCodeAsync(video.Id, ParseVersion(version), ct);
        var etag = $"\"{v.Sha256}\"";
        if (http.Request.Headers.IfNoneMatch.ToString() == etag) return Results.StatusCode(304);
        if (WantsJson(http))
        {
            var j = RecordJson.ToJson(v);
            j["content"] = Encoding.UTF8.GetString(content);
            return new JsonResult(j) { Headers = { ["ETag"] = etag } };
        }
        http.Response.Headers.ETag = etag;
        return Results.Bytes(content, "text/x-python; charset=utf-8");
    }

    private static async Task<IResult> Put(HttpContext http, ManimCloudClient client, EventFeed events, string id, string? author, CancellationToken ct)
    {
        var video = await VideoApi.LoadAsync(http, client, id, ct);
        var type = http.Request.ContentType ?? "";
        if (!type.StartsWith("text/x-python", StringComparison.OrdinalIgnoreCase) && !type.StartsWith("text/plain", StringComparison.OrdinalIgnoreCase))
            throw new WebInputException(Problem.UnsupportedMediaType($"The body is '{(type.Length == 0 ? "(no content type)" : type)}', not Python source.",
                "Send the code with `Content-Type: text/x-python; charset=utf-8`."));
        var content = await JsonBody.ReadLimitedAsync(http.Request, ManimCloudClient.MaxCodeBytes, ct);
        var w = await client.PutCodeAsync(video.Id, content, author ?? $"token:{http.Caller().Token.Id}", null, ct);
        events.Changed(await client.GetVideoAsync(video.Id, ct));
        var result = new JsonResult(VideoApi.Written(w, RecordJson.ToJson(w.Value), client), 201);
        result.Headers["Location"] = $"/api/v1/videos/{video.Id}/code/{w.Value.Version}";
        return result;
    }

    private static async Task<IResult> Diff(HttpContext http, ManimCloudClient client, string id, string? from, string? to, CancellationToken ct)
    {
        var video = await VideoApi.LoadAsync(http, client, id, ct);
        var diff = await DiffAsync(client, video.Id, from, to, ct);
        return WantsJson(http) ? new JsonResult(diff.Json) : Results.Text(diff.Unified, "text/x-diff; charset=utf-8");
    }

    public sealed record VersionDiff(int From, int To, string Unified, JsonObject Json);

    /// <summary>The diff between two versions (default: the one before the latest, and the latest).</summary>
    public static async Task<VersionDiff> DiffAsync(ManimCloudClient client, VideoId video, string? from, string? to, CancellationToken ct)
    {
        var history = await client.CodeHistoryAsync(video, ct);
        if (history.Count == 0)
            throw new ManimCloudException(ErrorKind.NotFound, $"Video {video} has no code yet.", "Store some with `code put FILE --video V`.");
        var toVersion = ParseVersion(to ?? "latest") ?? history[^1].Version;
        var fromVersion = ParseVersion(from ?? "") ?? history.Where(v => v.Version < toVersion).Select(v => (int?)v.Version).LastOrDefault() ?? toVersion;
        var (_, oldContent) = await client.GetCodeAsync(video, fromVersion, ct);
        var (_, newContent) = await client.GetCodeAsync(video, toVersion, ct);
        var diff = CodeDiff.Between(Encoding.UTF8.GetString(oldContent), Encoding.UTF8.GetString(newContent));
        var unified = diff.ToUnified($"{video}_v{fromVersion}.py", $"{video}_v{toVersion}.py");
        return new VersionDiff(fromVersion, toVersion, unified, new JsonObject
        {
            ["video_id"] = video.ToString(), ["from"] = fromVersion, ["to"] = toVersion,
            ["added"] = diff.Added, ["removed"] = diff.Removed, ["unified"] = unified,
            ["lines"] = new JsonArray(diff.Lines.Select(l => (JsonNode)new JsonObject
            {
                ["op"] = l.Op.ToString(), ["text"] = l.Text, ["old"] = l.OldLine, ["new"] = l.NewLine,
            }).ToArray()),
        });
    }

    /// <summary>'latest' (or empty) is null; otherwise a version number ≥ 1.</summary>
    public static int? ParseVersion(string value) =>
        value is "" or "latest" ? null
        : int.TryParse(value, System.Globalization.NumberStyles.None, null, out var n) && n >= 1 ? n
        : throw new ManimCloudException(ErrorKind.InvalidInput, $"'{value}' is not a version.", "Use a version number (1, 2, …) or 'latest'.");

    private static bool WantsJson(HttpContext http) =>
        http.Request.Headers.Accept.Any(a => a is not null && a.Contains("application/json", StringComparison.OrdinalIgnoreCase));
}
