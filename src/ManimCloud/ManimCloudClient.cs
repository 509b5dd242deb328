using ManimCloud.Aws;
using ManimCloud.Code;
using ManimCloud.Domain;
using ManimCloud.Local;
using ManimCloud.Metadata;
using ManimCloud.Resilience;
using ManimCloud.Storage;
using ManimCloud.Sync;
using ManimCloud.Videos;
using ManimCloud.Workspace;

namespace ManimCloud;

/// <summary>
/// The ManimCloud library: videos, code versions and metadata, kept in the local workspace and, when buckets and
/// a table are configured, in AWS.
///
/// Write path: validate everything first (nothing is written for bad input); store the content as a workspace
/// blob; record the operation in the outbox; apply it to the cloud (the authority on version numbers), then to the
/// workspace; remove it from the outbox. A crash anywhere leaves the operation in the outbox to be replayed.
/// </summary>
public sealed class ManimCloudClient : IDisposable
{
    public const long MaxCodeBytes = 10L << 20;

    public ManimCloudOptions Options { get; }
    public Catalog Catalog { get; }
    public BlobFolder Blobs { get; }
    public Backend Local { get; }
    public Backend? Cloud { get; }
    public Outbox Outbox { get; }
    public AuditLog Audit { get; }
    public AwsClients? Aws { get; }
    private readonly OperationApplier _applier;

    private ManimCloudClient(ManimCloudOptions options)
    {
        options.EnsureValid();
        Options = options;
        Directory.CreateDirectory(options.Home);
        Catalog = new Catalog(options.CatalogPath);
        Blobs = new BlobFolder(options.BlobsPath);
        Local = new Backend("workspace", new LocalObjectStore(Catalog, Blobs, "videos"), new LocalObjectStore(Catalog, Blobs, "code"),
            new SqliteMetadataStore(Catalog));
        Outbox = new Outbox(Catalog);
        Audit = new AuditLog(Catalog);
        _applier = new OperationApplier(Blobs);
        if (options.CloudConfigured)
        {
            Aws = new AwsClients(options);
            var retry = new RetryPipeline(AwsErrors.Classify);
            var settings = new S3StoreSettings(options.KmsKey, options.UseStorageClasses, options.ChecksumMode == ChecksumMode.WhenSupported);
            Cloud = new Backend("aws",
                new S3ObjectStore(Aws.S3, options.VideoBucket!, settings, retry),
                new S3ObjectStore(Aws.S3, options.CodeBucket!, settings, retry),
                new DynamoMetadataStore(Aws.DynamoDB, options.Table!, retry));
        }
    }

    public static ManimCloudClient Open(ManimCloudOptions options) => new(options);
    public static ManimCloudClient Open() => new(ManimCloudOptions.Load());

    /// <summary>Where reads are answered: the cloud when configured (it sees every worker's writes), else the workspace.</summary>
    private Backend Authority => Cloud ?? Local;

    // ---------------------------------------------------------------- videos

    public async Task<VideoRecord> CreateVideoAsync(ProjectId project, string title, string? description, IReadOnlyList<string>? tags, CancellationToken ct)
    {
        VideoValidation.EnsureTitle(title);
        VideoValidation.EnsureDescription(description ?? "");
        VideoValidation.EnsureTags(tags ?? []);
        var now = DateTimeOffset.UtcNow;
        var record = new VideoRecord
        {
            Id = VideoId.New(), Project = project, Title = title, Description = description ?? "",
            Tags = tags?.Distinct().ToList() ?? [], Status = VideoStatus.Created, CreatedAt = now, UpdatedAt = now,
        };
        var op = new CreateVideo { Id = Operation.NewId(), Video = record.Id, Record = record };
        return (await RunAsync(op, ct)).Video!;
    }

    public async Task<VideoRecord> GetVideoAsync(VideoId id, CancellationToken ct)
    {
        var record = await VideoRecords.RequireAsync(Authority.Metadata, id, ct);
        if (Cloud is not null) await Local.Metadata.PutVideosAsync([record], ct);
        return record;
    }

