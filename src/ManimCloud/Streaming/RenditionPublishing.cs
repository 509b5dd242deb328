using ManimCloud.Domain;
using ManimCloud.Local;
using ManimCloud.Metadata;
using ManimCloud.Storage;
using ManimCloud.Sync;
using ManimCloud.Videos;

namespace ManimCloud.Streaming;

/// <summary>
/// How a rendition set becomes visible on one backend (the workspace or the cloud), the same code for both: every
/// segment, image and scene index first (many at once), then the variant playlists and the MPD, the master playlist
/// last, and only then the video record. A crash or kill at any point leaves nothing that refers to a missing object;
/// the outbox replays the operation and it finishes (every step is idempotent).
/// </summary>
public static class RenditionPublishing
{
    /// <summary>Objects stored at once: segments are small, so many requests in flight are what makes the upload fast.</summary>
    public const int ParallelUploads = 32;

    public static async Task<OperationResult> PublishAsync(PublishRenditions op, Backend target,
        Func<IObjectStore, ObjectWrite, IProgress<Transfer.TransferProgress>?, CancellationToken, Task> put, CancellationToken ct)
    {
        var set = op.Set;
        var metadata = new Dictionary<string, string>
        {
            [ObjectMetadataKeys.Video] = op.Video.ToString(),
            [ObjectMetadataKeys.Version] = set.Version.ToString(),
        };
        async Task StoreAsync(RenditionObject o, CancellationToken t)
        {
            // The workspace indexes blobs it already holds; a replay there must not add a version per object.
            if (target.Videos is LocalObjectStore && (await target.Videos.HeadAsync(o.Key, t))?.Sha256 == o.Sha256) return;
            await put(target.Videos, new ObjectWrite(o.Key, ObjectKind.Rendition, o.ContentType, metadata, o.Sha256, o.Size)
            {
                CacheControl = o.CacheControl,
            }, null, t);
        }
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = ParallelUploads, CancellationToken = ct };
        await Parallel.ForEachAsync(op.Objects.Where(o => o.Kind != RenditionObjectKind.Manifest), parallel, async (o, t) => await StoreAsync(o, t));
        await Parallel.ForEachAsync(op.Objects.Where(o => o.Kind == RenditionObjectKind.Manifest && o.Key != set.HlsMasterKey), parallel,
            async (o, t) => await StoreAsync(o, t));
        foreach (var master in op.Objects.Where(o => o.Key == set.HlsMasterKey)) await StoreAsync(master, ct);

        var record = await VideoRecords.ChangeAsync(target.Metadata, op.Video, current =>
        {
            if (current.Renditions.TryGetValue(set.Version, out var existing) && existing.FinishedAt == set.FinishedAt
                && existing.Manifests.Count == set.Manifests.Count && existing.Manifests.All(m => set.Manifests.GetValueOrDefault(m.Key) == m.Value))
                return null; // this publish was applied already (a replay); delivery may have filled its playback URL since
            return current with
            {
                Renditions = new Dictionary<int, RenditionSet>(current.Renditions) { [set.Version] = set },
                Status = CanBeReady(current.Status) ? VideoStatus.Ready : current.Status,
                StatusReason = CanBeReady(current.Status) ? null : current.StatusReason,
                UpdatedAt = current.UpdatedAt > op.CreatedAt ? current.UpdatedAt : op.CreatedAt,
            };
        }, ct);
        return new OperationResult(record, null, null);
    }

    /// <summary>A published ladder makes the video ready, unless it moved on to a new render meanwhile.</summary>
    private static bool CanBeReady(VideoStatus s) => s is VideoStatus.Created or VideoStatus.CodeReady || VideoStatuses.CanMove(s, VideoStatus.Ready);

    public static async Task<OperationResult> SetStatusAsync(TranscodeStatus op, Backend target, CancellationToken ct)
    {
        var record = await VideoRecords.ChangeAsync(target.Metadata, op.Video, current =>
        {
            if (op.Unless is { } unless && current.Status == unless) return null;
            if (current.Status == op.Status && current.StatusReason == op.Reason) return null;
            // A status the video can no longer move to (someone moved it on meanwhile) is dropped: the transcode's
            // state is reported to its caller anyway.
            // Media stored without the status moved on (code_ready): stored media is what `uploaded` means.
            var from = op.Status == VideoStatus.Transcoding && current.Status is VideoStatus.Created or VideoStatus.CodeReady ? VideoStatus.Uploaded : current.Status;
            if (!VideoStatuses.CanMove(from, op.Status)) return null;
            return current with
            {
                Status = op.Status, StatusReason = op.Reason,
                UpdatedAt = current.UpdatedAt > op.CreatedAt ? current.UpdatedAt : op.CreatedAt,
            };
        }, ct);
        return new OperationResult(record, null, null);
    }
}
