using System.Runtime.InteropServices;
using Amazon.S3;
using Amazon.S3.Model;

namespace ManimCloud.Transfer;

/// <summary>One part to send, with the checks the server verifies on receipt.</summary>
/// <param name="Body">The part's bytes, read again from where they are each time they are sent (see <see cref="PartBody"/>).</param>
/// <param name="Crc32">Base64 CRC32 of the body, sent as x-amz-checksum-crc32 (FULL_OBJECT uploads); null sends none.</param>
/// <param name="ContentMd5">Base64 MD5 of the body, sent as Content-MD5; null sends none.</param>
/// <param name="Sha256Hex">Hex SHA-256 of the body, signed as the payload hash (plain http); null when not needed.</param>
public sealed record PartUpload(string Bucket, string Key, string UploadId, int Number, PartBody Body, bool IsLast,
    string? Crc32, string? ContentMd5, string? Sha256Hex);

/// <summary>
/// The bytes of one part as a stream opened for each send. A part of a file is read from the file again as it goes out
/// (the page cache has it: the checksums were just computed over it), so a part in flight holds a small copy buffer,
/// not its whole size; memory no longer grows with concurrency × part size. A body that changed between the checksum
/// pass and the send is refused by the server, which checks the checksum sent with it.
/// </summary>
public abstract class PartBody
{
    public abstract long Length { get; }

    /// <summary>A new read-only, seekable stream over the bytes, positioned at 0; the caller disposes it.</summary>
    public abstract Stream OpenRead();

    public static implicit operator PartBody(byte[] bytes) => new MemoryBody(bytes);

    public static PartBody Of(ReadOnlyMemory<byte> bytes) => new MemoryBody(bytes);

    private sealed class MemoryBody(ReadOnlyMemory<byte> bytes) : PartBody
    {
        public override long Length => bytes.Length;

        public override Stream OpenRead() => MemoryMarshal.TryGetArray(bytes, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(bytes.ToArray(), writable: false);
    }
}

/// <summary>
/// Receives a ranged GET's body piece by piece, in order: <paramref name="piece"/> starts <paramref name="at"/> bytes into
/// the range, and is only valid during the call (the buffer is reused for the next piece).
/// </summary>
public delegate void RangeSink(ReadOnlySpan<byte> piece, int at);

/// <summary>How both data planes hand a range's body to its <see cref="RangeSink"/>.</summary>
internal static class RangeCopy
{
    /// <summary>Reads exactly <paramref name="length"/> bytes of <paramref name="body"/> through <paramref name="buffer"/>, in full buffers but the last.</summary>
    public static async Task CopyAsync(Stream body, int length, Memory<byte> buffer, RangeSink sink, CancellationToken ct)
    {
        for (var at = 0; at < length; )
        {
            var want = Math.Min(buffer.Length, length - at);
            var n = await body.ReadAtLeastAsync(buffer[..want], want, throwOnEndOfStream: false, ct);
            if (n < want) throw new EndOfStreamException($"The ranged GET's body ended after {at + n} of its {length} bytes.");
            sink(buffer.Span[..n], at);
            at += n;
        }
    }
}

/// <summary>
/// One small object in a single PUT. Its SHA-256 is known (workspace blobs are named by it), so it is signed as the
/// payload hash at no cost and the store refuses a body that does not match it.
/// </summary>
/// <param name="ServerSideEncryption">"AES256", "aws:kms" or null (no header).</param>
/// <param name="ChecksumSha256">Also send x-amz-checksum-sha256 (flexible checksums), stored with the object.</param>
public sealed record ObjectPut(string Bucket, string Key, ReadOnlyMemory<byte> Body, string ContentType, IReadOnlyDictionary<string, string> Metadata,
    string Sha256Hex, bool ChecksumSha256, string? ServerSideEncryption, string? KmsKeyId, string? StorageClass, bool CreateOnly)
{
    /// <summary>Stored as the object's Cache-Control (sent as the request's Cache-Control header); null sends none.</summary>
    public string? CacheControl { get; init; }
}

/// <summary>A byte range of one object, pinned to a version (or, unversioned, to its ETag).</summary>
public sealed record RangeRead(string Bucket, string Key, string? VersionId, string? IfMatch, long Offset, int Length);

/// <summary>
/// The data-plane requests of a transfer — UploadPart and ranged GetObject — the ones that move the bytes and so
/// dominate its CPU. Everything else (create, complete, list, abort, head) stays on the SDK client. Failures are
/// the SDK's exception types (AmazonS3Exception with ErrorCode/StatusCode, HttpRequestException, IOException), so
/// one classification and one retry pipeline serve both implementations.
/// </summary>
public interface IS3DataPlane
{
    /// <summary>Whether <see cref="PartUpload.Sha256Hex"/> is wanted: the payload hash is signed (plain http).</summary>
    bool WantsPayloadSha256 { get; }

