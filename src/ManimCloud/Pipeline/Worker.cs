using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Operations.Telemetry;

namespace ManimCloud.Pipeline;

public sealed record WorkerOptions
{
    /// <summary>Names this worker in job records (host, process, a random part).</summary>
    public string Owner { get; init; } = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}";
    public int Concurrency { get; init; } = 1;
    /// <summary>How long a received message stays hidden, and a claimed job's lease; renewed every third of it while the job runs.</summary>
    public TimeSpan Visibility { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Long polling: how long one receive waits for a message.</summary>
    public TimeSpan PollWait { get; init; } = TimeSpan.FromSeconds(20);
    /// <summary>Failed attempts before a job is dead (moved to the dead-letter queue with its reason).</summary>
    public int MaxAttempts { get; init; } = 3;
    /// <summary>On SIGTERM, how long running jobs may take to finish before they are handed back.</summary>
    public TimeSpan Grace { get; init; } = TimeSpan.FromSeconds(20);
    /// <summary>Stop once no job has arrived for this long (null: run until stopped).</summary>
    public TimeSpan? IdleExit { get; init; }
    /// <summary>How often the queue's depth is read and recorded (manimcloud.queue.depth); one request on SQS.</summary>
    public TimeSpan DepthEvery { get; init; } = TimeSpan.FromSeconds(15);
}

/// <summary>What a worker did, for `worker --json` and the benchmarks.</summary>
public sealed record WorkerReport(int Completed, int Failed, int DeadLettered, int Duplicates, int HandedBack);

/// <summary>
/// Takes jobs from a queue and does them: claim the job in the store (the one guard against doing it twice),
/// keep the message hidden and the lease alive while it runs (heartbeat), record the outcome, queue what waits on it,
/// then acknowledge the message. A message for a job that is done, cancelled or held by a live worker does nothing.
/// A failed attempt comes back after a backoff; a job that fails for good, or too often, goes to the dead-letter queue
/// with its reason. Stopping (SIGTERM) lets running jobs finish within the grace period, then hands them back.
/// </summary>
public sealed class Worker(IJobQueue queue, IJobStore store, JobExecutor executor, WorkerOptions options, IProgress<string>? log = null)
{
    private int _completed, _failed, _dead, _duplicates, _handedBack;

