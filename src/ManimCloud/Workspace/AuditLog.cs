using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Local;
using Microsoft.Data.Sqlite;

namespace ManimCloud.Workspace;

/// <summary>One entry of the audit trail: who did what to which object, with what outcome.</summary>
/// <param name="At">ISO 8601 UTC, exactly as stored (the hash covers this text).</param>
public sealed record AuditEntry(long Seq, string At, string? Actor, string Action, string Target, string Outcome, string? Detail, string? Hash)
{
    public JsonObject ToJson() => new()
    {
        ["seq"] = Seq, ["at"] = At, ["actor"] = Actor, ["action"] = Action, ["target"] = Target,
        ["outcome"] = Outcome, ["detail"] = Detail, ["hash"] = Hash,
    };
}

/// <summary>What <see cref="AuditLog.Verify"/> found: every entry intact, or the first entry that is not.</summary>
public sealed record AuditVerification(bool Intact, long Entries, long ChainedEntries, long? BrokenAt, string Summary)
{
    public JsonObject ToJson() => new()
    {
        ["intact"] = Intact, ["entries"] = Entries, ["chained_entries"] = ChainedEntries, ["broken_at"] = BrokenAt, ["summary"] = Summary,
    };
}

/// <summary>
/// The audit trail of every operation the tool performs (SPEC R8): who (the caller identity), what, on which object,
/// outcome. Append-only (triggers refuse UPDATE and DELETE) and hash-chained: each entry's hash covers the one before,
/// so an entry edited or removed by someone who went round the triggers is found by <see cref="Verify"/>. Entries
/// written before the chain existed (workspaces from before "audit.v2") are sealed at the migration point: their
/// digest is recorded once and the chain starts from it, so they stay verifiable too. Never holds secrets or content.
/// </summary>
public sealed class AuditLog
{
    public const string SchemaPart = "audit.v2";

    private const string Schema = """
        ALTER TABLE audit ADD COLUMN actor TEXT;
        ALTER TABLE audit ADD COLUMN hash TEXT;
        CREATE TABLE IF NOT EXISTS audit_anchor (
            id INTEGER PRIMARY KEY CHECK (id = 1), workspace TEXT NOT NULL, sealed_through INTEGER NOT NULL,
            sealed_digest TEXT NOT NULL, created_at TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS audit_shipped (
            last_seq INTEGER PRIMARY KEY, key TEXT NOT NULL, head_hash TEXT NOT NULL, shipped_at TEXT NOT NULL);
        CREATE TRIGGER IF NOT EXISTS audit_append_only_update BEFORE UPDATE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        CREATE TRIGGER IF NOT EXISTS audit_append_only_delete BEFORE DELETE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        """;

    /// <summary>The hash the chain starts from in a workspace that had no entries before it.</summary>
    private const string Genesis = "manimcloud-audit-v2";

    private readonly Catalog _catalog;
    private readonly Lazy<string> _actor;

    /// <param name="actor">Who is acting, asked once on the first entry (cloud mode: the STS caller identity); default the OS user.</param>
    public AuditLog(Catalog catalog, Func<string>? actor = null)
    {
        _catalog = catalog;
        _actor = new Lazy<string>(actor ?? LocalActor, LazyThreadSafetyMode.ExecutionAndPublication);
        catalog.EnsureSchema(SchemaPart, Schema);
        SealLegacyEntries();
    }

    /// <summary>The OS user (local mode).</summary>
    public static string LocalActor() => $"os:{Environment.UserName}@{Environment.MachineName}";

    public string Actor => _actor.Value;

    /// <summary>This workspace's id in shipped copies (several workspaces ship to one bucket).</summary>
    public string WorkspaceId => _catalog.InTransaction((c, tx) =>
    {
        using var cmd = c.Command(tx, "SELECT workspace FROM audit_anchor WHERE id = 1");
        return (string)cmd.ExecuteScalar()!;
    });

    public void Record(string action, string target, string outcome, string? detail = null)
    {
        var actor = Actor;
        _catalog.InTransaction((c, tx) =>
        {
            var (lastSeq, head) = Head(c, tx);
            var entry = new AuditEntry(lastSeq + 1, DateTimeOffset.UtcNow.ToString("O"), actor, action, target, outcome, detail, null);
            using var insert = c.Command(tx,
                "INSERT INTO audit(seq, at, actor, action, target, outcome, detail, hash) VALUES ($s, $at, $who, $a, $t, $o, $d, $h)",
                ("$s", entry.Seq), ("$at", entry.At), ("$who", actor), ("$a", action), ("$t", target), ("$o", outcome),
                ("$d", detail), ("$h", Link(head, entry)));
            return insert.ExecuteNonQuery();
        });
    }

