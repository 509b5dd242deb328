using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Local;
using ManimCloud.Pipeline;
using ManimCloud.Pipeline.Cloud;
using ManimCloud.Resilience;
using ManimCloud.Aws;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Conformance;

/// <summary>
/// One contract, every backend (issue #12): pipeline job state in the workspace's SQLite catalog and in DynamoDB
/// (moto) behaves the same. Of many workers racing to claim or complete a job, exactly one wins; an expired lease can
/// be taken over; a finished job cannot be claimed again.
/// </summary>
public abstract class JobStoreConformance
{
    protected abstract Task<IJobStore> StoreAsync();

    private static PipelineJob Job(string run, int scene, JobState state = JobState.Queued, VideoId? video = null) => new()
    {
        Id = PipelineJob.IdFor(run, JobKind.RenderScene, scene), Run = run, Video = video ?? VideoId.New(), Project = ProjectId.Parse("conf"),
        Version = 1, Kind = JobKind.RenderScene, Scene = scene, SceneName = $"S{scene}", RenderKey = new string('a', 64), State = state,
        CreatedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow, Context = new JsonObject { ["scenes"] = 3 },
    };

    [Fact]
    public async Task Of_sixteen_racing_claims_exactly_one_wins_and_completion_happens_once()
    {
        var store = await StoreAsync();
        var job = Job(Guid.NewGuid().ToString("N")[..8], 1);
        await store.CreateAsync([job], default);
        await store.CreateAsync([job with { State = JobState.Dead }], default); // creating again leaves it as it is
        Assert.Equal(JobState.Queued, (await store.RequireAsync(job.Id, default)).State);

        var claims = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(() =>
            store.TransitionAsync(job.Id, j => j.Claim($"w{i}", DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5)), default))));
        var winners = claims.Where(c => c.Changed is not null).ToList();
        Assert.Single(winners);
        var owner = winners[0].Changed!.Owner!;

        var completes = await Task.WhenAll(new[] { owner, "someone-else", owner }.Select(o => Task.Run(() =>
            store.TransitionAsync(job.Id, j => j.Complete(o, new JsonObject { ["by"] = o }, DateTimeOffset.UtcNow), default))));
        Assert.Single(completes, c => c.Changed is not null);
        var done = await store.RequireAsync(job.Id, default);
        Assert.Equal(JobState.Done, done.State);
        Assert.Equal(1, done.Completions);
        Assert.Equal(1, done.Attempts);
        Assert.Equal(owner, (string?)done.Result!["by"]);
        Assert.Equal(3, (int)done.Context["scenes"]!);
        Assert.Null((await store.TransitionAsync(job.Id, j => j.Claim("late", DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5)), default)).Changed);
    }

    [Fact]
    public async Task An_expired_lease_is_taken_over_and_the_old_owner_can_no_longer_complete()
    {
        var store = await StoreAsync();
        var job = Job(Guid.NewGuid().ToString("N")[..8], 2);
        await store.CreateAsync([job], default);
        var t0 = DateTimeOffset.UtcNow;
        Assert.NotNull((await store.TransitionAsync(job.Id, j => j.Claim("dead-worker", t0, TimeSpan.FromSeconds(1)), default)).Changed);
        Assert.Null((await store.TransitionAsync(job.Id, j => j.Claim("b", t0, TimeSpan.FromSeconds(1)), default)).Changed); // lease still live
        var (taken, _) = await store.TransitionAsync(job.Id, j => j.Claim("b", t0.AddSeconds(5), TimeSpan.FromMinutes(1)), default);
        Assert.Equal(("b", 2), (taken!.Owner, taken.Attempts));
        Assert.Null((await store.TransitionAsync(job.Id, j => j.Heartbeat("dead-worker", DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1)), default)).Changed);
        Assert.Null((await store.TransitionAsync(job.Id, j => j.Complete("dead-worker", new JsonObject(), DateTimeOffset.UtcNow), default)).Changed);
        Assert.NotNull((await store.TransitionAsync(job.Id, j => j.Fail("b", "boom", dead: true, DateTimeOffset.UtcNow), default)).Changed);
        Assert.Equal(("boom", JobState.Dead), ((await store.RequireAsync(job.Id, default)).Error, (await store.RequireAsync(job.Id, default)).State));
        var (retried, _) = await store.TransitionAsync(job.Id, j => j.Retry(DateTimeOffset.UtcNow), default);
        Assert.Equal((JobState.Queued, 0), (retried!.State, retried.Attempts));
    }

    [Fact]
    public async Task Jobs_list_by_video_and_run_and_content_addresses_read_back()
    {
        var store = await StoreAsync();
        var video = VideoId.New();
        var run = Guid.NewGuid().ToString("N")[..8];
        await store.CreateAsync([Job(run, 1, video: video), Job(run, 2, JobState.Waiting, video), Job("other" + run, 1, video: video)], default);
        Assert.Equal(3, (await store.ListAsync(video, null, 100, default)).Count);
        Assert.Equal([1, 2], (await store.ListAsync(video, run, 100, default)).Select(j => j.Scene!.Value).Order());
        Assert.Null(await store.GetAsync("no-such-job", default));
        Assert.Equal((null, null), await store.TransitionAsync("no-such-job", j => j.Cancel(DateTimeOffset.UtcNow), default));

        var key = Guid.NewGuid().ToString("N") + Guid.NewGuid().ToString("N");
        Assert.Null(await store.FindRenderAsync(key, default));
        var render = new SceneRender(key, video, 3, 2, new string('b', 64), 1234);
        await store.RecordRenderAsync(render, default);
        Assert.Equal(render, await store.FindRenderAsync(key, default));
    }
}

public sealed class SqliteJobStoreConformance : JobStoreConformance, IDisposable
{
    private readonly TempDir _dir = new();
    protected override Task<IJobStore> StoreAsync() => Task.FromResult<IJobStore>(new SqliteJobStore(new Catalog(_dir.File("catalog.db"))));
    public void Dispose() => _dir.Dispose();
}

public sealed class DynamoJobStoreConformance : JobStoreConformance, IDisposable
{
    private AwsClients? _aws;
    protected override async Task<IJobStore> StoreAsync()
    {
        var cloud = await TestCloud.CreateAsync();
        _aws = cloud.Clients();
        return new DynamoJobStore(_aws.DynamoDB, cloud.Table, new RetryPipeline(AwsErrors.Classify));
    }
    public void Dispose() => _aws?.Dispose();
}
