using System.Collections.Concurrent;

namespace FastS3;

/// <summary>A file holding one stretch of an object's bytes (the whole object, or one part of a multipart upload).</summary>
public sealed record Segment(string Path, long Length);

public sealed record StoredObject(
    string Key, long Size, string ETag, string ContentType, DateTimeOffset LastModified,
    IReadOnlyDictionary<string, string> Metadata, ChecksumAlgorithm? Algorithm, string? Checksum, string? ChecksumType,
    IReadOnlyList<Segment> Segments)
{
    /// <summary>0 for a single PUT; the part count for a completed multipart upload.</summary>
    public int PartsCount { get; init; }

    /// <summary>Each part's own checksum, which S3 returns for a GET by part number.</summary>
    public IReadOnlyList<string?> PartChecksums { get; init; } = [];
}

public sealed record Part(int Number, Segment Data, string ETag, ChecksumAlgorithm? Algorithm, string? Checksum, DateTimeOffset LastModified);

public sealed class MultipartUpload(string id, string bucket, string key, string contentType,
    IReadOnlyDictionary<string, string> metadata, ChecksumAlgorithm? algorithm, string checksumType)
{
    public string Id => id;
    public string Bucket => bucket;
    public string Key => key;
    public string ContentType => contentType;
    public IReadOnlyDictionary<string, string> Metadata => metadata;
    public ChecksumAlgorithm? Algorithm => algorithm;
    public string ChecksumType => checksumType;
    public DateTimeOffset Initiated { get; } = DateTimeOffset.UtcNow;
    public ConcurrentDictionary<int, Part> Parts { get; } = new();
}

public sealed class Bucket(string name)
{
    public string Name => name;
    public DateTimeOffset Created { get; } = DateTimeOffset.UtcNow;
    public ConcurrentDictionary<string, StoredObject> Objects { get; } = new(StringComparer.Ordinal);
}

/// <summary>
/// Object bytes live in files under the data folder; what describes them (keys, ETags, checksums, which files
/// make an object) lives in memory, because this server exists for one benchmark run and never restarts mid-run.
/// A multipart object keeps its part files as segments, so completing an upload copies nothing.
/// </summary>
public sealed class Storage
{
    private readonly string _data;
    public ConcurrentDictionary<string, Bucket> Buckets { get; } = new(StringComparer.Ordinal);
    public ConcurrentDictionary<string, MultipartUpload> Uploads { get; } = new(StringComparer.Ordinal);

    public Storage(string root)
    {
        _data = Path.Combine(root, "data");
        Directory.CreateDirectory(_data);
    }

    public string NewDataPath() => Path.Combine(_data, Guid.NewGuid().ToString("N"));

    public Bucket GetBucket(string name) =>
        Buckets.TryGetValue(name, out var b) ? b : throw new S3Error(404, "NoSuchBucket", $"The bucket '{name}' does not exist.");

    public StoredObject GetObject(Bucket bucket, string key) =>
        bucket.Objects.TryGetValue(key, out var o) ? o : throw new S3Error(404, "NoSuchKey", $"The key '{key}' does not exist.");

    public MultipartUpload GetUpload(string id, string bucket, string key) =>
        Uploads.TryGetValue(id, out var u) && u.Bucket == bucket && u.Key == key ? u
            : throw new S3Error(404, "NoSuchUpload", $"The multipart upload '{id}' does not exist for {bucket}/{key}.");

    public void Put(Bucket bucket, StoredObject obj)
    {
        StoredObject? old = null;
        bucket.Objects.AddOrUpdate(obj.Key, obj, (_, previous) => { old = previous; return obj; });
        if (old is not null) Delete(old.Segments);
    }

    public void Remove(Bucket bucket, string key)
    {
        if (bucket.Objects.TryRemove(key, out var old)) Delete(old.Segments);
    }

    public static void Delete(IEnumerable<Segment> segments)
    {
        // Readers that already opened a segment keep reading it: on Linux an unlinked open file lives on.
        foreach (var s in segments) File.Delete(s.Path);
    }
}

/// <summary>An S3 error response: status, code and message, as S3 would send them.</summary>
public sealed class S3Error(int status, string code, string message) : Exception(message)
{
    public int Status => status;
    public string Code => code;
}
