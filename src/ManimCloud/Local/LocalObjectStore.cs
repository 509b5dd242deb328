using System.Runtime.CompilerServices;
using System.Text.Json;
using ManimCloud.Domain;
using ManimCloud.Storage;

namespace ManimCloud.Local;

/// <summary>
/// The object store on the local workspace: content-addressed blobs plus a versioned key index in the catalog.
/// Behaves like a versioned S3 bucket with Object Lock: every put adds a version, deletes keep old versions,
/// and a locked current version refuses deletion and overwrite.
/// </summary>
public sealed class LocalObjectStore(Catalog catalog, BlobFolder blobs, string storeName) : IObjectStore, IObjectLockStore
{
    public string Name => $"local:{storeName}";
    public BlobFolder Blobs => blobs;

    public async Task<StoredObject> PutAsync(ObjectWrite write, Stream content, CancellationToken ct)
    {
        ObjectMetadataKeys.EnsureWithinLimit(write.Metadata);
        var (sha, size) = await blobs.AddAsync(content, write.Sha256, ct);
        return PutExistingBlob(write with { Sha256 = sha, Size = size });
    }

    /// <summary>Indexes a blob already in the blob folder under a key (no copy).</summary>
    public StoredObject PutExistingBlob(ObjectWrite write)
    {
        if (!blobs.Contains(write.Sha256))
            throw new ManimCloudException(ErrorKind.NotFound, $"Blob {write.Sha256} is not in the workspace.", "Store the content first.");
        var now = DateTimeOffset.UtcNow;
        var versionId = Guid.NewGuid().ToString("N");
        return catalog.InTransaction((c, tx) =>
        {
            var current = ReadLatest(c, tx, write.Key);
            if (current is not null && write.CreateOnly)
                throw new ManimCloudException(ErrorKind.Conflict, $"{Name}/{write.Key} already exists.",
                    "This write may only create the key; read the existing object instead.");
            if (current is not null)
            {
                EnsureUnlocked(current.Value.Lock, write.Key, "overwritten");
                c.Command(tx, "UPDATE objects SET is_latest = 0 WHERE store = $s AND key = $k AND is_latest = 1",
                    ("$s", storeName), ("$k", write.Key)).ExecuteNonQuery();
            }
            c.Command(tx, """
                INSERT INTO objects(store, key, version_id, sha256, size, metadata, last_modified, is_latest)
                VALUES ($s, $k, $v, $h, $n, $m, $t, 1)
                """, ("$s", storeName), ("$k", write.Key), ("$v", versionId), ("$h", write.Sha256), ("$n", write.Size),
                ("$m", JsonSerializer.Serialize(write.Metadata, StoredJson.Default.IReadOnlyDictionaryStringString)), ("$t", now.ToString("O"))).ExecuteNonQuery();
            return new StoredObject(write.Key, write.Size, write.Sha256, versionId, now, write.Metadata);
        });
    }

    public Task<StoredObject?> HeadAsync(string key, CancellationToken ct)
    {
        using var c = catalog.Open();
        return Task.FromResult(ReadLatest(c, null, key)?.Object);
    }

    public Task<Stream> OpenReadAsync(string key, string? versionId, CancellationToken ct)
    {
        using var c = catalog.Open();
        var row = versionId is null ? ReadLatest(c, null, key) : ReadVersion(c, key, versionId);
        if (row is null)
            throw new ManimCloudException(ErrorKind.NotFound, $"{Name}/{key}{(versionId is null ? "" : $" (version {versionId})")} does not exist.",
                "Check the key; `manimcloud video show` and `code history` list what is stored.");
        return Task.FromResult(blobs.OpenRead(row.Value.Object.Sha256!, $"{Name}/{key}"));
    }

    public Task DeleteAsync(string key, CancellationToken ct)
    {
        catalog.InTransaction((c, tx) =>
        {
            var current = ReadLatest(c, tx, key);
            if (current is null) return 0;
            EnsureUnlocked(current.Value.Lock, key, "deleted");
            return c.Command(tx, "UPDATE objects SET is_latest = 0 WHERE store = $s AND key = $k AND is_latest = 1",
                ("$s", storeName), ("$k", key)).ExecuteNonQuery();
        });
        return Task.CompletedTask;
    }

