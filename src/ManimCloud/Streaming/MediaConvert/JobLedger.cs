using ManimCloud.Local;

namespace ManimCloud.Streaming.MediaConvert;

/// <summary>
/// The MediaConvert jobs this workspace submitted, one row per scene folder: which job writes it and in which attempt.
/// A run killed while its jobs work picks them up again instead of submitting more; after a job failed or was
/// canceled, the next run submits a new attempt (a new idempotency token, so MediaConvert does not answer with the
/// failed job).
/// </summary>
public sealed class JobLedger
{
    private readonly Catalog _catalog;

    public JobLedger(Catalog catalog)
    {
        _catalog = catalog;
        catalog.EnsureSchema("mediaconvert.v1", """
            CREATE TABLE mediaconvert_jobs (
                folder_key TEXT PRIMARY KEY,
                attempt INTEGER NOT NULL,
                job_id TEXT NOT NULL,
                status TEXT NOT NULL,
                updated_at TEXT NOT NULL
            );
            """);
    }

    public sealed record Entry(string FolderKey, int Attempt, string JobId, MediaConvertJobStatus Status);

    public Entry? Find(string folderKey)
    {
        using var c = _catalog.Open();
        using var cmd = c.Command(null, "SELECT attempt, job_id, status FROM mediaconvert_jobs WHERE folder_key = $k", ("$k", folderKey));
        using var r = cmd.ExecuteReader();
        return r.Read() ? new Entry(folderKey, r.GetInt32(0), r.GetString(1), Enum.Parse<MediaConvertJobStatus>(r.GetString(2))) : null;
    }

    /// <summary>The attempt the next submission for this folder uses: the same while its job may still succeed, the next one after it failed.</summary>
    public int NextAttempt(string folderKey) => Find(folderKey) switch
    {
        null => 1,
        { Status: MediaConvertJobStatus.Error or MediaConvertJobStatus.Canceled } failed => failed.Attempt + 1,
        var current => current.Attempt,
    };

    public void Record(string folderKey, int attempt, string jobId, MediaConvertJobStatus status) =>
        _catalog.InTransaction((c, tx) =>
        {
            using var cmd = c.Command(tx, """
                INSERT INTO mediaconvert_jobs (folder_key, attempt, job_id, status, updated_at) VALUES ($k, $a, $j, $s, $t)
                ON CONFLICT (folder_key) DO UPDATE SET attempt = excluded.attempt, job_id = excluded.job_id, status = excluded.status, updated_at = excluded.updated_at
                """, ("$k", folderKey), ("$a", attempt), ("$j", jobId), ("$s", status.ToString()), ("$t", DateTimeOffset.UtcNow.ToString("O")));
            return cmd.ExecuteNonQuery();
        }, durable: true);
}
