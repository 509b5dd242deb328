using System.Text.Json.Nodes;

namespace ManimCloud.Workspace;

/// <summary>The workspace's state as `status --json` prints it and GET /api/v1/status returns it: mode, queued operations, last error, conflicts, cache.</summary>
public static class WorkspaceStatus
{
    public static JsonObject ToJson(ManimCloudClient client)
    {
        var entries = client.Outbox.List();
        var lastError = entries.Where(e => e.LastError is not null).Select(e => e.LastError).LastOrDefault();
        var down = client.Health.IsDown(out _);
        int Count(string state) => entries.Count(e => e.State == state);
        return new JsonObject
        {
            ["mode"] = client.Cloud is null ? "local" : "aws",
            ["home"] = client.Options.Home,
            ["pending"] = Count(Sync.Outbox.Pending),
            ["parked"] = Count(Sync.Outbox.Parked),
            ["conflicts"] = Count(Sync.Outbox.Conflicted),
            ["cloud_reachable"] = client.Cloud is null ? null : !down,
            ["last_error"] = lastError,
            ["cache_bytes"] = client.Cache.CachedBytes(),
            ["cache_limit"] = client.Options.CacheLimitBytes,
            ["operations"] = new JsonArray(entries.Select(e => (JsonNode)new JsonObject
            {
                ["id"] = e.Operation.Id, ["kind"] = e.Operation.Kind, ["video_id"] = e.Operation.Video.ToString(),
                ["state"] = e.State, ["attempts"] = e.Attempts, ["last_error"] = e.LastError, ["queued_at"] = e.Operation.CreatedAt.ToString("O"),
            }).ToArray()),
        };
    }
}