    /// <summary>Runs until <paramref name="stop"/> is cancelled (then drains gracefully) or, with IdleExit, until idle.</summary>
    public async Task<WorkerReport> RunAsync(CancellationToken stop)
    {
        using var abort = new CancellationTokenSource();
        var slots = new SemaphoreSlim(options.Concurrency);
        var running = new List<Task>();
        var lastWork = DateTimeOffset.UtcNow;
        var lastDepth = DateTimeOffset.MinValue;
        log?.Report($"worker {options.Owner}: {options.Concurrency} slot(s) on {queue.Name}");
        while (!stop.IsCancellationRequested)
        {
            if (options.IdleExit is { } idle && running.Count == 0 && DateTimeOffset.UtcNow - lastWork > idle) break;
            await slots.WaitAsync(stop).ContinueWith(_ => { }, TaskScheduler.Default);
            if (stop.IsCancellationRequested) break;
            var free = 1 + slots.CurrentCount;
            if (queue is IQueueDepth depth && DateTimeOffset.UtcNow - lastDepth >= options.DepthEvery)
            {
                lastDepth = DateTimeOffset.UtcNow;
                try { ManimCloudMetrics.RecordQueueDepth(queue.Name, await depth.WaitingAsync(stop)); }
                catch (ManimCloudException e) { log?.Report($"worker: could not read the queue's depth ({e.Message})"); }
                catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
            }
            IReadOnlyList<JobMessage> messages;
            try
            {
                var wait = options.IdleExit is { } i && i < options.PollWait ? i : options.PollWait;
                messages = await queue.ReceiveAsync(free, wait, options.Visibility, stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                slots.Release();
                break;
            }
            catch (ManimCloudException e) when (e.IsRetryable)
            {
                slots.Release();
                log?.Report($"worker: the queue is unreachable ({e.Message}); trying again");
                await Task.Delay(TimeSpan.FromSeconds(2), stop).ContinueWith(_ => { }, TaskScheduler.Default);
                continue;
            }
            if (messages.Count == 0)
            {
                slots.Release();
                continue;
            }
            lastWork = DateTimeOffset.UtcNow;
            // The slot taken above is the first message's; the others take theirs now (they are free: we asked for no more).
            for (var k = 1; k < messages.Count; k++) await slots.WaitAsync(CancellationToken.None);
            foreach (var m in messages)
            {
                var task = Task.Run(async () =>
                {
                    try { await ProcessAsync(m, stop, abort.Token); }
                    finally { slots.Release(); lastWork = DateTimeOffset.UtcNow; }
                }, CancellationToken.None);
                lock (running) running.Add(task);
                _ = task.ContinueWith(t => { lock (running) running.Remove(t); }, TaskScheduler.Default);
            }
        }
        Task[] left;
        lock (running) left = running.ToArray();
        if (left.Length > 0)
        {
            log?.Report($"worker {options.Owner}: stopping; {left.Length} job(s) running get {options.Grace.TotalSeconds:0} s to finish");
            if (await Task.WhenAny(Task.WhenAll(left), Task.Delay(options.Grace)) != Task.WhenAll(left)) abort.Cancel();
            await Task.WhenAll(left).ContinueWith(_ => { }, TaskScheduler.Default);
        }
        return new WorkerReport(_completed, _failed, _dead, _duplicates, _handedBack);
    }

    private async Task ProcessAsync(JobMessage message, CancellationToken stopping, CancellationToken abort)
    {
        // Acknowledgements and state changes must happen even while stopping: they use their own short deadline.
        using var bookkeeping = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var bk = bookkeeping.Token;
        if (message.JobId is null)
        {
            Interlocked.Increment(ref _dead);
            await queue.DeadLetterAsync(message, "not a ManimCloud job message (no job_id)", bk);
            log?.Report("  a message that is not a job went to the dead-letter queue");
            return;
        }
        var (claimed, current) = await store.TransitionAsync(message.JobId, j => j.Claim(options.Owner, DateTimeOffset.UtcNow, options.Visibility), bk);
        if (claimed is null)
        {
            await SettleUnclaimedAsync(message, current, bk);
            return;
        }

        using var jobCt = CancellationTokenSource.CreateLinkedTokenSource(abort);
        var heartbeat = HeartbeatAsync(message, claimed, jobCt);
        JsonObject? result = null;
        Exception? failure = null;
        using (var span = ManimCloudTelemetry.StartStep(PipelineJob.StepName(claimed.Kind), claimed.Video.ToString()))
        {
            span?.SetTag("manimcloud.job", claimed.Id);
            if (claimed.Scene is { } sceneNumber) span?.SetTag("manimcloud.scene", sceneNumber);
            try
            {
                log?.Report($"{claimed.Id}: {PipelineJob.KindName(claimed.Kind)}{(claimed.SceneName is { } n ? $" {n}" : "")} (attempt {claimed.Attempts})");
                result = await executor.ExecuteAsync(claimed, jobCt.Token);
            }
            catch (Exception e)
            {
                failure = e;
                ManimCloudTelemetry.Fail(span, e is ManimCloudException failed ? ManimCloudMetrics.OutcomeOf(failed.Kind) : "fatal", e.Message);
            }
        }
        jobCt.Cancel();
        var lostLease = await heartbeat;

        if (result is not null)
        {
            var (done, now) = await store.TransitionAsync(claimed.Id, j => j.Complete(options.Owner, result, DateTimeOffset.UtcNow), bk);
            if (done is null)
            {
                // Cancelled meanwhile, or our lease ran out and another worker holds the job: its outcome is theirs.
                if (now?.State is JobState.Cancelled or JobState.Done) await queue.DeleteAsync(message, bk);
                log?.Report($"{claimed.Id}: finished, but the job is {now?.State.ToString().ToLowerInvariant() ?? "gone"}: result dropped");
                return;
            }
            Interlocked.Increment(ref _completed);
            await AdvanceAsync(done, bk);
            await queue.DeleteAsync(message, bk);
            return;
        }

        if (failure is OperationCanceledException && (abort.IsCancellationRequested || stopping.IsCancellationRequested) && !lostLease)
        {
            // Stopping: the job goes back unfinished, visible at once to the other workers.
            await store.TransitionAsync(claimed.Id, j => j.HandBack(options.Owner, DateTimeOffset.UtcNow), bk);
            await queue.RetryLaterAsync(message, TimeSpan.Zero, bk);
            Interlocked.Increment(ref _handedBack);
            log?.Report($"{claimed.Id}: handed back (worker stopping)");
            return;
        }
        if (lostLease)
        {
            var now = await store.GetAsync(claimed.Id, bk);
            if (now?.State == JobState.Cancelled) await queue.DeleteAsync(message, bk);
            log?.Report($"{claimed.Id}: stopped ({(now?.State == JobState.Cancelled ? "cancelled" : "lease lost")})");
            return;
        }

        var reason = failure is ManimCloudException mc ? $"{mc.Message} {mc.Hint}" : $"{failure!.GetType().Name}: {failure.Message}";
        var retryable = failure is not ManimCloudException { Kind: ErrorKind.InvalidInput or ErrorKind.NotFound or ErrorKind.Auth };
        var dead = !retryable || claimed.Attempts >= options.MaxAttempts;
        await store.TransitionAsync(claimed.Id, j => j.Fail(options.Owner, reason, dead, DateTimeOffset.UtcNow), bk);
        if (dead)
        {
            Interlocked.Increment(ref _dead);
            var why = $"job {claimed.Id} failed {(retryable ? $"{claimed.Attempts} time(s)" : "for good")}: {reason}";
            await queue.DeadLetterAsync(message, why, bk);
            log?.Report($"{claimed.Id}: dead ({why}); `manimcloud jobs retry {claimed.Id}` runs it again");
        }
        else
        {
            Interlocked.Increment(ref _failed);
            var backoff = TimeSpan.FromSeconds(Math.Min(60, Math.Pow(2, claimed.Attempts)));
            await queue.RetryLaterAsync(message, backoff, bk);
            log?.Report($"{claimed.Id}: attempt {claimed.Attempts} failed ({reason}); again in {backoff.TotalSeconds:0} s");
        }
    }

    /// <summary>A message whose job this worker did not get: acknowledge it when there is nothing left to do, else let it come back later.</summary>
    private async Task SettleUnclaimedAsync(JobMessage message, PipelineJob? current, CancellationToken ct)
    {
        switch (current)
        {
            case null:
                await queue.DeleteAsync(message, ct);
                log?.Report($"{message.JobId}: no such job; message dropped");
                break;
            case { IsFinished: true }:
                Interlocked.Increment(ref _duplicates);
                await queue.DeleteAsync(message, ct);
                log?.Report($"{current.Id}: already {PipelineJob.StateName(current.State)}; duplicate delivery ignored");
                break;
            case { State: JobState.Running, LeaseUntil: { } until }:
                // Another worker holds it: look again when its lease would run out, in case that worker died.
                Interlocked.Increment(ref _duplicates);
                await queue.RetryLaterAsync(message, (until - DateTimeOffset.UtcNow) + TimeSpan.FromSeconds(1), ct);
                break;
            default:
                await queue.RetryLaterAsync(message, TimeSpan.FromSeconds(5), ct);
                break;
        }
    }

    /// <summary>Renews lease and visibility until the job ends; returns true when the job was taken away (cancelled, or the lease lost).</summary>
    private async Task<bool> HeartbeatAsync(JobMessage message, PipelineJob job, CancellationTokenSource jobCt)
    {
        var interval = options.Visibility / 3;
        while (!jobCt.IsCancellationRequested)
        {
            try { await Task.Delay(interval, jobCt.Token); }
            catch (OperationCanceledException) { return false; }
            try
            {
                var (renewed, _) = await store.TransitionAsync(job.Id, j => j.Heartbeat(options.Owner, DateTimeOffset.UtcNow, options.Visibility), CancellationToken.None);
                if (renewed is null)
                {
                    jobCt.Cancel();
                    return true;
                }
                await queue.ExtendAsync(message, options.Visibility, CancellationToken.None);
            }
            catch (ManimCloudException e)
            {
                log?.Report($"{job.Id}: heartbeat failed ({e.Message}); retrying");
            }
        }
        return false;
    }

    /// <summary>Queues the job waiting on <paramref name="done"/> once everything it depends on is done (exactly one worker wins that).</summary>
    public static async Task AdvanceAsync(IJobStore store, IJobQueue queue, PipelineJob done, CancellationToken ct)
    {
        if (done.Next is not { } nextId) return;
        var next = await store.GetAsync(nextId, ct);
        if (next is not { State: JobState.Waiting }) return;
        foreach (var dep in next.DependsOn)
            if ((await store.GetAsync(dep, ct))?.State != JobState.Done) return;
        var (released, _) = await store.TransitionAsync(nextId, j => j.Release(DateTimeOffset.UtcNow), ct);
        if (released is not null) await queue.SendAsync(released, ct);
    }

    private Task AdvanceAsync(PipelineJob done, CancellationToken ct) => AdvanceAsync(store, queue, done, ct);
}
