using System.Text.Json.Nodes;
using ManimCloud.Local;
using ManimCloud.Metadata;

namespace ManimCloud.Sync;

/// <summary>An outbox entry: an operation waiting to be applied, with its retry history.</summary>
public sealed record OutboxEntry(long Seq, Operation Operation, string State, int Attempts, string? LastError);

/// <summary>
/// The write-ahead list of operations in the workspace catalog. An operation is recorded here (fsynced) before
/// it touches any store and removed only after it has been applied everywhere, so a crash at any instant leaves
/// it to be replayed — harmlessly, since every operation is idempotent by its id.
/// </summary>
public sealed class Outbox(Catalog catalog)
{
    public const string Pending = "pending";
    public const string Parked = "parked";

    public void Add(Operation op) =>
        catalog.InTransaction((c, tx) => c.Command(tx, """
            INSERT INTO outbox(id, video_id, kind, payload, created_at, state) VALUES ($id, $v, $k, $p, $t, 'pending')
            """, ("$id", op.Id), ("$v", op.Video.ToString()), ("$k", op.Kind),
            ("$p", RecordJson.Serialize(op.ToJson())), ("$t", op.CreatedAt.ToString("O"))).ExecuteNonQuery());

    public void Remove(string id) =>
        catalog.InTransaction((c, tx) => c.Command(tx, "DELETE FROM outbox WHERE id = $id", ("$id", id)).ExecuteNonQuery());

    public void RecordFailure(string id, string error, bool park) =>
        catalog.InTransaction((c, tx) => c.Command(tx,
            "UPDATE outbox SET attempts = attempts + 1, last_error = $e, state = $s WHERE id = $id",
            ("$e", error), ("$s", park ? Parked : Pending), ("$id", id)).ExecuteNonQuery());

    /// <summary>Entries in the order they were written (operations on one video apply in order).</summary>
    public IReadOnlyList<OutboxEntry> List(string? state = null)
    {
        using var c = catalog.Open();
        using var cmd = c.Command(null,
            "SELECT seq, payload, state, attempts, last_error FROM outbox WHERE ($s IS NULL OR state = $s) ORDER BY seq",
            ("$s", state));
        using var r = cmd.ExecuteReader();
        var list = new List<OutboxEntry>();
        while (r.Read())
            list.Add(new OutboxEntry(r.GetInt64(0), Operation.FromJson(JsonNode.Parse(r.GetString(1))!), r.GetString(2), r.GetInt32(3), r.IsDBNull(4) ? null : r.GetString(4)));
        return list;
    }
}
