using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Local;
using ManimCloud.Metadata;

namespace ManimCloud.Sync;

/// <summary>An outbox entry: an operation waiting for the cloud, with its retry history.</summary>
/// <param name="ProvisionalVersion">For code made while the cloud was away: the number the workspace gave it (and the user was told).</param>
public sealed record OutboxEntry(long Seq, Operation Operation, string State, int Attempts, string? LastError, bool LocalApplied, JsonNode? Conflict, int? ProvisionalVersion);

/// <summary>
/// The write-ahead list of operations in the workspace catalog. An operation is recorded here (fsynced) before it
/// touches any store and removed only after it has been applied everywhere, so a crash at any instant leaves it to
/// be replayed — harmlessly, since every operation is idempotent by its id.
/// States: pending (waiting for the cloud), parked (can never succeed as is: a reason says why), conflict (kept for
/// a person under the manual conflict policy).
/// </summary>
public sealed class Outbox(Catalog catalog)
{
    /// <summary>This process, as an owner of outbox entries: process id and start time (a reused pid is not the same owner).</summary>
    public static readonly string Me = OwnerOf(System.Diagnostics.Process.GetCurrentProcess());

    private static string OwnerOf(System.Diagnostics.Process p) => $"{p.Id}:{p.StartTime.ToUniversalTime().Ticks}";

