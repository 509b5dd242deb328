using ManimCloud.Domain;

namespace ManimCloud.Metadata;

/// <summary>
/// The metadata contract, identical on SQLite and DynamoDB. Every write is conditional:
/// creates fail when the item exists, updates fail when the stored revision moved on.
/// </summary>
public interface IMetadataStore
{
    string Name { get; }

    /// <summary>Stores a new video record (Revision 1). Conflict when the id exists.</summary>
    Task<VideoRecord> CreateVideoAsync(VideoRecord video, CancellationToken ct);

    Task<VideoRecord?> GetVideoAsync(VideoId id, CancellationToken ct);

    /// <summary>
    /// Replaces the record when the stored revision equals <paramref name="expectedRevision"/>;
    /// returns the stored record with Revision = expected + 1. Throws <see cref="ConcurrencyConflictException"/> otherwise.
    /// </summary>
    Task<VideoRecord> UpdateVideoAsync(VideoRecord video, long expectedRevision, CancellationToken ct);

    /// <summary>A project's videos, newest first. <paramref name="pageToken"/> comes from a previous page.</summary>
    Task<Page<VideoRecord>> ListVideosAsync(ProjectId project, int limit, string? pageToken, CancellationToken ct);

    /// <summary>Bulk import: stores all records, retrying the ones the backend leaves unprocessed.</summary>
    Task PutVideosAsync(IReadOnlyList<VideoRecord> videos, CancellationToken ct);

    /// <summary>Claims a version number: false when that number is already taken (never overwrites).</summary>
    Task<bool> TryAddCodeVersionAsync(CodeVersion version, CancellationToken ct);

    /// <summary>
    /// Claims version numbers of several videos in one all-or-nothing write (at most <see cref="MaxClaimBatch"/>):
    /// returns the videos with a number already taken (or in another writer's transaction); when any, nothing was claimed.
    /// </summary>
    Task<IReadOnlySet<VideoId>> TryAddCodeVersionsAcrossAsync(IReadOnlyList<CodeVersion> versions, CancellationToken ct);

    /// <summary>
    /// Claims several version numbers at once, all or nothing: false (and nothing claimed) when any is taken.
    /// At most <see cref="MaxClaimBatch"/> versions per call.
    /// </summary>
    async Task<bool> TryAddCodeVersionsAsync(IReadOnlyList<CodeVersion> versions, CancellationToken ct) =>
        (await TryAddCodeVersionsAcrossAsync(versions, ct)).Count == 0;

    /// <summary>Several records at once (a sync pass); ids with no record are absent.</summary>
    Task<IReadOnlyDictionary<VideoId, VideoRecord>> GetVideosAsync(IReadOnlyList<VideoId> ids, CancellationToken ct);

    /// <summary>
    /// Replaces several records in one all-or-nothing write (at most <see cref="MaxClaimBatch"/>), each only if its stored
    /// revision equals the expected one: returns the ids whose revision moved on; when any, nothing was written.
    /// </summary>
    Task<IReadOnlySet<VideoId>> TryUpdateVideosAsync(IReadOnlyList<(VideoRecord Video, long ExpectedRevision)> updates, CancellationToken ct);

    /// <summary>The largest all-or-nothing claim (DynamoDB transactions take 100 items).</summary>
    const int MaxClaimBatch = 100;

    Task<CodeVersion?> GetCodeVersionAsync(VideoId video, int version, CancellationToken ct);

    /// <summary>All versions of a video's code, oldest first.</summary>
    Task<IReadOnlyList<CodeVersion>> ListCodeVersionsAsync(VideoId video, CancellationToken ct);

    /// <summary>Replaces a version's record (lock state); the version must exist.</summary>
    Task UpdateCodeVersionAsync(CodeVersion version, CancellationToken ct);

    /// <summary>Withdraws a claim whose object never got stored (compensation; only for the claiming operation).</summary>
    Task RemoveCodeVersionAsync(VideoId video, int version, string operationId, CancellationToken ct);
}
