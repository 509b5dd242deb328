using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Metadata;
using ManimCloud.Web.Access;
using ManimCloud.Web.Events;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ManimCloud.Web.Api;

/// <summary>Projects → videos: list newest first with page tokens, create, show, update (If-Match on the revision).</summary>
public static class VideoApi
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapGet("/projects/{project}/videos", List).Requires(Role.Viewer)
            .WithSummary("List a project's videos, newest first (`video list`)").WithTags("videos")
            .Produces<JsonObject>(200).ProducesProblem(400).ProducesProblem(401).ProducesProblem(403);
        api.MapPost("/projects/{project}/videos", Create).Requires(Role.Editor)
            .WithSummary("Create a video (`video create`); body {title, description?, tags?}").WithTags("videos")
            .Accepts<JsonObject>("application/json").Produces<JsonObject>(201).ProducesProblem(400).ProducesProblem(415);
        api.MapGet("/videos/{id}", Show).Requires(Role.Viewer)
            .WithSummary("A video's record (`video show`); ETag is its revision").WithTags("videos")
            .Produces<JsonObject>(200).ProducesProblem(404);
        api.MapPatch("/videos/{id}", Update).Requires(Role.Editor)
            .WithSummary("Change title, description, tags or status (`video update`); If-Match: the revision, else 412").WithTags("videos")
            .Accepts<JsonObject>("application/json").Produces<JsonObject>(200).ProducesProblem(412).ProducesProblem(409);
    }

    private static async Task<IResult> List(HttpContext http, ManimCloudClient client, string project, int? limit, string? next, CancellationToken ct)
    {
        var p = ProjectId.Parse(project);
        http.Caller().EnsureProject(p);
        var page = await client.ListVideosAsync(p, limit ?? 20, next, ct);
        return new JsonResult(new JsonObject
        {
            ["videos"] = new JsonArray(page.Items.Select(v => (JsonNode)RecordJson.ToJson(v)).ToArray()),
            ["next"] = page.NextToken,
        });
    }

    private static async Task<IResult> Create(HttpContext http, ManimCloudClient client, EventFeed events, string project, CancellationToken ct)
    {
        var p = ProjectId.Parse(project);
        http.Caller().EnsureProject(p);
        var body = await JsonBody.ReadAsync(http.Request, ct);
        JsonBody.EnsureOnly(body, "title", "description", "tags");
        var title = JsonBody.String(body, "title")
            ?? throw new ManimCloudException(ErrorKind.InvalidInput, "'title' is missing.", "Send {\"title\": \"…\"}.");
        var w = await client.CreateVideoAsync(p, title, JsonBody.String(body, "description"), JsonBody.Strings(body, "tags"), ct);
        events.Changed(w.Value);
        var result = new JsonResult(Written(w, RecordJson.ToJson(w.Value), client), 201);
        result.Headers["Location"] = $"/api/v1/videos/{w.Value.Id}";
        result.Headers["ETag"] = ETagOf(w.Value);
        return result;
    }

    private static async Task<IResult> Show(HttpContext http, ManimCloudClient client, string id, CancellationToken ct)
    {
        var video = await LoadAsync(http, client, id, ct);
        var etag = ETagOf(video);
        if (http.Request.Headers.IfNoneMatch.ToString() == etag) return Results.StatusCode(304);
        return new JsonResult(RecordJson.ToJson(video)) { Headers = { ["ETag"] = etag } };
    }

    private static async Task<IResult> Update(HttpContext http, ManimCloudClient client, EventFeed events, string id, CancellationToken ct)
    {
        var video = await LoadAsync(http, client, id, ct);
        long? expected = null;
        var ifMatch = http.Request.Headers.IfMatch.ToString();
        if (ifMatch.Length > 0 && ifMatch != "*")
            expected = ParseETag(ifMatch) ?? throw new WebInputException(Problem.BadInput($"If-Match '{ifMatch}' is not a revision ETag.",
                "Send back the ETag a GET of the video returned, e.g. If-Match: \"3\"."));
        var body = await JsonBody.ReadAsync(http.Request, ct);
        JsonBody.EnsureOnly(body, "title", "description", "tags", "status");
        var status = JsonBody.String(body, "status") is { } s ? VideoStatuses.Parse(s) : (VideoStatus?)null;
        var w = await client.UpdateVideoAsync(video.Id, JsonBody.String(body, "title"), JsonBody.String(body, "description"),
            JsonBody.Strings(body, "tags"), status, expected, ct);
        events.Changed(w.Value);
        return new JsonResult(Written(w, RecordJson.ToJson(w.Value), client)) { Headers = { ["ETag"] = ETagOf(w.Value) } };
    }

    /// <summary>Loads a video by id (400 for a malformed id, 404 when absent) and checks the caller's project.</summary>
    public static async Task<VideoRecord> LoadAsync(HttpContext http, ManimCloudClient client, string id, CancellationToken ct)
    {
        var video = await client.GetVideoAsync(VideoId.Parse(id), ct);
        http.Caller().EnsureProject(video.Project);
        return video;
    }

    public static string ETagOf(VideoRecord v) => $"\"{v.Revision}\"";

    private static long? ParseETag(string value)
    {
        var v = value.Trim();
        if (v.StartsWith("W/", StringComparison.Ordinal)) v = v[2..];
        return v.Length >= 3 && v[0] == '"' && v[^1] == '"' && long.TryParse(v[1..^1], out var n) ? n : null;
    }

    /// <summary>As the CLI's --json: whether a write reached the cloud, or waits in the outbox and why.</summary>
    public static JsonObject Written<T>(Written<T> w, JsonObject json, ManimCloudClient client)
    {
        if (client.Cloud is null) return json;
        json["synced"] = w.Synced;
        json["pending"] = !w.Synced;
        if (!w.Synced) json["pending_reason"] = w.PendingReason;
        return json;
    }
}
