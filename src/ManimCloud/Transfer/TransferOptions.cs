using ManimCloud.Domain;
using ManimCloud.Workspace;

namespace ManimCloud.Transfer;

/// <summary>What a multipart upload writes with the object, and how it sends it.</summary>
public sealed record UploadOptions
{
    public string ContentType { get; init; } = "application/octet-stream";
    /// <summary>User metadata (without the x-amz-meta- prefix). The engine adds <c>sha256</c> when it knows it.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();
    /// <summary>SSE-KMS key; null means SSE-S3.</summary>
    public string? KmsKeyId { get; init; }
    /// <summary>
    /// Whether to ask the store for server-side encryption (SPEC R1: always, on AWS). S3-compatible stores without
    /// SSE configured refuse the header (Ceph RGW answers InvalidRequest); turn it off only for those.
    /// </summary>
    public bool RequestEncryption { get; init; } = true;
    /// <summary>An S3 storage class name such as STANDARD or INTELLIGENT_TIERING; null leaves the bucket default.</summary>
    public string? StorageClass { get; init; }
    /// <summary>
    /// WhenSupported: CRC32 per part (x-amz-checksum-crc32) and a FULL_OBJECT CRC32 for the whole object, combined from
    /// the parts and checked against what the store computed. WhenRequired (Ceph RGW and other S3-compatible stores): no
    /// flexible checksums; each part is checked by its signed SHA-256 (plain http) or Content-MD5 (https), the whole object
    /// by its CRC32, read before the upload and recorded as metadata (<c>crc32</c>), which the parts must combine to.
    /// </summary>
    public ChecksumMode ChecksumMode { get; init; } = ChecksumMode.WhenSupported;
    /// <summary>
    /// The content's SHA-256 when the caller knows it (workspace blobs are content-addressed); it is recorded as the
    /// object's <c>sha256</c> metadata. WhenSupported trusts it (the FULL_OBJECT CRC32 checks the bytes); WhenRequired
    /// verifies it in its pass before the upload. Unknown, neither mode computes or records one.
    /// </summary>
    public string? Sha256 { get; init; }
    /// <summary>Preferred part size; raised when the file would need more than 10,000 parts.</summary>
    public long PartSize { get; init; } = PartSizing.DefaultPartSize;
    /// <summary>Requests in flight at most; throttling lowers it for the rest of the transfer. Memory is bounded by Concurrency × part size.</summary>
    public int Concurrency { get; init; } = 8;
}

/// <summary>How a ranged download is split.</summary>
public sealed record DownloadOptions
{
    public long PartSize { get; init; } = PartSizing.DefaultPartSize;
    public int Concurrency { get; init; } = 8;
    /// <summary>
    /// Flush the file to stable storage before it replaces the destination (the workspace blob cache wants this: a
    /// blob it records must survive a power cut). A plain `video get --out` does not need to pay for it.
    /// </summary>
    public bool Durable { get; init; }
}

/// <summary>
/// A finished upload: what S3 stored, and how much of it this attempt had to send. <paramref name="Sha256"/> is the
/// SHA-256 recorded with the object (null when none was given in WhenSupported mode); <paramref name="Crc32"/> the
/// object's FULL_OBJECT CRC32 (base64) in WhenSupported mode.
/// </summary>
public sealed record UploadResult(
    string Bucket,
    string Key,
    string? VersionId,
    string? Sha256,
    long Size,
    int PartCount,
    int PartsSent,
    int PartsResumed,
    string? ResumedUploadId,
    string? Crc32 = null);

/// <summary>
/// A finished download, verified against the object's FULL_OBJECT CRC32 (<paramref name="Crc32"/>, base64) when it has
/// one, else against its recorded SHA-256. <paramref name="Sha256"/> is the SHA-256 computed (fallback) or recorded.
/// </summary>
public sealed record DownloadResult(string Bucket, string Key, string? VersionId, string? Sha256, long Size, string? Crc32 = null);

/// <summary>S3's multipart limits and the part size chosen from the file size.</summary>
public static class PartSizing
{
    public const long MinPartSize = 5L << 20;
    public const long MaxPartSize = 5L << 30;
    public const int MaxParts = 10_000;
    public const long MaxObjectSize = 5L << 40;
    public const long DefaultPartSize = 8L << 20;

    /// <summary>
    /// The preferred size, but never below S3's 5 MiB minimum and large enough that the object fits in 10,000
    /// parts (rounded up to whole MiB).
    /// </summary>
    public static long Choose(long size, long preferred = DefaultPartSize)
    {
        if (size > MaxObjectSize)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"The file is {size} bytes; S3 objects can be at most 5 TiB.",
                "Split the video into scenes and upload them separately.");
        var part = Math.Max(preferred, MinPartSize);
        var needed = (size + MaxParts - 1) / MaxParts;
        if (needed > part) part = (needed + (1L << 20) - 1) >> 20 << 20;
        return Math.Min(part, MaxPartSize);
    }

    public static int PartCount(long size, long partSize) => size == 0 ? 1 : (int)((size + partSize - 1) / partSize);

    public static (long Offset, int Length) Range(int partNumber, long size, long partSize)
    {
        var offset = (partNumber - 1) * partSize;
        return (offset, (int)Math.Min(partSize, size - offset));
    }
}
