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
    public UploadJournal? Journal => journal;

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

    private string Resource(string bucket, string key) => $"s3://{bucket}/{key}";

    private async Task<UploadResult> UploadAsync(PartSource source, string bucket, string key, UploadOptions options,
        IProgress<TransferProgress>? progress, CancellationToken ct)
    {
        ObjectMetadataKeys.EnsureWithinLimit(options.Metadata);
        var what = Resource(bucket, key);
        var size = source.Length;
        var identity = source.Identity;
        var useJournal = journal is not null && identity is not null;

        // A known SHA-256 is verified while the parts go up; an unknown one must be known before S3 is told it.
        var sha256 = options.Sha256?.ToLowerInvariant() ?? await source.Sha256Async(ct);
        var partSize = PartSizing.Choose(size, options.PartSize);

        var done = new Dictionary<int, JournalPart>();
        string? uploadId = null;
        string? journalId = null;
        string? resumedFrom = null;

        if (useJournal && journal!.Find(bucket, key) is { } previous)
        {
            var sameFile = previous.Path == identity!.Path && previous.Size == size && previous.ModifiedTicks == identity.ModifiedTicks
                && previous.Sha256 == sha256 && previous.ChecksumMode == options.ChecksumMode;
            var stored = sameFile ? await ListPartsAsync(bucket, key, previous.UploadId, ct) : null;
            if (stored is not null)
            {
                uploadId = previous.UploadId;
                journalId = previous.Id;
                resumedFrom = uploadId;
                partSize = previous.PartSize;
                var stale = new List<int>();
                foreach (var part in journal.Parts(previous.Id))
                {
                    // Trust a part only when S3 still holds exactly what the journal says was sent.
                    if (stored.TryGetValue(part.Number, out var s) && s.Size == part.Size && SameETag(s.ETag, part.ETag)) done[part.Number] = part;
                    else stale.Add(part.Number);
                }
                if (stale.Count > 0) journal.ForgetParts(previous.Id, stale);
                foreach (var part in await AdoptUnjournaledPartsAsync(source, stored, done, size, partSize, options.ChecksumMode, ct))
                {
                    journal.PartDone(previous.Id, part);
                    done[part.Number] = part;
                }
            }
            else
            {
                if (sameFile && await CompletedEarlierAsync(bucket, key, sha256, size, ct) is { } head)
                {
                    // The last run completed the upload but died before it could forget it.
                    journal.Remove(previous.Id);
                    return new UploadResult(bucket, key, NullVersion(head.VersionId), sha256, size, previous.PartCount, 0, previous.PartCount, previous.UploadId);
                }
                if (!sameFile) await AbortQuietlyAsync(bucket, key, previous.UploadId, ct);
                journal.Remove(previous.Id);
            }
        }

        if (uploadId is null)
        {
            uploadId = await CreateAsync(bucket, key, sha256, options, ct);
            if (useJournal)
                journalId = journal!.Start(bucket, key, uploadId, identity!.Path, size, identity.ModifiedTicks, sha256, partSize, options).Id;
        }

        var partCount = PartSizing.PartCount(size, partSize);
        var limiter = new AdaptiveConcurrency(Math.Max(1, options.Concurrency));
        var meter = new ProgressMeter(what, size, partCount, progress, () => limiter.Limit);
        meter.AlreadyDone(done.Values.Sum(p => p.Size), done.Count);
        meter.Start();

        var sent = new ConcurrentDictionary<int, JournalPart>(done);
        using var failFast = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var verification = options.Sha256 is null ? null : Task.Run(() => source.Sha256Async(failFast.Token), failFast.Token);
        var pending = new ConcurrentQueue<int>(Enumerable.Range(1, partCount).Where(n => !done.ContainsKey(n)));
        var workers = Enumerable.Range(0, Math.Min(Math.Max(1, options.Concurrency), Math.Max(1, pending.Count)))
            .Select(_ => Task.Run(() => SendPartsAsync(), failFast.Token))
            .ToList();

        async Task SendPartsAsync()
        {
            var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(partSize, Math.Max(size, 1)));
            try
            {
                while (pending.TryDequeue(out var number))
                {
                    var (offset, length) = PartSizing.Range(number, size, partSize);
                    await source.ReadAsync(offset, buffer.AsMemory(0, length), failFast.Token);
                    var checksum = PartChecksum.Compute(options.ChecksumMode, buffer.AsSpan(0, length));
                    var response = await AwsCall.RunAsync(retry, $"Uploading part {number}/{partCount} of", what, t =>
                    {
                        var request = new UploadPartRequest
                        {
                            BucketName = bucket, Key = key, UploadId = uploadId, PartNumber = number,
                            InputStream = new MemoryStream(buffer, 0, length, writable: false), PartSize = length,
                            IsLastPart = number == partCount,
                            // Over TLS the part checksum already protects the body; signing it would hash it once more.
                            DisablePayloadSigning = IsHttps ? true : null,
                        };
                        PartChecksum.Attach(request, options.ChecksumMode, checksum);
                        return s3.UploadPartAsync(request, t);
                    }, failFast.Token, limiter);
                    var part = new JournalPart(number, length, checksum, response.ETag);
                    if (journalId is not null) journal!.PartDone(journalId, part);
                    sent[number] = part;
                    meter.PartDone(length);
                }
            }
            catch
            {
                failFast.Cancel();
                throw;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        try
        {
            await Task.WhenAll(workers);
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            // One worker's real failure cancelled the others: report that failure, not their cancellations.
            var first = workers.Where(w => w.IsFaulted).Select(w => w.Exception!.InnerException!)
                .FirstOrDefault(e => e is not OperationCanceledException) ?? workers.First(w => w.IsFaulted).Exception!.InnerException!;
            if (verification is not null) await Task.WhenAny(verification);
            throw first is ManimCloudException ? first : AwsErrors.Describe(first, "Uploading", what);
        }
        catch (OperationCanceledException)
        {
            if (verification is not null) await Task.WhenAny(verification);
            throw;
        }

        if (verification is not null && await verification is var actual && actual != sha256)
        {
            await DiscardAsync(bucket, key, uploadId, journalId, ct);
            throw new ManimCloudException(ErrorKind.InvalidInput,
                $"Uploading {what} stopped: the content's SHA-256 is {actual}, but {sha256} was given for it.",
                "The file changed after its checksum was taken; upload it again (the interrupted upload was aborted).");
        }
        if (identity is not null && FileIdentity.Of(identity.Path) != identity)
        {
            await DiscardAsync(bucket, key, uploadId, journalId, ct);
            throw new ManimCloudException(ErrorKind.Conflict,
                $"Uploading {what} stopped: {identity.Path} changed while it was being uploaded.",
                "Wait until nothing writes the file any more, then upload it again (the interrupted upload was aborted).");
        }

        var parts = Enumerable.Range(1, partCount).Select(n => sent[n]).ToList();
        var versionId = await CompleteAsync(bucket, key, uploadId, parts, options.ChecksumMode, sha256, size, ct);
        await VerifyStoredAsync(bucket, key, versionId, sha256, size, ct);
        if (journalId is not null) journal!.Remove(journalId);
        meter.Report();
        return new UploadResult(bucket, key, versionId, sha256, size, partCount, partCount - done.Count, done.Count, resumedFrom);
    }

    /// <summary>
    /// Parts S3 stored whose confirmation never reached the journal (in flight when the process died). They are kept
    /// when their ETag is the MD5 of the local bytes (or S3 reports the same checksum), so they are not sent again.
    /// </summary>
    private static async Task<List<JournalPart>> AdoptUnjournaledPartsAsync(PartSource source, Dictionary<int, PartDetail> stored,
        Dictionary<int, JournalPart> known, long size, long partSize, ChecksumMode mode, CancellationToken ct)
    {
        var adopted = new List<JournalPart>();
        var partCount = PartSizing.PartCount(size, partSize);
        foreach (var (number, s) in stored)
        {
            if (known.ContainsKey(number) || number < 1 || number > partCount) continue;
            var (offset, length) = PartSizing.Range(number, size, partSize);
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
        if (options.KmsKeyId is { } kms)
        {
            request.ServerSideEncryptionMethod = ServerSideEncryptionMethod.AWSKMS;
            request.ServerSideEncryptionKeyManagementServiceKeyId = kms;
        }
        else request.ServerSideEncryptionMethod = ServerSideEncryptionMethod.AES256;
        if (options.StorageClass is { } storageClass) request.StorageClass = S3StorageClass.FindValue(storageClass);
        request.ChecksumAlgorithm = PartChecksum.Algorithm(options.ChecksumMode);
        var response = await AwsCall.RunAsync(retry, "Starting multipart upload of", Resource(bucket, key),
            t => s3.InitiateMultipartUploadAsync(request, t), ct);
        return response.UploadId;
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

    private async Task<string?> CompleteAsync(string bucket, string key, string uploadId, List<JournalPart> parts,
        ChecksumMode mode, string sha256, long size, CancellationToken ct)
    {
        var attempts = 0;
        try
        {
            var response = await AwsCall.RunAsync(retry, "Completing multipart upload of", Resource(bucket, key), t =>
            {
                attempts++;
                return s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
                {
                    BucketName = bucket, Key = key, UploadId = uploadId,
                    PartETags = parts.Select(p => PartChecksum.ToPartETag(p.Number, p.ETag, mode, p.Checksum)).ToList(),
                }, t);
            }, ct);
            return NullVersion(response.VersionId);
        }
        catch (ManimCloudException e) when (attempts > 1 && e.InnerException is AmazonS3Exception { ErrorCode: "NoSuchUpload" })
        {
            // An earlier attempt completed it and its answer was lost on the way back.
            var head = await CompletedEarlierAsync(bucket, key, sha256, size, ct);
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
    private async Task DiscardAsync(string bucket, string key, string uploadId, string? journalId, CancellationToken ct)
    {
        await AbortQuietlyAsync(bucket, key, uploadId, ct);
        if (journalId is not null) journal!.Remove(journalId);
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
                using var failFast = CancellationTokenSource.CreateLinkedTokenSource(ct);
                var pending = new ConcurrentQueue<int>(Enumerable.Range(1, partCount));
                var workers = Enumerable.Range(0, Math.Min(Math.Max(1, options.Concurrency), Math.Max(1, partCount)))
                    .Select(_ => Task.Run(async () =>
                    {
                        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(partSize, Math.Max(size, 1)));
                        try
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
                                    // Inside the retried call: a connection cut mid-body refetches the range.
                                    await response.ResponseStream.ReadExactlyAsync(buffer.AsMemory(0, length), t);
                                    return true;
                                }, failFast.Token, limiter);
                                await RandomAccess.WriteAsync(handle, buffer.AsMemory(0, length), offset, failFast.Token);
                                meter.PartDone(length);
                            }
                        }
                        catch
                        {
                            failFast.Cancel();
                            throw;
                        }
                        finally
                        {
                            ArrayPool<byte>.Shared.Return(buffer);
                        }
                    }, failFast.Token))
                    .ToList();
                try
                {
                    await Task.WhenAll(workers);
                }
                catch (Exception) when (!ct.IsCancellationRequested)
                {
                    throw workers.Where(w => w.IsFaulted).Select(w => w.Exception!.InnerException!)
                        .FirstOrDefault(e => e is not OperationCanceledException) ?? workers.First(w => w.IsFaulted).Exception!.InnerException!;
                }
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
