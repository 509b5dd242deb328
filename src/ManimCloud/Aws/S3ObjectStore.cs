using System.Net;
using System.Runtime.CompilerServices;
using Amazon.S3;
using Amazon.S3.Model;
using ManimCloud.Domain;
using ManimCloud.Resilience;
using ManimCloud.Storage;
using ManimCloud.Transfer;
using ChecksumMode = ManimCloud.Workspace.ChecksumMode;

namespace ManimCloud.Aws;

public sealed record S3StoreSettings(string? KmsKeyId, bool UseStorageClasses, bool FlexibleChecksums)
{
    /// <summary>Objects at or above this size go multipart, through the <see cref="TransferEngine"/>.</summary>
    public long MultipartThreshold { get; init; } = 64L << 20;
    /// <summary>Preferred part size; the engine raises it when a file would need more than 10,000 parts.</summary>
    public long PartSize { get; init; } = PartSizing.DefaultPartSize;
    /// <summary>Parts in flight per transfer (lowered automatically while S3 throttles).</summary>
    public int Concurrency { get; init; } = 8;
    /// <summary>SSE is always requested on AWS; S3-compatible stores without SSE configured refuse the header (Ceph RGW: InvalidRequest).</summary>
    public bool RequestEncryption { get; init; } = true;

    public ChecksumMode ChecksumMode => FlexibleChecksums ? ChecksumMode.WhenSupported : ChecksumMode.WhenRequired;
}

