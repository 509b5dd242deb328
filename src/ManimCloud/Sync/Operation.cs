using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Metadata;
using ManimCloud.Videos;

namespace ManimCloud.Sync;

/// <summary>
/// One user-visible write, recorded in the outbox before it is applied anywhere. Its <see cref="Id"/> is stable,
/// so applying it again after a crash finds the earlier result instead of doing the work twice.
/// </summary>
public abstract record Operation
{
    public required string Id { get; init; }
    public required VideoId Video { get; init; }
    public DateTimeOffset CreatedAt { get; init; } = DateTimeOffset.UtcNow;
    public abstract string Kind { get; }

    /// <summary>The workspace blobs this operation stores somewhere (kept from eviction until it is applied, marked synced after).</summary>
    public virtual IReadOnlyCollection<string> Blobs => [];

    public static string NewId() => Guid.NewGuid().ToString("N");

    public JsonObject ToJson()
    {
        var j = new JsonObject { ["id"] = Id, ["video_id"] = Video.ToString(), ["kind"] = Kind, ["created_at"] = CreatedAt.ToString("O") };
        WriteFields(j);
        return j;
    }

    protected abstract void WriteFields(JsonObject j);

    public static Operation FromJson(JsonNode j)
    {
        var id = (string)j["id"]!;
        var video = VideoId.Parse((string?)j["video_id"]);
        var created = DateTimeOffset.Parse((string)j["created_at"]!);
        return (string?)j["kind"] switch
        {
            CreateVideo.KindName => new CreateVideo { Id = id, Video = video, CreatedAt = created, Record = RecordJson.VideoFromJson(j["record"]!) },
            EditVideo.KindName => new EditVideo { Id = id, Video = video, CreatedAt = created, Edit = EditJson.FromJson(j["edit"]!) },
            StoreMedia.KindName => new StoreMedia
            {
                Id = id, Video = video, CreatedAt = created, Project = ProjectId.Parse((string?)j["project_id"]),
                Slot = j["scene"] is { } s ? MediaSlot.ForScene((int)s!) : MediaSlot.Full,
                Version = (int)j["version"]!, Sha256 = (string)j["sha256"]!, Size = (long)j["size"]!,
            },
            StoreCode.KindName => new StoreCode
            {
                Id = id, Video = video, CreatedAt = created, Project = ProjectId.Parse((string?)j["project_id"]),
                Sha256 = (string)j["sha256"]!, Size = (long)j["size"]!, Author = (string?)j["author"] ?? "",
                Lock = Enum.Parse<LockMode>((string?)j["lock"] ?? "None"),
                LockedUntil = j["locked_until"] is { } u ? DateTimeOffset.Parse((string)u!) : null,
                Prompt = (string?)j["prompt"],
            },
            PublishRenditions.KindName => new PublishRenditions
            {
                Id = id, Video = video, CreatedAt = created, Set = RenditionJson.FromJson(j["set"]!),
                Objects = j["objects"]!.AsArray().Select(o => new Streaming.RenditionObject((string)o!["key"]!, (string)o["sha256"]!, (long)o["size"]!,
                    Enum.Parse<Streaming.RenditionObjectKind>((string)o["kind"]!))).ToList(),
            },
            TranscodeStatus.KindName => new TranscodeStatus
            {
                Id = id, Video = video, CreatedAt = created, Version = (int)j["version"]!,
                Status = VideoStatuses.Parse((string)j["status"]!), Reason = (string?)j["reason"],
                Unless = j["unless"] is { } u ? VideoStatuses.Parse((string)u!) : null,
            },
            InvalidateCdn.KindName => new InvalidateCdn
            {
                Id = id, Video = video, CreatedAt = created, Version = (int)j["version"]!, DistributionId = (string)j["distribution_id"]!,
                Keys = j["keys"]!.AsArray().Select(k => (string)k!).ToList(), Paths = j["paths"]!.AsArray().Select(p => (string)p!).ToList(),
                CallerReference = (string)j["caller_reference"]!,
            },
            var other => throw new ManimCloudException(ErrorKind.Fatal, $"Outbox entry {id} has unknown kind '{other}'.",
                "It was written by a newer ManimCloud; upgrade to apply it."),
        };
    }
}

