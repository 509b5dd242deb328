using ManimCloud.Domain;
using Microsoft.Data.Sqlite;

namespace ManimCloud.Local;

/// <summary>
/// The workspace's SQLite catalog: one file, WAL journal; intent records (the outbox) fsynced on commit, the rest
/// ordered behind them (see <see cref="InTransaction{T}"/>).
/// Several processes may share a workspace (a CLI command while `sync --watch` runs); SQLite's locking serialises them.
/// </summary>
public sealed class Catalog
{
    private const int SchemaVersion = 4;
    public string Path { get; }
    private readonly string _connectionString;

    public Catalog(string path)
    {
        Path = path;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        Migrate();
    }

    public SqliteConnection Open()
    {
        var c = new SqliteConnection(_connectionString);
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "PRAGMA busy_timeout=30000; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;";
        cmd.ExecuteNonQuery();
        return c;
    }

    /// <summary>
    /// Runs <paramref name="work"/> in one IMMEDIATE transaction (writers queue instead of failing on upgrade).
    /// <paramref name="durable"/>: the commit is fsynced before this returns (the outbox's intent records). Other
    /// commits are ordered (WAL) but may be lost in a power cut, which only ever loses a suffix of them: everything
    /// they did is re-derived by replaying the outbox, which records each operation durably before it starts.
    /// </summary>
    public T InTransaction<T>(Func<SqliteConnection, SqliteTransaction, T> work, bool durable = false)
    {
        using var c = Open();
        if (durable) Pragma(c, "PRAGMA synchronous=FULL;");
        using var tx = c.BeginTransaction(deferred: false);
        var result = work(c, tx);
        tx.Commit();
        return result;
    }

