using System.Text.Json.Nodes;

namespace ManimCloud.Streaming.MediaConvert;

/// <summary>
/// The MediaConvert operations ManimCloud uses (REST/JSON, API version 2017-08-29). A thin interface so the official
/// AWSSDK.MediaConvert package (not in the registry here) can replace <see cref="MediaConvertClient"/> later.
/// </summary>
public interface IMediaConvertClient
{
    /// <summary>
    /// Submits a job. With the same <see cref="CreateJobRequest.ClientRequestToken"/> a resubmission (a retry after a
    /// lost answer) is answered with the job the first one created, not a second job.
    /// </summary>
    Task<MediaConvertJob> CreateJobAsync(CreateJobRequest request, CancellationToken ct);

    Task<MediaConvertJob> GetJobAsync(string jobId, CancellationToken ct);

    /// <summary>Cancels a job that has not finished (the service refuses a finished one with a conflict).</summary>
    Task CancelJobAsync(string jobId, CancellationToken ct);
}

/// <summary>
/// CreateJob's body: the IAM role MediaConvert acts as, the job settings (inputs and output groups, a JSON tree in the
/// service's own field names: see <see cref="SceneJob"/>), the idempotency token and metadata echoed back on the job.
/// </summary>
public sealed record CreateJobRequest(string Role, JsonObject Settings, string ClientRequestToken)
{
    public IReadOnlyDictionary<string, string> UserMetadata { get; init; } = new Dictionary<string, string>();
    /// <summary>How often the service updates jobPercentComplete (and sends status events): SECONDS_10 … SECONDS_600.</summary>
    public string StatusUpdateInterval { get; init; } = "SECONDS_10";
    public string? Queue { get; init; }

    /// <summary>The JSON body, in the wire names of the 2017-08-29 API (camelCase).</summary>
    public JsonObject ToJson()
    {
        var body = new JsonObject
        {
            ["role"] = Role,
            ["clientRequestToken"] = ClientRequestToken,
            ["statusUpdateInterval"] = StatusUpdateInterval,
            ["settings"] = Settings.DeepClone(),
        };
        if (Queue is not null) body["queue"] = Queue;
        if (UserMetadata.Count > 0)
        {
            var metadata = new JsonObject();
            foreach (var (k, v) in UserMetadata) metadata[k] = v;
            body["userMetadata"] = metadata;
        }
        return body;
    }
}
