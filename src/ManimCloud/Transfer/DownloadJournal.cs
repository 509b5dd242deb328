using System.Globalization;
using ManimCloud.Local;
using Microsoft.Data.Sqlite;

namespace ManimCloud.Transfer;

/// <summary>
/// One ranged download in progress: which object (pinned to its version, or to its ETag when unversioned), where it
/// goes, the temporary file its ranges are written into, and how many ranges are done.
/// </summary>
public sealed record DownloadEntry(
    string Id,
    string Bucket,
    string Key,
    string? VersionId,
    string ETag,
    string Destination,
    string PartialPath,
    long Size,
    long PartSize,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    int RangesDone,
    long BytesDone)
{
    public int RangeCount => Size == 0 ? 0 : PartSizing.PartCount(Size, PartSize);
}

/// <summary>A range written into the temporary file, with the CRC32 of the bytes that arrived for it.</summary>
public sealed record DownloadRange(int Number, long Size, uint Crc32);

/// <summary>
/// The ranged downloads in progress, in the workspace catalog (its own tables, created on first use), so a download
/// killed half-way continues in the next process from the ranges it already has: each range is recorded after its
/// bytes are written into the temporary file, with their CRC32, and a resume reads those ranges back and checks that
/// CRC32 before trusting them (a range whose bytes did not survive — a power cut before the page cache was written
/// back — is fetched again). One download per bucket, key and destination.
/// </summary>
public sealed class DownloadJournal
{
    private readonly Catalog _catalog;

    public DownloadJournal(Catalog catalog)
    {
        _catalog = catalog;
        catalog.EnsureSchema("transfer-downloads.v1", """
            CREATE TABLE IF NOT EXISTS transfer_downloads (
                id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL, version_id TEXT, etag TEXT NOT NULL,
                destination TEXT NOT NULL, partial_path TEXT NOT NULL, size INTEGER NOT NULL, part_size INTEGER NOT NULL,
                created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (bucket, key, destination));
            CREATE TABLE IF NOT EXISTS transfer_download_ranges (
                download TEXT NOT NULL, number INTEGER NOT NULL, size INTEGER NOT NULL, crc32 INTEGER NOT NULL,
                PRIMARY KEY (download, number));
            """);
    }

    public DownloadEntry Start(string bucket, string key, string? versionId, string etag, string destination, string partialPath, long size, long partSize)
    {
        var id = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6));
        var now = DateTimeOffset.UtcNow;
        _catalog.InTransaction((c, tx) =>
        {
            foreach (var old in Ids(c, tx, bucket, key, destination)) Delete(c, tx, old);
            Exec(c, tx, """
                INSERT INTO transfer_downloads (id, bucket, key, version_id, etag, destination, partial_path, size, part_size, created_at, updated_at)
                VALUES ($id, $b, $k, $v, $e, $d, $p, $s, $ps, $now, $now)
                """, ("$id", id), ("$b", bucket), ("$k", key), ("$v", versionId), ("$e", etag), ("$d", destination), ("$p", partialPath),
                ("$s", size), ("$ps", partSize), ("$now", now.ToString("O")));
            return 0;
        });
        return new DownloadEntry(id, bucket, key, versionId, etag, destination, partialPath, size, partSize, now, now, 0, 0);
    }

    /// <summary>Records a range whose bytes are in the temporary file (committed at once: a kill loses at most the ranges in flight).</summary>
    public void RangeDone(string id, DownloadRange range) => _catalog.InTransaction((c, tx) =>
    {
        Exec(c, tx, "INSERT OR REPLACE INTO transfer_download_ranges (download, number, size, crc32) VALUES ($id, $n, $s, $c)",
            ("$id", id), ("$n", range.Number), ("$s", range.Size), ("$c", (long)range.Crc32));
        Exec(c, tx, "UPDATE transfer_downloads SET updated_at = $now WHERE id = $id", ("$id", id), ("$now", DateTimeOffset.UtcNow.ToString("O")));
        return 0;
    });

    public void Forget(string id, IEnumerable<int> ranges) => _catalog.InTransaction((c, tx) =>
    {
        foreach (var n in ranges) Exec(c, tx, "DELETE FROM transfer_download_ranges WHERE download = $id AND number = $n", ("$id", id), ("$n", n));
        return 0;
    });

    public void Remove(string id) => _catalog.InTransaction((c, tx) => { Delete(c, tx, id); return 0; });

    public DownloadEntry? Find(string bucket, string key, string destination) =>
        Query("WHERE d.bucket = $a AND d.key = $b AND d.destination = $c", ("$a", bucket), ("$b", key), ("$c", destination)).SingleOrDefault();

    /// <summary>Unfinished downloads, oldest first.</summary>
    public IReadOnlyList<DownloadEntry> List() => Query("");

    public IReadOnlyList<DownloadRange> Ranges(string id)
    {
        using var c = _catalog.Open();
        using var cmd = c.Command(null, "SELECT number, size, crc32 FROM transfer_download_ranges WHERE download = $id ORDER BY number", ("$id", id));
        using var r = cmd.ExecuteReader();
        var ranges = new List<DownloadRange>();
        while (r.Read()) ranges.Add(new DownloadRange(r.GetInt32(0), r.GetInt64(1), (uint)r.GetInt64(2)));
        return ranges;
    }

    private List<DownloadEntry> Query(string where, params (string, object)[] args)
    {
        using var c = _catalog.Open();
        using var cmd = c.Command(null, $"""
            SELECT d.id, d.bucket, d.key, d.version_id, d.etag, d.destination, d.partial_path, d.size, d.part_size, d.created_at, d.updated_at,
                   (SELECT COUNT(*) FROM transfer_download_ranges r WHERE r.download = d.id),
                   (SELECT COALESCE(SUM(r.size), 0) FROM transfer_download_ranges r WHERE r.download = d.id)
            FROM transfer_downloads d {where} ORDER BY d.created_at
            """, args.Select(a => (a.Item1, (object?)a.Item2)).ToArray());
        using var r = cmd.ExecuteReader();
        var list = new List<DownloadEntry>();
        while (r.Read())
            list.Add(new DownloadEntry(r.GetString(0), r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3), r.GetString(4),
                r.GetString(5), r.GetString(6), r.GetInt64(7), r.GetInt64(8),
                DateTimeOffset.Parse(r.GetString(9), CultureInfo.InvariantCulture), DateTimeOffset.Parse(r.GetString(10), CultureInfo.InvariantCulture),
                r.GetInt32(11), r.GetInt64(12)));
        return list;
    }

    private static List<string> Ids(SqliteConnection c, SqliteTransaction tx, string bucket, string key, string destination)
    {
        using var cmd = c.Command(tx, "SELECT id FROM transfer_downloads WHERE bucket = $b AND key = $k AND destination = $d",
            ("$b", bucket), ("$k", key), ("$d", destination));
        using var r = cmd.ExecuteReader();
        var ids = new List<string>();
        while (r.Read()) ids.Add(r.GetString(0));
        return ids;
    }

    private static void Delete(SqliteConnection c, SqliteTransaction tx, string id)
    {
        Exec(c, tx, "DELETE FROM transfer_download_ranges WHERE download = $id", ("$id", id));
        Exec(c, tx, "DELETE FROM transfer_downloads WHERE id = $id", ("$id", id));
    }

    private static void Exec(SqliteConnection c, SqliteTransaction tx, string sql, params (string Name, object? Value)[] args)
    {
        using var cmd = c.Command(tx, sql, args);
        cmd.ExecuteNonQuery();
    }
}
