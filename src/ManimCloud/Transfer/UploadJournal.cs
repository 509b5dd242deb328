using System.Globalization;
using System.Text.Json;
using ManimCloud.Local;
using ManimCloud.Storage;
using ManimCloud.Workspace;
using Microsoft.Data.Sqlite;

namespace ManimCloud.Transfer;

/// <summary>One multipart upload in progress, as the workspace remembers it.</summary>
public sealed record JournalEntry(
    string Id,
    string Bucket,
    string Key,
    string UploadId,
    string Path,
    long Size,
    long ModifiedTicks,
    string Sha256,
    long PartSize,
    ChecksumMode ChecksumMode,
    UploadOptions Options,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    int PartsDone,
    long BytesDone,
    string Integrity = UploadIntegrity.Sha256)
{
    public int PartCount => PartSizing.PartCount(Size, PartSize);

    /// <summary>Whether an upload with <paramref name="o"/> would create the same object (type, metadata, encryption, class).</summary>
    public bool CreatedWith(UploadOptions o) =>
        o.ContentType == Options.ContentType && o.KmsKeyId == Options.KmsKeyId && o.StorageClass == Options.StorageClass
        && o.RequestEncryption == Options.RequestEncryption && o.ChecksumMode == ChecksumMode
        && o.Metadata.Count == Options.Metadata.Count
        && o.Metadata.All(kv => Options.Metadata.TryGetValue(kv.Key, out var v) && v == kv.Value);
}

/// <summary>How an upload's whole-object integrity is checked, as the journal records it.</summary>
public static class UploadIntegrity
{
    /// <summary>The file's SHA-256 is known up front (its identity) and recorded as metadata; parts carry CRC32C (older versions) or Content-MD5.</summary>
    public const string Sha256 = "sha256";
    /// <summary>CRC32 per part (kept in the journal), the FULL_OBJECT CRC32 combined from them; no SHA-256 pass.</summary>
    public const string Crc32 = "crc32";

    public static string For(ChecksumMode mode) => mode == ChecksumMode.WhenRequired ? Sha256 : Crc32;
}

/// <summary>A part S3 confirmed, with the checksum it was sent with (base64 CRC32 for <see cref="UploadIntegrity.Crc32"/> uploads).</summary>
public sealed record JournalPart(int Number, long Size, string Checksum, string ETag);

/// <summary>
/// The multipart uploads in progress, in the workspace catalog: the upload id and every confirmed part are
/// committed (fsync) as soon as S3 confirms them, so a crash or kill -9 loses at most the parts in flight.
/// Owns its own tables (created if missing); one in-progress upload per bucket and key.
/// </summary>
public sealed class UploadJournal
{
    private readonly Catalog _catalog;

    public UploadJournal(Catalog catalog)
    {
        _catalog = catalog;
        using var c = catalog.Open();
        using var create = c.CreateCommand();
        // The catalog's migration (schema v4) creates the tables and the integrity column; this covers a catalog
        // file made by hand or copied from a test without the journal.
        create.CommandText = UploadJournalTables.V3;
        create.ExecuteNonQuery();
    }

