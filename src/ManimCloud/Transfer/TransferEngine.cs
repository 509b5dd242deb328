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
/// parallel (memory bounded by concurrency × part size), a checksum the server verifies on every part, the
/// whole-object SHA-256 recorded as metadata and checked after completion, resume across processes from the
/// <see cref="UploadJournal"/>, and ranged parallel downloads verified before they replace the destination.
/// Every request goes through the one <see cref="RetryPipeline"/>; throttling lowers the concurrency (AIMD).
/// </summary>
public sealed class TransferEngine(IAmazonS3 s3, RetryPipeline retry, UploadJournal? journal = null)
{
    /// <summary>
    /// Uploads the file at <paramref name="path"/> as one multipart upload. When the workspace journal holds an
    /// unfinished upload of the same file (path, size, modification time and SHA-256) to the same key, that upload
    /// is continued and only the parts S3 does not hold yet are sent; when the file changed, the old upload is
    /// aborted and a new one starts.
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
    private sealed class UploadState(string bucket, string key, long size, string sha256, long partSize)
    {
        public string Bucket => bucket;
        public string Key => key;
        public long Size => size;
        public string Sha256 => sha256;
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
        // A known SHA-256 is verified while the parts go up; an unknown one must be known before S3 is told it.
        var sha256 = options.Sha256?.ToLowerInvariant() ?? await source.Sha256Async(ct);
        var state = new UploadState(bucket, key, source.Length, sha256, PartSizing.Choose(source.Length, options.PartSize));
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
            var verification = options.Sha256 is null ? null : Task.Run(() => source.Sha256Async(stop.Token), stop.Token);
            IReadOnlyDictionary<int, JournalPart> sent;
            try
            {
                sent = await SendPartsAsync(source, state, options, limiter, meter, stop);
            }
            catch
            {
                // Stop the verification pass too, and let it end before its source is disposed.
                stop.Cancel();
                if (verification is not null) await Task.WhenAny(verification);
                throw;
            }
            await EnsureUnchangedAsync(source, state, verification, ct);

