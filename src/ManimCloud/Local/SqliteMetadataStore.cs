using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Metadata;
using Microsoft.Data.Sqlite;

namespace ManimCloud.Local;

/// <summary>The metadata store on the workspace catalog. Conditional writes are SQL constraints and revision checks.</summary>
public sealed class SqliteMetadataStore(Catalog catalog) : IMetadataStore
{
    public string Name => $"sqlite:{catalog.Path}";

    public Task<VideoRecord> CreateVideoAsync(VideoRecord video, CancellationToken ct)
    {
        var stored = video with { Revision = 1 };
        try
        {
            catalog.InTransaction((c, tx) => c.Command(tx,
                "INSERT INTO videos(video_id, project_id, created_at, revision, body) VALUES ($id, $p, $c, 1, $b)",
                ("$id", video.Id.ToString()), ("$p", video.Project.ToString()), ("$c", SortableTime(video.CreatedAt)),
                ("$b", RecordJson.Serialize(RecordJson.ToJson(stored)))).ExecuteNonQuery());
        }
        catch (SqliteException e) when (e.SqliteErrorCode == 19)
        {
            throw new ManimCloudException(ErrorKind.Conflict, $"Video {video.Id} already exists.", "Use `video update` to change it.", e);
        }
        return Task.FromResult(stored);
    }

    public Task<VideoRecord?> GetVideoAsync(VideoId id, CancellationToken ct)
    {
        using var c = catalog.Open();
        using var cmd = c.Command(null, "SELECT body FROM videos WHERE video_id = $id", ("$id", id.ToString()));
        var body = cmd.ExecuteScalar() as string;
        return Task.FromResult(body is null ? null : RecordJson.VideoFromJson(JsonNode.Parse(body)!));
    }

    public Task<VideoRecord> UpdateVideoAsync(VideoRecord video, long expectedRevision, CancellationToken ct)
    {
        var stored = video with { Revision = expectedRevision + 1 };
        var changed = catalog.InTransaction((c, tx) => c.Command(tx,
            "UPDATE videos SET revision = $r, body = $b WHERE video_id = $id AND revision = $expected",
            ("$r", stored.Revision), ("$b", RecordJson.Serialize(RecordJson.ToJson(stored))),
            ("$id", video.Id.ToString()), ("$expected", expectedRevision)).ExecuteNonQuery());
        if (changed == 0)
            throw Stale(video.Id, expectedRevision);
        return Task.FromResult(stored);
    }

    internal static ConcurrencyConflictException Stale(VideoId id, long expectedRevision) =>
        new($"Video {id} changed since revision {expectedRevision} was read (or does not exist); the update was not applied.",
            "Read the video again (`video show`) and reapply your change.");

    public Task<Page<VideoRecord>> ListVideosAsync(ProjectId project, int limit, string? pageToken, CancellationToken ct)
    {
        limit = Math.Clamp(limit, 1, 1000);
        var (afterCreated, afterId) = DecodeToken(pageToken);
        using var c = catalog.Open();
        using var cmd = c.Command(null, """
            SELECT body, created_at, video_id FROM videos
            WHERE project_id = $p AND ($c IS NULL OR created_at < $c OR (created_at = $c AND video_id < $id))
            ORDER BY created_at DESC, video_id DESC LIMIT $n
            """, ("$p", project.ToString()), ("$c", afterCreated), ("$id", afterId), ("$n", limit + 1));
        using var r = cmd.ExecuteReader();
        var items = new List<(VideoRecord Video, string Created, string Id)>();
        while (r.Read()) items.Add((RecordJson.VideoFromJson(JsonNode.Parse(r.GetString(0))!), r.GetString(1), r.GetString(2)));
        string? next = null;
        if (items.Count > limit)
        {
            items.RemoveAt(items.Count - 1);
            next = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{items[^1].Created}|{items[^1].Id}"));
        }
        return Task.FromResult(new Page<VideoRecord>(items.Select(i => i.Video).ToList(), next));
    }

