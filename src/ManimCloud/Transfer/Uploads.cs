using Amazon.S3;
using Amazon.S3.Model;
using ManimCloud.Aws;
using ManimCloud.Domain;
using ManimCloud.Resilience;

namespace ManimCloud.Transfer;

/// <summary>A multipart upload S3 holds, and whether this workspace's journal knows it.</summary>
public sealed record RemoteUpload(string Bucket, string Key, string UploadId, DateTimeOffset? Initiated, string? JournalId);

/// <summary>What abort-all did.</summary>
public sealed record AbortSummary(int FromJournal, int UnknownToJournal);

/// <summary>
/// The unfinished multipart uploads of a workspace, for `manimcloud uploads list|resume [ID]|abort (ID|--all)`:
/// list what the journal holds (and what S3 holds), resume one by id, abort one by id, or abort all under a prefix.
/// </summary>
public sealed class Uploads(IAmazonS3 s3, RetryPipeline retry, TransferEngine engine, UploadJournal journal)
{
    public Uploads(IAmazonS3 s3, RetryPipeline retry, UploadJournal journal)
        : this(s3, retry, new TransferEngine(s3, retry, journal), journal) { }

    /// <summary>Ranged downloads a kill or failure interrupted (`video get` again continues them), when the workspace journals them.</summary>
    public DownloadJournal? Downloads { get; init; }

    /// <summary>The journal's uploads in progress, oldest first, with how many parts and bytes are stored.</summary>
    public Task<IReadOnlyList<JournalEntry>> ListAsync(CancellationToken ct) => Task.FromResult(journal.List());

    /// <summary>The multipart uploads S3 holds under a prefix, marked with the journal entry that knows each (if any).</summary>
    public async Task<IReadOnlyList<RemoteUpload>> ListInBucketAsync(string bucket, string prefix, CancellationToken ct)
    {
        var known = journal.List().Where(e => e.Bucket == bucket).ToDictionary(e => e.UploadId, e => e.Id);
        var result = new List<RemoteUpload>();
        string? keyMarker = null, uploadMarker = null;
        while (true)
        {
            var page = await AwsCall.RunAsync(retry, "Listing multipart uploads in", $"s3://{bucket}/{prefix}", t => s3.ListMultipartUploadsAsync(
                new ListMultipartUploadsRequest { BucketName = bucket, Prefix = prefix, KeyMarker = keyMarker, UploadIdMarker = uploadMarker }, t), ct);
            foreach (var u in page.MultipartUploads ?? [])
                result.Add(new RemoteUpload(bucket, u.Key, u.UploadId,
                    u.Initiated is { } i ? new DateTimeOffset(DateTime.SpecifyKind(i, DateTimeKind.Utc)) : null,
                    known.GetValueOrDefault(u.UploadId)));
            if (page.IsTruncated != true) return result;
            (keyMarker, uploadMarker) = (page.NextKeyMarker, page.NextUploadIdMarker);
        }
    }

    /// <summary>Continues one journaled upload from its file, sending only the parts S3 does not hold.</summary>
    public async Task<UploadResult> ResumeAsync(string id, IProgress<TransferProgress>? progress, CancellationToken ct)
    {
        var entry = Get(id);
        if (!File.Exists(entry.Path))
            throw new ManimCloudException(ErrorKind.NotFound,
                $"Upload {id} of s3://{entry.Bucket}/{entry.Key} cannot resume: its file {entry.Path} is gone.",
                $"Abort it with `manimcloud uploads abort {id}`.");
        return await engine.UploadFileAsync(entry.Bucket, entry.Key, entry.Path, entry.Options, progress, ct);
    }

    /// <summary>Aborts one journaled upload in S3 (its stored parts are deleted) and forgets it.</summary>
    public async Task AbortAsync(string id, CancellationToken ct)
    {
        var entry = Get(id);
        await engine.AbortAsync(entry.Bucket, entry.Key, entry.UploadId, ct);
        journal.Remove(entry.Id);
    }

    /// <summary>
    /// Aborts every journaled upload to <paramref name="bucket"/> under <paramref name="prefix"/>, then every other
    /// multipart upload S3 holds there (left by a process that died before journaling it, or by another machine).
    /// <paramref name="initiatedBefore"/> spares uploads started since, so running uploads of other workers survive.
    /// </summary>
    public async Task<AbortSummary> AbortAllAsync(string bucket, string prefix, DateTimeOffset? initiatedBefore, CancellationToken ct)
    {
        var fromJournal = 0;
        foreach (var entry in journal.List().Where(e => e.Bucket == bucket && e.Key.StartsWith(prefix, StringComparison.Ordinal)))
        {
            if (initiatedBefore is { } cutoff && entry.CreatedAt >= cutoff) continue;
            await engine.AbortAsync(entry.Bucket, entry.Key, entry.UploadId, ct);
            journal.Remove(entry.Id);
            fromJournal++;
        }
        var unknown = 0;
        foreach (var u in await ListInBucketAsync(bucket, prefix, ct))
        {
            if (u.JournalId is not null) continue;
            if (initiatedBefore is { } cutoff && u.Initiated is { } started && started >= cutoff) continue;
            await engine.AbortAsync(bucket, u.Key, u.UploadId, ct);
            unknown++;
        }
        return new AbortSummary(fromJournal, unknown);
    }

    private JournalEntry Get(string id) =>
        journal.Find(id) ?? throw new ManimCloudException(ErrorKind.NotFound, $"There is no unfinished upload with id '{id}'.",
            "`manimcloud uploads list` shows the ids of unfinished uploads.");
}
