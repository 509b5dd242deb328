using System.Security.Cryptography;
using ManimCloud.Domain;
using ManimCloud.Local;
using Microsoft.Data.Sqlite;

namespace ManimCloud.Web.Uploads;

/// <summary>
/// Where tus uploads live: a row per upload in the workspace catalog (the offset is recorded only after the bytes
/// before it are flushed to disk) and a file of the bytes so far under {home}/uploads/. After a crash, the file is cut
/// back to the recorded offset, so what a client is told (HEAD) is always what is safely stored.
/// </summary>
public sealed class TusUploadStore
{
    private readonly Catalog _catalog;
    public string Folder { get; }

    public TusUploadStore(Catalog catalog, string home)
    {
        _catalog = catalog;
        Folder = Path.Combine(home, "uploads");
        Directory.CreateDirectory(Folder);
        catalog.EnsureSchema("web.tus_uploads", """
            CREATE TABLE IF NOT EXISTS tus_uploads (
                id TEXT PRIMARY KEY, video_id TEXT NOT NULL, project_id TEXT NOT NULL, slot TEXT NOT NULL,
                length INTEGER NOT NULL, offset INTEGER NOT NULL, metadata TEXT NOT NULL, created_at TEXT NOT NULL,
                expires_at TEXT NOT NULL, state TEXT NOT NULL, result TEXT, error TEXT);
            CREATE INDEX IF NOT EXISTS tus_uploads_expiry ON tus_uploads(state, expires_at);
            """);
    }

    public string PathOf(string id) => Path.Combine(Folder, id + ".bin");

    public TusUpload Create(VideoId video, ProjectId project, MediaSlot slot, long length, string metadata, TimeSpan expiry)
    {
        var now = DateTimeOffset.UtcNow;
        var upload = new TusUpload(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)), video, project, slot, length, 0, metadata, now, now + expiry,
            TusUpload.Receiving, null, null);
        File.WriteAllBytes(PathOf(upload.Id), []);
        _catalog.InTransaction((c, tx) => c.Command(tx, """
            INSERT INTO tus_uploads (id, video_id, project_id, slot, length, offset, metadata, created_at, expires_at, state)
            VALUES ($id, $v, $p, $s, $l, 0, $m, $c, $e, $st)
            """, ("$id", upload.Id), ("$v", video.ToString()), ("$p", project.ToString()), ("$s", slot.Name), ("$l", length), ("$m", metadata),
            ("$c", now.ToString("O")), ("$e", upload.ExpiresAt.ToString("O")), ("$st", TusUpload.Receiving)).ExecuteNonQuery(), durable: true);
        return upload;
    }

    public TusUpload? Find(string id)
    {
        if (id.Length != 32 || !id.All(char.IsAsciiHexDigitLower)) return null; // also keeps ids out of paths
        using var c = _catalog.Open();
        using var cmd = c.Command(null, "SELECT id, video_id, project_id, slot, length, offset, metadata, created_at, expires_at, state, result, error FROM tus_uploads WHERE id = $id", ("$id", id));
        using var r = cmd.ExecuteReader();
        return r.Read() ? Read(r) : null;
    }

    public void RecordOffset(string id, long offset) =>
        _catalog.InTransaction((c, tx) => c.Command(tx, "UPDATE tus_uploads SET offset = $o WHERE id = $id AND state = $s",
            ("$o", offset), ("$id", id), ("$s", TusUpload.Receiving)).ExecuteNonQuery(), durable: true);

    public void Finish(string id, string state, string? result, string? error)
    {
        _catalog.InTransaction((c, tx) => c.Command(tx, "UPDATE tus_uploads SET state = $s, result = $r, error = $e WHERE id = $id",
            ("$s", state), ("$r", result), ("$e", error), ("$id", id)).ExecuteNonQuery(), durable: true);
        DeleteBytes(id);
    }

    public void Delete(string id)
    {
        _catalog.InTransaction((c, tx) => c.Command(tx, "DELETE FROM tus_uploads WHERE id = $id", ("$id", id)).ExecuteNonQuery(), durable: true);
        DeleteBytes(id);
    }

    /// <summary>Marks unfinished uploads past their expiry as expired and removes their bytes; returns how many.</summary>
    public int Expire(DateTimeOffset now)
    {
        var ids = new List<string>();
        using (var c = _catalog.Open())
        using (var cmd = c.Command(null, "SELECT id FROM tus_uploads WHERE state = $s AND expires_at <= $now", ("$s", TusUpload.Receiving), ("$now", now.ToString("O"))))
        using (var r = cmd.ExecuteReader())
            while (r.Read()) ids.Add(r.GetString(0));
        foreach (var id in ids) Finish(id, TusUpload.Expired, null, "expired before the last byte arrived");
        // Files without a live row (a crash between creating the file and the row) go too.
        foreach (var file in Directory.EnumerateFiles(Folder, "*.bin"))
            if (Find(Path.GetFileNameWithoutExtension(file)) is not { IsOpen: true } && File.GetLastWriteTimeUtc(file) < now.UtcDateTime.AddMinutes(-10))
                File.Delete(file);
        return ids.Count;
    }

    private void DeleteBytes(string id)
    {
        var path = PathOf(id);
        if (File.Exists(path)) File.Delete(path);
    }

    private static TusUpload Read(SqliteDataReader r)
    {
        var slot = r.GetString(3);
        return new TusUpload(r.GetString(0), VideoId.Parse(r.GetString(1)), ProjectId.Parse(r.GetString(2)),
            slot == "full" ? MediaSlot.Full : MediaSlot.ForScene(int.Parse(slot["scene_".Length..])),
            r.GetInt64(4), r.GetInt64(5), r.GetString(6), DateTimeOffset.Parse(r.GetString(7)), DateTimeOffset.Parse(r.GetString(8)),
            r.GetString(9), r.IsDBNull(10) ? null : r.GetString(10), r.IsDBNull(11) ? null : r.GetString(11));
    }
}
