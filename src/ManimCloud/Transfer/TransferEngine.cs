using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using Amazon.S3;
using Amazon.S3.Model;
using ManimCloud.Aws;
using ManimCloud.Domain;
using ManimCloud.Resilience;
using ManimCloud.Storage;
using ManimCloud.Workspace;
using ChecksumMode = ManimCloud.Workspace.ChecksumMode;

namespace ManimCloud.Transfer;

/// <summary>
/// Large-object transfers to and from S3 (SPEC R1): multipart uploads with parts read at offsets and sent in
/// parallel (memory bounded by concurrency × part size), a checksum the server verifies on every part, a
/// whole-object check after completion (the FULL_OBJECT CRC32 combined from the parts' CRC32s, or in WhenRequired
/// mode the SHA-256 recorded as metadata), resume across processes from the <see cref="UploadJournal"/>, and ranged
/// parallel downloads verified (CRC32 per range, combined) before they replace the destination.
/// Parts and ranges go through an <see cref="IS3DataPlane"/> — by default the lean <see cref="HttpS3DataPlane"/>
/// where it can address the object, else the SDK — and the control calls through the SDK client.
/// Every request goes through the one <see cref="RetryPipeline"/>; throttling lowers the concurrency (AIMD).
/// </summary>
public sealed class TransferEngine(IAmazonS3 s3, RetryPipeline retry, UploadJournal? journal = null, IS3DataPlane? dataPlane = null,
    DownloadJournal? downloads = null)
{
    private readonly SdkDataPlane _sdk = new(s3);
    private readonly IS3DataPlane? _plane = dataPlane ?? HttpS3DataPlane.For(s3);

    /// <summary>Explains a store's bare refusal of a write (no SSE there, no such storage class), found once per bucket.</summary>
    public StoreRefusal Refusals { get; } = new(s3, retry);

    /// <summary>The lean plane when it can address this object (and upload), else the SDK.</summary>
    private IS3DataPlane PlaneFor(string bucket, string key, string? uploadId = null) =>
        _plane is { } p && p.CanAddress(bucket, key, uploadId) ? p : _sdk;

    /// <summary>
    /// Uploads the file at <paramref name="path"/> as one multipart upload. When the workspace journal holds an
    /// unfinished upload of the same file to the same key (see <see cref="ContinueJournaledAsync"/>: path, size,
    /// modification time, and the journaled parts' CRC32s or, WhenRequired, the SHA-256), that upload is continued and
    /// only the parts S3 does not hold yet are sent; when the file changed, the old upload is aborted and a new one starts.
    /// </summary>
    public async Task<UploadResult> UploadFileAsync(string bucket, string key, string path, UploadOptions options,
        IProgress<TransferProgress>? progress, CancellationToken ct)
    {
        using var source = new FileSource(path);
        return await UploadAsync(source, bucket, key, options, progress, ct);
    }

    /// <summary>Uploads from an open file without moving its position (the object store's entry point).</summary>
    public async Task<UploadResult> UploadFileAsync(string bucket, string key, FileStream file, UploadOptions options,
        IProgress<TransferProgress>? progress, CancellationToken ct)
    {
        using var source = new FileSource(file);
        return await UploadAsync(source, bucket, key, options, progress, ct);
    }

    /// <summary>Uploads from any seekable stream, from its current position. Not journaled: a stream cannot be found again after a crash.</summary>
    public async Task<UploadResult> UploadStreamAsync(string bucket, string key, Stream content, UploadOptions options,
        IProgress<TransferProgress>? progress, CancellationToken ct)
    {
        if (!content.CanSeek) throw new ArgumentException("Multipart uploads need a seekable stream so a failed part can be read again.", nameof(content));
        using var source = new StreamSource(content);
        return await UploadAsync(source, bucket, key, options, progress, ct);
    }

    private static string Resource(string bucket, string key) => $"s3://{bucket}/{key}";

    /// <summary>One upload's state as it goes: which S3 upload, which journal entry, which parts are already stored.</summary>
    private sealed class UploadState(string bucket, string key, long size, string? sha256, long partSize, ChecksumMode mode)
    {
        public string Bucket => bucket;
        public string Key => key;
        public long Size => size;
        /// <summary>The SHA-256 recorded with the object; null when unknown (WhenSupported without a given one).</summary>
        public string? Sha256 { get; set; } = sha256;
        /// <summary>WhenRequired: the whole file's CRC32 from the pass before creation, recorded as metadata; the parts must combine to it.</summary>
        public string? WholeCrc32 { get; init; }
        public ChecksumMode Mode => mode;
        /// <summary>WhenSupported: CRC32 per part and a FULL_OBJECT CRC32; no SHA-256 pass.</summary>
        public bool FullObject => mode != ChecksumMode.WhenRequired;
        public string Integrity => UploadIntegrity.For(mode);
        public long PartSize { get; set; } = partSize;
        public int PartCount => PartSizing.PartCount(size, PartSize);
        public string UploadId { get; set; } = "";
        public string? JournalId { get; set; }
        public string? ResumedFrom { get; set; }
        public Dictionary<int, JournalPart> Stored { get; } = [];
        public string What => Resource(bucket, key);
    }

    private async Task<UploadResult> UploadAsync(PartSource source, string bucket, string key, UploadOptions options,
        IProgress<TransferProgress>? progress, CancellationToken ct)
    {
        ObjectMetadataKeys.EnsureWithinLimit(options.Metadata);
        // WhenSupported: the FULL_OBJECT CRC32 checks the whole object, so no SHA-256 pass; a given SHA-256 is recorded.
        // WhenRequired (no full-object checksum from the store): one pass before S3 is told anything computes the whole
        // file's CRC32, recorded as metadata (downloads verify the file by combining their ranges' CRC32s against it, and
        // the parts sent must combine to it), and verifies a given SHA-256 in the same read. An unknown SHA-256 is not
        // computed, as in WhenSupported: nothing needs it any more, and it was a second SHA-256 of every byte on top of
        // the parts' signed payload hashes. The CRC32 goes into the options' metadata, so the journal's comparison of
        // creation options also tells a changed file from the one an unfinished upload was started with.
        var sha256 = options.Sha256?.ToLowerInvariant();
        string? wholeCrc = null;
        if (options.ChecksumMode == ChecksumMode.WhenRequired)
        {
            (wholeCrc, var actual) = await source.DigestAsync(sha256: sha256 is not null, ct);
            if (sha256 is not null && actual != sha256)
                throw new ManimCloudException(ErrorKind.InvalidInput,
                    $"Uploading {Resource(bucket, key)} stopped before it started: the content's SHA-256 is {actual}, but {sha256} was given for it.",
                    "The file changed after its checksum was taken; upload it again.");
            options = options with { Metadata = new Dictionary<string, string>(options.Metadata) { [ObjectMetadataKeys.Crc32] = wholeCrc } };
        }
        var state = new UploadState(bucket, key, source.Length, sha256, PartSizing.Choose(source.Length, options.PartSize), options.ChecksumMode)
        {
            WholeCrc32 = wholeCrc,
        };
        var journaled = journal is not null && source.Identity is not null;

        if (journaled && await ContinueJournaledAsync(source, state, options, ct) is { } earlier) return earlier;
        if (state.ResumedFrom is null)
        {
            state.UploadId = await CreateAsync(bucket, key, sha256, options, ct);
            if (journaled)
                state.JournalId = journal!.Start(bucket, key, state.UploadId, source.Identity!.Path, state.Size,
                    source.Identity.ModifiedTicks, sha256, state.PartSize, options).Id;
        }

        try
        {
            var limiter = new AdaptiveConcurrency(Math.Max(1, options.Concurrency));
            var meter = new ProgressMeter(state.What, state.Size, state.PartCount, progress, () => limiter.Limit);
            meter.AlreadyDone(state.Stored.Values.Sum(p => p.Size), state.Stored.Count);
            meter.Start();
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var sent = await SendPartsAsync(source, state, options, limiter, meter, stop);
            var parts = Enumerable.Range(1, state.PartCount).Select(n => sent[n]).ToList();
            await EnsureUnchangedAsync(source, state, parts, ct);
            var crc32 = state.FullObject ? FullObjectCrc32(parts) : null;
            var (versionId, confirmed) = await CompleteAsync(state, parts, crc32, ct);
            await VerifyStoredAsync(state, versionId, crc32, confirmed, ct);
            if (state.JournalId is not null) journal!.Remove(state.JournalId);
            meter.Report();
            return new UploadResult(bucket, key, versionId, state.Sha256, state.Size, state.PartCount,
                state.PartCount - state.Stored.Count, state.Stored.Count, state.ResumedFrom, crc32);
        }
        catch (Exception) when (state.JournalId is null)
        {
            // Nothing can resume an upload nobody journaled: do not leave its parts behind.
            await AbortQuietlyAsync(bucket, key, state.UploadId, CancellationToken.None);
            throw;
        }
    }

    /// <summary>
    /// Looks up the journal for an unfinished upload to the same key. The same file (path, size, modification time, and
    /// in WhenRequired mode SHA-256) with the same creation options (metadata, type, encryption, class, checksum mode)
    /// continues it with the parts S3 still holds; anything else aborts it. In WhenSupported mode every journaled part
    /// is read again and its CRC32 compared with the journal's, so a file rewritten in place (same size and time)
    /// starts over too. Returns a result when the earlier run had in fact completed it.
    /// </summary>
    private async Task<UploadResult?> ContinueJournaledAsync(PartSource source, UploadState state, UploadOptions options, CancellationToken ct)
    {
        if (journal!.Find(state.Bucket, state.Key) is not { } previous) return null;
        var identity = source.Identity!;
        var journaledParts = journal.Parts(previous.Id);
        var same = previous.Path == identity.Path && previous.Size == state.Size && previous.ModifiedTicks == identity.ModifiedTicks
            && previous.Integrity == state.Integrity && previous.CreatedWith(options)
            && (state.FullObject
                // A SHA-256 given now must be the one the upload was created with (it is recorded as metadata).
                ? (state.Sha256 is null || state.Sha256 == previous.Sha256) && await PartsUnchangedAsync(source, previous, journaledParts, ct)
                : previous.Sha256 == (state.Sha256 ?? ""));
        if (!same)
        {
            await AbortQuietlyAsync(state.Bucket, state.Key, previous.UploadId, ct);
            journal.Remove(previous.Id);
            return null;
        }
        if (await ListPartsAsync(state.Bucket, state.Key, previous.UploadId, ct) is not { } held)
        {
            journal.Remove(previous.Id);
            if (previous.Sha256.Length > 0) state.Sha256 = previous.Sha256;
            // Gone from S3: completed by a run that died before it could forget it, or aborted/expired.
            var crc32 = state.FullObject && journaledParts.Count == previous.PartCount ? FullObjectCrc32(journaledParts) : null;
            return await CompletedEarlierAsync(state, crc32, ct) is { } head
                ? new UploadResult(state.Bucket, state.Key, NullVersion(head.VersionId), state.Sha256, state.Size,
                    previous.PartCount, 0, previous.PartCount, previous.UploadId, crc32)
                : null;
        }

        (state.UploadId, state.JournalId, state.ResumedFrom, state.PartSize) = (previous.UploadId, previous.Id, previous.UploadId, previous.PartSize);
        // The upload was created with this SHA-256 as metadata (a resume by id does not know it).
        if (previous.Sha256.Length > 0) state.Sha256 = previous.Sha256;
        var stale = new List<int>();
        foreach (var part in journaledParts)
        {
            // Trust a part only when S3 still holds exactly what the journal says was sent.
            if (held.TryGetValue(part.Number, out var h) && h.Size == part.Size && SameETag(h.ETag, part.ETag)) state.Stored[part.Number] = part;
            else stale.Add(part.Number);
        }
        if (stale.Count > 0) journal.ForgetParts(previous.Id, stale);
        foreach (var part in await AdoptUnjournaledPartsAsync(source, held, state, ct))
        {
            journal.PartDone(previous.Id, part);
            state.Stored[part.Number] = part;
        }
        return null;
    }

    /// <summary>
    /// Whether the journaled parts still describe the file: each part's range read again and its CRC32 compared with the
    /// one it was sent with (a cheap pass over what was sent, instead of a SHA-256 of the whole file).
    /// </summary>
    private static async Task<bool> PartsUnchangedAsync(PartSource source, JournalEntry previous, IReadOnlyList<JournalPart> parts, CancellationToken ct)
    {
        if (parts.Count == 0) return true;
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(previous.PartSize, Math.Max(previous.Size, 1)));
        try
        {
            foreach (var part in parts)
            {
                if (part.Number < 1 || part.Number > previous.PartCount) return false;
                var (offset, length) = PartSizing.Range(part.Number, previous.Size, previous.PartSize);
                if (length != part.Size) return false;
                await source.ReadAsync(offset, buffer.AsMemory(0, length), ct);
                if (Crc32Math.ToBase64(Crc32Math.Of(buffer.AsSpan(0, length))) != part.Checksum) return false;
            }
            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The whole object's CRC32 (base64) from its parts' CRC32s, in part order.</summary>
    private static string FullObjectCrc32(IEnumerable<JournalPart> parts) =>
        Crc32Math.ToBase64(Crc32Math.Combine(parts.OrderBy(p => p.Number).Select(p =>
            (Crc32Math.TryParse(p.Checksum, out var c) ? c : throw new InvalidOperationException($"Part {p.Number} has no CRC32 in the journal."), p.Size))));

    /// <summary>
    /// Sends every part S3 does not hold yet, <c>Concurrency</c> at a time: each checksummed in one pass through its
    /// worker's small buffer, then streamed from the source as it is sent (so memory does not grow with part size),
    /// retried through the pipeline and journaled as soon as S3 confirms it.
    /// </summary>
    private async Task<IReadOnlyDictionary<int, JournalPart>> SendPartsAsync(PartSource source, UploadState state, UploadOptions options,
        AdaptiveConcurrency limiter, ProgressMeter meter, CancellationTokenSource stop)
    {
        var sent = new ConcurrentDictionary<int, JournalPart>(state.Stored);
        var plane = PlaneFor(state.Bucket, state.Key, state.UploadId);
        var pending = new ConcurrentQueue<int>(Enumerable.Range(1, state.PartCount).Where(n => !state.Stored.ContainsKey(n)));
        await RunWorkersAsync(Math.Min(limiter.Max, pending.Count), (int)Math.Min(HashChunk, Math.Max(state.Size, 1)), stop, async buffer =>
        {
            while (pending.TryDequeue(out var number))
            {
                var (offset, length) = PartSizing.Range(number, state.Size, state.PartSize);
                var checks = await PartChecksum.ComputeAsync(state.Mode, plane.WantsPayloadSha256, source, offset, length,
                    buffer.AsMemory(0, Math.Min(buffer.Length, HashChunk)), stop.Token);
                var upload = new PartUpload(state.Bucket, state.Key, state.UploadId, number, source.Part(offset, length), number == state.PartCount,
                    checks.Crc32Header, checks.ContentMd5, checks.Sha256Hex);
                var etag = await AwsCall.RunAsync(retry, $"Uploading part {number}/{state.PartCount} of", state.What,
                    t => plane.UploadPartAsync(upload, t), stop.Token, limiter);
                var part = new JournalPart(number, length, checks.Crc32, etag);
                if (state.JournalId is not null) journal!.PartDone(state.JournalId, part);
                sent[number] = part;
                meter.PartDone(length);
            }
        });
        return sent;
    }

    /// <summary>
    /// Runs <paramref name="workers"/> loops, each with one pooled buffer (so memory is workers × buffer size).
    /// The first real failure stops the others and is rethrown, not their cancellations.
    /// </summary>
    private static async Task RunWorkersAsync(int workers, int bufferSize, CancellationTokenSource stop, Func<byte[], Task> work)
    {
        var tasks = Enumerable.Range(0, Math.Max(1, workers)).Select(_ => Task.Run(async () =>
        {
            var buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
            try
            {
                await work(buffer);
            }
            catch
            {
                stop.Cancel();
                throw;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }, stop.Token)).ToList();
        try
        {
            await Task.WhenAll(tasks);
        }
        catch (Exception)
        {
            var failures = tasks.Where(w => w.IsFaulted).Select(w => w.Exception!.InnerException!).ToList();
            var first = failures.FirstOrDefault(e => e is not OperationCanceledException);
            if (first is null) throw;
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(first).Throw();
        }
    }

    /// <summary>
    /// Before completing: the file is still the one that was read, and (WhenRequired) the parts sent combine to the CRC32
    /// recorded at creation, so the metadata's SHA-256 and CRC32 describe the bytes stored.
    /// </summary>
    private async Task EnsureUnchangedAsync(PartSource source, UploadState state, IReadOnlyList<JournalPart> parts, CancellationToken ct)
    {
        if (state.WholeCrc32 is { } recorded && FullObjectCrc32(parts) is var combined && combined != recorded)
        {
            await DiscardAsync(state, ct);
            throw new ManimCloudException(ErrorKind.Conflict,
                $"Uploading {state.What} stopped: the parts sent have CRC32 {combined}, the file had {recorded} when the upload started.",
                "The file changed while it was being uploaded; wait until nothing writes it any more, then upload it again (the interrupted upload was aborted).");
        }
        if (source.Identity is { } identity && FileIdentity.Of(identity.Path) != identity)
        {
            await DiscardAsync(state, ct);
            throw new ManimCloudException(ErrorKind.Conflict,
                $"Uploading {state.What} stopped: {identity.Path} changed while it was being uploaded.",
                "Wait until nothing writes the file any more, then upload it again (the interrupted upload was aborted).");
        }
    }

    /// <summary>
    /// Parts S3 stored whose confirmation never reached the journal (in flight when the process died). They are kept
    /// when their ETag is the MD5 of the local bytes (or S3 reports the same checksum), so they are not sent again.
    /// </summary>
    private static async Task<List<JournalPart>> AdoptUnjournaledPartsAsync(PartSource source, Dictionary<int, PartDetail> held,
        UploadState state, CancellationToken ct)
    {
        var adopted = new List<JournalPart>();
        foreach (var (number, s) in held)
        {
            if (state.Stored.ContainsKey(number) || number < 1 || number > state.PartCount) continue;
            var (offset, length) = PartSizing.Range(number, state.Size, state.PartSize);
            if (s.Size != length) continue;
            var buffer = ArrayPool<byte>.Shared.Rent(length);
            try
            {
                await source.ReadAsync(offset, buffer.AsMemory(0, length), ct);
                var data = buffer.AsSpan(0, length);
                var checksum = Crc32Math.ToBase64(Crc32Math.Of(data));
                var md5 = Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(data));
                var reported = state.FullObject ? s.ChecksumCRC32 : null;
                if (SameETag(s.ETag, md5) || reported == checksum) adopted.Add(new JournalPart(number, length, checksum, s.ETag));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        return adopted;
    }

    private static bool SameETag(string? a, string? b) => string.Equals(a?.Trim('"'), b?.Trim('"'), StringComparison.OrdinalIgnoreCase);

    private static string? NullVersion(string? v) => v is null or "null" ? null : v;

    private async Task<string> CreateAsync(string bucket, string key, string? sha256, UploadOptions options, CancellationToken ct)
    {
        var request = new InitiateMultipartUploadRequest { BucketName = bucket, Key = key, ContentType = options.ContentType };
        foreach (var (k, v) in options.Metadata) request.Metadata[k] = v;
        if (sha256 is not null) request.Metadata[ObjectMetadataKeys.Sha256] = sha256;
        S3ObjectStore.Encrypt(options.KmsKeyId, options.RequestEncryption,
            e => request.ServerSideEncryptionMethod = e, k => request.ServerSideEncryptionKeyManagementServiceKeyId = k);
        if (options.StorageClass is { } storageClass) request.StorageClass = S3StorageClass.FindValue(storageClass);
        request.ChecksumAlgorithm = PartChecksum.Algorithm(options.ChecksumMode);
        if (request.ChecksumAlgorithm is not null) request.ChecksumType = ChecksumType.FULL_OBJECT;
        var attempts = 0;
        InitiateMultipartUploadResponse response;
        try
        {
            response = await AwsCall.RunAsync(retry, "Starting multipart upload of", Resource(bucket, key), t =>
            {
                attempts++;
                return s3.InitiateMultipartUploadAsync(request, t);
            }, ct);
        }
        catch (ManimCloudException e) when (StoreRefusal.Suspected(e, request.ServerSideEncryptionMethod?.Value, options.StorageClass))
        {
            throw await Refusals.ExplainAsync(e, bucket, key, request.ServerSideEncryptionMethod?.Value, options.StorageClass, ct);
        }
        if (attempts > 1) await AbortLostCreationsAsync(bucket, key, response.UploadId, ct);
        return response.UploadId;
    }

    /// <summary>
    /// A retried CreateMultipartUpload may have created an upload whose answer was lost; nobody knows its id, so
    /// abort the other uploads of exactly this key that the journal does not know. (Initiated times cannot narrow
    /// it down: S3-compatible servers report them unreliably.) Another machine uploading the very same key at this
    /// moment would lose its upload and start it again; keys carry the version, so that is already a conflict.
    /// </summary>
    private async Task AbortLostCreationsAsync(string bucket, string key, string ours, CancellationToken ct)
    {
        var known = journal?.List().Select(e => e.UploadId).ToHashSet() ?? [];
        var page = await AwsCall.RunAsync(retry, "Listing multipart uploads of", Resource(bucket, key),
            t => s3.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = bucket, Prefix = key }, t), ct);
        foreach (var u in page.MultipartUploads ?? [])
            if (u.Key == key && u.UploadId != ours && !known.Contains(u.UploadId))
                await AbortQuietlyAsync(bucket, key, u.UploadId, ct);
    }

    /// <summary>The parts S3 holds for an upload, or null when the upload no longer exists (completed, aborted or expired).</summary>
    private async Task<Dictionary<int, PartDetail>?> ListPartsAsync(string bucket, string key, string uploadId, CancellationToken ct)
    {
        var parts = new Dictionary<int, PartDetail>();
        int? marker = null;
        try
        {
            while (true)
            {
                var page = await AwsCall.RunAsync(retry, "Listing parts of", Resource(bucket, key), t => s3.ListPartsAsync(new ListPartsRequest
                {
                    BucketName = bucket, Key = key, UploadId = uploadId, PartNumberMarker = marker?.ToString(),
                }, t), ct);
                foreach (var p in page.Parts ?? []) parts[p.PartNumber ?? 0] = p;
                if (page.IsTruncated != true) return parts;
                marker = page.NextPartNumberMarker;
            }
        }
        catch (ManimCloudException e) when (e.Kind == ErrorKind.NotFound && e.InnerException is AmazonS3Exception { ErrorCode: "NoSuchUpload" })
        {
            return null;
        }
    }

    /// <summary>
    /// Completes the upload. With a FULL_OBJECT CRC32 the request carries it (S3 checks it against the bytes it holds);
    /// returns the version and whether the answer already confirmed the checksum.
    /// </summary>
    private async Task<(string? VersionId, bool Confirmed)> CompleteAsync(UploadState state, List<JournalPart> parts, string? crc32, CancellationToken ct)
    {
        var attempts = 0;
        try
        {
            var response = await AwsCall.RunAsync(retry, "Completing multipart upload of", state.What, t =>
            {
                attempts++;
                var request = new CompleteMultipartUploadRequest
                {
                    BucketName = state.Bucket, Key = state.Key, UploadId = state.UploadId,
                    PartETags = parts.Select(p => PartChecksum.ToPartETag(p.Number, p.ETag, state.Mode, p.Checksum)).ToList(),
                };
                if (crc32 is not null)
                {
                    request.ChecksumCRC32 = crc32;
                    request.ChecksumType = ChecksumType.FULL_OBJECT;
                    request.MpuObjectSize = state.Size;
                }
                return s3.CompleteMultipartUploadAsync(request, t);
            }, ct);
            if (crc32 is not null && response.ChecksumCRC32 is { Length: > 0 } returned && returned != crc32)
                throw IntegrityFailure(state, $"the store computed the CRC32 {returned}, ours is {crc32}");
            return (NullVersion(response.VersionId), crc32 is not null && response.ChecksumCRC32 == crc32
                && (response.ChecksumType is null || response.ChecksumType == ChecksumType.FULL_OBJECT));
        }
        catch (ManimCloudException e) when (attempts > 1 && e.InnerException is AmazonS3Exception { ErrorCode: "NoSuchUpload" })
        {
            // An earlier attempt completed it and its answer was lost on the way back.
            var head = await CompletedEarlierAsync(state, crc32, ct);
            if (head is null) throw;
            return (NullVersion(head.VersionId), crc32 is not null);
        }
    }

    /// <summary>
    /// The current object when it is exactly this content, else null: same size, and its FULL_OBJECT CRC32 equal to the
    /// one combined from the journaled parts, or its recorded SHA-256 equal to ours.
    /// </summary>
    private async Task<GetObjectMetadataResponse?> CompletedEarlierAsync(UploadState state, string? crc32, CancellationToken ct)
    {
        try
        {
            var head = await AwsCall.RunAsync(retry, "Reading", state.What, t => s3.GetObjectMetadataAsync(new GetObjectMetadataRequest
            {
                BucketName = state.Bucket, Key = state.Key, ChecksumMode = crc32 is null ? null : Amazon.S3.ChecksumMode.ENABLED,
            }, t), ct);
            if (head.ContentLength != state.Size) return null;
            if (crc32 is not null && head.ChecksumCRC32 == crc32) return head;
            return state.Sha256 is not null && head.Metadata[$"x-amz-meta-{ObjectMetadataKeys.Sha256}"] == state.Sha256 ? head : null;
        }
        catch (ManimCloudException e) when (e.InnerException is AmazonS3Exception { StatusCode: HttpStatusCode.NotFound, ErrorCode: not "NoSuchBucket" })
        {
            return null;
        }
    }

    /// <summary>
    /// After completion: the stored object has the file's size, the FULL_OBJECT CRC32 the store computed equals the one
    /// combined from the parts (unless the completion already confirmed it), and a recorded SHA-256 is ours.
    /// </summary>
    private async Task VerifyStoredAsync(UploadState state, string? versionId, string? crc32, bool confirmed, CancellationToken ct)
    {
        if (confirmed) return;
        var head = await AwsCall.RunAsync(retry, "Verifying", state.What, t => s3.GetObjectMetadataAsync(new GetObjectMetadataRequest
        {
            BucketName = state.Bucket, Key = state.Key, VersionId = versionId,
            ChecksumMode = crc32 is null ? null : Amazon.S3.ChecksumMode.ENABLED,
        }, t), ct);
        if (head.ContentLength != state.Size)
            throw IntegrityFailure(state, $"the store holds {head.ContentLength} bytes, the file has {state.Size}");
        if (crc32 is not null && head.ChecksumCRC32 is { Length: > 0 } stored && stored != crc32)
            throw IntegrityFailure(state, $"the store computed the full-object CRC32 {stored}"
                + (head.ChecksumType is { } type ? $" ({type})" : "") + $", the parts combine to {crc32}");
        var recorded = head.Metadata[$"x-amz-meta-{ObjectMetadataKeys.Sha256}"];
        if (state.Sha256 is not null && recorded != state.Sha256)
            throw IntegrityFailure(state, $"it records SHA-256 '{recorded}', expected {state.Sha256}");
    }

    private static ManimCloudException IntegrityFailure(UploadState state, string detail) =>
        new(ErrorKind.Fatal, $"Integrity check failed for {state.What} after upload: {detail}.",
            "Another writer may have replaced the object at the same moment; upload it again and check who else writes this key.");

    /// <summary>The checksum pass reads a part through a buffer this size (per worker).</summary>
    private const int HashChunk = 256 << 10;

    /// <summary>A ranged GET's body is read, checksummed and written in pieces this size (per worker).</summary>
    private const int WriteChunk = 64 << 10;

    /// <summary>Aborts an upload that cannot be completed any more and forgets it.</summary>
    private async Task DiscardAsync(UploadState state, CancellationToken ct)
    {
        await AbortQuietlyAsync(state.Bucket, state.Key, state.UploadId, ct);
        if (state.JournalId is not null) journal!.Remove(state.JournalId);
    }

    /// <summary>Aborts a multipart upload; one that no longer exists counts as aborted.</summary>
    public async Task AbortAsync(string bucket, string key, string uploadId, CancellationToken ct)
    {
        try
        {
            await AwsCall.RunAsync(retry, "Aborting multipart upload of", Resource(bucket, key), t => s3.AbortMultipartUploadAsync(
                new AbortMultipartUploadRequest { BucketName = bucket, Key = key, UploadId = uploadId }, t), ct);
        }
        catch (ManimCloudException e) when (e.InnerException is AmazonS3Exception { ErrorCode: "NoSuchUpload" })
        {
        }
    }

    private async Task AbortQuietlyAsync(string bucket, string key, string uploadId, CancellationToken ct)
    {
        try { await AbortAsync(bucket, key, uploadId, ct); }
        catch (ManimCloudException) { /* the bucket's lifecycle rule aborts incomplete uploads after 7 days */ }
    }

    /// <summary>
    /// Downloads an object (or one version) with parallel ranged GETs into a temporary file beside
    /// <paramref name="destination"/>, verifies it, and only then renames it over the destination. Every range's CRC32
    /// is computed on the worker's buffer as it arrives; an object with a FULL_OBJECT CRC32 is verified by combining them
    /// in order at the end (no second pass), any other is read again for the SHA-256 recorded with it. With a
    /// <see cref="DownloadJournal"/> each written range is journaled, so a download killed half-way continues in the
    /// next process from the ranges it has (read back and checked against their CRC32 first) instead of starting over;
    /// without one, a failure or cancellation deletes the temporary file. The destination is never half-written.
    /// <see cref="DownloadOptions.Durable"/> flushes the file to disk before the rename.
    /// </summary>
    public async Task<DownloadResult> DownloadFileAsync(string bucket, string key, string? versionId, string destination,
        DownloadOptions options, IProgress<TransferProgress>? progress, CancellationToken ct)
    {
        var what = Resource(bucket, key);
        var head = await AwsCall.RunAsync(retry, "Reading", what, t => s3.GetObjectMetadataAsync(new GetObjectMetadataRequest
        {
            BucketName = bucket, Key = key, VersionId = versionId, ChecksumMode = Amazon.S3.ChecksumMode.ENABLED,
        }, t), ct);
        var size = head.ContentLength;
        var version = NullVersion(head.VersionId);
        var expected = head.Metadata[$"x-amz-meta-{ObjectMetadataKeys.Sha256}"];
        // A plain CRC32 (not a composite "…-N") of type FULL_OBJECT, or of an object that was never multipart.
        uint? storedCrc = (head.ChecksumType is null || head.ChecksumType == ChecksumType.FULL_OBJECT)
            && Crc32Math.TryParse(head.ChecksumCRC32, out var c) ? c : null;
        // Else the whole file's CRC32 a WhenRequired upload recorded as metadata (Ceph RGW and other stores without
        // flexible checksums): the same check, with the ranges' CRC32s combined; only without either is the file read
        // again for its SHA-256.
        var crcSource = storedCrc is null ? "recorded" : "full-object";
        storedCrc ??= Crc32Math.TryParse(head.Metadata[$"x-amz-meta-{ObjectMetadataKeys.Crc32}"], out var m) ? m : null;
        var partSize = Math.Max(1L << 20, options.PartSize);
        var partCount = size == 0 ? 0 : PartSizing.PartCount(size, partSize);
        var crcs = new uint[partCount];
        var limiter = new AdaptiveConcurrency(Math.Max(1, options.Concurrency));
        var meter = new ProgressMeter(what, size, partCount, progress, () => limiter.Limit);
        var plane = PlaneFor(bucket, key);
        var ifMatch = version is null ? head.ETag : null;
        var which = $"{what}{(version is null ? "" : $" (version {version})")}";

        var full = Path.GetFullPath(destination);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var (entry, temp, have) = await ResumableDownloadAsync(bucket, key, version, head.ETag ?? "", full, size, partSize, ct);
        foreach (var range in have) crcs[range.Number - 1] = range.Crc32;
        meter.AlreadyDone(have.Sum(r => r.Size), have.Count);
        meter.Start();
        var keepForResume = false;
        try
        {
            var resumed = File.Exists(temp);
            using (var handle = File.OpenHandle(temp, resumed ? FileMode.Open : FileMode.CreateNew, FileAccess.ReadWrite,
                FileShare.None, FileOptions.None, resumed ? 0 : size))
            {
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
                var writing = new object();
                var done = have.Select(r => r.Number).ToHashSet();
                var pending = new ConcurrentQueue<int>(Enumerable.Range(1, partCount).Where(n => !done.Contains(n)));
                try
                {
                    await RunWorkersAsync(Math.Min(limiter.Max, Math.Max(1, pending.Count)), (int)Math.Min(WriteChunk, Math.Max(size, 1)), stop, async buffer =>
                    {
                        while (pending.TryDequeue(out var number))
                        {
                            var (offset, length) = PartSizing.Range(number, size, partSize);
                            // Pin the version (or, unversioned, the ETag) so parts of two different objects never mix.
                            var range = new RangeRead(bucket, key, version, ifMatch, offset, length);
                            // Inside the retried call: a connection cut mid-body fetches the range again (and its CRC32 starts over).
                            await AwsCall.RunAsync(retry, $"Downloading part {number}/{partCount} of", what, async t =>
                            {
                                var crc = new System.IO.Hashing.Crc32();
                                // Streamed: each 64 KiB piece of the body is checksummed and written as it arrives, so a range
                                // in flight holds one 64 KiB buffer, not its whole size (memory no longer grows with
                                // concurrency × part size), and every byte is read once, from the socket.
                                // 64 KiB writes: the page cache gets folios the size of each write, and on VMs whose host takes back
                                // freed memory (free page reporting; it reports free blocks of 2 MiB and more) large folios come from
                                // memory the host must fault in again on first touch. 1 MiB writes spent 0.4 to 2.5 s of system time
                                // per GiB in that copy, 64 KiB writes ~0.6 s (docs/benchmarks.md).
                                // One writer at a time: parallel writers to one file queue on its inode lock, and the kernel spins
                                // while it waits (a sixth of the download's CPU in a profile); the ranges still arrive in parallel.
                                // A plain pwrite under a lock: a page-cache copy seldom waits for the disk.
                                await plane.ReadRangeAsync(range, buffer, (piece, at) =>
                                {
                                    crc.Append(piece);
                                    lock (writing) RandomAccess.Write(handle, piece, offset + at);
                                }, t);
                                crcs[number - 1] = crc.GetCurrentHashAsUInt32();
                                return true;
                            }, stop.Token, limiter);
                            if (entry is not null) downloads!.RangeDone(entry.Id, new DownloadRange(number, length, crcs[number - 1]));
                            meter.PartDone(length);
                        }
                    });
                }
                catch (Exception e) when (entry is not null && (e is OperationCanceledException || AwsErrors.Classify(e) is ErrorKind.Transient or ErrorKind.Throttled))
                {
                    // The ranges written so far stay for the next attempt (`video get` again continues from them).
                    keepForResume = true;
                    throw;
                }
                if (options.Durable) RandomAccess.FlushToDisk(handle);
            }

            string? actual = null;
            if (storedCrc is { } want)
            {
                var got = Crc32Math.Combine(crcs.Select((crc, i) => (crc, (long)PartSizing.Range(i + 1, size, partSize).Length)));
                if (got != want)
                    throw new ManimCloudException(ErrorKind.Fatal,
                        $"Integrity check failed for {which}: the downloaded bytes have CRC32 {Crc32Math.ToBase64(got)}, the object's {crcSource} CRC32 is {Crc32Math.ToBase64(want)}.",
                        "The bytes were damaged on the way or the stored copy was replaced meanwhile; download again, and if it fails again restore a previous version (bucket versioning).");
            }
            else
            {
                (actual, _) = await ContentHash.OfFileAsync(temp, ct);
                if (!string.IsNullOrEmpty(expected) && !string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
                    throw new ManimCloudException(ErrorKind.Fatal,
                        $"Integrity check failed for {which}: the downloaded SHA-256 is {actual}, the object records {expected}.",
                        "The stored copy is damaged or was replaced outside ManimCloud; restore a previous version (bucket versioning) and download again.");
            }
            File.Move(temp, full, overwrite: true);
            if (entry is not null) downloads!.Remove(entry.Id);
            return new DownloadResult(bucket, key, version, actual ?? NullIfEmpty(expected), size,
                storedCrc is { } crc ? Crc32Math.ToBase64(crc) : null);
        }
        catch when (!keepForResume)
        {
            try { File.Delete(temp); } catch (IOException) { }
            if (entry is not null) downloads!.Remove(entry.Id);
            throw;
        }
    }

    /// <summary>
    /// Without a journal: a new temporary file, nothing done. With one: the journaled download of this object to this
    /// destination when it is still the same object (version, or ETag when unversioned, and size) and its temporary file
    /// is there — with the ranges whose bytes, read back, still have their journaled CRC32 — else a fresh start.
    /// </summary>
    private async Task<(DownloadEntry? Entry, string Temp, List<DownloadRange> Have)> ResumableDownloadAsync(string bucket, string key,
        string? version, string etag, string destination, long size, long partSize, CancellationToken ct)
    {
        if (downloads is null) return (null, NewPartialPath(destination), []);
        if (downloads.Find(bucket, key, destination) is { } previous)
        {
            if (previous.VersionId == version && previous.ETag == etag && previous.Size == size && previous.PartSize == partSize
                && File.Exists(previous.PartialPath))
            {
                var have = new List<DownloadRange>();
                var stale = new List<int>();
                using (var handle = File.OpenHandle(previous.PartialPath, FileMode.Open, FileAccess.Read))
                {
                    var buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
                    try
                    {
                        foreach (var range in downloads.Ranges(previous.Id))
                        {
                            var (offset, length) = PartSizing.Range(range.Number, size, partSize);
                            // (The file may be shorter than the object: preallocation keeps its size, and the last range may not be written.)
                            if (length == range.Size && await CrcOfAsync(handle, offset, length, buffer, ct) == range.Crc32) have.Add(range);
                            else stale.Add(range.Number);
                        }
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                    }
                }
                if (stale.Count > 0) downloads.Forget(previous.Id, stale);
                return (previous, previous.PartialPath, have);
            }
            // Another object (replaced meanwhile), or its temporary file is gone: start over.
            try { File.Delete(previous.PartialPath); } catch (IOException) { }
            downloads.Remove(previous.Id);
        }
        var temp = NewPartialPath(destination);
        return (downloads.Start(bucket, key, version, etag, destination, temp, size, partSize), temp, []);
    }

    /// <summary>The CRC32 of <paramref name="length"/> bytes of the file at <paramref name="offset"/>, or null when the file ends before them.</summary>
    private static async Task<uint?> CrcOfAsync(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long offset, int length, byte[] buffer, CancellationToken ct)
    {
        var crc = new System.IO.Hashing.Crc32();
        for (var at = 0; at < length; )
        {
            var n = await RandomAccess.ReadAsync(handle, buffer.AsMemory(0, Math.Min(buffer.Length, length - at)), offset + at, ct);
            if (n == 0) return null;
            crc.Append(buffer.AsSpan(0, n));
            at += n;
        }
        return crc.GetCurrentHashAsUInt32();
    }

    private static string NewPartialPath(string destination) =>
        $"{destination}.{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4))}.partial";

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s.ToLowerInvariant();
}
