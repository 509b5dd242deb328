using System.Text.Json.Nodes;
using ManimCloud.Local;

namespace ManimCloud.Streaming.Ffmpeg;

/// <summary>
/// A scene's storyboard: its sprite sheets (workspace blobs, tiled in the run that encoded it) under
/// <see cref="Settings"/> (<see cref="Storyboard.Settings"/>), how many thumbnails they hold and how many fit a sheet.
/// </summary>
public sealed record SceneSheets(string Settings, int Thumbnails, int PerSheet, IReadOnlyList<string> Sheets)
{
    public JsonObject ToJson() => new()
    {
        ["settings"] = Settings, ["thumbnails"] = Thumbnails, ["per_sheet"] = PerSheet,
        ["sheets"] = new JsonArray(Sheets.Select(s => (JsonNode)JsonValue.Create(s)!).ToArray()),
    };

    /// <summary>Null for what workspaces before per-scene sheets stored (a list of loose thumbnails): such a scene's sheets are made again.</summary>
    public static SceneSheets? FromJson(JsonNode? j) => j is JsonObject o
        ? new SceneSheets((string)o["settings"]!, (int)o["thumbnails"]!, (int)o["per_sheet"]!, o["sheets"]!.AsArray().Select(s => (string)s!).ToList())
        : null;
}

/// <summary>
/// The scenes this workspace has finished encoding, by segment folder: their index and their storyboard sheets (kept
/// here, copied into each version's storyboard). A scene is recorded only after every file of it is a durable
/// workspace blob, so after a crash or kill -9 the rerun finds the finished scenes and encodes only the rest. Beside
/// them, the stills made from a clip (the poster), by what they depend on, so a version whose first scene did not change
/// reuses its poster.
/// </summary>
public sealed class SceneStash
{
    private readonly Catalog _catalog;

    public SceneStash(Catalog catalog)
    {
        _catalog = catalog;
        catalog.EnsureSchema("streaming.scene_renditions", """
            CREATE TABLE IF NOT EXISTS scene_renditions (
                folder_key TEXT PRIMARY KEY, clip_sha256 TEXT NOT NULL, fingerprint TEXT NOT NULL,
                scene_index TEXT NOT NULL, thumbnails TEXT NOT NULL, created_at TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS scene_renditions_by_clip ON scene_renditions(clip_sha256, fingerprint);
            """);
        catalog.EnsureSchema("streaming.stills", """
            CREATE TABLE IF NOT EXISTS transcode_stills (
                still_key TEXT PRIMARY KEY, sha256 TEXT NOT NULL, size INTEGER NOT NULL, created_at TEXT NOT NULL);
            """);
    }

    public sealed record Entry(SceneIndex Index, SceneSheets? Sheets);

    public Entry? Find(string folderKey)
    {
        using var c = _catalog.Open();
        using var cmd = c.Command(null, "SELECT scene_index, thumbnails FROM scene_renditions WHERE folder_key = $k", ("$k", folderKey));
        using var r = cmd.ExecuteReader();
        return r.Read() ? Read(r) : null;
    }

    /// <summary>Sheets of a clip made by any earlier encode with these storyboard settings (they depend on the clip only).</summary>
    public SceneSheets? SheetsOf(string clipSha256, string settings)
    {
        using var c = _catalog.Open();
        using var cmd = c.Command(null, "SELECT scene_index, thumbnails FROM scene_renditions WHERE clip_sha256 = $h AND thumbnails LIKE '{%'", ("$h", clipSha256));
        using var r = cmd.ExecuteReader();
        while (r.Read())
            if (Read(r).Sheets is { } sheets && sheets.Settings == settings) return sheets;
        return null;
    }

    public void Add(SceneIndex index, SceneSheets? sheets) =>
        _catalog.InTransaction((c, tx) => c.Command(tx, """
            INSERT INTO scene_renditions(folder_key, clip_sha256, fingerprint, scene_index, thumbnails, created_at)
            VALUES ($k, $h, $f, $i, $t, $c)
            ON CONFLICT(folder_key) DO UPDATE SET scene_index = $i, thumbnails = $t
            """, ("$k", index.FolderKey), ("$h", index.ClipSha256), ("$f", index.Fingerprint), ("$i", index.ToJson().ToJsonString()),
            ("$t", sheets?.ToJson().ToJsonString() ?? "[]"), ("$c", DateTimeOffset.UtcNow.ToString("O"))).ExecuteNonQuery(), durable: true);

    /// <summary>A still made before under this key (what it was made from and how), as a blob: SHA-256 and size.</summary>
    public (string Sha256, long Size)? FindStill(string key)
    {
        using var c = _catalog.Open();
        using var cmd = c.Command(null, "SELECT sha256, size FROM transcode_stills WHERE still_key = $k", ("$k", key));
        using var r = cmd.ExecuteReader();
        return r.Read() ? (r.GetString(0), r.GetInt64(1)) : null;
    }

    public void AddStill(string key, string sha256, long size) =>
        _catalog.InTransaction((c, tx) => c.Command(tx, """
            INSERT INTO transcode_stills(still_key, sha256, size, created_at) VALUES ($k, $s, $n, $c)
            ON CONFLICT(still_key) DO UPDATE SET sha256 = $s, size = $n
            """, ("$k", key), ("$s", sha256), ("$n", size), ("$c", DateTimeOffset.UtcNow.ToString("O"))).ExecuteNonQuery(), durable: true);

    private static Entry Read(Microsoft.Data.Sqlite.SqliteDataReader r) =>
        new(SceneIndex.FromJson(JsonNode.Parse(r.GetString(0))!), SceneSheets.FromJson(JsonNode.Parse(r.GetString(1))));
}