public sealed record CreateVideo : Operation
{
    public const string KindName = "create_video";
    public override string Kind => KindName;
    public required VideoRecord Record { get; init; }
    protected override void WriteFields(JsonObject j) => j["record"] = RecordJson.ToJson(Record);
}

public sealed record EditVideo : Operation
{
    public const string KindName = "edit_video";
    public override string Kind => KindName;
    public required VideoEdit Edit { get; init; }
    protected override void WriteFields(JsonObject j) => j["edit"] = EditJson.ToJson(Edit);
}

/// <summary>A rendered clip or full video, whose bytes are already in the workspace blob folder.</summary>
public sealed record StoreMedia : Operation
{
    public const string KindName = "store_media";
    public override string Kind => KindName;
    public required ProjectId Project { get; init; }
    public required MediaSlot Slot { get; init; }
    public required int Version { get; init; }
    public required string Sha256 { get; init; }
    public required long Size { get; init; }
    public override IReadOnlyCollection<string> Blobs => [Sha256];
    public string Key => Slot.IsFull ? ObjectLayout.FullVideoKey(Project, Video, Version) : ObjectLayout.ClipKey(Project, Video, Version, Slot.Scene!.Value);
    protected override void WriteFields(JsonObject j)
    {
        j["project_id"] = Project.ToString();
        j["scene"] = Slot.Scene;
        j["version"] = Version;
        j["sha256"] = Sha256;
        j["size"] = Size;
    }
}

/// <summary>A new version of a video's code, whose bytes are already in the blob folder. Its number is allocated where it is applied.</summary>
public sealed record StoreCode : Operation
{
    public const string KindName = "store_code";
    public override string Kind => KindName;
    public required ProjectId Project { get; init; }
    public required string Sha256 { get; init; }
    public required long Size { get; init; }
    public string Author { get; init; } = "";
    public LockMode Lock { get; init; } = LockMode.None;
    public DateTimeOffset? LockedUntil { get; init; }
    public override IReadOnlyCollection<string> Blobs => [Sha256];
    /// <summary>The code generator's request, recorded beside the version.</summary>
    public string? Prompt { get; init; }
    protected override void WriteFields(JsonObject j)
    {
        j["project_id"] = Project.ToString();
        j["sha256"] = Sha256;
        j["size"] = Size;
        j["author"] = Author;
        j["lock"] = Lock.ToString();
        j["locked_until"] = LockedUntil?.ToString("O");
        if (Prompt is not null) j["prompt"] = Prompt;
    }
}

/// <summary>
/// Publishes a version's rendition set: stores its objects (segments, poster, storyboard: workspace blobs), then its
/// manifests, then records the set on the video (status ready). Nothing refers to an object before it is stored, so a
/// crash anywhere leaves the set unpublished and the replay finishes it.
/// </summary>
public sealed record PublishRenditions : Operation
{
    public const string KindName = "publish_renditions";
    public override string Kind => KindName;
    public required RenditionSet Set { get; init; }
    /// <summary>Objects to store (none when the engine stored its output itself, as MediaConvert does).</summary>
    public required IReadOnlyList<Streaming.RenditionObject> Objects { get; init; }
    public override IReadOnlyCollection<string> Blobs => Objects.Select(o => o.Sha256).Distinct().ToList();
    protected override void WriteFields(JsonObject j)
    {
        j["set"] = RenditionJson.ToJson(Set);
        j["objects"] = new JsonArray(Objects.Select(o => (JsonNode)new JsonObject
        {
            ["key"] = o.Key, ["sha256"] = o.Sha256, ["size"] = o.Size, ["kind"] = o.Kind.ToString(),
        }).ToArray());
    }
}