            var parts = Enumerable.Range(1, state.PartCount).Select(n => sent[n]).ToList();
            var versionId = await CompleteAsync(state, parts, options.ChecksumMode, ct);
            await VerifyStoredAsync(bucket, key, versionId, sha256, state.Size, ct);
            if (state.JournalId is not null) journal!.Remove(state.JournalId);
            meter.Report();
            return new UploadResult(bucket, key, versionId, sha256, state.Size, state.PartCount,
                state.PartCount - state.Stored.Count, state.Stored.Count, state.ResumedFrom);
        }
        catch (Exception) when (state.JournalId is null)
        {
            // Nothing can resume an upload nobody journaled: do not leave its parts behind.
            await AbortQuietlyAsync(bucket, key, state.UploadId, CancellationToken.None);
            throw;
        }
    }

    /// <summary>
    /// Looks up the journal for an unfinished upload to the same key. The same file (path, size, modification time,
    /// SHA-256) with the same creation options (metadata, type, encryption, class, checksum mode) continues it with the
    /// parts S3 still holds; anything else aborts it. Returns a result when the earlier run had in fact completed it.
    /// </summary>
    private async Task<UploadResult?> ContinueJournaledAsync(PartSource source, UploadState state, UploadOptions options, CancellationToken ct)
    {
        if (journal!.Find(state.Bucket, state.Key) is not { } previous) return null;
        var identity = source.Identity!;
        var same = previous.Path == identity.Path && previous.Size == state.Size && previous.ModifiedTicks == identity.ModifiedTicks
            && previous.Sha256 == state.Sha256 && previous.CreatedWith(options);
        if (!same)
        {
            await AbortQuietlyAsync(state.Bucket, state.Key, previous.UploadId, ct);
            journal.Remove(previous.Id);
            return null;
        }
        if (await ListPartsAsync(state.Bucket, state.Key, previous.UploadId, ct) is not { } held)
        {
            journal.Remove(previous.Id);
            // Gone from S3: completed by a run that died before it could forget it, or aborted/expired.
            return await CompletedEarlierAsync(state.Bucket, state.Key, state.Sha256, state.Size, ct) is { } head
                ? new UploadResult(state.Bucket, state.Key, NullVersion(head.VersionId), state.Sha256, state.Size,
                    previous.PartCount, 0, previous.PartCount, previous.UploadId)
                : null;
        }

        (state.UploadId, state.JournalId, state.ResumedFrom, state.PartSize) = (previous.UploadId, previous.Id, previous.UploadId, previous.PartSize);
        var stale = new List<int>();
        foreach (var part in journal.Parts(previous.Id))
        {
            // Trust a part only when S3 still holds exactly what the journal says was sent.
            if (held.TryGetValue(part.Number, out var h) && h.Size == part.Size && SameETag(h.ETag, part.ETag)) state.Stored[part.Number] = part;
            else stale.Add(part.Number);
        }
        if (stale.Count > 0) journal.ForgetParts(previous.Id, stale);
        foreach (var part in await AdoptUnjournaledPartsAsync(source, held, state, options.ChecksumMode, ct))
        {
            journal.PartDone(previous.Id, part);
            state.Stored[part.Number] = part;
        }
        return null;
    }

    /// <summary>
    /// Sends every part S3 does not hold yet, <c>Concurrency</c> at a time, each read into its worker's pooled
    /// buffer, checksummed, retried through the pipeline and journaled as soon as S3 confirms it.
    /// </summary>
    private async Task<IReadOnlyDictionary<int, JournalPart>> SendPartsAsync(PartSource source, UploadState state, UploadOptions options,
        AdaptiveConcurrency limiter, ProgressMeter meter, CancellationTokenSource stop)
    {
        var sent = new ConcurrentDictionary<int, JournalPart>(state.Stored);
        var pending = new ConcurrentQueue<int>(Enumerable.Range(1, state.PartCount).Where(n => !state.Stored.ContainsKey(n)));
        await RunWorkersAsync(Math.Min(limiter.Max, pending.Count), (int)Math.Min(state.PartSize, Math.Max(state.Size, 1)), stop, async buffer =>
        {
            while (pending.TryDequeue(out var number))
            {
                var (offset, length) = PartSizing.Range(number, state.Size, state.PartSize);
                await source.ReadAsync(offset, buffer.AsMemory(0, length), stop.Token);
                var checksum = PartChecksum.Compute(options.ChecksumMode, buffer.AsSpan(0, length));
                var response = await AwsCall.RunAsync(retry, $"Uploading part {number}/{state.PartCount} of", state.What, t =>
                {
                    var request = new UploadPartRequest
                    {
                        BucketName = state.Bucket, Key = state.Key, UploadId = state.UploadId, PartNumber = number,
                        InputStream = new MemoryStream(buffer, 0, length, writable: false), PartSize = length,
                        IsLastPart = number == state.PartCount,
                        // Over TLS the part checksum already protects the body; signing it would hash it once more.
                        DisablePayloadSigning = IsHttps ? true : null,
                    };
                    PartChecksum.Attach(request, options.ChecksumMode, checksum);
                    return s3.UploadPartAsync(request, t);
                }, stop.Token, limiter);
                var part = new JournalPart(number, length, checksum, response.ETag);
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

    /// <summary>Before completing: the bytes sent are the bytes the SHA-256 (recorded at creation) describes.</summary>
    private async Task EnsureUnchangedAsync(PartSource source, UploadState state, Task<string>? verification, CancellationToken ct)
    {
        if (verification is not null && await verification is var actual && actual != state.Sha256)
        {
            await DiscardAsync(state, ct);
            throw new ManimCloudException(ErrorKind.InvalidInput,
                $"Uploading {state.What} stopped: the content's SHA-256 is {actual}, but {state.Sha256} was given for it.",
                "The file changed after its checksum was taken; upload it again (the interrupted upload was aborted).");
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
        UploadState state, ChecksumMode mode, CancellationToken ct)
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
                var checksum = PartChecksum.Compute(mode, data);
                var md5 = Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(data));
                var reported = mode == ChecksumMode.WhenRequired ? null : s.ChecksumCRC32C;
                if (SameETag(s.ETag, md5) || reported == checksum) adopted.Add(new JournalPart(number, length, checksum, s.ETag));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        return adopted;
    }

    private bool IsHttps =>
        s3.Config.ServiceURL is { } url ? url.StartsWith("https:", StringComparison.OrdinalIgnoreCase) : !s3.Config.UseHttp;

    private static bool SameETag(string? a, string? b) => string.Equals(a?.Trim('"'), b?.Trim('"'), StringComparison.OrdinalIgnoreCase);

    private static string? NullVersion(string? v) => v is null or "null" ? null : v;

    private async Task<string> CreateAsync(string bucket, string key, string sha256, UploadOptions options, CancellationToken ct)
    {
        var request = new InitiateMultipartUploadRequest { BucketName = bucket, Key = key, ContentType = options.ContentType };
        foreach (var (k, v) in options.Metadata) request.Metadata[k] = v;
        request.Metadata[ObjectMetadataKeys.Sha256] = sha256;
        S3ObjectStore.Encrypt(options.KmsKeyId, options.RequestEncryption,
            e => request.ServerSideEncryptionMethod = e, k => request.ServerSideEncryptionKeyManagementServiceKeyId = k);
        if (options.StorageClass is { } storageClass) request.StorageClass = S3StorageClass.FindValue(storageClass);
        request.ChecksumAlgorithm = PartChecksum.Algorithm(options.ChecksumMode);
        var attempts = 0;
        var response = await AwsCall.RunAsync(retry, "Starting multipart upload of", Resource(bucket, key), t =>
        {
            attempts++;
            return s3.InitiateMultipartUploadAsync(request, t);
        }, ct);
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

    private async Task<string?> CompleteAsync(UploadState state, List<JournalPart> parts, ChecksumMode mode, CancellationToken ct)
    {
        var attempts = 0;
        try
        {
            var response = await AwsCall.RunAsync(retry, "Completing multipart upload of", state.What, t =>
            {
                attempts++;
                return s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
                {
                    BucketName = state.Bucket, Key = state.Key, UploadId = state.UploadId,
                    PartETags = parts.Select(p => PartChecksum.ToPartETag(p.Number, p.ETag, mode, p.Checksum)).ToList(),
                }, t);
            }, ct);
            return NullVersion(response.VersionId);
        }
        catch (ManimCloudException e) when (attempts > 1 && e.InnerException is AmazonS3Exception { ErrorCode: "NoSuchUpload" })
        {
            // An earlier attempt completed it and its answer was lost on the way back.
            var head = await CompletedEarlierAsync(state.Bucket, state.Key, state.Sha256, state.Size, ct);
            if (head is null) throw;
            return NullVersion(head.VersionId);
        }
    }

    /// <summary>The current object when it is exactly this content (same size and recorded SHA-256), else null.</summary>
    private async Task<GetObjectMetadataResponse?> CompletedEarlierAsync(string bucket, string key, string sha256, long size, CancellationToken ct)
    {
        try
        {
            var head = await AwsCall.RunAsync(retry, "Reading", Resource(bucket, key),
                t => s3.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = bucket, Key = key }, t), ct);
            return head.ContentLength == size && head.Metadata[$"x-amz-meta-{ObjectMetadataKeys.Sha256}"] == sha256 ? head : null;
        }
        catch (ManimCloudException e) when (e.InnerException is AmazonS3Exception { StatusCode: HttpStatusCode.NotFound, ErrorCode: not "NoSuchBucket" })
        {
            return null;
        }
    }

    /// <summary>After completion: the stored object has the file's size and records the file's SHA-256.</summary>
    private async Task VerifyStoredAsync(string bucket, string key, string? versionId, string sha256, long size, CancellationToken ct)
    {
        var head = await AwsCall.RunAsync(retry, "Verifying", Resource(bucket, key),
            t => s3.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = bucket, Key = key, VersionId = versionId }, t), ct);
        var recorded = head.Metadata[$"x-amz-meta-{ObjectMetadataKeys.Sha256}"];
        if (head.ContentLength != size || recorded != sha256)
            throw new ManimCloudException(ErrorKind.Fatal,
                $"Integrity check failed for {Resource(bucket, key)} after upload: stored {head.ContentLength} bytes with SHA-256 '{recorded}', "
                + $"expected {size} bytes with SHA-256 {sha256}.",
                "Another writer may have replaced the object at the same moment; upload it again and check who else writes this key.");
    }

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
    /// <paramref name="destination"/>, verifies the whole file against the SHA-256 recorded with the object, and
    /// only then renames it over the destination. A failure or cancellation leaves the destination untouched.
    /// </summary>
    public async Task<DownloadResult> DownloadFileAsync(string bucket, string key, string? versionId, string destination,
        DownloadOptions options, IProgress<TransferProgress>? progress, CancellationToken ct)
    {
        var what = Resource(bucket, key);
        var head = await AwsCall.RunAsync(retry, "Reading", what,
            t => s3.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = bucket, Key = key, VersionId = versionId }, t), ct);
        var size = head.ContentLength;
        var version = NullVersion(head.VersionId);
        var expected = head.Metadata[$"x-amz-meta-{ObjectMetadataKeys.Sha256}"];
        var partSize = Math.Max(1L << 20, options.PartSize);
        var partCount = size == 0 ? 0 : PartSizing.PartCount(size, partSize);
        var limiter = new AdaptiveConcurrency(Math.Max(1, options.Concurrency));
        var meter = new ProgressMeter(what, size, partCount, progress, () => limiter.Limit);
        meter.Start();

        var full = Path.GetFullPath(destination);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = $"{full}.{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4))}.partial";
        try
        {
            using (var handle = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.Asynchronous, size))
            {
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
                var pending = new ConcurrentQueue<int>(Enumerable.Range(1, partCount));
                await RunWorkersAsync(Math.Min(limiter.Max, partCount), (int)Math.Min(partSize, Math.Max(size, 1)), stop, async buffer =>
                {
                    while (pending.TryDequeue(out var number))
                    {
                        var (offset, length) = PartSizing.Range(number, size, partSize);
                        await AwsCall.RunAsync(retry, $"Downloading part {number}/{partCount} of", what, async t =>
                        {
                            using var response = await s3.GetObjectAsync(new GetObjectRequest
                            {
                                BucketName = bucket, Key = key, ByteRange = new ByteRange(offset, offset + length - 1),
                                // Pin the version (or, unversioned, the ETag) so parts of two different objects never mix.
                                VersionId = version, EtagToMatch = version is null ? head.ETag : null,
                            }, t);
                            // Inside the retried call: a connection cut mid-body fetches the range again.
                            await response.ResponseStream.ReadExactlyAsync(buffer.AsMemory(0, length), t);
                            return true;
                        }, stop.Token, limiter);
                        await RandomAccess.WriteAsync(handle, buffer.AsMemory(0, length), offset, stop.Token);
                        meter.PartDone(length);
                    }
                });
                RandomAccess.FlushToDisk(handle);
            }

            var (actual, _) = await ContentHash.OfFileAsync(temp, ct);
            if (!string.IsNullOrEmpty(expected) && !string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
                throw new ManimCloudException(ErrorKind.Fatal,
                    $"Integrity check failed for {what}{(version is null ? "" : $" (version {version})")}: the downloaded SHA-256 is {actual}, the object records {expected}.",
                    "The stored copy is damaged or was replaced outside ManimCloud; restore a previous version (bucket versioning) and download again.");
            File.Move(temp, full, overwrite: true);
            return new DownloadResult(bucket, key, version, actual, size);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { }
            throw;
        }
    }
}