    /// <summary>
    /// Whether the process that owns an entry is still running (a workspace lives on one machine). Start times are
    /// compared within a second: .NET derives another process's start time from the boot time and jitters by
    /// milliseconds between reads, while a reused pid with a start time within the same second does not happen.
    /// </summary>
    public static bool IsAlive(string owner)
    {
        if (owner == Me) return true;
        var separator = owner.IndexOf(':');
        var pid = int.Parse(owner[..separator]);
        var started = long.Parse(owner[(separator + 1)..]);
        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            return Math.Abs(p.StartTime.ToUniversalTime().Ticks - started) < TimeSpan.TicksPerSecond;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    public const string Pending = "pending";
    public const string Parked = "parked";
    public const string Conflicted = "conflict";

    public void Add(Operation op) =>
        catalog.InTransaction((c, tx) => c.Command(tx, """
            INSERT INTO outbox(id, video_id, kind, payload, created_at, state, owner) VALUES ($id, $v, $k, $p, $t, 'pending', $o)
            """, ("$id", op.Id), ("$v", op.Video.ToString()), ("$k", op.Kind),
            ("$p", RecordJson.Serialize(op.ToJson())), ("$t", op.CreatedAt.ToString("O")), ("$o", Me)).ExecuteNonQuery(), durable: true);

    /// <summary>
    /// Takes an entry for this process: true when it was free, ours, or its owner died (a crash: replay it).
    /// False while another live process is applying it.
    /// </summary>
    public bool TryTake(string id)
    {
        var owner = catalog.InTransaction((c, tx) => c.Command(tx, "SELECT owner FROM outbox WHERE id = $id", ("$id", id)).ExecuteScalar() as string);
        if (owner is not null && owner != Me && IsAlive(owner)) return false;
        return Exec("UPDATE outbox SET owner = $me WHERE id = $id AND owner IS $old", ("$me", Me), ("$id", id), ("$old", owner)) == 1;
    }

    /// <summary>
    /// Takes the entries no one has ever tried to apply to the cloud (free, no attempts), in one catalog transaction,
    /// and returns their ids: such an operation has left no trace there, so it may be applied without first looking
    /// for an earlier attempt's result.
    /// </summary>
    public HashSet<string> TryTakeUntried(IReadOnlyCollection<string> ids) =>
        catalog.InTransaction((c, tx) => ids.Where(id => c.Command(tx,
            "UPDATE outbox SET owner = $me WHERE id = $id AND owner IS NULL AND attempts = 0 AND state = 'pending'",
            ("$me", Me), ("$id", id)).ExecuteNonQuery() == 1).ToHashSet());

    /// <summary>The cloud may have seen part of it: count the attempt and leave the entry queued for the careful path.</summary>
    public void ReleaseAttempted(string id, string? error) =>
        Exec("UPDATE outbox SET attempts = attempts + 1, last_error = COALESCE($e, last_error), owner = NULL WHERE id = $id",
            ("$id", id), ("$e", error));

    /// <summary>Leaves an entry for whoever syncs next (it stays queued).</summary>
    public void Release(string id) => Exec("UPDATE outbox SET owner = NULL WHERE id = $id AND owner = $me", ("$id", id), ("$me", Me));

    public void Remove(string id) => Exec("DELETE FROM outbox WHERE id = $id", ("$id", id));

    /// <summary>Several applied entries in one catalog transaction (a bulk sync).</summary>
    public void Remove(IReadOnlyCollection<string> ids) =>
        catalog.InTransaction((c, tx) =>
        {
            foreach (var id in ids) c.Command(tx, "DELETE FROM outbox WHERE id = $id", ("$id", id)).ExecuteNonQuery();
            return 0;
        });

    /// <summary>The operation is in the workspace; only the cloud is still missing it.</summary>
    /// <param name="attempted">The cloud was tried and failed: it may hold part of the operation (counted as an attempt).</param>
    public void MarkLocalApplied(string id, string? reason, int? provisionalVersion, bool attempted = false) =>
        Exec("UPDATE outbox SET local_applied = 1, last_error = COALESCE($e, last_error), result = $r, owner = NULL, attempts = attempts + $a WHERE id = $id",
            ("$id", id), ("$e", reason), ("$r", provisionalVersion?.ToString()), ("$a", attempted ? 1 : 0));

    public void RecordFailure(string id, string error, bool park) =>
        Exec("UPDATE outbox SET attempts = attempts + 1, last_error = $e, state = $s, owner = NULL WHERE id = $id",
            ("$e", error), ("$s", park ? Parked : Pending), ("$id", id));

    public void MarkConflict(string id, JsonNode conflict) =>
        Exec("UPDATE outbox SET state = $s, conflict = $c, last_error = 'conflict: kept for manual resolution', owner = NULL WHERE id = $id",
            ("$s", Conflicted), ("$c", conflict.ToJsonString()), ("$id", id));

    /// <summary>Puts parked operations back in the queue (after the cause was fixed).</summary>
    public int RetryParked() => Exec("UPDATE outbox SET state = 'pending', last_error = NULL WHERE state = 'parked'");

    /// <summary>How many operations wait for the cloud, and when the oldest of them was made (null when none).</summary>
    public (long Count, DateTimeOffset? Oldest) Backlog()
    {
        using var c = catalog.Open();
        using var cmd = c.Command(null, "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE state = 'pending'");
        using var r = cmd.ExecuteReader();
        r.Read();
        return (r.GetInt64(0), r.IsDBNull(1) ? null : DateTimeOffset.Parse(r.GetString(1), System.Globalization.CultureInfo.InvariantCulture));
    }

    public bool HasQueuedFor(VideoId video, string exceptId)
    {
        using var c = catalog.Open();
        using var cmd = c.Command(null, "SELECT 1 FROM outbox WHERE video_id = $v AND id <> $id LIMIT 1", ("$v", video.ToString()), ("$id", exceptId));
        return cmd.ExecuteScalar() is not null;
    }

    /// <summary>The ids of every queued operation, in any state (without reading their payloads).</summary>
    public HashSet<string> Ids()
    {
        using var c = catalog.Open();
        using var cmd = c.Command(null, "SELECT id FROM outbox");
        using var r = cmd.ExecuteReader();
        var ids = new HashSet<string>();
        while (r.Read()) ids.Add(r.GetString(0));
        return ids;
    }

    public OutboxEntry? Find(string id) => Query("WHERE id = $id", ("$id", id)).FirstOrDefault();

    /// <summary>Entries in the order they were written (operations on one video apply in order).</summary>
    public IReadOnlyList<OutboxEntry> List(string? state = null) => Query("WHERE ($s IS NULL OR state = $s)", ("$s", state));

    /// <summary>Blobs that queued operations still need: never evicted.</summary>
    public HashSet<string> ReferencedBlobs() =>
        List().SelectMany(e => e.Operation.Blobs).ToHashSet();

    private List<OutboxEntry> Query(string where, params (string, object?)[] args)
    {
        using var c = catalog.Open();
        using var cmd = c.Command(null,
            $"SELECT seq, payload, state, attempts, last_error, local_applied, conflict, result FROM outbox {where} ORDER BY seq", args);
        using var r = cmd.ExecuteReader();
        var list = new List<OutboxEntry>();
        while (r.Read())
            list.Add(new OutboxEntry(r.GetInt64(0), Operation.FromJson(JsonNode.Parse(r.GetString(1))!), r.GetString(2), r.GetInt32(3),
                r.IsDBNull(4) ? null : r.GetString(4), r.GetInt64(5) == 1, r.IsDBNull(6) ? null : JsonNode.Parse(r.GetString(6)),
                r.IsDBNull(7) ? null : int.Parse(r.GetString(7))));
        return list;
    }

    private int Exec(string sql, params (string, object?)[] args) =>
        catalog.InTransaction((c, tx) => c.Command(tx, sql, args).ExecuteNonQuery());
}
