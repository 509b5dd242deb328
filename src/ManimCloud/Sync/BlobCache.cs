using ManimCloud.Local;

namespace ManimCloud.Sync;

public sealed record EvictionReport(int Evicted, long BytesFreed, long BytesCached);

/// <summary>
/// The workspace's blob folder as a cache of the cloud (SPEC R10). A blob is evictable only once it is known to be
/// in the cloud (<c>synced</c>) and no queued operation needs it; eviction goes least recently used first, when the
/// cache is over <c>MANIMCLOUD_CACHE_LIMIT</c> or the disk runs short. In local-only mode nothing is ever evicted:
/// the workspace is then the system of record.
/// </summary>
public sealed class BlobCache(Catalog catalog, BlobFolder blobs, Outbox outbox, long? limitBytes, bool cloudConfigured)
{
    /// <summary>Free space below which synced blobs are evicted even under the limit.</summary>
    public long MinimumFreeBytes { get; init; } = 1L << 30;

    public void Touch(string sha256, long size, bool synced) =>
        catalog.InTransaction((c, tx) => c.Command(tx, """
            INSERT INTO blob_cache(sha256, size, last_access, synced) VALUES ($h, $n, $t, $s)
            ON CONFLICT(sha256) DO UPDATE SET last_access = $t, synced = MAX(synced, $s)
            """, ("$h", sha256), ("$n", size), ("$t", DateTimeOffset.UtcNow.ToString("O")), ("$s", synced ? 1 : 0)).ExecuteNonQuery());

    public void MarkSynced(string sha256) => MarkSynced([sha256]);

    /// <summary>Several blobs in one catalog transaction (a bulk sync).</summary>
    public void MarkSynced(IReadOnlyCollection<string> sha256s) =>
        catalog.InTransaction((c, tx) =>
        {
            foreach (var h in sha256s) c.Command(tx, "UPDATE blob_cache SET synced = 1 WHERE sha256 = $h", ("$h", h)).ExecuteNonQuery();
            return 0;
        });

    public long CachedBytes()
    {
        using var c = catalog.Open();
        using var cmd = c.Command(null, "SELECT COALESCE(SUM(size), 0) FROM blob_cache");
        return Convert.ToInt64(cmd.ExecuteScalar());
    }

    public EvictionReport Evict()
    {
        var cached = CachedBytes();
        if (!cloudConfigured) return new(0, 0, cached);
        var excess = limitBytes is { } limit ? cached - limit : 0;
        var free = FreeBytes();
        if (free is { } f && f < MinimumFreeBytes) excess = Math.Max(excess, MinimumFreeBytes - f);
        if (excess <= 0) return new(0, 0, cached);

        var keep = outbox.ReferencedBlobs();
        var evicted = 0;
        long freed = 0;
        using var c = catalog.Open();
        var candidates = new List<(string Sha, long Size)>();
        using (var cmd = c.Command(null, "SELECT sha256, size FROM blob_cache WHERE synced = 1 ORDER BY last_access"))
        using (var r = cmd.ExecuteReader())
            while (r.Read()) candidates.Add((r.GetString(0), r.GetInt64(1)));
        foreach (var (sha, size) in candidates)
        {
            if (freed >= excess) break;
            if (keep.Contains(sha)) continue;
            var path = blobs.PathOf(sha);
            try { File.Delete(path); } catch (IOException) { continue; }
            using (var del = c.Command(null, "DELETE FROM blob_cache WHERE sha256 = $h", ("$h", sha))) del.ExecuteNonQuery();
            evicted++;
            freed += size;
        }
        return new(evicted, freed, cached - freed);
    }

    /// <summary>
    /// Removes the blobs of a write that was withdrawn (the cloud refused it for good), unless something else still
    /// needs them: a queued operation, an object in the workspace's store, or a copy known to be in the cloud.
    /// Without this, every refused write would leave its bytes in the blob folder for ever. A blob touched after
    /// <paramref name="writeStarted"/> belongs to another writer of the same bytes that has not queued its operation
    /// yet, and is kept (the orphan sweep takes it later if that writer goes away).
    /// </summary>
    public int Release(IReadOnlyCollection<string> sha256s, DateTimeOffset writeStarted)
    {
        if (sha256s.Count == 0) return 0;
        var keep = outbox.ReferencedBlobs();
        var removed = 0;
        using var c = catalog.Open();
        foreach (var sha in sha256s.Distinct())
        {
            if (keep.Contains(sha) || IsStoredOrSynced(c, sha) || TouchedAfter(c, sha, writeStarted)) continue;
            if (Remove(c, sha)) removed++;
        }
        return removed;
    }

    /// <summary>
    /// Blobs nothing refers to (left by refused writes, or by a crash between storing a blob and recording its
    /// operation), older than <paramref name="grace"/> so a writer that is still at work keeps its blob.
    /// Only blobs the cache tracks as unsynced are candidates: cached copies of cloud objects go by eviction.
    /// </summary>
    public EvictionReport CollectOrphans(TimeSpan grace)
    {
        var keep = outbox.ReferencedBlobs();
        using var c = catalog.Open();
        var candidates = new List<(string Sha, long Size)>();
        var before = (DateTimeOffset.UtcNow - grace).ToString("O");
        using (var cmd = c.Command(null, "SELECT sha256, size FROM blob_cache WHERE synced = 0 AND last_access < $t", ("$t", before)))
        using (var r = cmd.ExecuteReader())
            while (r.Read()) candidates.Add((r.GetString(0), r.GetInt64(1)));
        int removed = 0;
        long freed = 0;
        foreach (var (sha, size) in candidates)
        {
            if (keep.Contains(sha) || IsStoredOrSynced(c, sha)) continue;
            if (Remove(c, sha)) { removed++; freed += size; }
        }
        return new(removed, freed, CachedBytes());
    }

    private static bool IsStoredOrSynced(Microsoft.Data.Sqlite.SqliteConnection c, string sha)
    {
        using var cmd = c.Command(null, """
            SELECT EXISTS(SELECT 1 FROM objects WHERE sha256 = $h) OR EXISTS(SELECT 1 FROM blob_cache WHERE sha256 = $h AND synced = 1)
            """, ("$h", sha));
        return Convert.ToInt64(cmd.ExecuteScalar()) == 1;
    }

    private static bool TouchedAfter(Microsoft.Data.Sqlite.SqliteConnection c, string sha, DateTimeOffset at)
    {
        using var cmd = c.Command(null, "SELECT last_access FROM blob_cache WHERE sha256 = $h", ("$h", sha));
        return cmd.ExecuteScalar() is string t && DateTimeOffset.Parse(t) > at;
    }

    private bool Remove(Microsoft.Data.Sqlite.SqliteConnection c, string sha)
    {
        try { File.Delete(blobs.PathOf(sha)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
        using var del = c.Command(null, "DELETE FROM blob_cache WHERE sha256 = $h", ("$h", sha));
        del.ExecuteNonQuery();
        return true;
    }

    private long? FreeBytes()
    {
        try { return new DriveInfo(Path.GetFullPath(blobs.Root)).AvailableFreeSpace; }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException) { return null; }
    }
}
