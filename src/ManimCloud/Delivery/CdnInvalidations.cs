using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Amazon.Runtime;
using ManimCloud.Aws;
using ManimCloud.Delivery.CloudFront;
using ManimCloud.Domain;
using ManimCloud.Sync;

namespace ManimCloud.Delivery;

/// <summary>What became of one invalidation request.</summary>
/// <param name="How">"created", "remembered" (this workspace asked before), "found" (CloudFront already had it), "queued".</param>
public sealed record InvalidationOutcome(InvalidationBatch Batch, string? InvalidationId, string Status, string How, bool Synced, string? PendingReason,
    TimeSpan? Waited = null)
{
    public bool IsCompleted => string.Equals(Status, "Completed", StringComparison.OrdinalIgnoreCase);

    public JsonObject ToJson() => new()
    {
        ["video_id"] = Batch.Video.ToString(),
        ["version"] = Batch.Version,
        ["distribution_id"] = Batch.DistributionId,
        ["invalidation_id"] = InvalidationId,
        ["status"] = Status,
        ["how"] = How,
        ["caller_reference"] = Batch.CallerReference,
        ["paths"] = new JsonArray(Batch.Paths.Select(p => (JsonNode)JsonValue.Create(p)!).ToArray()),
        ["keys"] = new JsonArray(Batch.Keys.Select(k => (JsonNode)JsonValue.Create(k)!).ToArray()),
        ["billed_paths"] = Batch.Paths.Count,
        ["wildcards"] = Batch.WildcardCount,
        ["waited_s"] = Waited is { } w ? Math.Round(w.TotalSeconds, 1) : null,
        ["synced"] = Synced,
        ["pending"] = !Synced,
        ["pending_reason"] = PendingReason,
    };

    public string ToText()
    {
        var what = $"{Batch.Paths.Count} path(s) of v{Batch.Version} of video {Batch.Video} on distribution {Batch.DistributionId}" +
            (Batch.WildcardCount > 0 ? $" ({Batch.WildcardCount} folder wildcard(s) for {Batch.Keys.Count} object(s))" : "");
        var head = !Synced
            ? $"invalidation of {what} queued for the cloud ({PendingReason}); `manimcloud sync` sends it"
            : $"invalidation {InvalidationId} of {what}: {Status}" + How switch
            {
                "remembered" => " (asked before from this workspace: the same invalidation, not a second one)",
                "found" => " (CloudFront already had it under this CallerReference: the same invalidation, not a second one)",
                _ => "",
            } + (Waited is { } w && IsCompleted ? $" after {w.TotalSeconds:0.#} s" : "");
        return head + "\n" + string.Join("\n", Batch.Paths.Select(p => "  " + p));
    }
}

/// <summary>
/// Invalidation of exactly what a change of a published version left stale in CloudFront (SPEC R5): the batch
/// (<see cref="InvalidationBatch"/>) goes through the outbox like every cloud write, so offline it is queued and `sync`
/// applies it; applying it asks CloudFront only when neither this workspace's ledger nor the distribution's recent
/// invalidations already hold its CallerReference. Composed by <see cref="DeliveryService"/>.
/// </summary>
public sealed class CdnInvalidations : ICdnInvalidator
{
    private readonly ManimCloudClient _client;
    private readonly DeliveryService _delivery;
    private readonly Lazy<InvalidationLedger> _ledger;
    private ICloudFront? _cloudFront;
    // How this process's applies went, by CallerReference (created, or found on CloudFront), for the outcome.
    private readonly ConcurrentDictionary<string, string> _how = new();