    /// <summary>Entries oldest first, optionally only since a time and only those naming a target (a video id).</summary>
    public IReadOnlyList<AuditEntry> List(DateTimeOffset? since = null, string? target = null, int limit = 1000, long afterSeq = 0)
    {
        using var c = _catalog.Open();
        using var cmd = c.Command(null, """
            SELECT seq, at, actor, action, target, outcome, detail, hash FROM audit
            WHERE seq > $after AND ($since IS NULL OR at >= $since) AND ($target IS NULL OR target = $target OR detail LIKE '%' || $target || '%')
            ORDER BY seq LIMIT $limit
            """, ("$after", afterSeq), ("$since", since?.ToUniversalTime().ToString("O")), ("$target", target), ("$limit", limit));
        using var r = cmd.ExecuteReader();
        var entries = new List<AuditEntry>();
        while (r.Read()) entries.Add(Read(r));
        return entries;
    }

    /// <summary>
    /// Recomputes the chain: the sealed digest over the entries from before the chain, each chained entry's hash, no
    /// gap in the sequence, and no entry missing at the end (SQLite's AUTOINCREMENT counter remembers the last number
    /// given out). A tail removed together with that counter is found only against the copy shipped to S3.
    /// </summary>
    public AuditVerification Verify()
    {
        using var c = _catalog.Open();
        var (_, sealedThrough, sealedDigest) = Anchor(c, null);
        using var cmd = c.Command(null, "SELECT seq, at, actor, action, target, outcome, detail, hash FROM audit ORDER BY seq");
        using var r = cmd.ExecuteReader();
        var head = Genesis;
        long expected = 0, count = 0, chained = 0;
        var sealedChecked = sealedThrough == 0;
        while (r.Read())
        {
            var e = Read(r);
            count++;
            if (expected != 0 && e.Seq != expected)
                return new(false, count, chained, expected, $"Entry {expected} is missing (the next entry is {e.Seq}): an entry was removed.");
            expected = e.Seq + 1;
            if (e.Seq <= sealedThrough)
            {
                head = Link(head, e);
                if (e.Seq == sealedThrough)
                {
                    if (head != sealedDigest)
                        return new(false, count, chained, FirstLegacyMismatch(c, sealedThrough),
                            $"The entries sealed at the migration point (1–{sealedThrough}) no longer match their recorded digest: one of them was edited or removed.");
                    sealedChecked = true;
                }
                continue;
            }
            if (!sealedChecked)
                return new(false, count, chained, sealedThrough, $"Entry {sealedThrough}, the last one sealed at the migration point, is missing.");
            if (e.Hash is null || Link(head, e) != e.Hash)
                return new(false, count, chained, e.Seq, $"Entry {e.Seq} ({e.Action} {e.Target}) does not match its hash: it, or the entry before it, was edited or removed.");
            head = e.Hash;
            chained++;
        }
        if (!sealedChecked)
            return new(false, count, chained, sealedThrough, $"The entries sealed at the migration point (through {sealedThrough}) are missing.");
        var lastGiven = LastGivenSeq(c);
        if (lastGiven > expected - 1 && lastGiven > 0)
            return new(false, count, chained, expected == 0 ? 1 : expected,
                $"Entries {(expected == 0 ? 1 : expected)}–{lastGiven} were written and are gone: the end of the log was removed.");
        return new(true, count, chained, null, count == 0 ? "The audit log is empty." : $"All {count} entries are intact ({chained} chained, {count - chained} sealed at the migration point).");
    }

    /// <summary>The entries not shipped yet (oldest first) and the hash of the last one, for <c>audit ship</c>.</summary>
    public (IReadOnlyList<AuditEntry> Entries, long ShippedThrough) Unshipped(int limit = 10_000)
    {
        using var c = _catalog.Open();
        using var cmd = c.Command(null, "SELECT COALESCE(MAX(last_seq), 0) FROM audit_shipped");
        var through = (long)cmd.ExecuteScalar()!;
        return (List(afterSeq: through, limit: limit), through);
    }

