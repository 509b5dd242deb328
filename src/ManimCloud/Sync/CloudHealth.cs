using ManimCloud.Local;

namespace ManimCloud.Sync;

/// <summary>
/// Remembers, in the workspace, that the cloud was just unreachable, so the next commands queue at once instead of
/// each waiting out its retries. Any successful cloud call (a sync) clears it.
/// </summary>
public sealed class CloudHealth(Catalog catalog)
{
    public static TimeSpan Quarantine { get; set; } = TimeSpan.FromSeconds(30);
    private const string Key = "cloud_down_until";

    public bool IsDown(out string? since)
    {
        using var c = catalog.Open();
        using var cmd = c.Command(null, "SELECT value FROM workspace_state WHERE key = $k", ("$k", Key));
        var value = cmd.ExecuteScalar() as string;
        since = value;
        return value is not null && DateTimeOffset.Parse(value) > DateTimeOffset.UtcNow;
    }

    public void MarkDown()
    {
        _maybeMarked = true;
        catalog.InTransaction((c, tx) => c.Command(tx,
            "INSERT INTO workspace_state(key, value) VALUES ($k, $v) ON CONFLICT(key) DO UPDATE SET value = $v",
            ("$k", Key), ("$v", DateTimeOffset.UtcNow.Add(Quarantine).ToString("O"))).ExecuteNonQuery());
    }

    // Whether this process may have recorded (or not yet checked) a down mark: MarkUp writes only then.
    private volatile bool _maybeMarked = true;

    public void MarkUp()
    {
        if (!_maybeMarked) return;
        catalog.InTransaction((c, tx) => c.Command(tx, "DELETE FROM workspace_state WHERE key = $k", ("$k", Key)).ExecuteNonQuery());
        _maybeMarked = false;
    }
}
