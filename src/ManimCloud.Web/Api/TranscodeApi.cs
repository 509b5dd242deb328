using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Web.Access;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ManimCloud.Web.Api;

/// <summary>POST /videos/{id}/transcode: `video transcode` over HTTP, answered at once (202) and run in the background.</summary>
public static class TranscodeApi
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapPost("/videos/{id}/transcode", Request).Requires(Role.Editor)
            .WithSummary("Make the HLS + DASH ladder of a version (`video transcode`; ?version=N&engine=local|mediaconvert), in the background: " +
                "202 at once; the video's status goes transcoding → ready (or error with the reason) on GET /videos/{id} and the event stream")
            .WithTags("media").Produces<JsonObject>(202).ProducesProblem(400).ProducesProblem(404).ProducesProblem(409);
    }

    private static async Task<IResult> Request(HttpContext http, ManimCloudClient client, BackgroundTranscodes transcodes, string id, int? version,
        string? engine, CancellationToken ct)
    {
        var video = await VideoApi.LoadAsync(http, client, id, ct);
        if (http.Request.ContentLength > 0 || http.Request.Headers.TransferEncoding.Count > 0)
            JsonBody.EnsureOnly(await JsonBody.ReadAsync(http.Request, ct)); // nothing to say in the body yet: {} or none
        if (version is < 1)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"version={version} is not a version.", "Give a version number from 1, or leave it out for the latest.");
        if (engine is not (null or "local" or "mediaconvert"))
            throw new ManimCloudException(ErrorKind.InvalidInput, $"engine={engine} is not a transcode engine.", "Use engine=local or engine=mediaconvert, or leave it out.");
        if (video.Media.Count == 0)
            throw new ManimCloudException(ErrorKind.Conflict, $"Video {video.Id} has no clips or full video to transcode.",
                "Upload the scene clips (tus: POST /api/v1/uploads/) or the full video first.");
        var started = transcodes.Start(video, version, engine);
        var result = new JsonResult(new JsonObject
        {
            ["video_id"] = video.Id.ToString(), ["version"] = version, ["engine"] = engine, ["started"] = started,
            ["status"] = video.Status.ToWire(),
            ["note"] = started ? "transcoding in the background; wait for status ready on GET /api/v1/videos/{id} or the event stream"
                : "a transcode of this video was already running; this request joined it",
        }, 202);
        result.Headers["Location"] = $"/api/v1/videos/{video.Id}";
        return result;
    }
}