/// <summary>
/// The object store on an S3 bucket (AWS or an S3-compatible store). Encryption is always requested
/// (SSE-S3, or SSE-KMS with a key); the SHA-256 of the content travels as object metadata and is verified on read.
/// Large objects go through the <see cref="TransferEngine"/> (parallel parts, resumable when a journal is given).
/// </summary>
public sealed class S3ObjectStore(IAmazonS3 s3, string bucket, S3StoreSettings settings, RetryPipeline retry, UploadJournal? journal = null,
    DownloadJournal? downloads = null)
    : IObjectStore, IObjectLockStore, ITransferringObjectStore
{
    public string Name => $"s3://{bucket}";
    public string Bucket => bucket;

    /// <summary>The engine behind large uploads and downloads, for callers that want progress or a file download.</summary>
    public TransferEngine Transfers { get; } = new(s3, retry, journal, downloads: downloads);

    public Task<StoredObject> PutAsync(ObjectWrite write, Stream content, CancellationToken ct) => PutAsync(write, content, null, ct);

    /// <summary>As <see cref="PutAsync(ObjectWrite, Stream, CancellationToken)"/>, reporting progress of a multipart upload.</summary>
    public Task<StoredObject> PutAsync(ObjectWrite write, Stream content, IProgress<TransferProgress>? progress, CancellationToken ct) =>
        Operations.Telemetry.OperationScope.RunAsync("upload", $"{Name}/{write.Key}", () => PutCoreAsync(write, content, progress, ct));

    private async Task<StoredObject> PutCoreAsync(ObjectWrite write, Stream content, IProgress<TransferProgress>? progress, CancellationToken ct)
    {
        ObjectMetadataKeys.EnsureWithinLimit(write.Metadata);
        if (!content.CanSeek)
            throw new ArgumentException("S3 uploads need a seekable stream so a failed attempt can be sent again.", nameof(content));
        var multipart = write.Size >= settings.MultipartThreshold;
        // A create-only single-part write is refused by S3 itself if the key exists (If-None-Match), so it cannot
        // overwrite a locked version and needs no lock check first.
        if (!write.CreateOnly || multipart) await EnsureNotLockedAsync(write.Key, "overwritten", ct);
        var start = content.Position;
        try
        {
            return await PutOnceAsync(write, content, progress, multipart, start, ct);
        }
        catch (ManimCloudException e) when (!multipart && StoreRefusal.Suspected(e, SseHeader, StorageClassOf(write.Kind)))
        {
            // (A multipart upload's refusal is explained by the engine, at its creation.)
            throw await Transfers.Refusals.ExplainAsync(e, bucket, write.Key, SseHeader, StorageClassOf(write.Kind), ct);
        }
    }

    /// <summary>The x-amz-server-side-encryption value this store's writes send, or null.</summary>
    private string? SseHeader => settings.KmsKeyId is not null ? ServerSideEncryptionMethod.AWSKMS.Value
        : settings.RequestEncryption ? ServerSideEncryptionMethod.AES256.Value : null;

    private string? StorageClassOf(ObjectKind kind) => settings.UseStorageClasses ? StorageClassFor(kind).Value : null;

    private async Task<StoredObject> PutOnceAsync(ObjectWrite write, Stream content, IProgress<TransferProgress>? progress, bool multipart, long start,
        CancellationToken ct)
    {
        var versionId = multipart
            ? await PutMultipartAsync(write, content, progress, ct)
            : write.Size <= LeanPutLimit && _plane is { } plane && plane.CanAddress(bucket, write.Key) && write.Metadata.Values.All(IsAscii)
            ? await PutLeanAsync(plane, write, content, ct)
            : await Call("Uploading", write.Key, async t =>
            {
                content.Position = start;
                var request = new PutObjectRequest
                {
                    BucketName = bucket,
                    Key = write.Key,
                    InputStream = content,
                    AutoCloseStream = false,
                    AutoResetStreamPosition = false,
                    ContentType = write.ContentType,
                };
                Describe(request, write);
                if (write.CreateOnly) request.IfNoneMatch = "*";
                if (settings.FlexibleChecksums)
                {
                    request.ChecksumAlgorithm = ChecksumAlgorithm.SHA256;
                    request.ChecksumSHA256 = ContentHash.HexToBase64(write.Sha256);
                }
                return (await s3.PutObjectAsync(request, t)).VersionId;
            }, ct);
        return new StoredObject(write.Key, write.Size, write.Sha256, versionId, DateTimeOffset.UtcNow, write.Metadata);
    }

    /// <summary>Single PUTs up to this size go through the lean data plane, read into memory once.</summary>
    private const long LeanPutLimit = 8L << 20;
    private readonly IS3DataPlane? _plane = HttpS3DataPlane.For(s3);

    private static bool IsAscii(string s) => s.All(c => c is >= ' ' and <= '~');

    /// <summary>
    /// A small object through the lean plane: read once, sent with its known SHA-256 as the signed payload hash (the
    /// store refuses a body that differs) and, with flexible checksums, as x-amz-checksum-sha256 too.
    /// </summary>
    private async Task<string?> PutLeanAsync(IS3DataPlane plane, ObjectWrite write, Stream content, CancellationToken ct)
    {
        var body = new byte[write.Size];
        await content.ReadExactlyAsync(body, ct);
        var metadata = new Dictionary<string, string>(write.Metadata) { [ObjectMetadataKeys.Sha256] = write.Sha256 };
        string? sse = null, kms = null;
        Encrypt(settings.KmsKeyId, settings.RequestEncryption, e => sse = e.Value, k => kms = k);
        var put = new ObjectPut(bucket, write.Key, body, write.ContentType, metadata, write.Sha256.ToLowerInvariant(), settings.FlexibleChecksums,
            sse, kms, settings.UseStorageClasses ? StorageClassFor(write.Kind).Value : null, write.CreateOnly) { CacheControl = write.CacheControl };
        var versionId = await Call("Uploading", write.Key, t => plane.PutObjectAsync(put, t), ct);
        return versionId is null or "null" ? null : versionId;
    }

    private void Describe(PutObjectRequest r, ObjectWrite w)
    {
        foreach (var (k, v) in w.Metadata) r.Metadata[k] = v;
        if (w.CacheControl is { } cacheControl) r.Headers.CacheControl = cacheControl;
        r.Metadata[ObjectMetadataKeys.Sha256] = w.Sha256;
        Encrypt(settings.KmsKeyId, settings.RequestEncryption, e => r.ServerSideEncryptionMethod = e, k => r.ServerSideEncryptionKeyManagementServiceKeyId = k);
        if (settings.UseStorageClasses) r.StorageClass = StorageClassFor(w.Kind);
    }

    /// <summary>SSE-KMS with the key when one is configured, else SSE-S3, unless the store cannot take the header at all.</summary>
    public static void Encrypt(string? kmsKeyId, bool requestEncryption, Action<ServerSideEncryptionMethod> method, Action<string> key)
    {
        if (kmsKeyId is { } kms) { method(ServerSideEncryptionMethod.AWSKMS); key(kms); }
        else if (requestEncryption) method(ServerSideEncryptionMethod.AES256);
    }

    /// <summary>Masters and code stay in Standard; clips and renditions, whose access varies, go Intelligent-Tiering (SPEC R1, R9).</summary>
    public static S3StorageClass StorageClassFor(ObjectKind kind) => kind switch
    {
        ObjectKind.SceneClip or ObjectKind.Rendition => S3StorageClass.IntelligentTiering,
        _ => S3StorageClass.Standard,
    };

    private async Task<string?> PutMultipartAsync(ObjectWrite write, Stream content, IProgress<TransferProgress>? progress, CancellationToken ct)
    {
        var options = new UploadOptions
        {
            ContentType = write.ContentType,
            Metadata = write.Metadata,
            KmsKeyId = settings.KmsKeyId,
            RequestEncryption = settings.RequestEncryption,
            StorageClass = settings.UseStorageClasses ? StorageClassFor(write.Kind).Value : null,
            ChecksumMode = settings.ChecksumMode,
            Sha256 = write.Sha256,
            PartSize = settings.PartSize,
            Concurrency = settings.Concurrency,
        };
        // Workspace blobs are files: read them at offsets, and journal the upload so a crash resumes it.
        var result = content is FileStream file
            ? await Transfers.UploadFileAsync(bucket, write.Key, file, options, progress, ct)
            : await Transfers.UploadStreamAsync(bucket, write.Key, content, options, progress, ct);
        return result.VersionId;
    }

    /// <summary>Downloads an object to a file with parallel ranged reads, verified before it replaces <paramref name="destination"/>.</summary>
    public Task<DownloadResult> GetFileAsync(string key, string? versionId, string destination, IProgress<TransferProgress>? progress, CancellationToken ct) =>
        Operations.Telemetry.OperationScope.RunAsync("download", $"{Name}/{key}", () => Transfers.DownloadFileAsync(bucket, key, versionId, destination,
            new DownloadOptions { PartSize = settings.PartSize, Concurrency = settings.Concurrency }, progress, ct));

    public Task DownloadToFileAsync(string key, string destination, IProgress<TransferProgress>? progress, CancellationToken ct) =>
        GetFileAsync(key, null, destination, progress, ct);

    public async Task<StoredObject?> HeadAsync(string key, CancellationToken ct)
    {
        try
        {
            var m = await Call("Reading", key, t => s3.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = bucket, Key = key }, t), ct);
            return ToStored(key, m.ContentLength, m.VersionId, m.LastModified, m.Metadata);
        }
        catch (ManimCloudException e) when (e.Kind == ErrorKind.NotFound && e.InnerException is AmazonS3Exception { StatusCode: HttpStatusCode.NotFound, ErrorCode: not "NoSuchBucket" })
        {
            // A HEAD answer has no body, so a missing bucket looks like a missing key: ask once per store.
            if (!_bucketSeen) await EnsureBucketAsync(e, ct);
            return null;
        }
    }

    private volatile bool _bucketSeen;

    /// <summary>Tells a missing bucket (an error with the fix) from a missing key, by listing at most one key.</summary>
    private async Task EnsureBucketAsync(ManimCloudException miss, CancellationToken ct)
    {
        try
        {
            await Call("Checking bucket of", "", t => s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, MaxKeys = 1 }, t), ct);
            _bucketSeen = true;
        }
        catch (ManimCloudException e) when (e.InnerException is AmazonS3Exception { ErrorCode: "NoSuchBucket" })
        {
            throw new ManimCloudException(ErrorKind.NotFound, $"The bucket {bucket} does not exist (NoSuchBucket).",
                "Run `manimcloud provision`, or fix the bucket name in the configuration (`manimcloud config validate`).", miss);
        }
        catch (ManimCloudException e) when (e.Kind == ErrorKind.Auth)
        {
            _bucketSeen = true; // not allowed to list: the key is simply missing, as the HEAD said
        }
    }

    private static StoredObject ToStored(string key, long size, string? versionId, DateTime? lastModified, MetadataCollection md)
    {
        var metadata = md.Keys.ToDictionary(k => k.StartsWith("x-amz-meta-", StringComparison.OrdinalIgnoreCase) ? k[11..] : k, k => md[k]);
        metadata.TryGetValue(ObjectMetadataKeys.Sha256, out var sha);
        metadata.Remove(ObjectMetadataKeys.Sha256);
        return new StoredObject(key, size, sha, versionId == "null" ? null : versionId,
            lastModified is { } lm ? new DateTimeOffset(DateTime.SpecifyKind(lm, DateTimeKind.Utc)) : DateTimeOffset.MinValue, metadata);
    }

    public Task<Stream> OpenReadAsync(string key, string? versionId, CancellationToken ct) =>
        Operations.Telemetry.OperationScope.RunAsync("download", $"{Name}/{key}", () => OpenReadCoreAsync(key, versionId, ct));

    private async Task<Stream> OpenReadCoreAsync(string key, string? versionId, CancellationToken ct)
    {
        var response = await Call("Downloading", key, async t =>
        {
            var r = await s3.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = key, VersionId = versionId }, t);
            Operations.Telemetry.AwsCallScope.DataCall("GetObject", r.ContentLength, upload: false);
            return r;
        }, ct);
        var sha = response.Metadata[$"x-amz-meta-{ObjectMetadataKeys.Sha256}"];
        Stream body = new ResponseOwningStream(response);
        return string.IsNullOrEmpty(sha) ? body : new VerifyingStream(body, sha, $"{Name}/{key}");
    }

    public async Task DeleteAsync(string key, CancellationToken ct)
    {
        await EnsureNotLockedAsync(key, "deleted", ct);
        await Call("Deleting", key, t => s3.DeleteObjectAsync(new DeleteObjectRequest { BucketName = bucket, Key = key }, t), ct);
    }

    public async IAsyncEnumerable<StoredObject> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken ct)
    {
        string? token = null;
        do
        {
            var page = await Call("Listing", prefix + "*", t => s3.ListObjectsV2Async(new ListObjectsV2Request
            {
                BucketName = bucket, Prefix = prefix, ContinuationToken = token,
            }, t), ct);
            foreach (var o in page.S3Objects ?? [])
                yield return new StoredObject(o.Key, o.Size ?? 0, null, null,
                    o.LastModified is { } lm ? new DateTimeOffset(DateTime.SpecifyKind(lm, DateTimeKind.Utc)) : DateTimeOffset.MinValue,
                    new Dictionary<string, string>());
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        } while (token is not null);
    }

    public async Task LockAsync(string key, string? versionId, ObjectLock objectLock, CancellationToken ct)
    {
        if (objectLock.Mode == LockMode.LegalHold)
        {
            await Call("Placing a legal hold on", key, t => s3.PutObjectLegalHoldAsync(new PutObjectLegalHoldRequest
            {
                BucketName = bucket, Key = key, VersionId = versionId,
                LegalHold = new ObjectLockLegalHold { Status = ObjectLockLegalHoldStatus.On },
            }, t), ct);
            return;
        }
        await Call("Locking", key, t => s3.PutObjectRetentionAsync(new PutObjectRetentionRequest
        {
            BucketName = bucket, Key = key, VersionId = versionId,
            Retention = new ObjectLockRetention
            {
                Mode = objectLock.Mode == LockMode.Compliance ? ObjectLockRetentionMode.Compliance : ObjectLockRetentionMode.Governance,
                RetainUntilDate = objectLock.RetainUntil?.UtcDateTime ?? DateTime.UtcNow.AddYears(1),
            },
        }, t), ct);
    }

    public async Task<ObjectLock> GetLockAsync(string key, string? versionId, CancellationToken ct)
    {
        try
        {
            var m = await Call("Reading lock of", key, t => s3.GetObjectMetadataAsync(new GetObjectMetadataRequest
            {
                BucketName = bucket, Key = key, VersionId = versionId,
            }, t), ct);
            if (m.ObjectLockLegalHoldStatus == ObjectLockLegalHoldStatus.On) return new ObjectLock(LockMode.LegalHold, null);
            if (m.ObjectLockMode is { } mode && m.ObjectLockRetainUntilDate is { } until)
                return new ObjectLock(mode == ObjectLockMode.Compliance ? LockMode.Compliance : LockMode.Governance,
                    new DateTimeOffset(DateTime.SpecifyKind(until, DateTimeKind.Utc)));
            return ObjectLock.None;
        }
        catch (ManimCloudException e) when (e.Kind == ErrorKind.NotFound && e.InnerException is AmazonS3Exception { ErrorCode: not "NoSuchBucket" })
        {
            return ObjectLock.None;
        }
    }

    /// <summary>S3 lets a plain PUT or DELETE stack a new version or delete marker over a locked one; we refuse, as the local store does.</summary>
    private async Task EnsureNotLockedAsync(string key, string verb, CancellationToken ct)
    {
        var current = await GetLockAsync(key, null, ct);
        if (current.IsActive(DateTimeOffset.UtcNow))
            throw new ManimCloudException(ErrorKind.Locked,
                $"{Name}/{key} is locked ({current.Mode}{(current.RetainUntil is { } u ? $" until {u:O}" : "")}) and cannot be {verb}.",
                "Store a new version instead; locked versions stay as they are until the lock ends.");
    }

    private Task<T> Call<T>(string action, string key, Func<CancellationToken, Task<T>> call, CancellationToken ct) =>
        AwsCall.RunAsync(retry, action, $"{Name}/{key}", call, ct);

    /// <summary>Keeps the GetObject response alive for as long as its body is read.</summary>
    private sealed class ResponseOwningStream(GetObjectResponse response) : Stream
    {
        private readonly Stream _inner = response.ResponseStream;
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
        public override int Read(Span<byte> buffer) => _inner.Read(buffer);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => _inner.ReadAsync(buffer, ct);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) => _inner.ReadAsync(buffer, offset, count, ct);
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => response.ContentLength;
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        protected override void Dispose(bool disposing)
        {
            if (disposing) response.Dispose();
            base.Dispose(disposing);
        }
    }
}

/// <summary>Runs one AWS call through the retry pipeline and describes a final failure.</summary>
public static class AwsCall
{
    public static async Task<T> RunAsync<T>(RetryPipeline retry, string action, string resource, Func<CancellationToken, Task<T>> call,
        CancellationToken ct, AdaptiveConcurrency? limiter = null)
    {
        // The span and request metrics of this call (null when telemetry is off); the SDK's request hook and the
        // lean data plane name the API operation inside it.
        using var telemetry = Operations.Telemetry.AwsCallScope.Start(null, "", action, resource);
        try
        {
            var result = await retry.ExecuteAsync(call, limiter, ct);
            telemetry?.Complete(null);
            return result;
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            var described = AwsErrors.Describe(e, action, resource);
            telemetry?.Complete(described.Kind, described.Message);
            throw described;
        }
    }
}
