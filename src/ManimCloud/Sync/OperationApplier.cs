using ManimCloud.Code;
using ManimCloud.Domain;
using ManimCloud.Local;
using ManimCloud.Storage;
using ManimCloud.Videos;

namespace ManimCloud.Sync;

/// <summary>What applying an operation produced: the record, and for code the version number it got.</summary>
public sealed record OperationResult(VideoRecord? Video, CodeVersion? Code, MediaFile? Media);

/// <summary>What to do with an edit whose fields someone else changed meanwhile.</summary>
public enum EditDecision { Refuse, Overwrite, Discard }

/// <summary>How to apply: the version number the authority gave (when mirroring), and the conflict policy for edits.</summary>
public sealed record ApplyOptions(int? PreferredCodeVersion = null, Func<EditVideo, VideoRecord, IReadOnlyList<string>, EditDecision>? OnConflict = null,
    IProgress<Transfer.TransferProgress>? Progress = null)
{
    public static readonly ApplyOptions Default = new();
}

/// <summary>An edit met a concurrent change to the same fields.</summary>
public sealed class EditConflictException(EditVideo edit, VideoRecord current, IReadOnlyList<string> fields, string where)
    : ManimCloudException(ErrorKind.Conflict,
        $"Video {edit.Video} was changed by someone else in {where} ({string.Join(", ", fields)}); the edit was not applied.",
        "Read the video again (`video show`) and reapply your change.")
{
    public EditVideo Edit => edit;
    public VideoRecord Current => current;
    public IReadOnlyList<string> Fields => fields;
}

/// <summary>
/// Applies an operation to one backend — the local workspace or the cloud — with the same code for both.
/// Every path is idempotent by operation id or by content, so a replay after a crash is harmless.
/// </summary>
public sealed class OperationApplier(BlobFolder blobs)
{
    /// <summary>Applies CDN invalidations in the cloud (set by the client when delivery is composed; null: they cannot be applied).</summary>
    public ICdnInvalidator? Cdn { get; set; }

    public Task<OperationResult> ApplyAsync(Operation op, Backend target, ApplyOptions options, CancellationToken ct) => op switch
    {
        CreateVideo c => CreateAsync(c, target, ct),
        EditVideo e => EditAsync(e, target, options, ct),
        StoreMedia m => StoreMediaAsync(m, target, options.Progress, ct),
        StoreCode s => StoreCodeAsync(s, target, options.PreferredCodeVersion, ct),
        PublishRenditions p => Streaming.RenditionPublishing.PublishAsync(p, target, PutBlobAsync, ct),
        TranscodeStatus t => Streaming.RenditionPublishing.SetStatusAsync(t, target, ct),
        InvalidateCdn i => InvalidateAsync(i, target, ct),
        _ => throw new ArgumentOutOfRangeException(nameof(op), op.Kind, "unknown operation"),
    };

    /// <summary>The workspace has no CDN cache: nothing to do there. In the cloud, CloudFront drops the paths.</summary>
    private async Task<OperationResult> InvalidateAsync(InvalidateCdn op, Backend target, CancellationToken ct)
    {
        if (target.Videos is LocalObjectStore) return new(null, null, null);
        if (Cdn is null)
            throw new ManimCloudException(ErrorKind.ClientError, $"The queued invalidation of v{op.Version} of video {op.Video} cannot be applied: delivery is not composed here.",
                "Run `manimcloud sync` from a workspace whose configuration names the distribution (distribution_id).");
        await Cdn.ApplyAsync(op, ct);
        return new(null, null, null);
    }

    private static async Task<OperationResult> CreateAsync(CreateVideo op, Backend target, CancellationToken ct)
    {
        try
        {
            return new(await target.Metadata.CreateVideoAsync(op.Record, ct), null, null);
        }
        catch (ManimCloudException e) when (e.Kind == ErrorKind.Conflict)
        {
            // Video ids are generated once per create: an existing record with this id is this operation's earlier result.
            return new(await VideoRecords.RequireAsync(target.Metadata, op.Video, ct), null, null);
        }
    }

    private static async Task<OperationResult> EditAsync(EditVideo op, Backend target, ApplyOptions options, CancellationToken ct)
    {
        var result = await VideoRecords.ChangeAsync(target.Metadata, op.Video, current =>
        {
            if (op.Edit.IsAppliedIn(current)) return null;
            var conflicts = op.Edit.ConflictsWith(current);
            if (conflicts.Count > 0)
            {
                switch (options.OnConflict?.Invoke(op, current, conflicts) ?? EditDecision.Refuse)
                {
                    case EditDecision.Discard: return null;
                    case EditDecision.Refuse: throw new EditConflictException(op, current, conflicts, target.Name);
                }
            }
            // A status the record can no longer move to (someone moved it on) is dropped, not forced.
            var edit = op.Edit.Status is { } s && !VideoStatuses.CanMove(current.Status, s.To) && conflicts.Count == 0
                ? throw new ManimCloudException(ErrorKind.Conflict, $"Video {op.Video} cannot go from '{current.Status.ToWire()}' to '{s.To.ToWire()}'.",
                    "Read the video again and choose a status it can move to.")
                : op.Edit;
            return edit.ApplyTo(current);
        }, ct);
        return new(result, null, null);
    }

