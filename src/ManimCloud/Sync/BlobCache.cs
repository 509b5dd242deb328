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

    private long? FreeBytes()
    {
        try { return new DriveInfo(Path.GetFullPath(blobs.Root)).AvailableFreeSpace; }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException) { return null; }
    }
}
