using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Local;
using ManimCloud.Metadata;

namespace ManimCloud.Pipeline;

/// <summary>Jobs in the workspace catalog (schema part "pipeline-jobs"): each transition in one IMMEDIATE transaction.</summary>
public sealed class SqliteJobStore : IJobStore
{
    private readonly Catalog _catalog;
    public string Name => "workspace";

    public const string SchemaName = "pipeline-jobs-1";
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS pipeline_jobs (
            id TEXT PRIMARY KEY, run TEXT NOT NULL, video_id TEXT NOT NULL, state TEXT NOT NULL,
            created_at TEXT NOT NULL, revision INTEGER NOT NULL, body TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS pipeline_jobs_by_video ON pipeline_jobs(video_id, created_at DESC);
        CREATE INDEX IF NOT EXISTS pipeline_jobs_by_run ON pipeline_jobs(run);
        CREATE TABLE IF NOT EXISTS scene_renders (render_key TEXT PRIMARY KEY, body TEXT NOT NULL);
        """;

    public SqliteJobStore(Catalog catalog)
    {
        _catalog = catalog;
        catalog.EnsureSchema(SchemaName, Schema);
    }

    public Task CreateAsync(IReadOnlyList<PipelineJob> jobs, CancellationToken ct)
    {
        _catalog.InTransaction((c, tx) =>
        {
            foreach (var job in jobs)
            {
                var stored = job with { Revision = 1 };
                using var cmd = c.Command(tx, "INSERT OR IGNORE INTO pipeline_jobs (id, run, video_id, state, created_at, revision, body) VALUES ($id, $run, $v, $s, $t, 1, $b)",
                    ("$id", job.Id), ("$run", job.Run), ("$v", job.Video.ToString()), ("$s", PipelineJob.StateName(job.State)),
                    ("$t", SqliteMetadataStore.SortableTime(job.CreatedAt)), ("$b", RecordJson.Serialize(stored.ToJson())));
                cmd.ExecuteNonQuery();
            }
            return 0;
        }, durable: true);
        return Task.CompletedTask;
    }

    public Task<PipelineJob?> GetAsync(string id, CancellationToken ct)
    {
        using var c = _catalog.Open();
        return Task.FromResult(Read(c, null, id));
    }

    private static PipelineJob? Read(Microsoft.Data.Sqlite.SqliteConnection c, Microsoft.Data.Sqlite.SqliteTransaction? tx, string id)
    {
        using var cmd = c.Command(tx, "SELECT body FROM pipeline_jobs WHERE id = $id", ("$id", id));
        return cmd.ExecuteScalar() is string body ? PipelineJob.FromJson(JsonNode.Parse(body)!) : null;
    }

    public Task<IReadOnlyList<PipelineJob>> ListAsync(VideoId? video, string? run, int limit, CancellationToken ct)
    {
        using var c = _catalog.Open();
        using var cmd = c.Command(null,
            "SELECT body FROM pipeline_jobs WHERE ($v IS NULL OR video_id = $v) AND ($r IS NULL OR run = $r) ORDER BY created_at DESC, id LIMIT $n",
            ("$v", video?.ToString()), ("$r", run), ("$n", limit));
        using var r = cmd.ExecuteReader();
        var jobs = new List<PipelineJob>();
        while (r.Read()) jobs.Add(PipelineJob.FromJson(JsonNode.Parse(r.GetString(0))!));
        return Task.FromResult<IReadOnlyList<PipelineJob>>(jobs);
    }

    public Task<(PipelineJob? Changed, PipelineJob? Current)> TransitionAsync(string id, Func<PipelineJob, PipelineJob?> change, CancellationToken ct) =>
        Task.FromResult(_catalog.InTransaction((c, tx) =>
        {
            var current = Read(c, tx, id);
            if (current is null) return ((PipelineJob?)null, (PipelineJob?)null);
            if (change(current) is not { } next) return (null, current);
            next = next with { Revision = current.Revision + 1 };
            using var cmd = c.Command(tx, "UPDATE pipeline_jobs SET state = $s, revision = $rev, body = $b WHERE id = $id",
                ("$s", PipelineJob.StateName(next.State)), ("$rev", next.Revision), ("$b", RecordJson.Serialize(next.ToJson())), ("$id", id));
            cmd.ExecuteNonQuery();
            return (next, next);
        }, durable: true));

    public Task<SceneRender?> FindRenderAsync(string renderKey, CancellationToken ct)
    {
        using var c = _catalog.Open();
        using var cmd = c.Command(null, "SELECT body FROM scene_renders WHERE render_key = $k", ("$k", renderKey));
        return Task.FromResult(cmd.ExecuteScalar() is string body ? SceneRender.FromJson(JsonNode.Parse(body)!) : null);
    }

    public Task RecordRenderAsync(SceneRender render, CancellationToken ct)
    {
        _catalog.InTransaction((c, tx) =>
        {
            using var cmd = c.Command(tx, "INSERT OR REPLACE INTO scene_renders (render_key, body) VALUES ($k, $b)",
                ("$k", render.RenderKey), ("$b", RecordJson.Serialize(render.ToJson())));
            return cmd.ExecuteNonQuery();
        });
        return Task.CompletedTask;
    }
}
