using ManimCloud.Local;
using ManimCloud.Tests.Support;
using ManimCloud.Workspace;
using Microsoft.Data.Sqlite;

namespace ManimCloud.Tests.Operations;

/// <summary>SPEC R8: an audit trail that is append-only and hash-chained, so an edited or removed entry is found.</summary>
public sealed class AuditTrailTests
{
    private static (Catalog Catalog, AuditLog Log) Open(TempDir home) { var c = new Catalog(home.File("catalog.db")); return (c, new AuditLog(c)); }

    /// <summary>What someone with the database file can do: go round the append-only triggers.</summary>
    private static void Tamper(TempDir home, string sql)
    {
        using var c = new SqliteConnection($"Data Source={home.File("catalog.db")};Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "DROP TRIGGER IF EXISTS audit_append_only_update; DROP TRIGGER IF EXISTS audit_append_only_delete; " + sql;
        cmd.ExecuteNonQuery();
    }

    private static void Write(AuditLog log, int n) { for (var i = 1; i <= n; i++) log.Record("code.put", $"video-{i}", "ok", $"version {i}"); }

    [Fact]
    public void An_untouched_log_verifies_and_says_who_did_what_to_which_object()
    {
        using var home = new TempDir();
        var (_, log) = Open(home);
        Write(log, 5);

        var v = log.Verify();
        Assert.True(v.Intact, v.Summary);
        Assert.Equal(5, v.ChainedEntries);
        var entry = log.List(target: "video-3").Single();
        Assert.Equal(("code.put", "video-3", "ok", AuditLog.LocalActor()), (entry.Action, entry.Target, entry.Outcome, entry.Actor));
    }

    [Fact]
    public void The_log_refuses_updates_and_deletes()
    {
        using var home = new TempDir();
        var (catalog, log) = Open(home);
        Write(log, 2);
        using var c = catalog.Open();
        foreach (var sql in new[] { "UPDATE audit SET outcome = 'ok' WHERE seq = 1", "DELETE FROM audit WHERE seq = 2" })
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            Assert.Contains("append-only", Assert.Throws<SqliteException>(() => cmd.ExecuteNonQuery()).Message);
        }
    }

    [Theory]
    [InlineData("UPDATE audit SET outcome = 'denied' WHERE seq = 3", 3L)]
    [InlineData("UPDATE audit SET actor = 'someone-else' WHERE seq = 2", 2L)]
    [InlineData("DELETE FROM audit WHERE seq = 3", 3L)]
    [InlineData("DELETE FROM audit WHERE seq = 5", 5L)]
    public void An_edited_or_removed_entry_is_found_and_named(string tampering, long brokenAt)
    {
        using var home = new TempDir();
        Write(Open(home).Log, 5);

        Tamper(home, tampering);

        var v = Open(home).Log.Verify();
        Assert.False(v.Intact);
        Assert.Equal(brokenAt, v.BrokenAt);
    }

    [Fact]
    public void Entries_from_before_the_chain_are_sealed_at_the_migration_point_and_stay_verifiable()
    {
        using var home = new TempDir();
        // A workspace from before audit.v2: the old table, entries without actor or hash.
        var catalog = new Catalog(home.File("catalog.db"));
        using (var c = catalog.Open())
            for (var i = 1; i <= 3; i++)
            {
                using var cmd = c.CreateCommand();
                cmd.CommandText = $"INSERT INTO audit(at, action, target, outcome, detail) VALUES ('2026-01-0{i}T00:00:00.0000000+00:00', 'create', 'v{i}', 'ok', NULL)";
                cmd.ExecuteNonQuery();
            }

        var log = new AuditLog(catalog);
        log.Record("code.put", "v1", "ok");
        var v = log.Verify();
        Assert.True(v.Intact, v.Summary);
        Assert.Equal((4L, 1L), (v.Entries, v.ChainedEntries));

        Tamper(home, "UPDATE audit SET outcome = 'failed' WHERE seq = 2");
        var after = Open(home).Log.Verify();
        Assert.False(after.Intact);
        Assert.Contains("migration point", after.Summary);
    }

    [Fact]
    public void Audit_list_and_verify_through_the_CLI_in_local_mode()
    {
        using var home = new TempDir();
        var env = CliRunner.LocalEnv(home.Path);
        var created = CliRunner.Run(env, "video", "create", "--project", "audit-demo", "--title", "Audited", "--json");
        Assert.True(created.ExitCode == 0, created.Stderr);
        var id = (string)created.Json["video_id"]!;

        var listed = CliRunner.Run(env, "audit", "list", "--video", id, "--since", "1h", "--json");
        Assert.True(listed.ExitCode == 0, listed.Stderr);
        var entry = listed.Json["entries"]!.AsArray().First()!;
        Assert.Equal(id, (string?)entry["target"]);
        Assert.StartsWith("os:", (string?)entry["actor"]);

        var verified = CliRunner.Run(env, "audit", "verify", "--json");
        Assert.Equal(0, verified.ExitCode);
        Assert.True((bool)verified.Json["intact"]!);

        Tamper(home, $"UPDATE audit SET outcome = 'failed' WHERE target = '{id}'");
        var tampered = CliRunner.Run(env, "audit", "verify", "--json");
        Assert.Equal(4, tampered.ExitCode);
        Assert.False((bool)tampered.Json["intact"]!);
    }
}
