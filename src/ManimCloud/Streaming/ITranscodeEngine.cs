using ManimCloud.Domain;

namespace ManimCloud.Streaming;

/// <summary>
/// Turns one version's stored media into an adaptive-bitrate ladder (SPEC R6). Implemented by the local ffmpeg engine
/// and by the MediaConvert engine; the transcode service validates the input before, and publishes the outcome
/// after (objects first, then manifests, then the video record: nothing is referenced before it is stored).
/// </summary>
public interface ITranscodeEngine
{
    /// <summary>"local" or "mediaconvert": the value of `--engine` and of <see cref="RenditionSet.Engine"/>.</summary>
    string Name { get; }

    /// <summary>
    /// Encodes what <paramref name="request"/> asks for. An engine that writes objects itself (MediaConvert writes to
    /// S3) returns them already stored and lists none in <see cref="TranscodeOutcome.Objects"/>; the local engine returns
    /// the files it made, which the service stores. Throws <see cref="ManimCloudException"/> with the reason on failure;
    /// cancellation stops the work and leaves nothing published.
    /// </summary>
    Task<TranscodeOutcome> TranscodeAsync(TranscodeRequest request, IProgress<TranscodeProgress>? progress, CancellationToken ct);
}

/// <summary>
/// One version to transcode. <see cref="Sources"/> are the scene clips in order, or the full video alone (Scene 0)
/// when that is all the version has. <see cref="Earlier"/> are the video's published sets, for reusing the segments
/// of scenes whose clip and ladder did not change.
/// </summary>
public sealed record TranscodeRequest(
    VideoRecord Video,
    int Version,
    Ladder Ladder,
    IReadOnlyList<TranscodeSource> Sources,
    IReadOnlyList<RenditionSet> Earlier)
{
    public ProjectId Project => Video.Project;
    public VideoId VideoId => Video.Id;
}

/// <summary>A stored clip (or the full video, Scene 0) to transcode: its key in the video store and its content hash.</summary>
/// <param name="LocalPath">Where its bytes are on this machine (a verified workspace blob), for engines that read files.</param>
public sealed record TranscodeSource(int Scene, string Key, string Sha256, long Size, string? LocalPath);

/// <summary>What an engine produced: the set to publish and, for the local engine, the files to store under their keys.</summary>
public sealed record TranscodeOutcome(RenditionSet Set, IReadOnlyList<RenditionObject> Objects, TranscodeCounts Counts)
{
    public TranscodeWork Work { get; init; } = TranscodeWork.None;
}

/// <summary>How much work a transcode did: scenes encoded now, scenes whose segments were reused.</summary>
public sealed record TranscodeCounts(int ScenesEncoded, int ScenesReused, int ScenesResumed);

/// <summary>
/// The local work behind a transcode beyond encoding: the scenes whose clips were probed (ffprobe and a first-frame
/// decode; a reused or resumed scene's clip is not probed again) and how many ffprobe/ffmpeg processes were run.
/// </summary>
public sealed record TranscodeWork(IReadOnlyList<int> ProbedScenes, int ToolRuns)
{
    public static TranscodeWork None { get; } = new([], 0);
}

/// <summary>
/// One object of a rendition set to store: a file on this machine (local engine) destined for <see cref="Key"/>, with
/// the content type and Cache-Control it is served with.
/// </summary>
public sealed record RenditionObject(string Key, string Sha256, long Size, RenditionObjectKind Kind)
{
    public string ContentType => RenditionObjects.ContentType(Kind, Key);
    public string CacheControl => RenditionObjects.CacheControl(Kind);
}

public enum RenditionObjectKind { Segment, Manifest, Image, Storyboard, SceneIndex }

/// <summary>How rendition objects are served (content type, caching): the same on S3, the local service and behind CloudFront.</summary>
public static class RenditionObjects
{
    /// <summary>Segments, images and storyboards never change once published: a year, immutable.</summary>
    public const string ImmutableCacheControl = "public, max-age=31536000, immutable";
    /// <summary>Manifests are rewritten when a version is transcoded again: short, and revalidated.</summary>
    public const string ManifestCacheControl = "public, max-age=10";

    public static string CacheControl(RenditionObjectKind kind) =>
        kind == RenditionObjectKind.Manifest ? ManifestCacheControl : ImmutableCacheControl;

    public static string ContentType(RenditionObjectKind kind, string key) => Path.GetExtension(key).ToLowerInvariant() switch
    {
        ".m3u8" => "application/vnd.apple.mpegurl",
        ".mpd" => "application/dash+xml",
        ".m4s" => "video/iso.segment",
        ".mp4" => "video/mp4",
        ".jpg" or ".jpeg" => "image/jpeg",
        ".png" => "image/png",
        ".webp" => "image/webp",
        ".vtt" => "text/vtt; charset=utf-8",
        ".json" => "application/json",
        _ => "application/octet-stream",
    };
}

/// <summary>Progress of a transcode: which scene, how far into it, and the encoder's speed (ffmpeg's -progress).</summary>
public sealed record TranscodeProgress(int Scene, int ScenesDone, int ScenesTotal, double SceneSeconds, double SceneDuration, double Speed, string Stage);
