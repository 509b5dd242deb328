using System.Text.Json;
using System.Text.Json.Nodes;
using ManimCloud.Domain;

namespace ManimCloud.Metadata;

/// <summary>
/// The one JSON shape of a video record and a code version: stored in the local catalog and printed by `--json`.
/// Field names are snake_case, as in SPEC R3.
/// </summary>
public static class RecordJson
{
    public static JsonObject ToJson(VideoRecord v) => new()
    {
        ["video_id"] = v.Id.ToString(),
        ["project_id"] = v.Project.ToString(),
        ["title"] = v.Title,
        ["description"] = v.Description,
        ["tags"] = new JsonArray(v.Tags.Select(t => (JsonNode)JsonValue.Create(t)!).ToArray()),
        ["status"] = v.Status.ToWire(),
        ["created_at"] = v.CreatedAt.ToString("O"),
        ["updated_at"] = v.UpdatedAt.ToString("O"),
        ["current_version"] = v.CurrentVersion,
        ["code_paths"] = new JsonObject(v.CodePaths.OrderBy(kv => kv.Key).Select(kv => KeyValuePair.Create(kv.Key.ToString(), (JsonNode?)kv.Value))),
        ["media"] = new JsonObject(v.Media.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)new JsonObject
        {
            ["key"] = kv.Value.Key,
            ["size"] = kv.Value.Size,
            ["sha256"] = kv.Value.Sha256,
            ["version"] = kv.Value.Version,
            ["stored_at"] = kv.Value.StoredAt.ToString("O"),
        }))),
        ["full_video_path"] = v.FullVideoPath,
        ["renditions"] = RenditionJson.ToJson(v.Renditions),
        ["status_reason"] = v.StatusReason,
        ["cdn_url"] = v.CdnUrl,
        ["stats"] = new JsonObject(v.Stats.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
        ["revision"] = v.Revision,
    };

    public static VideoRecord VideoFromJson(JsonNode j) => new()
    {
        Id = VideoId.Parse((string?)j["video_id"]),
        Project = ProjectId.Parse((string?)j["project_id"]),
        Title = (string?)j["title"] ?? "",
        Description = (string?)j["description"] ?? "",
        Tags = j["tags"]?.AsArray().Select(t => (string)t!).ToList() ?? [],
        Status = VideoStatuses.Parse((string?)j["status"] ?? "created"),
        CreatedAt = DateTimeOffset.Parse((string)j["created_at"]!),
        UpdatedAt = DateTimeOffset.Parse((string)j["updated_at"]!),
        CurrentVersion = (int?)j["current_version"] ?? 0,
        CodePaths = j["code_paths"]?.AsObject().ToDictionary(kv => int.Parse(kv.Key), kv => (string)kv.Value!) ?? new Dictionary<int, string>(),
        Media = j["media"]?.AsObject().ToDictionary(kv => kv.Key, kv => new MediaFile(
            (string)kv.Value!["key"]!, (long)kv.Value["size"]!, (string)kv.Value["sha256"]!,
            (int)kv.Value["version"]!, DateTimeOffset.Parse((string)kv.Value["stored_at"]!))) ?? new Dictionary<string, MediaFile>(),
        Renditions = RenditionJson.ByVersionFromJson(j["renditions"]),
        StatusReason = (string?)j["status_reason"],
        CdnUrl = (string?)j["cdn_url"],
        Stats = j["stats"]?.AsObject().ToDictionary(kv => kv.Key, kv => (double)kv.Value!) ?? new Dictionary<string, double>(),
        Revision = (long?)j["revision"] ?? 0,
    };

    public static JsonObject ToJson(CodeVersion c)
    {
        var j = new JsonObject
        {
        ["video_id"] = c.Video.ToString(),
        ["version"] = c.Version,
        ["key"] = c.Key,
        ["size"] = c.Size,
        ["sha256"] = c.Sha256,
        ["created_at"] = c.CreatedAt.ToString("O"),
        ["author"] = c.Author,
        ["lock"] = c.Lock.ToString().ToLowerInvariant(),
        ["locked_until"] = c.LockedUntil?.ToString("O"),
        ["operation_id"] = c.OperationId,
        };
        // Only generated versions carry a prompt: records of hand-stored code keep their exact former shape.
        if (c.Prompt is not null) j["prompt"] = c.Prompt;
        return j;
    }

    public static CodeVersion CodeFromJson(JsonNode j) => new()
    {
        Video = VideoId.Parse((string?)j["video_id"]),
        Version = (int)j["version"]!,
        Key = (string)j["key"]!,
        Size = (long)j["size"]!,
        Sha256 = (string)j["sha256"]!,
        CreatedAt = DateTimeOffset.Parse((string)j["created_at"]!),
        Author = (string?)j["author"] ?? "",
        Lock = Enum.Parse<LockMode>((string?)j["lock"] ?? "none", ignoreCase: true),
        LockedUntil = j["locked_until"] is { } u ? DateTimeOffset.Parse((string)u!) : null,
        OperationId = (string?)j["operation_id"] ?? "",
        Prompt = (string?)j["prompt"],
    };

    public static string Serialize(JsonNode node) => node.ToJsonString(new JsonSerializerOptions { WriteIndented = false });
}
