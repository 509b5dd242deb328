using System.Security.Cryptography;
using ManimCloud.Domain;
using ManimCloud.Local;
using Microsoft.Data.Sqlite;

namespace ManimCloud.Web.Events;

public sealed record Webhook(string Id, ProjectId Project, Uri Url, string Secret, DateTimeOffset CreatedAt);

public sealed record WebhookDelivery(string Id, string WebhookId, string EventType, string Body, int Attempts, DateTimeOffset NextAt, string State, string? LastError);

/// <summary>
/// Webhooks registered per project, and their deliveries, in the workspace catalog. A delivery is recorded before it is
/// sent, so a restart sends what was not yet acknowledged; its id travels in every attempt so receivers can dedupe.
/// The secret is kept (it is needed to sign), unlike API tokens, of which only a hash is kept.
/// </summary>
public sealed class WebhookStore
{
    public const string Pending = "pending", Delivered = "delivered", Failed = "failed";
    private readonly Catalog _catalog;

    public WebhookStore(Catalog catalog)
    {
        _catalog = catalog;
        catalog.EnsureSchema("web.webhooks", """
            CREATE TABLE IF NOT EXISTS webhooks (
                id TEXT PRIMARY KEY, project_id TEXT NOT NULL, url TEXT NOT NULL, secret TEXT NOT NULL, created_at TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS webhooks_by_project ON webhooks(project_id);
            CREATE TABLE IF NOT EXISTS webhook_deliveries (
                id TEXT PRIMARY KEY, webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
                event_type TEXT NOT NULL, body TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at TEXT NOT NULL,
                state TEXT NOT NULL, last_error TEXT, created_at TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries(state, next_at);
            """);
    }

    public Webhook Add(ProjectId project, Uri url)
    {
        if (url.Scheme is not ("http" or "https") || !string.IsNullOrEmpty(url.UserInfo) || url.ToString().Length > 2000)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"'{url}' is not a webhook URL.", "Give an http(s) URL without credentials in it, up to 2000 characters.");
        var hook = new Webhook("wh_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)), project, url,
            "whsec_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24)), DateTimeOffset.UtcNow);
        _catalog.InTransaction((c, tx) => c.Command(tx, "INSERT INTO webhooks (id, project_id, url, secret, created_at) VALUES ($id, $p, $u, $s, $t)",
            ("$id", hook.Id), ("$p", project.ToString()), ("$u", url.ToString()), ("$s", hook.Secret), ("$t", hook.CreatedAt.ToString("O"))).ExecuteNonQuery(), durable: true);
        return hook;
    }

    public IReadOnlyList<Webhook> List(ProjectId? project)
    {
        using var c = _catalog.Open();
        using var cmd = project is { } p
            ? c.Command(null, "SELECT id, project_id, url, secret, created_at FROM webhooks WHERE project_id = $p ORDER BY created_at", ("$p", p.ToString()))
            : c.Command(null, "SELECT id, project_id, url, secret, created_at FROM webhooks ORDER BY created_at");
        using var r = cmd.ExecuteReader();
        var list = new List<Webhook>();
        while (r.Read())
            list.Add(new Webhook(r.GetString(0), ProjectId.Parse(r.GetString(1)), new Uri(r.GetString(2)), r.GetString(3), DateTimeOffset.Parse(r.GetString(4))));
        return list;
    }

    public bool Remove(ProjectId project, string id) =>
        _catalog.InTransaction((c, tx) => c.Command(tx, "DELETE FROM webhooks WHERE id = $id AND project_id = $p", ("$id", id), ("$p", project.ToString())).ExecuteNonQuery(), durable: true) > 0;

    public void Enqueue(IEnumerable<(Webhook Hook, string EventType, string Body)> deliveries)
    {
        var now = DateTimeOffset.UtcNow.ToString("O");
        _catalog.InTransaction((c, tx) =>
        {
            foreach (var (hook, type, body) in deliveries)
                c.Command(tx, "INSERT INTO webhook_deliveries (id, webhook_id, event_type, body, next_at, state, created_at) VALUES ($id, $w, $e, $b, $n, $s, $n)",
                    ("$id", "dlv_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(10))), ("$w", hook.Id), ("$e", type), ("$b", body), ("$n", now), ("$s", Pending)).ExecuteNonQuery();
            return 0;
        }, durable: true);
    }

    public IReadOnlyList<(WebhookDelivery Delivery, Webhook Hook)> Due(DateTimeOffset now, int limit)
    {
        using var c = _catalog.Open();
        using var cmd = c.Command(null, """
            SELECT d.id, d.webhook_id, d.event_type, d.body, d.attempts, d.next_at, d.state, d.last_error, w.project_id, w.url, w.secret, w.created_at
            FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
            WHERE d.state = $s AND d.next_at <= $now ORDER BY d.next_at LIMIT $limit
            """, ("$s", Pending), ("$now", now.ToString("O")), ("$limit", limit));
        using var r = cmd.ExecuteReader();
        var list = new List<(WebhookDelivery, Webhook)>();
        while (r.Read())
            list.Add((Delivery(r), new Webhook(r.GetString(1), ProjectId.Parse(r.GetString(8)), new Uri(r.GetString(9)), r.GetString(10), DateTimeOffset.Parse(r.GetString(11)))));
        return list;
    }

    public IReadOnlyList<WebhookDelivery> Deliveries(string webhookId)
    {
        using var c = _catalog.Open();
        using var cmd = c.Command(null, "SELECT id, webhook_id, event_type, body, attempts, next_at, state, last_error FROM webhook_deliveries WHERE webhook_id = $w ORDER BY created_at", ("$w", webhookId));
        using var r = cmd.ExecuteReader();
        var list = new List<WebhookDelivery>();
        while (r.Read()) list.Add(Delivery(r));
        return list;
    }

    public void Record(string deliveryId, string state, int attempts, DateTimeOffset nextAt, string? error) =>
        _catalog.InTransaction((c, tx) => c.Command(tx, "UPDATE webhook_deliveries SET state = $s, attempts = $a, next_at = $n, last_error = $e WHERE id = $id",
            ("$s", state), ("$a", attempts), ("$n", nextAt.ToString("O")), ("$e", error), ("$id", deliveryId)).ExecuteNonQuery());

    private static WebhookDelivery Delivery(SqliteDataReader r) => new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetInt32(4),
        DateTimeOffset.Parse(r.GetString(5)), r.GetString(6), r.IsDBNull(7) ? null : r.GetString(7));
}