    private async Task<OperationResult> StoreMediaAsync(StoreMedia op, Backend target, IProgress<Transfer.TransferProgress>? progress, CancellationToken ct)
    {
        var media = new MediaFile(op.Key, op.Size, op.Sha256, op.Version, op.CreatedAt);
        var head = await target.Videos.HeadAsync(op.Key, ct);
        if (head?.Sha256 != op.Sha256)
        {
            var write = new ObjectWrite(op.Key, op.Slot.IsFull ? ObjectKind.FullVideo : ObjectKind.SceneClip, "video/mp4",
                MediaMetadata(op), op.Sha256, op.Size);
            await PutBlobAsync(target.Videos, write, progress, ct);
        }
        var record = await VideoRecords.ChangeAsync(target.Metadata, op.Video, current =>
            current.Media.TryGetValue(op.Slot.Name, out var existing) && existing.Key == media.Key && existing.Sha256 == media.Sha256
                ? null
                : current with
                {
                    Media = new Dictionary<string, MediaFile>(current.Media) { [op.Slot.Name] = media },
                    UpdatedAt = Later(current.UpdatedAt, op.CreatedAt),
                }, ct);
        return new(record, null, media);
    }

    public static Dictionary<string, string> MediaMetadata(StoreMedia op) => new()
    {
        [ObjectMetadataKeys.Project] = op.Project.ToString(),
        [ObjectMetadataKeys.Video] = op.Video.ToString(),
        [ObjectMetadataKeys.Scene] = op.Slot.Scene?.ToString() ?? "full",
        [ObjectMetadataKeys.Version] = op.Version.ToString(),
    };

    public static Dictionary<string, string> CodeMetadata(StoreCode op, int version) => new()
    {
        [ObjectMetadataKeys.Project] = op.Project.ToString(),
        [ObjectMetadataKeys.Video] = op.Video.ToString(),
        [ObjectMetadataKeys.Version] = version.ToString(),
        [ObjectMetadataKeys.Author] = Uri.EscapeDataString(op.Author),
    };

    private async Task<OperationResult> StoreCodeAsync(StoreCode op, Backend target, int? preferred, CancellationToken ct)
    {
        if (preferred is null)
        {
            var (video, versions) = await StoreCodeBatchAsync([op], target, ct);
            return new(video, versions[0], null);
        }
        // Mirroring the authority's number into the workspace.
        var version = (await target.Metadata.ListCodeVersionsAsync(op.Video, ct)).FirstOrDefault(v => v.OperationId == op.Id)
            ?? await CodeVersioning.ClaimAsync(target.Metadata, Draft(op), n => ObjectLayout.CodeKey(op.Project, op.Video, n), preferred, ct);
        await EnsureCodeObjectAsync(op, version, target, fresh: false, ct);
        return new(await AttachCodeAsync([op], [version], target, ct), version, null);
    }

    /// <summary>
    /// Stores several new code versions of one video (in order): claims their numbers in one all-or-nothing write,
    /// stores the objects in parallel, then updates the video record once. Versions an earlier attempt already
    /// claimed (found by operation id) keep their numbers. If storing fails, this call's fresh claims are
    /// withdrawn so no record points at a missing object.
    /// </summary>
    public async Task<(VideoRecord Video, IReadOnlyList<CodeVersion> Versions)> StoreCodeBatchAsync(IReadOnlyList<StoreCode> ops, Backend target, CancellationToken ct)
    {
        var video = ops[0].Video;
        if (ops.Any(o => o.Video != video)) throw new ArgumentException("a batch holds versions of one video", nameof(ops));
        var existing = await target.Metadata.ListCodeVersionsAsync(video, ct);
        var byOperation = existing.Where(v => v.OperationId.Length > 0).ToDictionary(v => v.OperationId);
        var todo = ops.Where(o => !byOperation.ContainsKey(o.Id)).ToList();
        var fresh = new List<CodeVersion>();
        foreach (var chunk in todo.Chunk(Metadata.IMetadataStore.MaxClaimBatch))
        {
            var claimed = await CodeVersioning.ClaimManyAsync(target.Metadata, chunk.Select(Draft).ToList(),
                n => ObjectLayout.CodeKey(chunk[0].Project, video, n), existing.Concat(fresh).ToList(), ct);
            fresh.AddRange(claimed);
        }
        foreach (var v in fresh) byOperation[v.OperationId] = v;
        var versions = ops.Select(o => byOperation[o.Id]).ToList();
        var freshIds = fresh.Select(v => v.OperationId).ToHashSet();
        var stored = new System.Collections.Concurrent.ConcurrentDictionary<string, bool>();
        try
        {
            await Parallel.ForEachAsync(ops.Zip(versions), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (pair, token) =>
            {
                await EnsureCodeObjectAsync(pair.First, pair.Second, target, freshIds.Contains(pair.First.Id), token);
                stored[pair.First.Id] = true;
            });
        }
        catch
        {
            // Nothing may point at an object that was never stored: withdraw this call's claims (best effort; a
            // claim left behind by a crash is completed by the replay, which finds it by operation id).
            foreach (var v in fresh.Where(v => !stored.ContainsKey(v.OperationId)))
            {
                try { await target.Metadata.RemoveCodeVersionAsync(video, v.Version, v.OperationId, CancellationToken.None); }
                catch (ManimCloudException) { }
            }
            throw;
        }
        return (await AttachCodeAsync(ops, versions, target, ct), versions);
    }

