using ManimCloud.Local;

namespace ManimCloud.Delivery;

/// <summary>
/// The invalidations this workspace asked CloudFront for, by CallerReference: a retry finds the earlier one here before
/// it asks again (CloudFront itself answers a repeated CallerReference with the earlier invalidation; moto does not, and
/// the ledger also saves the call). Written durably right after CloudFront answered.
/// </summary>
public sealed class InvalidationLedger
{
    private readonly Catalog _catalog;

    public InvalidationLedger(Catalog catalog)
    {
        _catalog = catalog;
        catalog.EnsureSchema("delivery.invalidations.v1", """
            CREATE TABLE cdn_invalidations (
                caller_reference TEXT PRIMARY KEY,
                distribution_id TEXT NOT NULL,
                invalidation_id TEXT NOT NULL,
                video_id TEXT NOT NULL,
                version INTEGER NOT NULL,
                paths TEXT NOT NULL,
                status TEXT NOT NULL,
                created_at TEXT NOT NULL
            );
            """);
    }

    public sealed record Entry(string CallerReference, string DistributionId, string InvalidationId, string Video, int Version, IReadOnlyList<string> Paths,
        string Status, DateTimeOffset CreatedAt);

    public Entry? Find(string distributionId, string callerReference)
    {
        using var c = _catalog.Open();
        using var cmd = c.Command(null, """
            SELECT invalidation_id, video_id, version, paths, status, created_at FROM cdn_invalidations
            WHERE caller_reference = $r AND distribution_id = $d
            """, ("$r", callerReference), ("$d", distributionId));
        using var r = cmd.ExecuteReader();
        return r.Read()
            ? new Entry(callerReference, distributionId, r.GetString(0), r.GetString(1), r.GetInt32(2), r.GetString(3).Split('\n'), r.GetString(4),
                DateTimeOffset.Parse(r.GetString(5), System.Globalization.CultureInfo.InvariantCulture))
            : null;
    }

    public void Record(InvalidationBatch batch, string invalidationId, string status, DateTimeOffset createdAt) =>
        _catalog.InTransaction((c, tx) =>
        {
            using var cmd = c.Command(tx, """
                INSERT INTO cdn_invalidations (caller_reference, distribution_id, invalidation_id, video_id, version, paths, status, created_at)
                VALUES ($r, $d, $i, $v, $n, $p, $s, $t)
                ON CONFLICT (caller_reference) DO UPDATE SET invalidation_id = excluded.invalidation_id, status = excluded.status
                """, ("$r", batch.CallerReference), ("$d", batch.DistributionId), ("$i", invalidationId), ("$v", batch.Video.ToString()),
                ("$n", batch.Version), ("$p", string.Join('\n', batch.Paths)), ("$s", status), ("$t", createdAt.ToString("O")));
            return cmd.ExecuteNonQuery();
        }, durable: true);

    public void SetStatus(string distributionId, string invalidationId, string status) =>
        _catalog.InTransaction((c, tx) =>
        {
            using var cmd = c.Command(tx, "UPDATE cdn_invalidations SET status = $s WHERE distribution_id = $d AND invalidation_id = $i",
                ("$s", status), ("$d", distributionId), ("$i", invalidationId));
            return cmd.ExecuteNonQuery();
        });
}
