using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using ManimCloud.Code;
using ManimCloud.Domain;
using ManimCloud.Metadata;
using ManimCloud.Storage;
using ManimCloud.Workspace;

namespace ManimCloud.Sync;

/// <summary>A code version made offline that got another number in the cloud.</summary>
public sealed record Renumbering(VideoId Video, int LocalVersion, int CloudVersion);

public sealed record SyncReport(
    int Applied,
    IReadOnlyList<string> Failures,
    int StillPending,
    IReadOnlyList<Renumbering> Renumbered,
    int Conflicts,
    int Parked,
    IReadOnlyList<string> Discarded);

public sealed record SyncProgress(int Done, int Total, string Current);

/// <summary>
/// Replicates the outbox to the cloud (SPEC R10). Operations on one video apply in order; videos proceed in
/// parallel lanes. The cloud is the authority on version numbers: a version made offline takes the next free number
/// when it arrives, and the workspace is renumbered to match. Edits that meet a concurrent change follow the
/// conflict policy; operations that can never succeed are parked with their reason; a cloud that goes away stops
/// the pass and leaves everything queued.
/// </summary>
public sealed class SyncEngine(
    Backend local, Backend cloud, Outbox outbox, OperationApplier applier, BlobCache cache, CloudHealth health,
    AuditLog audit, ConflictPolicy policy)
{
    public int Lanes { get; init; } = 8;

    /// <summary>Applies an operation to the cloud, then makes the workspace match (apply, or reconcile if already applied locally).</summary>
    public async Task<(OperationResult Result, Renumbering? Renumbered)> ApplyEverywhereAsync(Operation op, bool localApplied, int? provisionalVersion, ApplyOptions cloudOptions, CancellationToken ct)
    {
        var result = await applier.ApplyAsync(op, cloud, cloudOptions, ct);
        health.MarkUp();
        if (op is StoreCode sc) cache.MarkSynced(sc.Sha256);
        if (op is StoreMedia sm) cache.MarkSynced(sm.Sha256);
        // The workspace mirrors the cloud's record (other workers may have changed it too).
        if (result.Video is not null) await local.Metadata.PutVideosAsync([result.Video], ct);
        Renumbering? renumbered = null;
        if (!localApplied)
            await applier.ApplyAsync(op, local, new ApplyOptions(result.Code?.Version), ct);
        else if (op is StoreCode code && result.Code is { } cloudVersion)
            renumbered = await ReconcileCodeAsync(code, cloudVersion, provisionalVersion, ct);
        return (result, renumbered);
    }

    public async Task<SyncReport> DrainAsync(VideoId? only, IProgress<SyncProgress>? progress, CancellationToken ct)
    {
        var queued = outbox.List(Outbox.Pending).Where(e => only is null || e.Operation.Video == only).ToList();
        var lanes = queued.GroupBy(e => e.Operation.Video).Select(g => g.OrderBy(e => e.Seq).ToList()).ToList();
        var applied = 0;
        var done = 0;
        var failures = new ConcurrentBag<string>();
        var renumbered = new ConcurrentBag<Renumbering>();
        var discarded = new ConcurrentBag<string>();
        var conflicts = 0;
        var parked = 0;
        using var cloudGone = CancellationTokenSource.CreateLinkedTokenSource(ct);

        await Parallel.ForEachAsync(lanes, new ParallelOptions { MaxDegreeOfParallelism = Lanes, CancellationToken = ct }, async (lane, _) =>
        {
            var codeArrived = false;
            foreach (var entry in lane)
            {
                if (cloudGone.IsCancellationRequested) return;
                var op = entry.Operation;
                progress?.Report(new SyncProgress(Volatile.Read(ref done), queued.Count, $"{op.Kind} {op.Video}"));
                try
                {
                    var discard = false;
                    var options = new ApplyOptions(OnConflict: (edit, current, fields) =>
                    {
                        var decision = Decide(edit, current);
                        discard = decision == EditDecision.Discard;
                        return decision;
                    });
                    var (_, renumbering) = await ApplyEverywhereAsync(op, entry.LocalApplied, entry.ProvisionalVersion, options, cloudGone.Token);
                    outbox.Remove(op.Id);
                    Interlocked.Increment(ref applied);
                    codeArrived |= op is StoreCode;
                    if (renumbering is not null)
                    {
                        renumbered.Add(renumbering);
                        audit.Record("renumber", op.Video.ToString(), "ok", $"code version {renumbering.LocalVersion} made offline is version {renumbering.CloudVersion}");
                    }
                    if (discard)
                    {
                        discarded.Add($"edit of video {op.Video} made at {((EditVideo)op).Edit.EditedAt:O} lost to a later change (latest-wins)");
                        audit.Record("conflict", op.Video.ToString(), "cloud kept", "latest-wins");
                    }
                }
                catch (EditConflictException e)
                {
                    outbox.MarkConflict(op.Id, ConflictJson(e));
                    Interlocked.Increment(ref conflicts);
                    audit.Record("conflict", op.Video.ToString(), "kept for manual resolution", string.Join(",", e.Fields));
                }
                catch (Exception e) when (e is ManimCloudException { IsRetryable: true } || (e is OperationCanceledException && cloudGone.IsCancellationRequested && !ct.IsCancellationRequested))
                {
                    // The cloud is away: stop every lane, keep everything queued in order.
                    if (e is ManimCloudException m)
                    {
                        outbox.RecordFailure(op.Id, m.Message, park: false);
                        failures.Add($"{op.Kind} {op.Video}: {m.Message}");
                        health.MarkDown();
                    }
                    cloudGone.Cancel();
                    return;
                }
                catch (ManimCloudException e)
                {
                    // Can never succeed as it is (bucket deleted, access denied, bad request): park it, keep going.
                    outbox.RecordFailure(op.Id, $"{e.Message} Fix: {e.Hint}", park: true);
                    failures.Add($"{op.Kind} {op.Video}: parked: {e.Message}");
                    Interlocked.Increment(ref parked);
                    audit.Record(op.Kind, op.Video.ToString(), "parked", e.Message);
                }
                finally
                {
                    Interlocked.Increment(ref done);
                }
            }
            if (codeArrived && !cloudGone.IsCancellationRequested)
            {
                try { await MirrorCodeHistoryAsync(lane[0].Operation.Video, cloudGone.Token); }
                catch (ManimCloudException) { /* the next pass mirrors it */ }
            }
        });
        ct.ThrowIfCancellationRequested();
        var report = new SyncReport(applied, failures.ToList(), outbox.List(Outbox.Pending).Count,
            renumbered.OrderBy(r => r.Video.ToString()).ThenBy(r => r.LocalVersion).ToList(), conflicts, parked, discarded.ToList());
        audit.Record("sync", cloud.Name, report.Failures.Count == 0 ? "ok" : "partial",
            $"applied {report.Applied}, pending {report.StillPending}, parked {report.Parked}, conflicts {report.Conflicts}");
        return report;
    }

    /// <summary>latest-wins: the later of the offline edit and the cloud's last edit; on an exact tie the stored value stays.</summary>
    private EditDecision Decide(EditVideo edit, VideoRecord current) => policy switch
    {
        ConflictPolicy.Manual => EditDecision.Refuse,
        _ => edit.Edit.EditedAt > current.UpdatedAt ? EditDecision.Overwrite : EditDecision.Discard,
    };

    /// <summary>Settles a kept conflict: the offline edit overwrites the cloud (keepLocal) or is dropped.</summary>
    public async Task ResolveAsync(string operationId, bool keepLocal, CancellationToken ct)
    {
        var entry = outbox.Find(operationId);
        if (entry is null || entry.State != Outbox.Conflicted)
            throw new ManimCloudException(ErrorKind.NotFound, $"No conflict with id {operationId}.", "`manimcloud conflicts list` shows the open ones.");
        var decision = keepLocal ? EditDecision.Overwrite : EditDecision.Discard;
        await ApplyEverywhereAsync(entry.Operation, entry.LocalApplied, entry.ProvisionalVersion, new ApplyOptions(OnConflict: (_, _, _) => decision), ct);
        outbox.Remove(operationId);
        audit.Record("conflict", entry.Operation.Video.ToString(), keepLocal ? "local kept" : "cloud kept", "manual");
    }

    private static JsonObject ConflictJson(EditConflictException e)
    {
        var local = new JsonObject();
        var remote = new JsonObject();
        var current = RecordJson.ToJson(e.Current);
        var wanted = RecordJson.ToJson(e.Edit.Edit.ApplyTo(e.Current));
        foreach (var f in e.Fields)
        {
            local[f] = wanted[f]?.DeepClone();
            remote[f] = current[f]?.DeepClone();
        }
        return new JsonObject
        {
            ["fields"] = new JsonArray(e.Fields.Select(f => (JsonNode)JsonValue.Create(f)!).ToArray()),
            ["local"] = local, ["cloud"] = remote,
            ["local_edited_at"] = e.Edit.Edit.EditedAt.ToString("O"), ["cloud_updated_at"] = e.Current.UpdatedAt.ToString("O"),
        };
    }

    /// <summary>
    /// The workspace gave an offline version a provisional number; the cloud gave it its real one. Move it there,
    /// first moving any other provisional version that sits on that number to the top.
    /// </summary>
    private async Task<Renumbering?> ReconcileCodeAsync(StoreCode op, CodeVersion cloudVersion, int? provisional, CancellationToken ct)
    {
        var mine = await CodeVersioning.FindByOperationAsync(local.Metadata, op.Video, op.Id, ct);
        if (mine is null)
            await applier.ApplyAsync(op, local, new ApplyOptions(cloudVersion.Version), ct);
        else if (mine.Version != cloudVersion.Version || mine.Key != cloudVersion.Key)
        {
            var occupant = await local.Metadata.GetCodeVersionAsync(op.Video, cloudVersion.Version, ct);
            if (occupant is not null && occupant.OperationId != op.Id)
            {
                var top = (await local.Metadata.ListCodeVersionsAsync(op.Video, ct)).Max(v => v.Version) + 1;
                await MoveAsync(occupant, top, RenumberKey(occupant.Key, occupant.Version, top), ct);
            }
            await MoveAsync(mine, cloudVersion.Version, cloudVersion.Key, ct);
        }
        // Reported against the number the user was told when the version was made offline.
        var told = provisional ?? mine?.Version;
        return told is { } n && n != cloudVersion.Version ? new Renumbering(op.Video, n, cloudVersion.Version) : null;
    }

    /// <summary>Copies the cloud's version records of a video into the workspace (content is fetched when read).</summary>
    private async Task MirrorCodeHistoryAsync(VideoId video, CancellationToken ct)
    {
        foreach (var v in await cloud.Metadata.ListCodeVersionsAsync(video, ct))
        {
            var here = await local.Metadata.GetCodeVersionAsync(video, v.Version, ct);
            if (here?.OperationId == v.OperationId) continue;
            if (here is not null)
            {
                // A provisional version still on its way sits on this number: move it to the top.
                var top = (await local.Metadata.ListCodeVersionsAsync(video, ct)).Max(x => x.Version) + 1;
                await MoveAsync(here, top, RenumberKey(here.Key, here.Version, top), ct);
            }
            if (!await local.Metadata.TryAddCodeVersionAsync(v, ct)) await local.Metadata.UpdateCodeVersionAsync(v, ct);
        }
    }

    private async Task MoveAsync(CodeVersion version, int to, string toKey, CancellationToken ct)
    {
        if (local.Code is Local.LocalObjectStore store)
        {
            var head = await store.HeadAsync(version.Key, ct);
            store.PutExistingBlob(new ObjectWrite(toKey, ObjectKind.Code, "text/x-python; charset=utf-8",
                head?.Metadata ?? new Dictionary<string, string>(), version.Sha256, version.Size));
            try { await store.DeleteAsync(version.Key, ct); }
            catch (ManimCloudException e) when (e.Kind == ErrorKind.Locked) { /* a locked provisional key stays; the record moves */ }
        }
        await local.Metadata.RemoveCodeVersionAsync(version.Video, version.Version, version.OperationId, ct);
        var moved = version with { Version = to, Key = toKey };
        if (!await local.Metadata.TryAddCodeVersionAsync(moved, ct)) await local.Metadata.UpdateCodeVersionAsync(moved, ct);
    }

    private static string RenumberKey(string key, int from, int to) =>
        key.EndsWith($"_v{from}.py", StringComparison.Ordinal) ? key[..^$"_v{from}.py".Length] + $"_v{to}.py" : key;
}
