namespace ManimCloud.Domain;

/// <summary>Which media slot of a video a file fills: one scene clip, or the combined full video.</summary>
public readonly record struct MediaSlot(int? Scene)
{
    public static MediaSlot Full => new((int?)null);
    public static MediaSlot ForScene(int scene) =>
        scene is >= 1 and <= 999
            ? new MediaSlot(scene)
            : throw new ManimCloudException(ErrorKind.InvalidInput, $"Scene number {scene} is out of range.",
                "Scenes are numbered 1 to 999.");
    public bool IsFull => Scene is null;
    public string Name => IsFull ? "full" : $"scene_{Scene:D3}";
    public override string ToString() => Name;
}

/// <summary>A stored media file of a video (clip or full), as referenced from the video record.</summary>
public sealed record MediaFile(string Key, long Size, string Sha256, int Version, DateTimeOffset StoredAt);

/// <summary>The video record of SPEC R3.</summary>
public sealed record VideoRecord
{
    public required VideoId Id { get; init; }
    public required ProjectId Project { get; init; }
    public required string Title { get; init; }
    public string Description { get; init; } = "";
    public IReadOnlyList<string> Tags { get; init; } = [];
    public VideoStatus Status { get; init; } = VideoStatus.Created;
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
    /// <summary>Latest code version number, 0 when no code is stored yet.</summary>
    public int CurrentVersion { get; init; }
    public IReadOnlyDictionary<int, string> CodePaths { get; init; } = new Dictionary<int, string>();
    /// <summary>Media by slot name ("scene_001", "full") for the current render.</summary>
    public IReadOnlyDictionary<string, MediaFile> Media { get; init; } = new Dictionary<string, MediaFile>();
    /// <summary>Published adaptive-bitrate ladders by code version (SPEC R3 "transcoded renditions").</summary>
    public IReadOnlyDictionary<int, RenditionSet> Renditions { get; init; } = new Dictionary<int, RenditionSet>();
    /// <summary>Why the video is in its status, when that needs saying (the error of a failed transcode); else null.</summary>
    public string? StatusReason { get; init; }
    public string? CdnUrl { get; init; }
    public IReadOnlyDictionary<string, double> Stats { get; init; } = new Dictionary<string, double>();
    /// <summary>Optimistic-concurrency counter: every stored change increments it.</summary>
    public long Revision { get; init; }

    public string? FullVideoPath => Media.TryGetValue("full", out var f) ? f.Key : null;
}

public enum LockMode { None, Governance, Compliance, LegalHold }

/// <summary>One stored version of a video's Manim code.</summary>
public sealed record CodeVersion
{
    public required VideoId Video { get; init; }
    public required int Version { get; init; }
    public required string Key { get; init; }
    public required long Size { get; init; }
    public required string Sha256 { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public string Author { get; init; } = "";
    public LockMode Lock { get; init; } = LockMode.None;
    public DateTimeOffset? LockedUntil { get; init; }
    /// <summary>The id of the operation that created this version; replays find it and stop.</summary>
    public string OperationId { get; init; } = "";
    /// <summary>The request a code generator wrote this version from (null for code stored by hand).</summary>
    public string? Prompt { get; init; }
}

public sealed record Page<T>(IReadOnlyList<T> Items, string? NextToken);