    public async Task<Page<VideoRecord>> ListVideosAsync(ProjectId project, int limit, string? pageToken, CancellationToken ct)
    {
        if (limit is < 1 or > 1000)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"--limit {limit} is out of range.", "Use a limit from 1 to 1000.");
        return await Authority.Metadata.ListVideosAsync(project, limit, pageToken, ct);
    }

    /// <summary>
    /// Changes descriptive fields. With <paramref name="expectedRevision"/>, refuses when the record has moved on
    /// (optimistic concurrency); without it, refuses only when a field being changed was changed by someone else.
    /// </summary>
    public async Task<VideoRecord> UpdateVideoAsync(VideoId id, string? title, string? description, IReadOnlyList<string>? tags,
        VideoStatus? status, long? expectedRevision, CancellationToken ct)
    {
        var current = await VideoRecords.RequireAsync(Authority.Metadata, id, ct);
        if (expectedRevision is { } rev && rev != current.Revision)
            throw new ConcurrencyConflictException(
                $"Video {id} is at revision {current.Revision}, not {rev}; the update was not applied.",
                "Read the video again (`video show`) and reapply your change.");
        var edit = VideoEdit.Against(current, title, description, tags?.Distinct().ToList(), status);
        if (edit.IsEmpty) return current;
        var op = new EditVideo { Id = Operation.NewId(), Video = id, Edit = edit };
        return (await RunAsync(op, ct)).Video!;
    }

    public async Task<MediaFile> PutMediaAsync(VideoId id, MediaSlot slot, string path, CancellationToken ct)
    {
        MediaValidation.EnsureVideoFile(path);
        var video = await VideoRecords.RequireAsync(Authority.Metadata, id, ct);
        var version = Math.Max(1, video.CurrentVersion);
        var (sha, size) = await Blobs.AddFileAsync(path, ct);
        var op = new StoreMedia { Id = Operation.NewId(), Video = id, Project = video.Project, Slot = slot, Version = version, Sha256 = sha, Size = size };
        ObjectMetadataKeys.EnsureWithinLimit(OperationApplier.MediaMetadata(op));
        return (await RunAsync(op, ct)).Media!;
    }

    /// <summary>Writes a clip or the full video to <paramref name="outPath"/>, verified against its SHA-256; nothing is left at the path on failure.</summary>
    public async Task<MediaFile> GetMediaAsync(VideoId id, MediaSlot slot, int? version, string outPath, CancellationToken ct)
    {
        var video = await VideoRecords.RequireAsync(Authority.Metadata, id, ct);
        var n = version ?? (video.Media.TryGetValue(slot.Name, out var m) ? m.Version : Math.Max(1, video.CurrentVersion));
        var key = slot.IsFull ? ObjectLayout.FullVideoKey(video.Project, id, n) : ObjectLayout.ClipKey(video.Project, id, n, slot.Scene!.Value);
        var head = await Authority.Videos.HeadAsync(key, ct)
            ?? throw new ManimCloudException(ErrorKind.NotFound, $"No {slot.Name} for version {n} of video {id} ({Authority.Videos.Name}/{key}).",
                "`video show` lists the stored media; `video put` stores it.");
        await WriteVerifiedAsync(head, Authority.Videos, outPath, ct);
        return new MediaFile(key, head.Size, head.Sha256 ?? "", n, head.LastModified);
    }

    // ---------------------------------------------------------------- code

    public async Task<CodeVersion> PutCodeAsync(VideoId id, string path, string? author, CodeLockRequest? lockRequest, CancellationToken ct)
    {
        if (!File.Exists(path))
            throw new ManimCloudException(ErrorKind.InvalidInput, $"Code file '{path}' does not exist.", "Give the path of a .py file.");
        var info = new FileInfo(path);
        if (info.Length == 0)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"Code file '{path}' is empty.", "Store a file with the scene's Manim code.");
        if (info.Length > MaxCodeBytes)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"Code file '{path}' is {info.Length} bytes.", $"Code files are limited to {MaxCodeBytes >> 20} MiB.");
        var bytes = await File.ReadAllBytesAsync(path, ct);
        return await PutCodeAsync(id, bytes, author, lockRequest, ct);
    }

    public async Task<CodeVersion> PutCodeAsync(VideoId id, byte[] content, string? author, CodeLockRequest? lockRequest, CancellationToken ct)
    {
        if (content.Length == 0)
            throw new ManimCloudException(ErrorKind.InvalidInput, "The code is empty.", "Store the scene's Manim code.");
        CodeVersioning.EnsureUtf8(content, "The code");
        var video = await VideoRecords.RequireAsync(Authority.Metadata, id, ct);
        var (sha, size) = await Blobs.AddAsync(new MemoryStream(content, writable: false), null, ct);
        var op = new StoreCode
        {
            Id = Operation.NewId(), Video = id, Project = video.Project, Sha256 = sha, Size = size,
            Author = author ?? Environment.UserName, Lock = lockRequest?.Mode ?? LockMode.None, LockedUntil = lockRequest?.RetainUntil,
        };
        ObjectMetadataKeys.EnsureWithinLimit(OperationApplier.CodeMetadata(op, int.MaxValue));
        return (await RunAsync(op, ct)).Code!;
    }

    public async Task<(CodeVersion Version, byte[] Content)> GetCodeAsync(VideoId id, int? version, CancellationToken ct)
    {
        var history = await CodeHistoryAsync(id, ct);
        if (history.Count == 0)
            throw new ManimCloudException(ErrorKind.NotFound, $"Video {id} has no code yet.", "Store some with `code put FILE --video V`.");
        var chosen = version is { } n
            ? history.FirstOrDefault(v => v.Version == n) ?? throw new ManimCloudException(ErrorKind.NotFound,
                $"Video {id} has no code version {n}.", $"Versions stored: {string.Join(", ", history.Select(v => v.Version))}.")
            : history[^1];
        var head = await Authority.Code.HeadAsync(chosen.Key, ct)
            ?? throw new ManimCloudException(ErrorKind.NotFound, $"Code version {chosen.Version} of video {id} is recorded but its object {chosen.Key} is missing.",
                "Recover it from a previous bucket version, or store the code again.");
        using var buffer = new MemoryStream();
        await using (var s = await OpenVerifiedAsync(head, Authority.Code, ct)) await s.CopyToAsync(buffer, ct);
        return (chosen, buffer.ToArray());
    }

    public async Task<IReadOnlyList<CodeVersion>> CodeHistoryAsync(VideoId id, CancellationToken ct)
    {
        await VideoRecords.RequireAsync(Authority.Metadata, id, ct);
        var versions = await Authority.Metadata.ListCodeVersionsAsync(id, ct);
        if (Authority.Code is IObjectLockStore locks)
        {
            // Lock state comes from the store itself: a retention that ended is no longer a lock.
            var now = DateTimeOffset.UtcNow;
            var withLocks = new List<CodeVersion>(versions.Count);
            foreach (var v in versions)
            {
                var l = v.Lock == LockMode.None ? ObjectLock.None : await locks.GetLockAsync(v.Key, null, ct);
                withLocks.Add(l.IsActive(now) ? v with { Lock = l.Mode, LockedUntil = l.RetainUntil } : v with { Lock = LockMode.None, LockedUntil = null });
            }
            return withLocks;
        }
        return versions;
    }

    // ---------------------------------------------------------------- outbox

    /// <summary>Applies operations left in the outbox by an interrupted command, oldest first.</summary>
    public async Task<SyncReport> SyncAsync(CancellationToken ct)
    {
        var applied = 0;
        var failed = new List<string>();
        foreach (var entry in Outbox.List(Outbox.Pending))
        {
            try
            {
                await ApplyEverywhereAsync(entry.Operation, ct);
                Outbox.Remove(entry.Operation.Id);
                applied++;
            }
            catch (ManimCloudException e)
            {
                Outbox.RecordFailure(entry.Operation.Id, e.Message, park: !e.IsRetryable);
                failed.Add($"{entry.Operation.Kind} {entry.Operation.Video}: {e.Message}");
                if (e.IsRetryable) break; // the cloud is away: later entries (same video, same order) must wait
            }
        }
        Audit.Record("sync", Cloud?.Name ?? "workspace", failed.Count == 0 ? "ok" : "partial", $"applied {applied}, failed {failed.Count}");
        return new SyncReport(applied, failed, Outbox.List().Count);
    }

    private async Task<OperationResult> ApplyEverywhereAsync(Operation op, CancellationToken ct)
    {
        OperationResult? cloud = null;
        if (Cloud is not null)
        {
            cloud = await _applier.ApplyAsync(op, Cloud, null, ct);
            // The workspace mirrors the cloud's record (which other workers may have changed too) before it applies
            // the operation itself, so the local copy ends up equal to the authority's.
            if (cloud.Video is not null) await Local.Metadata.PutVideosAsync([cloud.Video], ct);
        }
        var local = await _applier.ApplyAsync(op, Local, cloud?.Code?.Version, ct);
        return cloud ?? local;
    }

    private async Task<OperationResult> RunAsync(Operation op, CancellationToken ct)
    {
        Outbox.Add(op);
        try
        {
            var result = await ApplyEverywhereAsync(op, ct);
            Outbox.Remove(op.Id);
            Audit.Record(op.Kind, op.Video.ToString(), "ok", Cloud is null ? "workspace" : "workspace+aws");
            return result;
        }
        catch (Exception e)
        {
            // The cloud must accept a write before it is reported done; a refused write is withdrawn whole.
            Outbox.Remove(op.Id);
            Audit.Record(op.Kind, op.Video.ToString(), "failed", e.Message);
            throw;
        }
    }

    // ---------------------------------------------------------------- reading objects

    private async Task<Stream> OpenVerifiedAsync(StoredObject head, IObjectStore store, CancellationToken ct)
    {
        // Content already in the workspace (same SHA-256) is read locally; the local read verifies it too.
        if (head.Sha256 is { } sha && Blobs.Contains(sha)) return Blobs.OpenRead(sha);
        return await store.OpenReadAsync(head.Key, null, ct);
    }

    private async Task WriteVerifiedAsync(StoredObject head, IObjectStore store, string outPath, CancellationToken ct)
    {
        var full = Path.GetFullPath(outPath);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var tmp = full + $".part-{Guid.NewGuid():N}";
        try
        {
            await using (var source = await OpenVerifiedAsync(head, store, ct))
            await using (var target = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20, FileOptions.Asynchronous))
            {
                await source.CopyToAsync(target, 1 << 20, ct);
                target.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    public void Dispose() => Aws?.Dispose();
}

public sealed record CodeLockRequest(LockMode Mode, DateTimeOffset? RetainUntil);

public sealed record SyncReport(int Applied, IReadOnlyList<string> Failures, int StillPending);
