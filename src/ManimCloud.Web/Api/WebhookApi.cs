using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Web.Access;
using ManimCloud.Web.Events;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ManimCloud.Web.Api;

/// <summary>Webhooks per project (admin): register a URL (its signing secret is shown once), list, remove, see deliveries.</summary>
public static class WebhookApi
{
    public static void Map(IEndpointRouteBuilder api)
    {
        var hooks = api.MapGroup("/projects/{project}/webhooks").WithTags("webhooks");
        hooks.MapPost("/", Add).Requires(Role.Admin)
            .WithSummary("Register a webhook {url}; the answer carries its signing secret, shown only here")
            .Accepts<JsonObject>("application/json").Produces<JsonObject>(201).ProducesProblem(400);
        hooks.MapGet("/", List).Requires(Role.Admin).WithSummary("The project's webhooks (without secrets)").Produces<JsonObject>(200);
        hooks.MapDelete("/{id}", Remove).Requires(Role.Admin).WithSummary("Remove a webhook").Produces(204).ProducesProblem(404);
        hooks.MapGet("/{id}/deliveries", Deliveries).Requires(Role.Admin)
            .WithSummary("A webhook's deliveries: id, event, attempts, state, last error").Produces<JsonObject>(200);
    }

    private static ProjectId Project(HttpContext http, string project)
    {
        var p = ProjectId.Parse(project);
        http.Caller().EnsureProject(p);
        return p;
    }

    private static async Task<IResult> Add(HttpContext http, WebhookStore store, string project, CancellationToken ct)
    {
        var p = Project(http, project);
        var body = await JsonBody.ReadAsync(http.Request, ct);
        JsonBody.EnsureOnly(body, "url");
        var url = JsonBody.String(body, "url");
        if (url is null || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
            throw new ManimCloudException(ErrorKind.InvalidInput, $"'{url}' is not an absolute URL.", "Send {\"url\": \"https://receiver.example.com/hook\"}.");
        var hook = store.Add(p, uri);
        var j = Json(hook);
        j["secret"] = hook.Secret;
        return new JsonResult(j, 201) { Headers = { ["Location"] = $"/api/v1/projects/{p}/webhooks/{hook.Id}" } };
    }

    private static IResult List(HttpContext http, WebhookStore store, string project) =>
        new JsonResult(new JsonObject { ["webhooks"] = new JsonArray(store.List(Project(http, project)).Select(h => (JsonNode)Json(h)).ToArray()) });

    private static IResult Remove(HttpContext http, WebhookStore store, string project, string id) =>
        store.Remove(Project(http, project), id) ? Results.NoContent()
            : throw new ManimCloudException(ErrorKind.NotFound, $"Project '{project}' has no webhook '{id}'.", "GET the project's webhooks for their ids.");

    private static IResult Deliveries(HttpContext http, WebhookStore store, string project, string id)
    {
        var p = Project(http, project);
        if (store.List(p).All(h => h.Id != id))
            throw new ManimCloudException(ErrorKind.NotFound, $"Project '{project}' has no webhook '{id}'.", "GET the project's webhooks for their ids.");
        return new JsonResult(new JsonObject
        {
            ["deliveries"] = new JsonArray(store.Deliveries(id).Select(d => (JsonNode)new JsonObject
            {
                ["id"] = d.Id, ["event"] = d.EventType, ["attempts"] = d.Attempts, ["state"] = d.State,
                ["next_attempt_at"] = d.State == WebhookStore.Pending ? d.NextAt.ToString("O") : null, ["last_error"] = d.LastError,
            }).ToArray()),
        });
    }

    private static JsonObject Json(Webhook h) => new()
    {
        ["id"] = h.Id, ["project_id"] = h.Project.ToString(), ["url"] = h.Url.ToString(), ["created_at"] = h.CreatedAt.ToString("O"),
    };
}
