using System.Text;
using ManimCloud.Domain;
using ManimCloud.Web.Access;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ManimCloud.Web.Events;

/// <summary>
/// GET /api/v1/events: server-sent events of video (and job) status changes, filtered to what the token reaches
/// (and to ?project=P). Each event has an id; a client that reconnects with Last-Event-ID gets what it missed, as far
/// back as the service retains. A comment line every 15 s keeps proxies from closing an idle stream.
/// </summary>
public static class EventStream
{
    public static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(15);

    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapGet("/events", Stream).Requires(Role.Viewer)
            .WithSummary("Server-sent events: video.created, video.updated, video.status_changed, job.status_changed (?project=P; Last-Event-ID resumes)")
            .WithTags("events").Produces(200, contentType: "text/event-stream").ProducesProblem(401);
    }

    private static async Task Stream(HttpContext http, EventFeed feed, string? project, CancellationToken ct)
    {
        var caller = http.Caller();
        ProjectId? only = project is null ? caller.Token.Project : ProjectId.Parse(project);
        if (only is { } p) caller.EnsureProject(p);
        long? after = long.TryParse(http.Request.Headers["Last-Event-ID"].ToString(), out var last) ? last : null;
        using var subscription = feed.Subscribe(after);
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        await http.Response.WriteAsync(": manimcloud events\nretry: 2000\n\n", ct);
        await http.Response.Body.FlushAsync(ct);
        var reader = subscription.Reader;
        while (!ct.IsCancellationRequested)
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
            wait.CancelAfter(Heartbeat);
            bool ready;
            try
            {
                ready = await reader.WaitToReadAsync(wait.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                await http.Response.WriteAsync(": keep-alive\n\n", ct);
                await http.Response.Body.FlushAsync(ct);
                continue;
            }
            if (!ready) break;
            var text = new StringBuilder();
            while (reader.TryRead(out var e))
            {
                if (!caller.Token.Covers(e.Project) || (only is { } o && e.Project != o)) continue;
                text.Append("id: ").Append(e.Seq).Append('\n').Append("event: ").Append(e.Type).Append('\n')
                    .Append("data: ").Append(e.ToJson().ToJsonString()).Append("\n\n");
            }
            if (text.Length == 0) continue;
            await http.Response.WriteAsync(text.ToString(), ct);
            await http.Response.Body.FlushAsync(ct);
        }
    }
}
