using ManimCloud.Local;

namespace ManimCloud.Workspace;

/// <summary>An append-only record of every operation the tool performs (SPEC R8). Never holds secrets or content.</summary>
public sealed class AuditLog(Catalog catalog)
{
    public void Record(string action, string target, string outcome, string? detail = null) =>
        catalog.InTransaction((c, tx) => c.Command(tx,
            "INSERT INTO audit(at, action, target, outcome, detail) VALUES ($at, $a, $t, $o, $d)",
            ("$at", DateTimeOffset.UtcNow.ToString("O")), ("$a", action), ("$t", target), ("$o", outcome), ("$d", detail)).ExecuteNonQuery());

    public IReadOnlyList<(DateTimeOffset At, string Action, string Target, string Outcome, string? Detail)> Recent(int limit)
    {
        using var c = catalog.Open();
        using var cmd = c.Command(null, "SELECT at, action, target, outcome, detail FROM audit ORDER BY seq DESC LIMIT $n", ("$n", limit));
        using var r = cmd.ExecuteReader();
        var list = new List<(DateTimeOffset, string, string, string, string?)>();
        while (r.Read()) list.Add((DateTimeOffset.Parse(r.GetString(0)), r.GetString(1), r.GetString(2), r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4)));
        return list;
    }
}
