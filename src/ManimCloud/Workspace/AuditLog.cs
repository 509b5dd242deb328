using ManimCloud.Local;

namespace ManimCloud.Workspace;

/// <summary>An append-only record of every operation the tool performs (SPEC R8). Never holds secrets or content.</summary>
public sealed class AuditLog(Catalog catalog)
{
    public void Record(string action, string target, string outcome, string? detail = null) =>
        catalog.InTransaction((c, tx) => c.Command(tx,
            "INSERT INTO audit(at, action, target, outcome, detail) VALUES ($at, $a, $t, $o, $d)",
            ("$at", DateTimeOffset.UtcNow.ToString("O")), ("$a", action), ("$t", target), ("$o", outcome), ("$d", detail)).ExecuteNonQuery());
}