/// <summary>
/// A transcode's status change (transcoding when it starts, error with the reason when it fails, the earlier status
/// when it is cancelled). Not applied when the video is already <see cref="Unless"/> (a later publish made it ready).
/// </summary>
public sealed record TranscodeStatus : Operation
{
    public const string KindName = "transcode_status";
    public override string Kind => KindName;
    public required int Version { get; init; }
    public required VideoStatus Status { get; init; }
    public string? Reason { get; init; }
    public VideoStatus? Unless { get; init; }
    protected override void WriteFields(JsonObject j)
    {
        j["version"] = Version;
        j["status"] = Status.ToWire();
        j["reason"] = Reason;
        j["unless"] = Unless?.ToWire();
    }
}

/// <summary>
/// A CloudFront invalidation of what a change of a published version left stale (see Delivery.InvalidationBatch):
/// nothing to do in the workspace, one CreateInvalidation in the cloud. Its CallerReference makes a replay the same
/// invalidation.
/// </summary>
public sealed record InvalidateCdn : Operation
{
    public const string KindName = "invalidate_cdn";
    public override string Kind => KindName;
    public required int Version { get; init; }
    public required string DistributionId { get; init; }
    /// <summary>The object keys that may be stale.</summary>
    public required IReadOnlyList<string> Keys { get; init; }
    /// <summary>The paths CloudFront is asked to drop (folder wildcards where cheaper).</summary>
    public required IReadOnlyList<string> Paths { get; init; }
    public required string CallerReference { get; init; }
    protected override void WriteFields(JsonObject j)
    {
        j["version"] = Version;
        j["distribution_id"] = DistributionId;
        j["keys"] = new JsonArray(Keys.Select(k => (JsonNode)JsonValue.Create(k)!).ToArray());
        j["paths"] = new JsonArray(Paths.Select(p => (JsonNode)JsonValue.Create(p)!).ToArray());
        j["caller_reference"] = CallerReference;
    }
}

/// <summary>Where an <see cref="InvalidateCdn"/> is carried out (delivery's CloudFront side); the sync engine does not know CloudFront.</summary>
public interface ICdnInvalidator
{
    Task ApplyAsync(InvalidateCdn op, CancellationToken ct);
}

internal static class EditJson
{
    public static JsonObject ToJson(VideoEdit e)
    {
        var j = new JsonObject { ["edited_at"] = e.EditedAt.ToString("O") };
        if (e.Title is { } t) j["title"] = new JsonObject { ["from"] = t.From, ["to"] = t.To };
        if (e.Description is { } d) j["description"] = new JsonObject { ["from"] = d.From, ["to"] = d.To };
        if (e.Tags is { } g) j["tags"] = new JsonObject { ["from"] = Array(g.From), ["to"] = Array(g.To) };
        if (e.Status is { } s) j["status"] = new JsonObject { ["from"] = s.From.ToWire(), ["to"] = s.To.ToWire() };
        if (e.Stats is { } st) j["stats"] = new JsonObject(st.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        return j;
    }

    private static JsonArray Array(IReadOnlyList<string> values) => new(values.Select(v => (JsonNode)JsonValue.Create(v)!).ToArray());
    private static IReadOnlyList<string> List(JsonNode? n) => n!.AsArray().Select(x => (string)x!).ToList();

    public static VideoEdit FromJson(JsonNode j) => new()
    {
        EditedAt = DateTimeOffset.Parse((string)j["edited_at"]!),
        Title = j["title"] is { } t ? new((string)t["from"]!, (string)t["to"]!) : null,
        Description = j["description"] is { } d ? new((string)d["from"]!, (string)d["to"]!) : null,
        Tags = j["tags"] is { } g ? new(List(g["from"]), List(g["to"])) : null,
        Status = j["status"] is { } s ? new(VideoStatuses.Parse((string)s["from"]!), VideoStatuses.Parse((string)s["to"]!)) : null,
        Stats = j["stats"]?.AsObject().ToDictionary(kv => kv.Key, kv => (double)kv.Value!),
    };
}
