using ManimCloud.Web.Access;
using ManimCloud.Workspace;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ManimCloud.Web.Api;

/// <summary>GET /api/v1/status: what `status --json` prints (mode, queued operations, last error, conflicts, cache).</summary>
public static class StatusApi
{
    public static void Map(IEndpointRouteBuilder api) =>
        api.MapGet("/status", (ManimCloudClient client) => new JsonResult(WorkspaceStatus.ToJson(client))).Requires(Role.Admin)
            .WithTags("service").WithSummary("The workspace's queue, last error, conflicts and cache (`status`)").Produces<System.Text.Json.Nodes.JsonObject>(200);
}
