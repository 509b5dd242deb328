using ManimCloud.Domain;

namespace ManimCloud.Storage;

/// <summary>What an object is, so a store can pick storage class and retention (SPEC R1, R9).</summary>
public enum ObjectKind { SceneClip, FullVideo, Code, Rendition, Temporary }

/// <summary>A write: key, kind, user metadata. The content's SHA-256 is always known before the write.</summary>
public sealed record ObjectWrite(
    string Key,
    ObjectKind Kind,
    string ContentType,
    IReadOnlyDictionary<string, string> Metadata,
    string Sha256,
    long Size)
{
    /// <summary>
    /// The key must not exist yet (a freshly claimed version): the store refuses with Conflict if it does, atomically
    /// where it can (S3 If-None-Match), and needs no separate lock check, since nothing can be overwritten.
    /// </summary>
    public bool CreateOnly { get; init; }

    /// <summary>How caches may keep the object when it is served (S3's Cache-Control); null: no header.</summary>
    public string? CacheControl { get; init; }
}

/// <summary>What a store knows about a stored object.</summary>
public sealed record StoredObject(
    string Key,
    long Size,
    string? Sha256,
    string? VersionId,
    DateTimeOffset LastModified,
    IReadOnlyDictionary<string, string> Metadata);

/// <summary>
/// The core object-store contract, identical on the local blob folder and on S3.
/// Optional capabilities (locking) are separate interfaces beside it.
/// </summary>
public interface IObjectStore
{
    /// <summary>A short name for messages: "s3://bucket" or "local:code".</summary>
    string Name { get; }

    /// <summary>Stores <paramref name="content"/> under the key; the store verifies it against <see cref="ObjectWrite.Sha256"/>.</summary>
    Task<StoredObject> PutAsync(ObjectWrite write, Stream content, CancellationToken ct);

    Task<StoredObject?> HeadAsync(string key, CancellationToken ct);

    /// <summary>Opens the object (or one version of it) for reading. Throws NotFound when absent.</summary>
    Task<Stream> OpenReadAsync(string key, string? versionId, CancellationToken ct);

    /// <summary>Deletes the current version. Throws Locked when a lock forbids it.</summary>
    Task DeleteAsync(string key, CancellationToken ct);

    IAsyncEnumerable<StoredObject> ListAsync(string prefix, CancellationToken ct);
}

/// <summary>Write-once locks on object versions (S3 Object Lock; enforced locally by the catalog).</summary>
public interface IObjectLockStore
{
    Task LockAsync(string key, string? versionId, ObjectLock objectLock, CancellationToken ct);
    Task<ObjectLock> GetLockAsync(string key, string? versionId, CancellationToken ct);
}

public sealed record ObjectLock(LockMode Mode, DateTimeOffset? RetainUntil)
{
    public static readonly ObjectLock None = new(LockMode.None, null);
    public bool IsActive(DateTimeOffset now) =>
        Mode == LockMode.LegalHold || (Mode != LockMode.None && RetainUntil > now);
}

/// <summary>The metadata keys ManimCloud writes on every object (kept short: S3 allows 2 KB in total).</summary>
public static class ObjectMetadataKeys
{
    public const string Project = "project";
    public const string Video = "video";
    public const string Scene = "scene";
    public const string Version = "version";
    public const string Sha256 = "sha256";
    /// <summary>
    /// The whole object's CRC32 (base64, big-endian, as S3 writes checksums), recorded by multipart uploads made without
    /// flexible checksums (WhenRequired) so a ranged download can verify the whole file by combining its ranges' CRC32s.
    /// </summary>
    public const string Crc32 = "crc32";
    public const string Author = "author";

    /// <summary>S3's limit on user-defined metadata, keys plus values, in UTF-8 bytes.</summary>
    public const int MaxTotalBytes = 2048;

    public static void EnsureWithinLimit(IReadOnlyDictionary<string, string> metadata)
    {
        var total = metadata.Sum(kv => System.Text.Encoding.UTF8.GetByteCount(kv.Key) + System.Text.Encoding.UTF8.GetByteCount(kv.Value));
        if (total > MaxTotalBytes)
            throw new ManimCloudException(ErrorKind.InvalidInput,
                $"The object metadata is {total} bytes; S3 allows at most {MaxTotalBytes}.",
                "Shorten the values that go into object metadata (for example the author name).");
        foreach (var kv in metadata)
            if (kv.Value.Any(c => c < 0x20 || c > 0x7e))
                throw new ManimCloudException(ErrorKind.InvalidInput,
                    $"Object metadata '{kv.Key}' contains characters S3 headers cannot carry.",
                    "Use printable ASCII in values that go into object metadata.");
    }
}
