using System.Globalization;
using System.Text.Json.Nodes;

namespace ManimCloud.Streaming.MediaConvert;

/// <summary>The states a MediaConvert job moves through (the service's JobStatus enum).</summary>
public enum MediaConvertJobStatus { Submitted, Progressing, Complete, Canceled, Error }

/// <summary>
/// A MediaConvert job as the service reports it (CreateJob's and GetJob's <c>job</c>): only what ManimCloud reads.
/// Timestamps are the service's; <see cref="ErrorCode"/> and <see cref="ErrorMessage"/> are set when the job failed.
/// </summary>
public sealed record MediaConvertJob
{
    public required string Id { get; init; }
    public string? Arn { get; init; }
    public required MediaConvertJobStatus Status { get; init; }
    /// <summary>0–100 while PROGRESSING (the service reports it only every status-update interval).</summary>
    public int? PercentComplete { get; init; }
    /// <summary>PROBING, TRANSCODING or UPLOADING while PROGRESSING.</summary>
    public string? CurrentPhase { get; init; }
    public int? ErrorCode { get; init; }
    public string? ErrorMessage { get; init; }
    public string? ClientRequestToken { get; init; }
    public DateTimeOffset? SubmittedAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
    /// <summary>Durations of the outputs written, in milliseconds, per output group (outputGroupDetails).</summary>
    public IReadOnlyList<IReadOnlyList<long>> OutputDurationsMs { get; init; } = [];
    public IReadOnlyDictionary<string, string> UserMetadata { get; init; } = new Dictionary<string, string>();

    public bool IsFinished => Status is MediaConvertJobStatus.Complete or MediaConvertJobStatus.Canceled or MediaConvertJobStatus.Error;

    /// <summary>The wire name of a status ("SUBMITTED" …), as the service spells it.</summary>
    public static string WireName(MediaConvertJobStatus status) => status.ToString().ToUpperInvariant();

    /// <summary>Reads the <c>job</c> object of a CreateJob or GetJob answer.</summary>
    public static MediaConvertJob FromJson(JsonNode job)
    {
        var status = (string?)job["status"] ?? throw new FormatException("The MediaConvert job has no status.");
        var timing = job["timing"];
        return new MediaConvertJob
        {
            Id = (string?)job["id"] ?? throw new FormatException("The MediaConvert job has no id."),
            Arn = (string?)job["arn"],
            Status = Enum.Parse<MediaConvertJobStatus>(status, ignoreCase: true),
            PercentComplete = Int(job["jobPercentComplete"]),
            CurrentPhase = (string?)job["currentPhase"],
            ErrorCode = Int(job["errorCode"]),
            ErrorMessage = (string?)job["errorMessage"],
            ClientRequestToken = (string?)job["clientRequestToken"],
            SubmittedAt = Time(timing?["submitTime"]) ?? Time(job["createdAt"]),
            StartedAt = Time(timing?["startTime"]),
            FinishedAt = Time(timing?["finishTime"]),
            OutputDurationsMs = (job["outputGroupDetails"] as JsonArray ?? [])
                .Select(g => (IReadOnlyList<long>)(g?["outputDetails"] as JsonArray ?? []).Select(o => (long?)Int(o?["durationInMs"]) ?? 0).ToList())
                .ToList(),
            UserMetadata = (job["userMetadata"] as JsonObject ?? [])
                .Where(kv => kv.Value is JsonValue)
                .ToDictionary(kv => kv.Key, kv => kv.Value!.ToString()),
        };
    }

    private static int? Int(JsonNode? node) => node is JsonValue v
        ? v.TryGetValue<int>(out var i) ? i
        : v.TryGetValue<double>(out var d) ? (int)d
        : v.TryGetValue<string>(out var s) && int.TryParse(s, CultureInfo.InvariantCulture, out var p) ? p : null
        : null;

    /// <summary>REST/JSON timestamps: epoch seconds (possibly fractional), or ISO 8601 from some proxies and tools.</summary>
    private static DateTimeOffset? Time(JsonNode? node)
    {
        if (node is not JsonValue v) return null;
        if (v.TryGetValue<double>(out var seconds)) return DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Round(seconds * 1000));
        if (v.TryGetValue<string>(out var text))
        {
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out seconds))
                return DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Round(seconds * 1000));
            if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)) return at;
        }
        return null;
    }
}
