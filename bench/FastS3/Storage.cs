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

    /// <summary>
    /// Request headers kept as sent and returned on HEAD/GET: server-side encryption (x-amz-server-side-encryption,
    /// its KMS key id and context), Object Lock (mode, retain-until date, legal hold), Content-Encoding and friends.
    /// FastS3 encrypts nothing and enforces no lock; it only answers the way S3 does, so the clients' code paths run.
    /// </summary>
    public IReadOnlyDictionary<string, string> Echoed { get; init; } = new Dictionary<string, string>();

    /// <summary>Object tagging, as the raw Tagging XML a client sent.</summary>
    public string? TaggingXml { get; init; }
}

public sealed record Part(int Number, Segment Data, string ETag, ChecksumAlgorithm? Algorithm, string? Checksum, DateTimeOffset LastModified);

public sealed class MultipartUpload(string id, string bucket, string key, string contentType,
    IReadOnlyDictionary<string, string> metadata, ChecksumAlgorithm? algorithm, string checksumType, IReadOnlyDictionary<string, string> echoed)
{
    public IReadOnlyDictionary<string, string> Echoed => echoed;
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

public sealed class Bucket(string name, bool objectLockEnabled = false)
{
    public string Name => name;
    /// <summary>Set by CreateBucket's x-amz-bucket-object-lock-enabled; S3 then also turns versioning on.</summary>
    public bool ObjectLockEnabled => objectLockEnabled;
    /// <summary>Bucket sub-resources (versioning, encryption, lifecycle, policy …) as the XML/JSON bodies a client PUT.</summary>
    public ConcurrentDictionary<string, string> Config { get; } = new(StringComparer.Ordinal);
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

    // Files of deleted objects, kept to be written again (see NewDataPath), with how many bytes they hold in all.
    private readonly ConcurrentQueue<Segment> _free = new();
    private long _freeBytes;
    private readonly long _keepFreeBytes;
    // Segments being read by a GET, by path: a deleted segment is recycled only when nobody reads it.
    private readonly Dictionary<string, int> _readers = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <param name="keepFreeBytes">How much of deleted objects' files to keep for reuse (0: unlink them).</param>
    public Storage(string root, long keepFreeBytes = 8L << 30)
    {
        _data = Path.Combine(root, "data");
        _keepFreeBytes = keepFreeBytes;
        Directory.CreateDirectory(_data);
    }

    /// <summary>
    /// A path for a new object's bytes, to be opened with <see cref="FileMode.OpenOrCreate"/> and cut to the length
    /// written: when a deleted object's file is free, it is moved there, so its pages are written over in the page
    /// cache instead of new ones being allocated. A new page-cache page costs little on bare metal but on these VMs
    /// memory freed back to the host (free page reporting) is faulted in again on first touch: writing 1 GiB into new
    /// pages took from 0.2 to 2.5 s of server CPU, depending on how long ago the memory was freed, and every client's
    /// wall time moved with it.
    /// </summary>
    public string NewDataPath()
    {
        var path = Path.Combine(_data, Guid.NewGuid().ToString("N"));
        while (_free.TryDequeue(out var free))
        {
            Interlocked.Add(ref _freeBytes, -free.Length);
            try
            {
                File.Move(free.Path, path);
                return path;
            }
            catch (IOException) { }
        }
        return path;
    }

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

    /// <summary>
    /// Stores <paramref name="obj"/> if S3's write preconditions hold, atomically: If-None-Match: * only when the key is
    /// absent, If-Match only when the current ETag is one of those given. On a failed precondition nothing changes.
    /// </summary>
    public void PutConditional(Bucket bucket, StoredObject obj, bool createOnly, Func<string, bool>? ifMatch)
    {
        if (createOnly)
        {
            if (!bucket.Objects.TryAdd(obj.Key, obj)) throw PreconditionFailed();
            return;
        }
        if (ifMatch is null) { Put(bucket, obj); return; }
        if (!bucket.Objects.TryGetValue(obj.Key, out var current))
            throw new S3Error(404, "NoSuchKey", $"The key '{obj.Key}' does not exist, so If-Match cannot hold.");
        if (!ifMatch(current.ETag) || !bucket.Objects.TryUpdate(obj.Key, obj, current)) throw PreconditionFailed();
        Delete(current.Segments);
    }

    public static S3Error PreconditionFailed() => new(412, "PreconditionFailed", "At least one of the preconditions you specified did not hold.");

    /// <summary>Replaces an object's description (tags, retention …) without touching its bytes.</summary>
    public void Update(Bucket bucket, string key, Func<StoredObject, StoredObject> change)
    {
        while (true)
        {
            var current = GetObject(bucket, key);
            if (bucket.Objects.TryUpdate(key, change(current), current)) return;
        }
    }

    public void Remove(Bucket bucket, string key)
    {
        if (bucket.Objects.TryRemove(key, out var old)) Delete(old.Segments);
    }

    /// <summary>
    /// Forgets segments' files: kept for reuse (up to the limit) when no GET is reading them, else unlinked — a reader
    /// that already opened one keeps reading it, since on Linux an unlinked open file lives on.
    /// </summary>
    public void Delete(IEnumerable<Segment> segments)
    {
        foreach (var s in segments)
        {
            lock (_gate)
            {
                if (!_readers.ContainsKey(s.Path) && Interlocked.Read(ref _freeBytes) + s.Length <= _keepFreeBytes)
                {
                    var free = s.Path + ".free";
                    try
                    {
                        File.Move(s.Path, free);
                        Interlocked.Add(ref _freeBytes, s.Length);
                        _free.Enqueue(s with { Path = free });
                        continue;
                    }
                    catch (IOException) { }
                }
            }
            File.Delete(s.Path);
        }
    }

    /// <summary>Opens a segment for a GET; <see cref="EndRead"/> when done. A deleted segment is not found.</summary>
    public Microsoft.Win32.SafeHandles.SafeFileHandle OpenForRead(Segment segment)
    {
        lock (_gate)
        {
            var handle = File.OpenHandle(segment.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
            _readers[segment.Path] = _readers.GetValueOrDefault(segment.Path) + 1;
            return handle;
        }
    }

    public void EndRead(Segment segment, Microsoft.Win32.SafeHandles.SafeFileHandle handle)
    {
        handle.Dispose();
        lock (_gate)
        {
            if (_readers.TryGetValue(segment.Path, out var n) && n > 1) _readers[segment.Path] = n - 1;
            else _readers.Remove(segment.Path);
        }
    }
}

/// <summary>An S3 error response: status, code and message, as S3 would send them.</summary>
public sealed class S3Error(int status, string code, string message) : Exception(message)
{
    public int Status => status;
    public string Code => code;
}