    private static (string? Created, string? Id) DecodeToken(string? token)
    {
        if (string.IsNullOrEmpty(token)) return (null, null);
        try
        {
            var parts = Encoding.UTF8.GetString(Convert.FromBase64String(token)).Split('|');
            if (parts.Length == 2) return (parts[0], parts[1]);
        }
        catch (FormatException) { }
        throw new ManimCloudException(ErrorKind.InvalidInput, "The page token is not one this store issued.",
            "Pass the `next` value printed by the previous `video list`, unchanged.");
    }

    /// <summary>Fixed-width UTC time so that text order is time order.</summary>
    internal static string SortableTime(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'");

    public Task PutVideosAsync(IReadOnlyList<VideoRecord> videos, CancellationToken ct)
    {
        catalog.InTransaction((c, tx) =>
        {
            foreach (var v in videos)
            {
                var stored = v with { Revision = Math.Max(1, v.Revision) };
                c.Command(tx, """
                    INSERT INTO videos(video_id, project_id, created_at, revision, body) VALUES ($id, $p, $c, $r, $b)
                    ON CONFLICT(video_id) DO UPDATE SET project_id = $p, created_at = $c, revision = $r, body = $b
                    """, ("$id", v.Id.ToString()), ("$p", v.Project.ToString()), ("$c", SortableTime(v.CreatedAt)),
                    ("$r", stored.Revision), ("$b", RecordJson.Serialize(RecordJson.ToJson(stored)))).ExecuteNonQuery();
            }
            return 0;
        });
        return Task.CompletedTask;
    }

    public Task<bool> TryAddCodeVersionAsync(CodeVersion version, CancellationToken ct)
    {
        try
        {
            catalog.InTransaction((c, tx) => c.Command(tx,
                "INSERT INTO code_versions(video_id, version, operation_id, body) VALUES ($id, $v, $op, $b)",
                ("$id", version.Video.ToString()), ("$v", version.Version), ("$op", version.OperationId),
                ("$b", RecordJson.Serialize(RecordJson.ToJson(version)))).ExecuteNonQuery());
            return Task.FromResult(true);
        }
        catch (SqliteException e) when (e.SqliteErrorCode == 19)
        {
            return Task.FromResult(false);
        }
    }

    public Task<IReadOnlySet<VideoId>> TryAddCodeVersionsAcrossAsync(IReadOnlyList<CodeVersion> versions, CancellationToken ct)
    {
        if (versions.Count > IMetadataStore.MaxClaimBatch) throw new ArgumentException($"at most {IMetadataStore.MaxClaimBatch} versions per claim", nameof(versions));
        // One immediate (write-locked) transaction: check every number, then claim all or none.
        IReadOnlySet<VideoId> taken = catalog.InTransaction((c, tx) =>
        {
            var conflicts = versions.Where(v => c.Command(tx, "SELECT 1 FROM code_versions WHERE video_id = $id AND version = $v",
                ("$id", v.Video.ToString()), ("$v", v.Version)).ExecuteScalar() is not null).Select(v => v.Video).ToHashSet();
            if (conflicts.Count > 0) return conflicts;
            foreach (var version in versions)
                c.Command(tx, "INSERT INTO code_versions(video_id, version, operation_id, body) VALUES ($id, $v, $op, $b)",
                    ("$id", version.Video.ToString()), ("$v", version.Version), ("$op", version.OperationId),
                    ("$b", RecordJson.Serialize(RecordJson.ToJson(version)))).ExecuteNonQuery();
            return conflicts;
        });
        return Task.FromResult(taken);
    }

    public Task<IReadOnlyDictionary<VideoId, VideoRecord>> GetVideosAsync(IReadOnlyList<VideoId> ids, CancellationToken ct)
    {
        var found = new Dictionary<VideoId, VideoRecord>();
        using var c = catalog.Open();
        foreach (var id in ids.Distinct())
        {
            using var cmd = c.Command(null, "SELECT body FROM videos WHERE video_id = $id", ("$id", id.ToString()));
            if (cmd.ExecuteScalar() is string body) found[id] = RecordJson.VideoFromJson(JsonNode.Parse(body)!);
        }
        return Task.FromResult<IReadOnlyDictionary<VideoId, VideoRecord>>(found);
    }

    public Task<IReadOnlySet<VideoId>> TryUpdateVideosAsync(IReadOnlyList<(VideoRecord Video, long ExpectedRevision)> updates, CancellationToken ct)
    {
        if (updates.Count > IMetadataStore.MaxClaimBatch) throw new ArgumentException($"at most {IMetadataStore.MaxClaimBatch} records per update", nameof(updates));
        IReadOnlySet<VideoId> stale = catalog.InTransaction((c, tx) =>
        {
            var moved = updates.Where(u => c.Command(tx, "SELECT revision FROM videos WHERE video_id = $id", ("$id", u.Video.Id.ToString()))
                .ExecuteScalar() is not long revision || revision != u.ExpectedRevision).Select(u => u.Video.Id).ToHashSet();
            if (moved.Count > 0) return moved;
            foreach (var (video, expected) in updates)
            {
                var stored = video with { Revision = expected + 1 };
                c.Command(tx, "UPDATE videos SET revision = $r, body = $b WHERE video_id = $id",
                    ("$r", stored.Revision), ("$b", RecordJson.Serialize(RecordJson.ToJson(stored))), ("$id", video.Id.ToString())).ExecuteNonQuery();
            }
            return moved;
        });
        return Task.FromResult(stale);
    }

    public Task<CodeVersion?> GetCodeVersionAsync(VideoId video, int version, CancellationToken ct)
    {
        using var c = catalog.Open();
        using var cmd = c.Command(null, "SELECT body FROM code_versions WHERE video_id = $id AND version = $v",
            ("$id", video.ToString()), ("$v", version));
        var body = cmd.ExecuteScalar() as string;
        return Task.FromResult(body is null ? null : RecordJson.CodeFromJson(JsonNode.Parse(body)!));
    }

    public Task<IReadOnlyList<CodeVersion>> ListCodeVersionsAsync(VideoId video, CancellationToken ct)
    {
        using var c = catalog.Open();
        using var cmd = c.Command(null, "SELECT body FROM code_versions WHERE video_id = $id ORDER BY version", ("$id", video.ToString()));
        using var r = cmd.ExecuteReader();
        var list = new List<CodeVersion>();
        while (r.Read()) list.Add(RecordJson.CodeFromJson(JsonNode.Parse(r.GetString(0))!));
        return Task.FromResult<IReadOnlyList<CodeVersion>>(list);
    }

    public Task UpdateCodeVersionAsync(CodeVersion version, CancellationToken ct)
    {
        var n = catalog.InTransaction((c, tx) => c.Command(tx,
            "UPDATE code_versions SET body = $b WHERE video_id = $id AND version = $v",
            ("$b", RecordJson.Serialize(RecordJson.ToJson(version))), ("$id", version.Video.ToString()), ("$v", version.Version)).ExecuteNonQuery());
        if (n == 0)
            throw new ManimCloudException(ErrorKind.NotFound, $"Version {version.Version} of video {version.Video} does not exist.", "Check `code history`.");
        return Task.CompletedTask;
    }

    public Task RemoveCodeVersionAsync(VideoId video, int version, string operationId, CancellationToken ct)
    {
        catalog.InTransaction((c, tx) => c.Command(tx,
            "DELETE FROM code_versions WHERE video_id = $id AND version = $v AND operation_id = $op",
            ("$id", video.ToString()), ("$v", version), ("$op", operationId)).ExecuteNonQuery());
        return Task.CompletedTask;
    }
}