    public JournalEntry Start(string bucket, string key, string uploadId, string path, long size, long modifiedTicks,
        string? sha256, long partSize, UploadOptions options)
    {
        var id = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6));
        var now = DateTimeOffset.UtcNow;
        _catalog.InTransaction((c, tx) =>
        {
            Exec(c, tx, "DELETE FROM transfer_uploads WHERE bucket = $b AND key = $k", ("$b", bucket), ("$k", key));
            Exec(c, tx, """
                INSERT INTO transfer_uploads (id, bucket, key, upload_id, path, size, modified_ticks, sha256, part_size,
                    checksum_mode, options, created_at, updated_at, integrity)
                VALUES ($id, $b, $k, $u, $p, $s, $m, $h, $ps, $cm, $o, $now, $now, $i)
                """,
                ("$id", id), ("$b", bucket), ("$k", key), ("$u", uploadId), ("$p", path), ("$s", size), ("$m", modifiedTicks),
                ("$h", sha256 ?? ""), ("$ps", partSize), ("$cm", options.ChecksumMode.ToString()),
                ("$i", UploadIntegrity.For(options.ChecksumMode)),
                ("$o", JsonSerializer.Serialize(StoredOptions.From(options), StoredJson.Default.StoredOptions)), ("$now", now.ToString("O")));
            return 0;
        });
        return new JournalEntry(id, bucket, key, uploadId, path, size, modifiedTicks, sha256 ?? "", partSize, options.ChecksumMode,
            options, now, now, 0, 0, UploadIntegrity.For(options.ChecksumMode));
    }

    public void PartDone(string id, JournalPart part) => _catalog.InTransaction((c, tx) =>
    {
        Exec(c, tx, """
            INSERT OR REPLACE INTO transfer_parts (upload, part_number, size, checksum, etag) VALUES ($id, $n, $s, $c, $e)
            """, ("$id", id), ("$n", part.Number), ("$s", part.Size), ("$c", part.Checksum), ("$e", part.ETag));
        Exec(c, tx, "UPDATE transfer_uploads SET updated_at = $now WHERE id = $id", ("$id", id), ("$now", DateTimeOffset.UtcNow.ToString("O")));
        return 0;
    });

    /// <summary>Forgets parts S3 no longer holds (so they are sent again).</summary>
    public void ForgetParts(string id, IEnumerable<int> numbers) => _catalog.InTransaction((c, tx) =>
    {
        foreach (var n in numbers)
            Exec(c, tx, "DELETE FROM transfer_parts WHERE upload = $id AND part_number = $n", ("$id", id), ("$n", n));
        return 0;
    });

    public void Remove(string id) => _catalog.InTransaction((c, tx) =>
    {
        Exec(c, tx, "DELETE FROM transfer_parts WHERE upload = $id", ("$id", id));
        Exec(c, tx, "DELETE FROM transfer_uploads WHERE id = $id", ("$id", id));
        return 0;
    });

    public JournalEntry? Find(string id) => Query("WHERE u.id = $a", ("$a", id)).SingleOrDefault();

    public JournalEntry? Find(string bucket, string key) =>
        Query("WHERE u.bucket = $a AND u.key = $b", ("$a", bucket), ("$b", key)).SingleOrDefault();

    public IReadOnlyList<JournalEntry> List() => Query("");

    public IReadOnlyList<JournalPart> Parts(string id)
    {
        using var c = _catalog.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT part_number, size, checksum, etag FROM transfer_parts WHERE upload = $id ORDER BY part_number";
        cmd.Parameters.AddWithValue("$id", id);
        using var r = cmd.ExecuteReader();
        var parts = new List<JournalPart>();
        while (r.Read()) parts.Add(new JournalPart(r.GetInt32(0), r.GetInt64(1), r.GetString(2), r.GetString(3)));
        return parts;
    }

    private List<JournalEntry> Query(string where, params (string, object)[] args)
    {
        using var c = _catalog.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"""
            SELECT u.id, u.bucket, u.key, u.upload_id, u.path, u.size, u.modified_ticks, u.sha256, u.part_size,
                   u.checksum_mode, u.options, u.created_at, u.updated_at,
                   (SELECT COUNT(*) FROM transfer_parts p WHERE p.upload = u.id),
                   (SELECT COALESCE(SUM(p.size), 0) FROM transfer_parts p WHERE p.upload = u.id), u.integrity
            FROM transfer_uploads u {where} ORDER BY u.created_at
            """;
        foreach (var (name, value) in args) cmd.Parameters.AddWithValue(name, value);
        using var r = cmd.ExecuteReader();
        var list = new List<JournalEntry>();
        while (r.Read())
        {
            var mode = Enum.Parse<ChecksumMode>(r.GetString(9));
            var options = JsonSerializer.Deserialize(r.GetString(10), StoredJson.Default.StoredOptions)!.ToOptions(mode, r.GetInt64(8));
            list.Add(new JournalEntry(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4),
                r.GetInt64(5), r.GetInt64(6), r.GetString(7), r.GetInt64(8), mode, options,
                DateTimeOffset.Parse(r.GetString(11), CultureInfo.InvariantCulture), DateTimeOffset.Parse(r.GetString(12), CultureInfo.InvariantCulture),
                r.GetInt32(13), r.GetInt64(14), r.GetString(15)));
        }
        return list;
    }

    private static void Exec(SqliteConnection c, SqliteTransaction tx, string sql, params (string Name, object? Value)[] args)
    {
        using var cmd = c.Command(tx, sql, args);
        cmd.ExecuteNonQuery();
    }

    /// <summary>The options needed to start the upload over from another process (the file may have changed by then).</summary>
    internal sealed record StoredOptions(string ContentType, Dictionary<string, string> Metadata, string? KmsKeyId, string? StorageClass,
        int Concurrency, bool RequestEncryption = true)
    {
        public static StoredOptions From(UploadOptions o) =>
            new(o.ContentType, new Dictionary<string, string>(o.Metadata), o.KmsKeyId, o.StorageClass, o.Concurrency, o.RequestEncryption);

        public UploadOptions ToOptions(ChecksumMode mode, long partSize) => new()
        {
            ContentType = ContentType, Metadata = Metadata, KmsKeyId = KmsKeyId, StorageClass = StorageClass,
            Concurrency = Concurrency, ChecksumMode = mode, PartSize = partSize, RequestEncryption = RequestEncryption,
        };
    }
}
