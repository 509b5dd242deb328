using ManimCloud.Aws;
using ManimCloud.Code;
using ManimCloud.Domain;
using ManimCloud.Local;
using ManimCloud.Metadata;
using ManimCloud.Resilience;
using ManimCloud.Storage;
using ManimCloud.Sync;
using ManimCloud.Transfer;
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
    /// <summary>Operating the deployment: cost estimates and reports, audit, backups (SPEC R8, R9).</summary>
    public Operations.OperationsService Operations { get; }
    public AwsClients? Aws { get; }
    private readonly OperationApplier _applier;

    public BlobCache Cache { get; }
    public CloudHealth Health { get; }
    public SyncEngine? Sync { get; }
    public UploadJournal? Journal { get; }
    /// <summary>Unfinished multipart uploads: list, resume, abort (cloud mode only).</summary>
    public Uploads? Uploads { get; }
    /// <summary>Delivery: signed playback links and their verification, the CloudFront distribution, invalidations, stats.</summary>
    public Delivery.DeliveryService Delivery { get; }
    /// <summary>Adaptive-bitrate ladders: transcode a version (local ffmpeg or MediaConvert), list its renditions.</summary>
    public Streaming.TranscodeService Streaming { get; }

    /// <summary>The agent pipeline: code generation, incremental rendering, jobs in-process or on SQS workers (issue #12).</summary>
    public Pipeline.PipelineService Pipeline => _pipeline ??= new Pipeline.PipelineService(this)
    {
        // A re-publish behind a provisioned distribution invalidates what it left stale in the edge caches.
        Invalidate = Delivery.IsProvisioned ? Delivery.Invalidations!.InvalidateRepublishedAsync : null,
    };
    private Pipeline.PipelineService? _pipeline;

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
        // Who acted: the AWS caller identity in cloud mode (asked on the first entry, after Aws exists), else the OS user.
        Audit = new AuditLog(Catalog, options.CloudConfigured ? () => global::ManimCloud.Operations.CallerIdentity.Describe(Aws) : null);
        Operations = new Operations.OperationsService(options);
        Health = new CloudHealth(Catalog);
        Cache = new BlobCache(Catalog, Blobs, Outbox, options.CacheLimitBytes, options.CloudConfigured);
        _applier = new OperationApplier(Blobs);
        if (options.CloudConfigured)
        {
            Aws = new AwsClients(options);
            var retry = Aws.Retry;
            var settings = new S3StoreSettings(options.KmsKey, options.UseStorageClasses, options.ChecksumMode == ChecksumMode.WhenSupported)
            {
                RequestEncryption = options.RequestEncryption,
            };
            // Large uploads are journaled in the workspace, so a crash or kill resumes them (`uploads resume`).
            Journal = new UploadJournal(Catalog);
            // So are large downloads (`video get`): a killed one continues from the ranges it already has.
            var downloads = new DownloadJournal(Catalog);
            Cloud = new Backend("aws",
                new S3ObjectStore(Aws.S3, options.VideoBucket!, settings, retry, Journal, downloads),
                new S3ObjectStore(Aws.S3, options.CodeBucket!, settings, retry, Journal, downloads),
                new DynamoMetadataStore(Aws.DynamoDB, options.Table!, retry));
            Sync = new SyncEngine(Local, Cloud, Outbox, _applier, Cache, Health, Audit, options.ConflictPolicy);
            Uploads = new Uploads(Aws.S3, retry, Journal) { Downloads = downloads };
        }
        Delivery = new Delivery.DeliveryService(this);
        _applier.Cdn = Delivery.Invalidations;
        Streaming = new Streaming.TranscodeService(this);
    }

    public static ManimCloudClient Open(ManimCloudOptions options) => new(options);
    public static ManimCloudClient Open() => new(ManimCloudOptions.Load());

    /// <summary>
    /// Answers a read from the cloud when it is reachable (it sees every worker's writes), and from the workspace
    /// when the cloud is not configured, is away, or has not yet received this video's queued changes.
    /// </summary>
    private async Task<T> ReadAsync<T>(VideoId? video, Func<Backend, Task<T>> read, CancellationToken ct)
    {
        if (Cloud is null || Health.IsDown(out _) || (video is { } v && Outbox.HasQueuedFor(v, ""))) return await read(Local);
        try
        {
            return await read(Cloud);
        }
        catch (ManimCloudException e) when (e.IsRetryable)
        {
            Health.MarkDown();
            return await read(Local);
        }
    }

    // ---------------------------------------------------------------- videos

    public async Task<Written<VideoRecord>> CreateVideoAsync(ProjectId project, string title, string? description, IReadOnlyList<string>? tags, CancellationToken ct)
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
        return await RunAsync(op, r => r.Video!, ct);
    }

    public async Task<VideoRecord> GetVideoAsync(VideoId id, CancellationToken ct)
    {
        var fromCloud = false;
        var record = await ReadAsync(id, async b => { fromCloud = b == Cloud; return await VideoRecords.RequireAsync(b.Metadata, id, ct); }, ct);
        if (fromCloud) await Local.Metadata.PutVideosAsync([record], ct);
        return record;
    }

    public async Task<Page<VideoRecord>> ListVideosAsync(ProjectId project, int limit, string? pageToken, CancellationToken ct)
    {
        if (limit is < 1 or > 1000)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"--limit {limit} is out of range.", "Use a limit from 1 to 1000.");
        return await ReadAsync(null, b => b.Metadata.ListVideosAsync(project, limit, pageToken, ct), ct);
    }

    /// <summary>
    /// Changes descriptive fields. With <paramref name="expectedRevision"/>, refuses when the record has moved on
    /// (optimistic concurrency); without it, refuses only when a field being changed was changed by someone else.
    /// </summary>
    public async Task<Written<VideoRecord>> UpdateVideoAsync(VideoId id, string? title, string? description, IReadOnlyList<string>? tags,
        VideoStatus? status, long? expectedRevision, CancellationToken ct, IReadOnlyDictionary<string, double>? stats = null)
    {
        var current = await GetVideoAsync(id, ct);
        if (expectedRevision is { } rev && rev != current.Revision)
            throw new ConcurrencyConflictException(
                $"Video {id} is at revision {current.Revision}, not {rev}; the update was not applied.",
                "Read the video again (`video show`) and reapply your change.");
        var edit = VideoEdit.Against(current, title, description, tags?.Distinct().ToList(), status, stats);
        if (edit.IsEmpty) return new Written<VideoRecord>(current, !Outbox.HasQueuedFor(id, ""), null);
        var op = new EditVideo { Id = Operation.NewId(), Video = id, Edit = edit };
        return await RunAsync(op, r => r.Video!, ct);
    }

    public Task<Written<MediaFile>> PutMediaAsync(VideoId id, MediaSlot slot, string path, CancellationToken ct) =>
        PutMediaAsync(id, slot, path, null, ct);

    /// <summary>
    /// Stores a clip or the full video; <paramref name="progress"/> reports a large upload's bytes, rate and ETA.
    /// <paramref name="version"/>: the code version it was rendered from (default: the current one).
    /// </summary>
    public async Task<Written<MediaFile>> PutMediaAsync(VideoId id, MediaSlot slot, string path, IProgress<TransferProgress>? progress, CancellationToken ct,
        int? version = null)
    {
        MediaValidation.EnsureVideoFile(path);
        var video = await GetVideoAsync(id, ct);
        if (version is { } asked && (asked < 1 || asked > Math.Max(1, video.CurrentVersion)))
            throw new ManimCloudException(ErrorKind.InvalidInput, $"Video {id} has no code version {asked} to store media for.",
                $"Its current version is {video.CurrentVersion}.");
        version ??= Math.Max(1, video.CurrentVersion);
        var (sha, size) = await Blobs.AddFileAsync(path, ct);
        Cache.Touch(sha, size, synced: false);
        var op = new StoreMedia { Id = Operation.NewId(), Video = id, Project = video.Project, Slot = slot, Version = version.Value, Sha256 = sha, Size = size };
        ObjectMetadataKeys.EnsureWithinLimit(OperationApplier.MediaMetadata(op));
        return await RunAsync(op, r => r.Media!, ct, new ApplyOptions(Progress: progress));
    }

    public Task<MediaFile> GetMediaAsync(VideoId id, MediaSlot slot, int? version, string outPath, CancellationToken ct) =>
        GetMediaAsync(id, slot, version, outPath, null, ct);

    /// <summary>Writes a clip or the full video to <paramref name="outPath"/>, verified against its SHA-256; nothing is left at the path on failure.</summary>
    public async Task<MediaFile> GetMediaAsync(VideoId id, MediaSlot slot, int? version, string outPath, IProgress<TransferProgress>? progress, CancellationToken ct)
    {
        var (video, head) = await ReadAsync(id, async b =>
        {
            var v = await VideoRecords.RequireAsync(b.Metadata, id, ct);
            var n = version ?? (v.Media.TryGetValue(slot.Name, out var m) ? m.Version : Math.Max(1, v.CurrentVersion));
            var key = slot.IsFull ? ObjectLayout.FullVideoKey(v.Project, id, n) : ObjectLayout.ClipKey(v.Project, id, n, slot.Scene!.Value);
            var h = await b.Videos.HeadAsync(key, ct)
                ?? throw new ManimCloudException(ErrorKind.NotFound, $"No {slot.Name} for version {n} of video {id} ({b.Videos.Name}/{key}).",
                    "`video show` lists the stored media; `video put` stores it.");
            return (v, h);
        }, ct);
        if (head.Sha256 is { } sha && !Blobs.Contains(sha) && Cloud?.Videos is ITransferringObjectStore engine)
            await FetchFromCloudAsync(head.Key, () => engine.DownloadToFileAsync(head.Key, Path.GetFullPath(outPath), progress, ct)); // parallel ranged, verified
        else
            await WriteVerifiedAsync(head, b => b.Videos, outPath, ct);
        return new MediaFile(head.Key, head.Size, head.Sha256 ?? "", int.Parse(head.Metadata.GetValueOrDefault(ObjectMetadataKeys.Version, "0")), head.LastModified);
    }

    // ---------------------------------------------------------------- code

    public async Task<Written<CodeVersion>> PutCodeAsync(VideoId id, string path, string? author, CodeLockRequest? lockRequest, CancellationToken ct)
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

    /// <param name="prompt">The request a code generator wrote this code from; recorded beside the version.</param>
    public async Task<Written<CodeVersion>> PutCodeAsync(VideoId id, byte[] content, string? author, CodeLockRequest? lockRequest, CancellationToken ct,
        string? prompt = null)
    {
        if (content.Length == 0)
            throw new ManimCloudException(ErrorKind.InvalidInput, "The code is empty.", "Store the scene's Manim code.");
        CodeVersioning.EnsureUtf8(content, "The code");
        var video = await GetVideoAsync(id, ct);
        var op = new StoreCode
        {
            Id = Operation.NewId(), Video = id, Project = video.Project, Sha256 = ContentHash.Sha256Hex(content), Size = content.Length,
            Author = author ?? Environment.UserName, Lock = lockRequest?.Mode ?? LockMode.None, LockedUntil = lockRequest?.RetainUntil,
            Prompt = prompt,
        };
        ObjectMetadataKeys.EnsureWithinLimit(OperationApplier.CodeMetadata(op, int.MaxValue));
        await Blobs.AddAsync(new MemoryStream(content, writable: false), op.Sha256, ct);
        Cache.Touch(op.Sha256, op.Size, synced: false);
        return await RunAsync(op, r => r.Code!, ct);
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
        var head = await ReadAsync(id, b => b.Code.HeadAsync(chosen.Key, ct), ct)
            ?? throw new ManimCloudException(ErrorKind.NotFound, $"Code version {chosen.Version} of video {id} is recorded but its object {chosen.Key} is missing.",
                "Recover it from a previous bucket version, or store the code again.");
        using var buffer = new MemoryStream();
        await using (var s = await OpenVerifiedAsync(head, b => b.Code, ct)) await s.CopyToAsync(buffer, ct);
        return (chosen, buffer.ToArray());
    }

    public Task<IReadOnlyList<CodeVersion>> CodeHistoryAsync(VideoId id, CancellationToken ct) => ReadAsync(id, async b =>
    {
        await VideoRecords.RequireAsync(b.Metadata, id, ct);
        var versions = await b.Metadata.ListCodeVersionsAsync(id, ct);
        if (b.Code is not IObjectLockStore locks) return versions;
        // Lock state comes from the store itself: a retention that ended is no longer a lock.
        var now = DateTimeOffset.UtcNow;
        var withLocks = new List<CodeVersion>(versions.Count);
        foreach (var v in versions)
        {
            var l = v.Lock == LockMode.None ? ObjectLock.None : await locks.GetLockAsync(v.Key, null, ct);
            withLocks.Add(l.IsActive(now) ? v with { Lock = l.Mode, LockedUntil = l.RetainUntil } : v with { Lock = LockMode.None, LockedUntil = null });
        }
        return (IReadOnlyList<CodeVersion>)withLocks;
    }, ct);

    /// <summary>Ids of operations not yet in the cloud: a code version made by one of them has a provisional number.</summary>
    public HashSet<string> QueuedOperationIds() => Outbox.List().Select(e => e.Operation.Id).ToHashSet();

    // ---------------------------------------------------------------- sync

    /// <summary>Drains the outbox to the cloud (SPEC R10). In local-only mode, finishes operations a crash interrupted.</summary>
    public async Task<SyncReport> SyncAsync(IProgress<SyncProgress>? progress, CancellationToken ct) =>
        await SyncAsync(progress, null, ct);

    /// <summary>As <see cref="SyncAsync(IProgress{SyncProgress}?, CancellationToken)"/>, with byte-level progress of large uploads.</summary>
    public async Task<SyncReport> SyncAsync(IProgress<SyncProgress>? progress, IProgress<TransferProgress>? transfers, CancellationToken ct)
    {
        if (Sync is not null) Sync.TransferProgress = transfers;
        if (Sync is null)
        {
            // Local-only: the outbox holds only operations interrupted by a crash; finish them in the workspace.
            var applied = 0;
            foreach (var entry in Outbox.List())
            {
                if (!Outbox.TryTake(entry.Operation.Id)) continue; // another live process is applying it
                await _applier.ApplyAsync(entry.Operation, Local, ApplyOptions.Default, ct);
                Outbox.Remove(entry.Operation.Id);
                applied++;
            }
            Cache.CollectOrphans(OrphanGrace);
            return new SyncReport(applied, [], 0, [], 0, 0, []);
        }
        var report = await Sync.DrainAsync(null, progress, ct);
        Cache.Evict();
        Cache.CollectOrphans(OrphanGrace);
        return report;
    }

    public Task<SyncReport> SyncAsync(CancellationToken ct) => SyncAsync(null, ct);

    /// <summary>How old an unreferenced, unsynced blob must be before `sync` removes it (a writer still at work keeps its blob).</summary>
    private static readonly TimeSpan OrphanGrace = TimeSpan.FromHours(1);

    public IReadOnlyList<OutboxEntry> Conflicts() => Outbox.List(Outbox.Conflicted);

    public Task ResolveConflictAsync(string operationId, bool keepLocal, CancellationToken ct) =>
        (Sync ?? throw new ManimCloudException(ErrorKind.ClientError, "There are no conflicts in local-only mode.", "Configure the cloud first."))
            .ResolveAsync(operationId, keepLocal, ct);

    /// <summary>
    /// The write path. The operation is recorded first; with the cloud reachable and nothing queued ahead of it for
    /// this video, it goes to the cloud and then the workspace before this returns. If the cloud refuses it for good,
    /// it is withdrawn whole. If the cloud is away, it is applied to the workspace and stays queued for `sync`
    /// (unless the caller demands the upload: <see cref="ManimCloudOptions.RequireCloud"/>).
    /// </summary>
    internal async Task<Written<T>> RunAsync<T>(Operation op, Func<OperationResult, T> pick, CancellationToken ct, ApplyOptions? cloudOptions = null)
    {
        var started = DateTimeOffset.UtcNow;
        Outbox.Add(op);
        if (Sync is null)
        {
            // An earlier operation on this video interrupted by a crash goes first, in order.
            foreach (var earlier in Outbox.List().Where(e => e.Operation.Video == op.Video && e.Operation.Id != op.Id && Outbox.TryTake(e.Operation.Id)))
            {
                await _applier.ApplyAsync(earlier.Operation, Local, ApplyOptions.Default, ct);
                Outbox.Remove(earlier.Operation.Id);
            }
            var local = await _applier.ApplyAsync(op, Local, ApplyOptions.Default, ct);
            Outbox.Remove(op.Id);
            Audit.Record(op.Kind, op.Video.ToString(), "ok", "workspace");
            return new Written<T>(pick(local), true, null);
        }

        string? reason = null;
        var attempted = false;
        var queuedAhead = Outbox.HasQueuedFor(op.Video, op.Id);
        if (Options.RequireCloud || (!queuedAhead && !Health.IsDown(out _)))
        {
            try
            {
                if (queuedAhead) await DrainOrFailAsync(op.Video, ct); // RequireCloud: earlier work first, in order
                var (result, _) = await Sync.ApplyEverywhereAsync(op, localApplied: false, null, cloudOptions ?? ApplyOptions.Default, ct);
                Outbox.Remove(op.Id);
                Audit.Record(op.Kind, op.Video.ToString(), "ok", "workspace+aws");
                Cache.Evict();
                return new Written<T>(pick(result), true, null);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested && !Options.RequireCloud)
            {
                // Cancelled (Ctrl-C): the upload's state is kept for resuming, so the operation stays queued too;
                // `uploads resume`, `sync` or running the command again finishes it.
                Outbox.ReleaseAttempted(op.Id, "cancelled while being applied to the cloud");
                Audit.Record(op.Kind, op.Video.ToString(), "cancelled", "kept queued");
                throw;
            }
            catch (Exception e) when (Options.RequireCloud || e is not ManimCloudException { IsRetryable: true })
            {
                // Refused for good (or the caller demands the cloud): nothing of it may remain anywhere, its bytes included.
                Outbox.Remove(op.Id);
                Cache.Release(op.Blobs, started);
                Audit.Record(op.Kind, op.Video.ToString(), "failed", e.Message);
                throw;
            }
            catch (ManimCloudException e)
            {
                Health.MarkDown();
                reason = e.Message;
                attempted = true;
            }
        }
        reason ??= queuedAhead ? "earlier changes to this video are still waiting for the cloud" : "the cloud was unreachable moments ago";

        // Local-first: the workspace takes it now; `sync` takes it to the cloud later, in order.
        var applied = await _applier.ApplyAsync(op, Local, ApplyOptions.Default, ct);
        Outbox.MarkLocalApplied(op.Id, reason, applied.Code?.Version, attempted);
        Audit.Record(op.Kind, op.Video.ToString(), "queued", reason);
        if (queuedAhead && !Health.IsDown(out _))
        {
            // The cloud may be back: try this video's queue now, so the caller sees it synced when possible.
            var report = await Sync.DrainAsync(op.Video, null, ct);
            if (Outbox.Find(op.Id) is null)
            {
                var synced = await ResultAfterSyncAsync(op, applied, ct);
                return new Written<T>(pick(synced), true, null);
            }
            reason = report.Failures.LastOrDefault() ?? reason;
        }
        return new Written<T>(pick(applied), false, reason);
    }

    private async Task DrainOrFailAsync(VideoId video, CancellationToken ct)
    {
        var report = await Sync!.DrainAsync(video, null, ct);
        if (Outbox.List().Any(e => e.Operation.Video == video && e.State == Outbox.Pending))
            throw new ManimCloudException(ErrorKind.Transient, $"Earlier changes to video {video} could not reach the cloud: {report.Failures.LastOrDefault()}",
                "Run `manimcloud sync` when the cloud is reachable, or drop --require-cloud to queue this change too.");
    }

    /// <summary>After a sync, the authoritative view of what the operation produced (code versions may have been renumbered).</summary>
    private async Task<OperationResult> ResultAfterSyncAsync(Operation op, OperationResult local, CancellationToken ct)
    {
        var video = await Local.Metadata.GetVideoAsync(op.Video, ct);
        var code = op is StoreCode ? await CodeVersioning.FindByOperationAsync(Local.Metadata, op.Video, op.Id, ct) : null;
        return new OperationResult(video ?? local.Video, code ?? local.Code, local.Media);
    }

    // ---------------------------------------------------------------- reading objects

    /// <summary>
    /// Opens verified content: from the workspace when the blob is there, else from the cloud — re-caching it, so an
    /// evicted blob comes back transparently — else from the store that answered the head.
    /// </summary>
    private async Task<Stream> OpenVerifiedAsync(StoredObject head, Func<Backend, IObjectStore> storeOf, CancellationToken ct)
    {
        if (head.Sha256 is { } sha)
        {
            if (Blobs.Contains(sha))
            {
                Cache.Touch(sha, head.Size, synced: false);
                return Blobs.OpenRead(sha, head.Key);
            }
            if (Cloud is not null)
            {
                await FetchFromCloudAsync(head.Key, async () =>
                {
                    await using var remote = await storeOf(Cloud).OpenReadAsync(head.Key, null, ct);
                    await Blobs.AddAsync(remote, sha, ct);
                });
                Cache.Touch(sha, head.Size, synced: true);
                Cache.Evict();
                if (Blobs.Contains(sha)) return Blobs.OpenRead(sha, head.Key);
            }
        }
        return await storeOf(Local).OpenReadAsync(head.Key, null, ct);
    }

    /// <summary>Content the workspace does not hold comes from the cloud; if the cloud is away, say exactly that.</summary>
    private async Task FetchFromCloudAsync(string key, Func<Task> fetch)
    {
        try
        {
            await fetch();
        }
        catch (ManimCloudException e) when (e.IsRetryable)
        {
            Health.MarkDown();
            throw new ManimCloudException(e.Kind,
                $"{key} is not in the workspace (evicted from the local cache) and the cloud is unreachable: {e.Message}",
                "Try again when the cloud is reachable; a larger MANIMCLOUD_CACHE_LIMIT keeps more content local.", e);
        }
    }

    private async Task WriteVerifiedAsync(StoredObject head, Func<Backend, IObjectStore> storeOf, string outPath, CancellationToken ct)
    {
        var full = Path.GetFullPath(outPath);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var tmp = full + $".part-{Guid.NewGuid():N}";
        try
        {
            await using (var source = await OpenVerifiedAsync(head, storeOf, ct))
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

/// <summary>The result of a write, and whether it has reached the cloud yet (false: queued, with the reason).</summary>
public sealed record Written<T>(T Value, bool Synced, string? PendingReason);