    private static void Pragma(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    /// <summary>
    /// Creates a capability's own tables (tokens, jobs, renditions …) once per workspace: <paramref name="sql"/> runs in
    /// one transaction the first time a part of this <paramref name="name"/> is seen, and is recorded in
    /// <c>schema_parts</c>. Named parts instead of steps of the linear <c>user_version</c> let capabilities add tables
    /// independently; a capability that changes its tables later adds a part with a new name ("jobs.v2").
    /// </summary>
    public void EnsureSchema(string name, string sql)
    {
        lock (_ensured)
            if (_ensured.Contains(name)) return;
        InTransaction((c, tx) =>
        {
            using var exists = c.Command(tx, "SELECT 1 FROM schema_parts WHERE name = $n", ("$n", name));
            if (exists.ExecuteScalar() is null)
            {
                using (var create = c.Command(tx, sql)) create.ExecuteNonQuery();
                using var record = c.Command(tx, "INSERT INTO schema_parts (name, applied_at) VALUES ($n, $t)",
                    ("$n", name), ("$t", DateTimeOffset.UtcNow.ToString("O")));
                record.ExecuteNonQuery();
            }
            return 0;
        }, durable: true);
        lock (_ensured) _ensured.Add(name);
    }

    private readonly HashSet<string> _ensured = [];

    /// <summary>The named schema parts this workspace has (<see cref="EnsureSchema"/>), for `doctor` and migrations.</summary>
    public IReadOnlyList<string> SchemaParts()
    {
        using var c = Open();
        using var cmd = c.Command(null, "SELECT name FROM schema_parts ORDER BY name");
        using var r = cmd.ExecuteReader();
        var names = new List<string>();
        while (r.Read()) names.Add(r.GetString(0));
        return names;
    }

    private void Migrate()
    {
        using var c = Open();
        using (var wal = c.CreateCommand())
        {
            wal.CommandText = "PRAGMA journal_mode=WAL;";
            wal.ExecuteNonQuery();
        }
        using var tx = c.BeginTransaction(deferred: false);
        using var check = c.CreateCommand();
        check.Transaction = tx;
        check.CommandText = "PRAGMA user_version;";
        var version = Convert.ToInt32(check.ExecuteScalar());
        if (version > SchemaVersion)
            throw new ManimCloudException(ErrorKind.Fatal,
                $"The workspace catalog {Path} has schema version {version}, newer than this ManimCloud understands ({SchemaVersion}).",
                "Upgrade manimcloud, or point MANIMCLOUD_HOME at another workspace.");
        if (version < 1)
        {
            using var create = c.CreateCommand();
            create.Transaction = tx;
            create.CommandText = """
                CREATE TABLE IF NOT EXISTS objects (
                    store TEXT NOT NULL, key TEXT NOT NULL, version_id TEXT NOT NULL,
                    sha256 TEXT NOT NULL, size INTEGER NOT NULL, metadata TEXT NOT NULL,
                    last_modified TEXT NOT NULL, is_latest INTEGER NOT NULL,
                    lock_mode TEXT NOT NULL DEFAULT 'None', lock_until TEXT,
                    PRIMARY KEY (store, key, version_id));
                CREATE INDEX IF NOT EXISTS objects_latest ON objects(store, key) WHERE is_latest = 1;
                CREATE TABLE IF NOT EXISTS videos (
                    video_id TEXT PRIMARY KEY, project_id TEXT NOT NULL, created_at TEXT NOT NULL,
                    revision INTEGER NOT NULL, body TEXT NOT NULL);
                CREATE INDEX IF NOT EXISTS videos_by_project ON videos(project_id, created_at DESC, video_id DESC);
                CREATE TABLE IF NOT EXISTS code_versions (
                    video_id TEXT NOT NULL, version INTEGER NOT NULL, operation_id TEXT NOT NULL, body TEXT NOT NULL,
                    PRIMARY KEY (video_id, version));
                CREATE TABLE IF NOT EXISTS outbox (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, video_id TEXT NOT NULL,
                    kind TEXT NOT NULL, payload TEXT NOT NULL, created_at TEXT NOT NULL,
                    state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, result TEXT);
                CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(state, seq);
                CREATE TABLE IF NOT EXISTS audit (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, action TEXT NOT NULL,
                    target TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT);
                PRAGMA user_version = 1;
                """;
            create.ExecuteNonQuery();
        }
        if (version < 2)
        {
            // v2: offline-first sync. Operations applied locally while the cloud was away; conflicts kept for a
            // person to settle; blob access times for least-recently-used eviction.
            using var v2 = c.CreateCommand();
            v2.Transaction = tx;
            v2.CommandText = """
                ALTER TABLE outbox ADD COLUMN local_applied INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE outbox ADD COLUMN conflict TEXT;
                CREATE TABLE IF NOT EXISTS blob_cache (
                    sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, last_access TEXT NOT NULL, synced INTEGER NOT NULL DEFAULT 0);
                CREATE INDEX IF NOT EXISTS blob_cache_lru ON blob_cache(synced, last_access);
                CREATE TABLE IF NOT EXISTS workspace_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                PRAGMA user_version = 2;
                """;
            v2.ExecuteNonQuery();
        }
        if (version < 3)
        {
            // v3: an outbox entry belongs to the live process applying it, so no other process replays it meanwhile.
            using var v3 = c.CreateCommand();
            v3.Transaction = tx;
            v3.CommandText = "ALTER TABLE outbox ADD COLUMN owner TEXT; PRAGMA user_version = 3;";
            v3.ExecuteNonQuery();
        }
        if (version < 4)
        {
            // v4: the upload journal records how an upload's integrity is checked. Uploads journaled before (all
            // 'sha256': a whole-file SHA-256 identity, CRC32C composite or Content-MD5 parts) keep that meaning;
            // new flexible-checksum uploads are 'crc32' (CRC32 per part, FULL_OBJECT CRC32, no SHA-256 pre-pass).
            // The journal's tables are created here in their v3 shape when missing, so the ALTER always applies.
            using var v4 = c.CreateCommand();
            v4.Transaction = tx;
            v4.CommandText = $"""
                {UploadJournalTables.V3}
                ALTER TABLE transfer_uploads ADD COLUMN integrity TEXT NOT NULL DEFAULT 'sha256';
                PRAGMA user_version = 4;
                """;
            v4.ExecuteNonQuery();
        }
        // Capabilities' own tables are named parts (EnsureSchema), recorded here; this table is the same in every version.
        using (var parts = c.CreateCommand())
        {
            parts.Transaction = tx;
            parts.CommandText = "CREATE TABLE IF NOT EXISTS schema_parts (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL);";
            parts.ExecuteNonQuery();
        }
        tx.Commit();
    }
}

/// <summary>The upload journal's tables as schema v3 created them (v4 adds transfer_uploads.integrity).</summary>
internal static class UploadJournalTables
{
    public const string V3 = """
        CREATE TABLE IF NOT EXISTS transfer_uploads (
            id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL, upload_id TEXT NOT NULL,
            path TEXT NOT NULL, size INTEGER NOT NULL, modified_ticks INTEGER NOT NULL, sha256 TEXT NOT NULL,
            part_size INTEGER NOT NULL, checksum_mode TEXT NOT NULL, options TEXT NOT NULL,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
            UNIQUE (bucket, key));
        CREATE TABLE IF NOT EXISTS transfer_parts (
            upload TEXT NOT NULL REFERENCES transfer_uploads(id) ON DELETE CASCADE,
            part_number INTEGER NOT NULL, size INTEGER NOT NULL, checksum TEXT NOT NULL, etag TEXT NOT NULL,
            PRIMARY KEY (upload, part_number));
        """;
}

internal static class SqliteExtensions
{
    public static SqliteCommand Command(this SqliteConnection c, SqliteTransaction? tx, string sql, params (string Name, object? Value)[] args)
    {
        var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var (name, value) in args) cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return cmd;
    }
}
