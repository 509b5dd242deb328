using ManimCloud.Domain;

namespace ManimCloud.Web.Uploads;

/// <summary>
/// One tus upload: the media slot it fills, how many of its bytes are stored (<see cref="Offset"/>), and, once the
/// last byte arrived, the outcome of storing it as `video put` would.
/// </summary>
public sealed record TusUpload(
    string Id,
    VideoId Video,
    ProjectId Project,
    MediaSlot Slot,
    long Length,
    long Offset,
    string Metadata,
    DateTimeOffset CreatedAt,
    DateTimeOffset ExpiresAt,
    string State,
    string? Result,
    string? Error)
{
    public const string Receiving = "receiving", Complete = "complete", Failed = "failed", Expired = "expired";

    public bool IsOpen => State == Receiving;
}