    public void MarkShipped(long lastSeq, string key, string headHash) => _catalog.InTransaction((c, tx) =>
    {
        using var cmd = c.Command(tx, "INSERT OR REPLACE INTO audit_shipped(last_seq, key, head_hash, shipped_at) VALUES ($s, $k, $h, $t)",
            ("$s", lastSeq), ("$k", key), ("$h", headHash), ("$t", DateTimeOffset.UtcNow.ToString("O")));
        return cmd.ExecuteNonQuery();
    });

    /// <summary>The last shipped position: the seq, the object key and the head hash it recorded (null before the first ship).</summary>
    public (long Seq, string Key, string HeadHash)? LastShipped()
    {
        using var c = _catalog.Open();
        using var cmd = c.Command(null, "SELECT last_seq, key, head_hash FROM audit_shipped ORDER BY last_seq DESC LIMIT 1");
        using var r = cmd.ExecuteReader();
        return r.Read() ? (r.GetInt64(0), r.GetString(1), r.GetString(2)) : null;
    }

    /// <summary>The hash chaining <paramref name="e"/> to the entry before it (whose hash is <paramref name="previous"/>).</summary>
    public static string Link(string previous, AuditEntry e)
    {
        var canonical = new JsonArray(e.Seq, e.At, e.Actor, e.Action, e.Target, e.Outcome, e.Detail).ToJsonString();
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(previous + "\n" + canonical)));
    }

    private void SealLegacyEntries() => _catalog.InTransaction((c, tx) =>
    {
        using (var exists = c.Command(tx, "SELECT 1 FROM audit_anchor WHERE id = 1"))
            if (exists.ExecuteScalar() is not null) return 0;
        // Entries from before the chain: digest them in order, as if chained from the genesis value.
        var head = Genesis;
        long through = 0;
        using (var cmd = c.Command(tx, "SELECT seq, at, actor, action, target, outcome, detail, hash FROM audit ORDER BY seq"))
        using (var r = cmd.ExecuteReader())
            while (r.Read())
            {
                var e = Read(r);
                head = Link(head, e);
                through = e.Seq;
            }
        using var insert = c.Command(tx,
            "INSERT INTO audit_anchor(id, workspace, sealed_through, sealed_digest, created_at) VALUES (1, $w, $s, $d, $t)",
            ("$w", Guid.NewGuid().ToString("N")[..12]), ("$s", through), ("$d", through == 0 ? Genesis : head), ("$t", DateTimeOffset.UtcNow.ToString("O")));
        return insert.ExecuteNonQuery();
    }, durable: true);

    private static (long LastSeq, string Head) Head(SqliteConnection c, SqliteTransaction tx)
    {
        var last = LastGivenSeq(c, tx);
        using var cmd = c.Command(tx, "SELECT hash FROM audit WHERE hash IS NOT NULL ORDER BY seq DESC LIMIT 1");
        if (cmd.ExecuteScalar() is string hash) return (last, hash);
        var (_, _, digest) = Anchor(c, tx);
        return (last, digest);
    }

    private static long LastGivenSeq(SqliteConnection c, SqliteTransaction? tx = null)
    {
        using var cmd = c.Command(tx, "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'audit'), 0), COALESCE((SELECT MAX(seq) FROM audit), 0))");
        return (long)cmd.ExecuteScalar()!;
    }

    private static (string Workspace, long SealedThrough, string SealedDigest) Anchor(SqliteConnection c, SqliteTransaction? tx)
    {
        using var cmd = c.Command(tx, "SELECT workspace, sealed_through, sealed_digest FROM audit_anchor WHERE id = 1");
        using var r = cmd.ExecuteReader();
        return r.Read() ? (r.GetString(0), r.GetInt64(1), r.GetString(2)) : ("", 0, Genesis);
    }

    /// <summary>The sealed entries carry no hashes of their own, so the first one that differs cannot be told; report the range start.</summary>
    private static long FirstLegacyMismatch(SqliteConnection c, long sealedThrough) => sealedThrough > 0 ? 1 : 0;

    private static AuditEntry Read(SqliteDataReader r) => new(
        r.GetInt64(0), r.GetString(1),
        r.IsDBNull(2) ? null : r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5),
        r.IsDBNull(6) ? null : r.GetString(6), r.IsDBNull(7) ? null : r.GetString(7));
}