    public static CodeVersion Draft(StoreCode op) => new()
    {
        Video = op.Video, Version = 0, Key = "", Size = op.Size, Sha256 = op.Sha256, CreatedAt = op.CreatedAt,
        Author = op.Author, Lock = op.Lock, LockedUntil = op.LockedUntil, OperationId = op.Id, Prompt = op.Prompt,
    };

    private async Task EnsureCodeObjectAsync(StoreCode op, CodeVersion version, Backend target, bool fresh, CancellationToken ct)
    {
        if (!fresh && (await target.Code.HeadAsync(version.Key, ct))?.Sha256 == op.Sha256) return;
        await StoreCodeObjectAsync(op, version, target, createOnly: fresh, ct);
    }

    /// <summary>Records the versions on the video: paths, current version, and code_ready for a new video. One write.</summary>
    private static Task<VideoRecord> AttachCodeAsync(IReadOnlyList<StoreCode> ops, IReadOnlyList<CodeVersion> versions, Backend target, CancellationToken ct) =>
        VideoRecords.ChangeAsync(target.Metadata, ops[0].Video, current => WithCode(current, ops, versions), ct);

    /// <summary>The record with these code versions attached, or null when it already has them.</summary>
    public static VideoRecord? WithCode(VideoRecord current, IReadOnlyList<StoreCode> ops, IReadOnlyList<CodeVersion> versions)
    {
        if (versions.All(v => current.CodePaths.TryGetValue(v.Version, out var path) && path == v.Key) && current.CurrentVersion >= versions.Max(v => v.Version))
            return null;
        var paths = new Dictionary<int, string>(current.CodePaths);
        foreach (var v in versions) paths[v.Version] = v.Key;
        return current with
        {
            CurrentVersion = Math.Max(current.CurrentVersion, versions.Max(v => v.Version)),
            CodePaths = paths,
            Status = current.Status == VideoStatus.Created ? VideoStatus.CodeReady : current.Status,
            UpdatedAt = Later(current.UpdatedAt, ops.Max(o => o.CreatedAt)),
        };
    }

    /// <summary>Stores the object of a version this caller has just claimed (create-only: nobody else can hold the key).</summary>
    public Task StoreClaimedCodeAsync(StoreCode op, CodeVersion version, Backend target, CancellationToken ct) =>
        StoreCodeObjectAsync(op, version, target, createOnly: true, ct);

    private async Task StoreCodeObjectAsync(StoreCode op, CodeVersion version, Backend target, bool createOnly, CancellationToken ct)
    {
        // A number this call just claimed is a key nobody has written: create-only, so no lock check is needed.
        var write = new ObjectWrite(version.Key, ObjectKind.Code, "text/x-python; charset=utf-8",
            CodeMetadata(op, version.Version), op.Sha256, op.Size) { CreateOnly = createOnly };
        await PutBlobAsync(target.Code, write, null, ct);
        if (op.Lock != LockMode.None)
        {
            if (target.Code is not IObjectLockStore lockable)
                throw new ManimCloudException(ErrorKind.ClientError, $"{target.Code.Name} cannot lock objects.",
                    "Use a store with Object Lock (the code bucket made by `manimcloud provision`).");
            await lockable.LockAsync(version.Key, null, new ObjectLock(op.Lock, op.LockedUntil), ct);
        }
    }

    /// <summary>Stores a workspace blob in a store: the local store indexes it in place, others upload the file.</summary>
    internal async Task PutBlobAsync(IObjectStore store, ObjectWrite write, IProgress<Transfer.TransferProgress>? progress, CancellationToken ct)
    {
        if (store is LocalObjectStore local && ReferenceEquals(local.Blobs, blobs))
        {
            local.PutExistingBlob(write);
            return;
        }
        // The blob's file, so a large upload is read at offsets and journaled (a crash resumes it).
        await using var content = blobs.OpenFile(write.Sha256);
        if (store is ITransferringObjectStore transfers) await transfers.PutAsync(write, content, progress, ct);
        else await store.PutAsync(write, content, ct);
    }

    private static DateTimeOffset Later(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;
}
