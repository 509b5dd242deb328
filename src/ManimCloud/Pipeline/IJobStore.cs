using ManimCloud.Domain;

namespace ManimCloud.Pipeline;

/// <summary>
/// Where jobs and their state live: the workspace's SQLite catalog when jobs run in-process, the metadata table in
/// DynamoDB when workers share a queue. Same semantics on both (one conformance suite): every change is a
/// compare-and-swap, so concurrent workers never both win a transition.
/// </summary>
public interface IJobStore
{
    string Name { get; }

    /// <summary>Stores new jobs; a job whose id exists is left as it is (creating a run twice creates it once).</summary>
    Task CreateAsync(IReadOnlyList<PipelineJob> jobs, CancellationToken ct);

    Task<PipelineJob?> GetAsync(string id, CancellationToken ct);

    /// <summary>Jobs newest first, of one video and/or one run when given.</summary>
    Task<IReadOnlyList<PipelineJob>> ListAsync(VideoId? video, string? run, int limit, CancellationToken ct);

    /// <summary>
    /// Applies <paramref name="change"/> to the stored job atomically (re-reading and re-applying when another writer
    /// got in between). Returns the stored result, or null when <paramref name="change"/> declined (returned null) or
    /// the job does not exist; <paramref name="current"/> is what was read last.
    /// </summary>
    Task<(PipelineJob? Changed, PipelineJob? Current)> TransitionAsync(string id, Func<PipelineJob, PipelineJob?> change, CancellationToken ct);

    /// <summary>A clip already rendered for this content address, if any.</summary>
    Task<SceneRender?> FindRenderAsync(string renderKey, CancellationToken ct);

    Task RecordRenderAsync(SceneRender render, CancellationToken ct);
}

public static class JobStores
{
    public static async Task<PipelineJob> RequireAsync(this IJobStore store, string id, CancellationToken ct) =>
        await store.GetAsync(id, ct) ?? throw new ManimCloudException(ErrorKind.NotFound, $"There is no job {id} in {store.Name}.",
            "`manimcloud jobs list` shows the jobs (add --video V to narrow it).");
}
