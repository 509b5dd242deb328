using System.Text.Json.Nodes;
using ManimCloud.Local;

namespace ManimCloud.Streaming.Ffmpeg;

/// <summary>
/// The scenes this workspace has finished encoding, by segment folder: their index and the blobs of their storyboard
/// thumbnails (kept here, not published). A scene is recorded only after every file of it is a durable workspace
/// blob, so after a crash or kill -9 the rerun finds the finished scenes and encodes only the rest.
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
    }

    public sealed record Entry(SceneIndex Index, IReadOnlyList<string> Thumbnails);

    public Entry? Find(string folderKey)
    {
        using var c = _catalog.Open();
        using var cmd = c.Command(null, "SELECT scene_index, thumbnails FROM scene_renditions WHERE folder_key = $k", ("$k", folderKey));
        using var r = cmd.ExecuteReader();
        return r.Read() ? Read(r) : null;
    }

    /// <summary>Thumbnails of a clip made by any earlier encode with the same storyboard settings (they depend on the clip only).</summary>
    public IReadOnlyList<string>? ThumbnailsOf(string clipSha256)
    {
        using var c = _catalog.Open();
        using var cmd = c.Command(null, "SELECT scene_index, thumbnails FROM scene_renditions WHERE clip_sha256 = $h AND thumbnails <> '[]' LIMIT 1", ("$h", clipSha256));
        using var r = cmd.ExecuteReader();
        return r.Read() ? Read(r).Thumbnails : null;
    }

    public void Add(SceneIndex index, IReadOnlyList<string> thumbnails) =>
        _catalog.InTransaction((c, tx) => c.Command(tx, """
            INSERT INTO scene_renditions(folder_key, clip_sha256, fingerprint, scene_index, thumbnails, created_at)
            VALUES ($k, $h, $f, $i, $t, $c)
            ON CONFLICT(folder_key) DO UPDATE SET scene_index = $i, thumbnails = $t
            """, ("$k", index.FolderKey), ("$h", index.ClipSha256), ("$f", index.Fingerprint), ("$i", index.ToJson().ToJsonString()),
            ("$t", new JsonArray(thumbnails.Select(t => (JsonNode)JsonValue.Create(t)!).ToArray()).ToJsonString()),
            ("$c", DateTimeOffset.UtcNow.ToString("O"))).ExecuteNonQuery(), durable: true);

    private static Entry Read(Microsoft.Data.Sqlite.SqliteDataReader r) =>
        new(SceneIndex.FromJson(JsonNode.Parse(r.GetString(0))!), JsonNode.Parse(r.GetString(1))!.AsArray().Select(t => (string)t!).ToList());
}