    internal CdnInvalidations(ManimCloudClient client, DeliveryService delivery)
    {
        _client = client;
        _delivery = delivery;
        _ledger = new(() => new InvalidationLedger(client.Catalog), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public InvalidationLedger Ledger => _ledger.Value;

    /// <summary>The CloudFront API in use: the typed client by default; replaceable (by the official SDK, or to observe it).</summary>
    public ICloudFront CloudFront
    {
        get => _cloudFront ??= CloudFrontClient.Create(_client.Aws ?? throw _delivery.NotProvisioned());
        set => _cloudFront = value;
    }

    /// <summary>How often <see cref="WaitAsync"/> asks CloudFront; it completes an invalidation in one to a few minutes.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(15);
    /// <summary>How long <see cref="WaitAsync"/> follows one before it reports it still in progress (CloudFront goes on).</summary>
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromMinutes(20);
    /// <summary>How many of the distribution's newest invalidations are read for a CallerReference before asking for a new one.</summary>
    public int RecentChecked { get; set; } = 20;

    /// <summary>`delivery invalidate V [--version N]`: every object of the version that is rewritten in place (manifests, poster, storyboard).</summary>
    public async Task<InvalidationOutcome> InvalidateVersionAsync(VideoId id, int? version, CancellationToken ct)
    {
        _delivery.RequireDistribution();
        var video = await _client.GetVideoAsync(id, ct);
        var set = DeliveryService.PublishedSet(video, version);
        return await InvalidateAsync(video, set.Version, set.RewrittenInPlaceKeys, ct);
    }

    /// <summary>Invalidates <paramref name="keys"/> of a published version: one batch, through the outbox.</summary>
    public async Task<InvalidationOutcome> InvalidateAsync(VideoRecord video, int version, IReadOnlyList<string> keys, CancellationToken ct)
    {
        var distribution = _delivery.RequireDistribution();
        var set = DeliveryService.PublishedSet(video, version);
        var batch = InvalidationBatch.For(distribution, video, set, keys);
        if (Ledger.Find(distribution, batch.CallerReference) is { } known)
            return new InvalidationOutcome(batch, known.InvalidationId, known.Status, "remembered", true, null);
        var op = new InvalidateCdn
        {
            Id = Operation.NewId(), Video = video.Id, Version = version, DistributionId = distribution,
            Keys = batch.Keys, Paths = batch.Paths, CallerReference = batch.CallerReference,
        };
        var written = await _client.RunAsync(op, r => r, ct);
        if (!written.Synced) return new InvalidationOutcome(batch, null, "Queued", "queued", false, written.PendingReason);
        var entry = Ledger.Find(distribution, batch.CallerReference)
            ?? throw new InvalidOperationException($"The invalidation {batch.CallerReference} was applied but not recorded.");
        return new InvalidationOutcome(batch, entry.InvalidationId, entry.Status, _how.GetValueOrDefault(batch.CallerReference, "remembered"), true, null);
    }

    /// <summary>The pipeline's hook: a re-publish invalidates what it left stale (paths as "/key"); not followed to Completed.</summary>
    public async Task<JsonObject> InvalidateRepublishedAsync(VideoRecord video, int version, IReadOnlyList<string> paths, CancellationToken ct) =>
        (await InvalidateAsync(video, version, paths.Select(p => p.TrimStart('/')).ToList(), ct)).ToJson();

    /// <summary>Applies a queued or fresh <see cref="InvalidateCdn"/> in CloudFront (the sync engine calls this).</summary>
    public async Task ApplyAsync(InvalidateCdn op, CancellationToken ct)
    {
        var batch = new InvalidationBatch(op.DistributionId, op.Video, op.Version, op.Keys, op.Paths, op.CallerReference);
        if (Ledger.Find(op.DistributionId, op.CallerReference) is not null) return;
        var resource = $"cloudfront:distribution/{op.DistributionId}";
        // CloudFront answers a repeated CallerReference with the earlier invalidation, but moto creates a second one, and
        // a crash after CloudFront answered leaves no ledger row: look among the in-progress and the newest ones first.
        var listed = await Call("Listing the invalidations of", resource, t => CloudFront.ListInvalidationsAsync(op.DistributionId, t), ct);
        foreach (var summary in listed.Where(i => !i.IsCompleted).Concat(listed.Take(RecentChecked)).DistinctBy(i => i.Id))
        {
            var full = await Call("Reading", $"{resource}/invalidation/{summary.Id}", t => CloudFront.GetInvalidationAsync(op.DistributionId, summary.Id, t), ct);
            if (full?.CallerReference != op.CallerReference) continue;
            Ledger.Record(batch, full.Id, full.Status, full.CreateTime);
            _how[op.CallerReference] = "found";
            return;
        }
        CloudFrontInvalidation made;
        try
        {
            made = await CloudFront.CreateInvalidationAsync(op.DistributionId, op.Paths, op.CallerReference, ct);
        }
        catch (Exception e) when (Unwrap(e) is AmazonServiceException s && s.ErrorCode is "TooManyInvalidationsInProgress" or "BatchTooLarge")
        {
            // A limit of what may be in progress at once: it frees itself in minutes, so the invalidation stays queued.
            throw new ManimCloudException(ErrorKind.Throttled,
                $"CloudFront refused the invalidation of v{op.Version} of video {op.Video} on {op.DistributionId}: {s.ErrorCode} " +
                $"(at most {InvalidationBatch.MaxPathsInProgress:N0} paths and {InvalidationBatch.MaxWildcardsInProgress} wildcard paths may be in progress per distribution).",
                "It stays queued: `manimcloud sync` sends it once earlier invalidations completed (`aws cloudfront list-invalidations --distribution-id " + op.DistributionId + "`).", e);
        }
        catch (Exception e) when (Unwrap(e) is AmazonServiceException { ErrorCode: "InvalidationBatchAlreadyExists" } s)
        {
            throw new ManimCloudException(ErrorKind.Conflict,
                $"CloudFront already has an invalidation with CallerReference {op.CallerReference} on {op.DistributionId}, for other paths.",
                "ManimCloud derives the reference from the distribution, video, version, published manifests and paths, so another tool used it: " +
                "look it up with `aws cloudfront list-invalidations`; re-publishing the version (a new reference) invalidates again.", e);
        }
        catch (Exception e) when (Unwrap(e) is AmazonServiceException { ErrorCode: "NoSuchDistribution" })
        {
            throw new ManimCloudException(ErrorKind.NotFound, $"Distribution {op.DistributionId} (distribution_id) does not exist.",
                "It was deleted or the id is wrong: run `manimcloud delivery provision`, which makes one and records its id.", e);
        }
        catch (Exception e) when (e is not ManimCloudException && (e is not OperationCanceledException || !ct.IsCancellationRequested))
        {
            throw AwsErrors.Describe(e, "Invalidating paths of", resource);
        }
        Ledger.Record(batch, made.Id, made.Status, made.CreateTime == DateTimeOffset.MinValue ? DateTimeOffset.UtcNow : made.CreateTime);
        _how[op.CallerReference] = "created";
    }

    /// <summary>
    /// Follows the invalidation until CloudFront reports it Completed (every <see cref="PollInterval"/>, reporting each
    /// status), or <see cref="MaxWait"/> passed; then it is reported as it stands. A queued one is returned as it is.
    /// </summary>
    public async Task<InvalidationOutcome> WaitAsync(InvalidationOutcome outcome, IProgress<string>? progress, CancellationToken ct)
    {
        if (outcome.InvalidationId is not { } id || outcome.IsCompleted) return outcome;
        var distribution = outcome.Batch.DistributionId;
        var clock = Stopwatch.StartNew();
        var status = outcome.Status;
        while (true)
        {
            var read = await Call("Reading", $"cloudfront:distribution/{distribution}/invalidation/{id}", t => CloudFront.GetInvalidationAsync(distribution, id, t), ct)
                ?? throw new ManimCloudException(ErrorKind.NotFound, $"Invalidation {id} of distribution {distribution} is not there any more.",
                    "CloudFront keeps invalidations for a while only; `manimcloud delivery stats` lists the recent ones.");
            status = read.Status;
            progress?.Report($"invalidation {id}: {status} ({clock.Elapsed.TotalSeconds:0} s)");
            if (read.IsCompleted || clock.Elapsed + PollInterval > MaxWait) break;
            await Task.Delay(PollInterval, ct);
        }
        Ledger.SetStatus(distribution, id, status);
        return outcome with { Status = status, Waited = clock.Elapsed };
    }

    private static Exception Unwrap(Exception e) =>
        e is Resilience.RetryPipeline.BudgetExhaustedException { InnerException: { } inner } ? Unwrap(inner) : e is ManimCloudException { InnerException: { } cause } ? Unwrap(cause) : e;

    private static async Task<T> Call<T>(string action, string resource, Func<CancellationToken, Task<T>> call, CancellationToken ct)
    {
        try
        {
            return await call(ct);
        }
        catch (Exception e) when (e is not ManimCloudException && (e is not OperationCanceledException || !ct.IsCancellationRequested))
        {
            throw AwsErrors.Describe(e, action, resource);
        }
    }
}