    /// <summary>Whether this plane can address the object (and upload id); the lean plane only takes plain names.</summary>
    bool CanAddress(string bucket, string key, string? uploadId = null);

    /// <summary>Sends one part; returns its ETag.</summary>
    Task<string> UploadPartAsync(PartUpload part, CancellationToken ct);

    /// <summary>
    /// Reads exactly <see cref="RangeRead.Length"/> bytes of the range through <paramref name="buffer"/>, handing each
    /// piece to <paramref name="sink"/> as it arrives (so a range in flight needs only the buffer, not its length).
    /// </summary>
    Task ReadRangeAsync(RangeRead range, Memory<byte> buffer, RangeSink sink, CancellationToken ct);

    /// <summary>Stores a small object in one PUT; returns its version id (null when the bucket is unversioned).</summary>
    Task<string?> PutObjectAsync(ObjectPut put, CancellationToken ct);
}

/// <summary>The data plane through the SDK client: works for any name and endpoint; the fallback.</summary>
public sealed class SdkDataPlane(IAmazonS3 s3) : IS3DataPlane
{
    public bool WantsPayloadSha256 => false;

    public bool CanAddress(string bucket, string key, string? uploadId = null) => true;

    private bool IsHttps =>
        s3.Config.ServiceURL is { } url ? url.StartsWith("https:", StringComparison.OrdinalIgnoreCase) : !s3.Config.UseHttp;

    public async Task<string> UploadPartAsync(PartUpload part, CancellationToken ct)
    {
        Operations.Telemetry.AwsCallScope.DataCall("UploadPart", part.Body.Length, upload: true);
        await using var body = part.Body.OpenRead();
        var request = new UploadPartRequest
        {
            BucketName = part.Bucket, Key = part.Key, UploadId = part.UploadId, PartNumber = part.Number,
            InputStream = body, PartSize = part.Body.Length, IsLastPart = part.IsLast,
            // Over TLS the part checksum already protects the body; signing it would hash it once more.
            DisablePayloadSigning = IsHttps ? true : null,
        };
        if (part.Crc32 is not null)
        {
            // A value given up front makes the SDK send it as a header instead of hashing the body again.
            request.ChecksumAlgorithm = ChecksumAlgorithm.CRC32;
            request.ChecksumCRC32 = part.Crc32;
        }
        if (part.ContentMd5 is not null) request.MD5Digest = part.ContentMd5;
        var response = await s3.UploadPartAsync(request, ct);
        return response.ETag;
    }

    public async Task<string?> PutObjectAsync(ObjectPut put, CancellationToken ct)
    {
        Operations.Telemetry.AwsCallScope.DataCall("PutObject", put.Body.Length, upload: true);
        var body = MemoryMarshal.TryGetArray(put.Body, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(put.Body.ToArray(), writable: false);
        var request = new PutObjectRequest
        {
            BucketName = put.Bucket, Key = put.Key, InputStream = body, ContentType = put.ContentType,
            IfNoneMatch = put.CreateOnly ? "*" : null,
        };
        foreach (var (k, v) in put.Metadata) request.Metadata[k] = v;
        if (put.ServerSideEncryption is { } sse) request.ServerSideEncryptionMethod = ServerSideEncryptionMethod.FindValue(sse);
        if (put.KmsKeyId is { } kms) request.ServerSideEncryptionKeyManagementServiceKeyId = kms;
        if (put.StorageClass is { } sc) request.StorageClass = S3StorageClass.FindValue(sc);
        if (put.ChecksumSha256)
        {
            request.ChecksumAlgorithm = ChecksumAlgorithm.SHA256;
            request.ChecksumSHA256 = Convert.ToBase64String(Convert.FromHexString(put.Sha256Hex));
        }
        return (await s3.PutObjectAsync(request, ct)).VersionId;
    }

    public async Task ReadRangeAsync(RangeRead range, Memory<byte> buffer, RangeSink sink, CancellationToken ct)
    {
        Operations.Telemetry.AwsCallScope.DataCall("GetObject", range.Length, upload: false);
        using var response = await s3.GetObjectAsync(new GetObjectRequest
        {
            BucketName = range.Bucket, Key = range.Key, ByteRange = new ByteRange(range.Offset, range.Offset + range.Length - 1),
            VersionId = range.VersionId, EtagToMatch = range.IfMatch,
        }, ct);
        await RangeCopy.CopyAsync(response.ResponseStream, range.Length, buffer, sink, ct);
    }
}
