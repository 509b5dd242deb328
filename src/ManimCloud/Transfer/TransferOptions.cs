using ManimCloud.Domain;
using ManimCloud.Workspace;

namespace ManimCloud.Transfer;

/// <summary>What a multipart upload writes with the object, and how it sends it.</summary>
public sealed record UploadOptions
{
    public string ContentType { get; init; } = "application/octet-stream";
    /// <summary>User metadata (without the x-amz-meta- prefix). The engine adds <c>sha256</c>.</summary>
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
    /// <summary>WhenSupported: CRC32C per part (x-amz-checksum-crc32c). WhenRequired: Content-MD5 per part (Ceph RGW and other S3-compatible stores).</summary>
    public ChecksumMode ChecksumMode { get; init; } = ChecksumMode.WhenSupported;
    /// <summary>The content's SHA-256 when the caller knows it; it is then verified while the parts go up instead of read twice up front.</summary>
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
}

/// <summary>A finished upload: what S3 stored, and how much of it this attempt had to send.</summary>
public sealed record UploadResult(
    string Bucket,
    string Key,
    string? VersionId,
    string Sha256,
    long Size,
    int PartCount,
    int PartsSent,
    int PartsResumed,
    string? ResumedUploadId);

/// <summary>A finished download, verified against the object's recorded SHA-256.</summary>
public sealed record DownloadResult(string Bucket, string Key, string? VersionId, string Sha256, long Size);

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
