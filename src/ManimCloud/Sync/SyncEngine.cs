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
    public Task<(OperationResult Result, Renumbering? Renumbered)> ApplyEverywhereAsync(Operation op, bool localApplied, int? provisionalVersion, ApplyOptions cloudOptions, CancellationToken ct) =>
        Operations.Telemetry.OperationScope.RunAsync("sync " + op.Kind, op.Video.ToString(), () => ApplyEverywhereCoreAsync(op, localApplied, provisionalVersion, cloudOptions, ct));

    private async Task<(OperationResult Result, Renumbering? Renumbered)> ApplyEverywhereCoreAsync(Operation op, bool localApplied, int? provisionalVersion, ApplyOptions cloudOptions, CancellationToken ct)
    {
        var result = await applier.ApplyAsync(op, cloud, cloudOptions, ct);
        if (result.Video is not null) await local.Metadata.PutVideosAsync([result.Video], ct);
        return (result, await MatchLocallyAsync(op, localApplied, provisionalVersion, result, ct));
    }

    /// <summary>After the cloud took an operation: note the cloud is up, the blob synced, and bring the workspace in line.</summary>
    private async Task<Renumbering?> MatchLocallyAsync(Operation op, bool localApplied, int? provisionalVersion, OperationResult cloudResult, CancellationToken ct)
    {
        health.MarkUp();
        if (op.Blobs.Count > 0) cache.MarkSynced(op.Blobs);
        if (!localApplied)
        {
            await applier.ApplyAsync(op, local, new ApplyOptions(cloudResult.Code?.Version), ct);
            return null;
        }
        return op is StoreCode code && cloudResult.Code is { } cloudVersion
            ? await ReconcileCodeAsync(code, cloudVersion, provisionalVersion, ct)
            : null;
    }

    /// <summary>Consecutive code versions of one video travel together (one claim, parallel uploads, one record write).</summary>
    public int CodeBatch { get; init; } = 50;

    /// <summary>Byte-level progress of large uploads inside a sync (the transfer engine's reports).</summary>
    public IProgress<Transfer.TransferProgress>? TransferProgress { get; set; }

    public async Task<SyncReport> DrainAsync(VideoId? only, IProgress<SyncProgress>? progress, CancellationToken ct)
    {
        var queued = outbox.List(Outbox.Pending).Where(e => only is null || e.Operation.Video == only).ToList();
        var pass = new Pass(queued.Count, progress);
        using var cloudGone = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (queued.Count > 1)
        {
            await BulkCodeAsync(ByVideo(queued), pass, cloudGone);
            queued = outbox.List(Outbox.Pending).Where(e => only is null || e.Operation.Video == only).ToList();
        }
        var lanes = ByVideo(queued);
        if (!cloudGone.IsCancellationRequested)
            await Parallel.ForEachAsync(lanes, new ParallelOptions { MaxDegreeOfParallelism = Lanes, CancellationToken = ct },
            async (lane, _) => await RunLaneAsync(lane, pass, cloudGone));
        ct.ThrowIfCancellationRequested();
        var report = new SyncReport(pass.Applied, pass.Failures.ToList(), outbox.List(Outbox.Pending).Count,
            pass.Renumbered.OrderBy(r => r.Video.ToString()).ThenBy(r => r.LocalVersion).ToList(), pass.Conflicts, pass.Parked, pass.Discarded.ToList());
        if (Operations.Telemetry.OperationScope.Listening)
        {
            var (count, oldest) = outbox.Backlog();
            Operations.Telemetry.ManimCloudMetrics.RecordSyncBacklog(count, oldest is { } o ? DateTimeOffset.UtcNow - o : TimeSpan.Zero);
        }
        audit.Record("sync", cloud.Name, report.Failures.Count == 0 ? "ok" : "partial",
            $"applied {report.Applied}, pending {report.StillPending}, parked {report.Parked}, conflicts {report.Conflicts}");
        return report;
    }

    private static List<List<OutboxEntry>> ByVideo(IEnumerable<OutboxEntry> queued) =>
        queued.GroupBy(e => e.Operation.Video).Select(g => g.OrderBy(e => e.Seq).ToList()).ToList();

    /// <summary>Objects stored at once by <see cref="BulkCodeAsync"/>.</summary>
    public int BulkUploads { get; init; } = 32;

    /// <summary>
    /// The fast path for the common catch-up: code versions made offline that were never tried against the cloud, at
    /// the head of their videos' queues. Their numbers are claimed for many videos at once (one all-or-nothing write of
    /// up to 100 claims, numbered above the versions the workspace knows the cloud holds), all objects are stored in
    /// parallel, and the video records are read and written for many videos at once. Per video, a number someone
    /// else took, a store that refuses, or a record that moved on sends that video back to the one-video path, which
    /// looks up what an earlier attempt did before it acts. A cloud that goes away stops the pass.
    /// </summary>
    private async Task BulkCodeAsync(List<List<OutboxEntry>> lanes, Pass pass, CancellationTokenSource cloudGone)
    {
        var ct = cloudGone.Token;
        // The leading code versions of each video, taken in one catalog transaction; a run stops at the first one not taken.
        var heads = lanes.Select(lane => lane.TakeWhile(e => e.Operation is StoreCode).Take(CodeBatch).ToList()).ToList();
        var taken = outbox.TryTakeUntried(heads.SelectMany(h => h).Select(e => e.Operation.Id).ToList());
        var runs = new List<List<OutboxEntry>>();
        foreach (var head in heads)
        {
            var run = head.TakeWhile(e => taken.Contains(e.Operation.Id)).ToList();
            foreach (var e in head.Skip(run.Count).Where(e => taken.Contains(e.Operation.Id))) outbox.Release(e.Operation.Id);
            if (run.Count > 0) runs.Add(run);
        }
        if (runs.Sum(r => r.Count) < 2)
        {
            foreach (var e in runs.SelectMany(r => r)) outbox.Release(e.Operation.Id);
            return;
        }
        pass.Report($"{runs.Sum(r => r.Count)} code versions of {runs.Count} videos");

        // The numbers the cloud holds, as far as the workspace knows: its versions that are not waiting in the outbox.
        var waiting = outbox.Ids();
        var claims = new Dictionary<VideoId, (List<OutboxEntry> Entries, List<CodeVersion> Versions)>();
        foreach (var run in runs)
        {
            var op0 = (StoreCode)run[0].Operation;
            var known = (await local.Metadata.ListCodeVersionsAsync(op0.Video, ct)).Where(v => !waiting.Contains(v.OperationId)).Select(v => v.Version);
            var first = known.DefaultIfEmpty(0).Max() + 1;
            claims[op0.Video] = (run, run.Select((e, i) => OperationApplier.Draft((StoreCode)e.Operation) with
            {
                Version = first + i, Key = ObjectLayout.CodeKey(op0.Project, op0.Video, first + i),
            }).ToList());
        }

        // Groups of up to 100 versions (whole videos) go through claim → objects → records independently, a few at a
        // time, so one group's objects travel while the next group's claim is being written.
        using var uploads = new SemaphoreSlim(BulkUploads);
        var groups = Pack(claims.Keys.ToList(), v => claims[v].Versions.Count, Metadata.IMetadataStore.MaxClaimBatch)
            .Select(g => g.ToDictionary(v => v, v => claims[v])).ToList();
        await Parallel.ForEachAsync(groups, new ParallelOptions { MaxDegreeOfParallelism = 4 },
            async (group, _) => await BulkGroupAsync(group, pass, cloudGone, uploads));
    }

    private async Task BulkGroupAsync(Dictionary<VideoId, (List<OutboxEntry> Entries, List<CodeVersion> Versions)> claims, Pass pass,
        CancellationTokenSource cloudGone, SemaphoreSlim uploadSlots)
    {
        var ct = cloudGone.Token;
        var back = new HashSet<VideoId>();   // videos handed back to the one-video path
        var tried = new HashSet<VideoId>();  // videos whose claims were sent (the cloud may hold them)
        try
        {
            // 1. Claims in one all-or-nothing write; a video with a taken number goes back, the rest are written again.
            var claiming = claims.Keys.ToList();
            while (claiming.Count > 0)
            {
                tried.UnionWith(claiming);
                var taken = await cloud.Metadata.TryAddCodeVersionsAcrossAsync(claiming.SelectMany(v => claims[v].Versions).ToList(), ct);
                if (taken.Count == 0) break;
                back.UnionWith(taken);
                claiming.RemoveAll(taken.Contains);
            }

            // 2. Objects, in parallel; a video with an object that could not be stored goes back (its unstored claims withdrawn).
            var failed = new System.Collections.Concurrent.ConcurrentDictionary<VideoId, Exception>();
            var stored = new System.Collections.Concurrent.ConcurrentDictionary<string, bool>();
            var uploads = claims.Where(c => !back.Contains(c.Key)).SelectMany(c => c.Value.Entries.Zip(c.Value.Versions)).ToList();
            await Parallel.ForEachAsync(uploads, new ParallelOptions { MaxDegreeOfParallelism = BulkUploads, CancellationToken = ct }, async (pair, token) =>
            {
                await uploadSlots.WaitAsync(token);
                try
                {
                    await applier.StoreClaimedCodeAsync((StoreCode)pair.First.Operation, pair.Second, cloud, token);
                    stored[pair.Second.OperationId] = true;
                }
                catch (ManimCloudException e) when (!e.IsRetryable)
                {
                    failed.TryAdd(pair.Second.Video, e);
                }
                finally
                {
                    uploadSlots.Release();
                }
            });
            foreach (var video in failed.Keys)
            {
                back.Add(video);
                foreach (var v in claims[video].Versions.Where(v => !stored.ContainsKey(v.OperationId)))
                {
                    try { await cloud.Metadata.RemoveCodeVersionAsync(video, v.Version, v.OperationId, CancellationToken.None); }
                    catch (ManimCloudException) { /* the one-video path finds the claim by operation id and completes it */ }
                }
            }

            // 3. Records: read together, written together; one that moved on (or is missing) is changed on its own.
            var ready = claims.Keys.Where(v => !back.Contains(v)).ToList();
            var current = await cloud.Metadata.GetVideosAsync(ready, ct);
            var records = new Dictionary<VideoId, VideoRecord>();
            var updates = new List<(VideoRecord Video, long ExpectedRevision)>();
            foreach (var video in ready)
            {
                if (!current.TryGetValue(video, out var record)) { back.Add(video); continue; }
                var ops = claims[video].Entries.Select(e => (StoreCode)e.Operation).ToList();
                if (OperationApplier.WithCode(record, ops, claims[video].Versions) is { } changed) updates.Add((changed, record.Revision));
                else records[video] = record;
            }
            foreach (var chunk in updates.Chunk(Metadata.IMetadataStore.MaxClaimBatch))
            {
                var members = chunk.ToList();
                while (members.Count > 0)
                {
                    var moved = await cloud.Metadata.TryUpdateVideosAsync(members, ct);
                    if (moved.Count == 0)
                    {
                        foreach (var (video, revision) in members) records[video.Id] = video with { Revision = revision + 1 };
                        break;
                    }
                    foreach (var (video, _) in members.Where(m => moved.Contains(m.Video.Id)))
                    {
                        var ops = claims[video.Id].Entries.Select(e => (StoreCode)e.Operation).ToList();
                        records[video.Id] = await Videos.VideoRecords.ChangeAsync(cloud.Metadata, video.Id,
                            r => OperationApplier.WithCode(r, ops, claims[video.Id].Versions), ct);
                    }
                    members.RemoveAll(m => moved.Contains(m.Video.Id));
                }
            }

            // 4. The workspace follows: records, the numbers the cloud gave, and the outbox — a version the workspace
            //    already holds under the cloud's number and key needs nothing more; bookkeeping in one transaction each.
            await local.Metadata.PutVideosAsync(records.Values.ToList(), ct);
            var finished = new List<(OutboxEntry Entry, Renumbering? Renumbered)>();
            foreach (var (video, record) in records)
            {
                var here = (await local.Metadata.ListCodeVersionsAsync(video, ct)).Where(v => v.OperationId.Length > 0).ToDictionary(v => v.OperationId);
                foreach (var (entry, version) in claims[video].Entries.Zip(claims[video].Versions))
                {
                    var inPlace = entry.LocalApplied && here.TryGetValue(entry.Operation.Id, out var mine) && mine.Version == version.Version && mine.Key == version.Key;
                    finished.Add((entry, inPlace
                        ? Renumbered(video, entry.ProvisionalVersion, version.Version)
                        : await MatchLocallyAsync(entry.Operation, entry.LocalApplied, entry.ProvisionalVersion, new OperationResult(record, version, null), ct)));
                }
            }
            health.MarkUp();
            cache.MarkSynced(finished.Select(f => ((StoreCode)f.Entry.Operation).Sha256).ToList());
            outbox.Remove(finished.Select(f => f.Entry.Operation.Id).ToList());
            foreach (var (entry, renumbering) in finished)
            {
                Completed(entry, renumbering, discarded: false, pass, removed: true);
                Interlocked.Increment(ref pass.Done);
            }
            foreach (var video in back)
                foreach (var entry in claims[video].Entries) outbox.ReleaseAttempted(entry.Operation.Id, null);
        }
        catch (Exception e) when (IsCloudGone(e, cloudGone) || e is ManimCloudException)
        {
            // Whatever is not finished stays queued; where claims were sent, the one-video path looks before it acts.
            foreach (var (video, (entries, _)) in claims)
                foreach (var entry in entries.Where(x => outbox.Find(x.Operation.Id) is { } f && f.State == Outbox.Pending))
                {
                    if (tried.Contains(video)) outbox.ReleaseAttempted(entry.Operation.Id, e is ManimCloudException m ? m.Message : null);
                    else outbox.Release(entry.Operation.Id);
                }
            if (IsCloudGone(e, cloudGone))
            {
                if (e is ManimCloudException m)
                {
                    pass.Failures.Add($"sync of {claims.Count} videos' code: {m.Message}");
                    health.MarkDown();
                }
                cloudGone.Cancel();
            }
        }
    }

    /// <summary>Packs items into groups whose weights add up to at most <paramref name="max"/>, in order.</summary>
    private static IEnumerable<List<T>> Pack<T>(IReadOnlyList<T> items, Func<T, int> weight, int max)
    {
        var group = new List<T>();
        var sum = 0;
        foreach (var item in items)
        {
            if (sum + weight(item) > max && group.Count > 0)
            {
                yield return group;
                group = [];
                sum = 0;
            }
            group.Add(item);
            sum += weight(item);
        }
        if (group.Count > 0) yield return group;
    }

    /// <summary>The tallies of one pass, shared by its lanes.</summary>
    private sealed class Pass(int total, IProgress<SyncProgress>? progress)
    {
        public int Applied, Done, Conflicts, Parked;
        public readonly ConcurrentBag<string> Failures = new(), Discarded = new();
        public readonly ConcurrentBag<Renumbering> Renumbered = new();
        public void Report(string current) => progress?.Report(new SyncProgress(Volatile.Read(ref Done), total, current));
    }

    private async Task RunLaneAsync(List<OutboxEntry> lane, Pass pass, CancellationTokenSource cloudGone)
    {
        var codeArrived = false;
        var oneByOneUntil = 0;
        for (var i = 0; i < lane.Count && !cloudGone.IsCancellationRequested;)
        {
            var run = lane.Skip(i).TakeWhile(e => e.Operation is StoreCode).Take(CodeBatch).TakeWhile(e => outbox.TryTake(e.Operation.Id)).ToList();
            if (run.Count == 0 && !outbox.TryTake(lane[i].Operation.Id))
                return; // another live process is applying this video's next operation: later ones wait, in order
            if (run.Count > 1 && i >= oneByOneUntil)
            {
                pass.Report($"{run.Count} code versions of {run[0].Operation.Video}");
                var outcome = await TryCodeBatchAsync(run, pass, cloudGone);
                if (outcome != BatchOutcome.Refused)
                {
                    if (outcome == BatchOutcome.CloudGone) return;
                    codeArrived = true;
                    i += run.Count;
                    continue;
                }
                // Refused as a whole: go one by one, so each operation gets its own verdict (parked or applied).
                oneByOneUntil = i + run.Count;
            }
            var entry = lane[i++];
            pass.Report($"{entry.Operation.Kind} {entry.Operation.Video}");
            if (!await ApplyOneAsync(entry, pass, cloudGone)) return;
            codeArrived |= entry.Operation is StoreCode;
        }
        if (codeArrived && !cloudGone.IsCancellationRequested)
        {
            try { await MirrorCodeHistoryAsync(lane[0].Operation.Video, cloudGone.Token); }
            catch (ManimCloudException) { /* the next pass mirrors it */ }
        }
    }

    private enum BatchOutcome { Applied, Refused, CloudGone }

    private async Task<BatchOutcome> TryCodeBatchAsync(List<OutboxEntry> run, Pass pass, CancellationTokenSource cloudGone)
    {
        (VideoRecord Video, IReadOnlyList<CodeVersion> Versions) result;
        try
        {
            result = await applier.StoreCodeBatchAsync(run.Select(e => (StoreCode)e.Operation).ToList(), cloud, cloudGone.Token);
        }
        catch (Exception e) when (IsCloudGone(e, cloudGone))
        {
            CloudWentAway(run[0], e, pass, cloudGone);
            return BatchOutcome.CloudGone;
        }
        catch (ManimCloudException)
        {
            return BatchOutcome.Refused;
        }
        await local.Metadata.PutVideosAsync([result.Video], cloudGone.Token);
        foreach (var (entry, version) in run.Zip(result.Versions))
        {
            var renumbering = await MatchLocallyAsync(entry.Operation, entry.LocalApplied, entry.ProvisionalVersion,
                new OperationResult(result.Video, version, null), cloudGone.Token);
            Completed(entry, renumbering, discarded: false, pass);
            Interlocked.Increment(ref pass.Done);
        }
        return BatchOutcome.Applied;
    }

    /// <summary>Applies one queued operation; false when the cloud went away (the lane stops).</summary>
    private async Task<bool> ApplyOneAsync(OutboxEntry entry, Pass pass, CancellationTokenSource cloudGone)
    {
        var op = entry.Operation;
        try
        {
            var discard = false;
            var options = new ApplyOptions(OnConflict: (edit, current, fields) =>
            {
                var decision = Decide(edit, current);
                discard = decision == EditDecision.Discard;
                return decision;
            }, Progress: TransferProgress);
            var (_, renumbering) = await ApplyEverywhereAsync(op, entry.LocalApplied, entry.ProvisionalVersion, options, cloudGone.Token);
            Completed(entry, renumbering, discard, pass);
        }
        catch (EditConflictException e)
        {
            outbox.MarkConflict(op.Id, ConflictJson(e));
            Interlocked.Increment(ref pass.Conflicts);
            audit.Record("conflict", op.Video.ToString(), "kept for manual resolution", string.Join(",", e.Fields));
        }
        catch (Exception e) when (IsCloudGone(e, cloudGone))
        {
            CloudWentAway(entry, e, pass, cloudGone);
            return false;
        }
        catch (ManimCloudException e)
        {
            // Can never succeed as it is (bucket deleted, access denied, bad request): park it, keep going.
            outbox.RecordFailure(op.Id, $"{e.Message} Fix: {e.Hint}", park: true);
            pass.Failures.Add($"{op.Kind} {op.Video}: parked: {e.Message}");
            Interlocked.Increment(ref pass.Parked);
            audit.Record(op.Kind, op.Video.ToString(), "parked", e.Message);
        }
        finally
        {
            Interlocked.Increment(ref pass.Done);
        }
        return true;
    }

    private static bool IsCloudGone(Exception e, CancellationTokenSource cloudGone) =>
        e is ManimCloudException { IsRetryable: true } || (e is OperationCanceledException && cloudGone.IsCancellationRequested);

    /// <summary>The cloud is away: stop every lane, keep everything queued in order.</summary>
    private void CloudWentAway(OutboxEntry entry, Exception e, Pass pass, CancellationTokenSource cloudGone)
    {
        if (e is ManimCloudException m)
        {
            outbox.RecordFailure(entry.Operation.Id, m.Message, park: false);
            pass.Failures.Add($"{entry.Operation.Kind} {entry.Operation.Video}: {m.Message}");
            health.MarkDown();
        }
        cloudGone.Cancel();
    }

    private void Completed(OutboxEntry entry, Renumbering? renumbering, bool discarded, Pass pass, bool removed = false)
    {
        var op = entry.Operation;
        if (!removed) outbox.Remove(op.Id);
        Interlocked.Increment(ref pass.Applied);
        if (renumbering is not null)
        {
            pass.Renumbered.Add(renumbering);
            audit.Record("renumber", op.Video.ToString(), "ok", $"code version {renumbering.LocalVersion} made offline is version {renumbering.CloudVersion}");
        }
        if (discarded)
        {
            pass.Discarded.Add($"edit of video {op.Video} made at {((EditVideo)op).Edit.EditedAt:O} lost to a later change (latest-wins)");
            audit.Record("conflict", op.Video.ToString(), "cloud kept", "latest-wins");
        }
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
        return Renumbered(op.Video, provisional ?? mine?.Version, cloudVersion.Version);
    }

    /// <summary>A renumbering to report, against the number the user was told when the version was made offline.</summary>
    private static Renumbering? Renumbered(VideoId video, int? told, int cloudVersion) =>
        told is { } n && n != cloudVersion ? new Renumbering(video, n, cloudVersion) : null;

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