    public async IAsyncEnumerable<StoredObject> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken ct)
    {
        using var c = catalog.Open();
        using var cmd = c.Command(null, """
            SELECT key, version_id, sha256, size, metadata, last_modified, lock_mode, lock_until FROM objects
            WHERE store = $s AND is_latest = 1 AND substr(key, 1, length($p)) = $p ORDER BY key
            """, ("$s", storeName), ("$p", prefix));
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            ct.ThrowIfCancellationRequested();
            yield return ReadRow(r).Object;
        }
        await Task.CompletedTask;
    }

    public Task LockAsync(string key, string? versionId, ObjectLock objectLock, CancellationToken ct)
    {
        catalog.InTransaction((c, tx) =>
        {
            var row = versionId is null ? ReadLatest(c, tx, key) : ReadVersion(c, key, versionId, tx);
            if (row is null)
                throw new ManimCloudException(ErrorKind.NotFound, $"{Name}/{key} does not exist.", "Store it before locking it.");
            var existing = row.Value.Lock;
            if (existing.IsActive(DateTimeOffset.UtcNow) && existing.Mode == LockMode.Compliance &&
                (objectLock.Mode != LockMode.Compliance || objectLock.RetainUntil < existing.RetainUntil))
                throw new ManimCloudException(ErrorKind.Locked, $"{Name}/{key} is under a compliance lock until {existing.RetainUntil:O}.",
                    "A compliance lock can only be extended, never shortened or removed.");
            return c.Command(tx, "UPDATE objects SET lock_mode = $m, lock_until = $u WHERE store = $s AND key = $k AND version_id = $v",
                ("$m", objectLock.Mode.ToString()), ("$u", objectLock.RetainUntil?.ToString("O")),
                ("$s", storeName), ("$k", key), ("$v", row.Value.Object.VersionId)).ExecuteNonQuery();
        });
        return Task.CompletedTask;
    }

    public Task<ObjectLock> GetLockAsync(string key, string? versionId, CancellationToken ct)
    {
        using var c = catalog.Open();
        var row = versionId is null ? ReadLatest(c, null, key) : ReadVersion(c, key, versionId);
        return Task.FromResult(row?.Lock ?? ObjectLock.None);
    }

    private void EnsureUnlocked(ObjectLock objectLock, string key, string verb)
    {
        if (objectLock.IsActive(DateTimeOffset.UtcNow))
            throw new ManimCloudException(ErrorKind.Locked,
                $"{Name}/{key} is locked ({objectLock.Mode}{(objectLock.RetainUntil is { } u ? $" until {u:O}" : "")}) and cannot be {verb}.",
                "Store a new version instead; locked versions stay as they are until the lock ends.");
    }

    private (StoredObject Object, ObjectLock Lock)? ReadLatest(Microsoft.Data.Sqlite.SqliteConnection c, Microsoft.Data.Sqlite.SqliteTransaction? tx, string key)
    {
        using var cmd = c.Command(tx, """
            SELECT key, version_id, sha256, size, metadata, last_modified, lock_mode, lock_until FROM objects
            WHERE store = $s AND key = $k AND is_latest = 1
            """, ("$s", storeName), ("$k", key));
        using var r = cmd.ExecuteReader();
        return r.Read() ? ReadRow(r) : null;
    }

    private (StoredObject Object, ObjectLock Lock)? ReadVersion(Microsoft.Data.Sqlite.SqliteConnection c, string key, string versionId, Microsoft.Data.Sqlite.SqliteTransaction? tx = null)
    {
        using var cmd = c.Command(tx, """
            SELECT key, version_id, sha256, size, metadata, last_modified, lock_mode, lock_until FROM objects
            WHERE store = $s AND key = $k AND version_id = $v
            """, ("$s", storeName), ("$k", key), ("$v", versionId));
        using var r = cmd.ExecuteReader();
        return r.Read() ? ReadRow(r) : null;
    }

    private static (StoredObject Object, ObjectLock Lock) ReadRow(Microsoft.Data.Sqlite.SqliteDataReader r)
    {
        var metadata = JsonSerializer.Deserialize(r.GetString(4), StoredJson.Default.DictionaryStringString) ?? new();
        var obj = new StoredObject(r.GetString(0), r.GetInt64(3), r.GetString(2), r.GetString(1), DateTimeOffset.Parse(r.GetString(5)), metadata);
        var mode = Enum.Parse<LockMode>(r.GetString(6));
        var until = r.IsDBNull(7) ? (DateTimeOffset?)null : DateTimeOffset.Parse(r.GetString(7));
        return (obj, new ObjectLock(mode, until));
    }
}
