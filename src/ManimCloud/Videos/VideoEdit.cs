using ManimCloud.Domain;

namespace ManimCloud.Videos;

/// <summary>
/// A user's change to a video's descriptive fields. Each changed field carries the value it was changed from,
/// so applying the edit elsewhere (the cloud copy) can tell a concurrent change from a stale replay.
/// </summary>
public sealed record VideoEdit
{
    public FieldChange<string>? Title { get; init; }
    public FieldChange<string>? Description { get; init; }
    public FieldChange<IReadOnlyList<string>>? Tags { get; init; }
    public FieldChange<VideoStatus>? Status { get; init; }
    /// <summary>Processing statistics to set (pipeline step timings): merged key by key, so concurrent writers of different keys never conflict.</summary>
    public IReadOnlyDictionary<string, double>? Stats { get; init; }
    public DateTimeOffset EditedAt { get; init; } = DateTimeOffset.UtcNow;

    public bool IsEmpty => Title is null && Description is null && Tags is null && Status is null && Stats is null;

    /// <summary>Builds an edit against <paramref name="current"/>, keeping only real changes.</summary>
    public static VideoEdit Against(VideoRecord current, string? title, string? description, IReadOnlyList<string>? tags, VideoStatus? status,
        IReadOnlyDictionary<string, double>? stats = null)
    {
        if (title is not null) VideoValidation.EnsureTitle(title);
        if (description is not null) VideoValidation.EnsureDescription(description);
        if (tags is not null) VideoValidation.EnsureTags(tags);
        if (status is { } s) VideoStatuses.EnsureCanMove(current.Status, s);
        return new VideoEdit
        {
            Title = title is not null && title != current.Title ? new(current.Title, title) : null,
            Description = description is not null && description != current.Description ? new(current.Description, description) : null,
            Tags = tags is not null && !tags.SequenceEqual(current.Tags) ? new(current.Tags, tags) : null,
            Status = status is { } st && st != current.Status ? new(current.Status, st) : null,
            Stats = stats is not null && stats.Any(kv => !current.Stats.TryGetValue(kv.Key, out var v) || v != kv.Value) ? stats : null,
        };
    }

    /// <summary>Fields of <paramref name="target"/> changed by someone else since this edit's base.</summary>
    public IReadOnlyList<string> ConflictsWith(VideoRecord target)
    {
        var conflicts = new List<string>();
        if (Title is { } t && target.Title != t.From && target.Title != t.To) conflicts.Add("title");
        if (Description is { } d && target.Description != d.From && target.Description != d.To) conflicts.Add("description");
        if (Tags is { } g && !target.Tags.SequenceEqual(g.From) && !target.Tags.SequenceEqual(g.To)) conflicts.Add("tags");
        if (Status is { } s && target.Status != s.From && target.Status != s.To) conflicts.Add("status");
        return conflicts;
    }

    public VideoRecord ApplyTo(VideoRecord v) => v with
    {
        Title = Title?.To ?? v.Title,
        Description = Description?.To ?? v.Description,
        Tags = Tags?.To ?? v.Tags,
        Status = Status?.To ?? v.Status,
        Stats = Stats is null ? v.Stats : MergeStats(v.Stats, Stats),
        UpdatedAt = EditedAt > v.UpdatedAt ? EditedAt : v.UpdatedAt,
    };

    public bool IsAppliedIn(VideoRecord v) =>
        (Title is null || v.Title == Title.To) && (Description is null || v.Description == Description.To) &&
        (Tags is null || v.Tags.SequenceEqual(Tags.To)) && (Status is null || v.Status == Status.To) &&
        (Stats is null || Stats.All(kv => v.Stats.TryGetValue(kv.Key, out var x) && x == kv.Value));

    private static Dictionary<string, double> MergeStats(IReadOnlyDictionary<string, double> current, IReadOnlyDictionary<string, double> set)
    {
        var merged = new Dictionary<string, double>(current);
        foreach (var (k, v) in set) merged[k] = v;
        return merged;
    }
}

public sealed record FieldChange<T>(T From, T To);

public static class VideoValidation
{
    public static void EnsureTitle(string title)
    {
        if (string.IsNullOrWhiteSpace(title))
            throw new ManimCloudException(ErrorKind.InvalidInput, "The title is empty.", "Give a title with --title.");
        if (title.Length > 500)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"The title is {title.Length} characters long.", "Keep titles to 500 characters.");
    }

    public static void EnsureDescription(string description)
    {
        if (description.Length > 10_000)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"The description is {description.Length} characters long.", "Keep descriptions to 10,000 characters.");
    }

    public static void EnsureTags(IReadOnlyList<string> tags)
    {
        if (tags.Count > 50)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"{tags.Count} tags given.", "Use at most 50 tags.");
        foreach (var t in tags)
            if (string.IsNullOrWhiteSpace(t) || t.Length > 100)
                throw new ManimCloudException(ErrorKind.InvalidInput, $"Tag '{t}' is empty or longer than 100 characters.", "Use short, non-empty tags.");
    }
}
