using ManimCloud.Domain;

namespace ManimCloud.Streaming.MediaConvert;

/// <summary>
/// Follows a job with GetJob until it is COMPLETE, ERROR or CANCELED. The waits between polls grow from
/// <see cref="FirstPoll"/> to <see cref="LongestPoll"/>: a poll that finds the job still working is not a failure, so this
/// is not a retry (each GetJob call itself is retried through the one pipeline when it fails transiently).
/// </summary>
public sealed class JobWatch(IMediaConvertClient client)
{
    public TimeSpan FirstPoll { get; init; } = TimeSpan.FromSeconds(2);
    public TimeSpan LongestPoll { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>How long to wait for one job in all; after that the job is left running and the caller is told how to pick it up.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromHours(6);
    /// <summary>A job still SUBMITTED after this long is reported as waiting in its queue (a paused queue, or the account's limit).</summary>
    public TimeSpan QueuedWarning { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Polls <paramref name="jobId"/>, reporting every state seen, until it finishes; returns the finished job.</summary>
    public async Task<MediaConvertJob> UntilFinishedAsync(string jobId, Action<MediaConvertJob, string?> report, CancellationToken ct)
    {
        var started = DateTimeOffset.UtcNow;
        var wait = FirstPoll;
        while (true)
        {
            var job = await client.GetJobAsync(jobId, ct);
            var waited = DateTimeOffset.UtcNow - started;
            string? note = null;
            if (job.Status == MediaConvertJobStatus.Submitted && waited > QueuedWarning)
                note = $"still waiting in its queue after {waited.TotalMinutes:0} min: check the queue is ACTIVE (not PAUSED) in the MediaConvert console";
            report(job, note);
            if (job.IsFinished) return job;
            if (waited > Timeout)
                throw new ManimCloudException(ErrorKind.Transient,
                    $"MediaConvert job {jobId} has not finished after {waited.TotalHours:0.#} h (status {MediaConvertJob.WireName(job.Status)}, {job.PercentComplete ?? 0} %).",
                    "The job goes on in AWS: run `video transcode` again later to pick it up where it is, or cancel it in the MediaConvert console.");
            await Task.Delay(wait, ct);
            wait = TimeSpan.FromTicks(Math.Min(LongestPoll.Ticks, (long)(wait.Ticks * 1.5)));
        }
    }
}
