using ManimCloud.Domain;
using ManimCloud.Metadata;

namespace ManimCloud.Videos;

/// <summary>Read-modify-write of a video record with optimistic concurrency: a lost race re-reads and re-applies.</summary>
public static class VideoRecords
{
    public static async Task<VideoRecord> RequireAsync(IMetadataStore store, VideoId id, CancellationToken ct) =>
        await store.GetVideoAsync(id, ct)
        ?? throw new ManimCloudException(ErrorKind.NotFound, $"Video {id} does not exist in {store.Name}.",
            "Check the id (`manimcloud video list --project P`), or create the video first with `video create`.");

    /// <summary>
    /// Applies <paramref name="change"/> to the stored record until a conditional write succeeds.
    /// <paramref name="change"/> returns null when the record already has the change (nothing is written).
    /// Only for changes that merge safely with concurrent ones (set a media slot, raise the version).
    /// </summary>
    public static async Task<VideoRecord> ChangeAsync(IMetadataStore store, VideoId id, Func<VideoRecord, VideoRecord?> change, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            var current = await RequireAsync(store, id, ct);
            var changed = change(current);
            if (changed is null) return current;
            try
            {
                return await store.UpdateVideoAsync(changed, current.Revision, ct);
            }
            catch (ConcurrencyConflictException) when (attempt < 50)
            {
                await Task.Delay(Random.Shared.Next(1, 10 + 5 * attempt), ct);
            }
        }
    }
}
