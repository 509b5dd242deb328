namespace ManimCloud.Streaming.MediaConvert;

/// <summary>
/// What one scene's MediaConvert job wrote into its folder, read back from S3: the CMAF group's HLS master playlist,
/// its media playlist per track, its DASH MPD (all with URIs relative to the folder), the poster frames, and the
/// folder's objects.
/// </summary>
public sealed record SceneOutput
{
    public required int Scene { get; init; }
    public required string ClipSha256 { get; init; }
    /// <summary>The scene's folder key, ending in '/'.</summary>
    public required string FolderKey { get; init; }
    /// <summary>Key of MediaConvert's HLS master playlist (scene.m3u8) and its text.</summary>
    public required string HlsMasterKey { get; init; }
    public required string HlsMaster { get; init; }
    /// <summary>Media playlists by the URI the master names them with (relative to the folder), with their text.</summary>
    public required IReadOnlyDictionary<string, string> MediaPlaylists { get; init; }
    public required string DashManifestKey { get; init; }
    public required string DashManifest { get; init; }
    /// <summary>Every object in the folder with its size (segments, init segments, manifests, frame captures).</summary>
    public required IReadOnlyDictionary<string, long> Objects { get; init; }
    /// <summary>The version whose transcode produced this folder.</summary>
    public required int EncodedInVersion { get; init; }
    public string? JobId { get; init; }
    public DateTimeOffset? JobStartedAt { get; init; }
    public DateTimeOffset? JobFinishedAt { get; init; }

    /// <summary>The frame MediaConvert captured for the poster: the one at 1 s when the clip is that long, else the first.</summary>
    public string? PosterKey => Objects.Keys
        .Where(k => k.StartsWith(FolderKey + SceneJob.PosterBaseName + ".", StringComparison.Ordinal) && k.EndsWith(".jpg", StringComparison.Ordinal))
        .Order(StringComparer.Ordinal).LastOrDefault();

    public long Bytes => Objects.Values.Sum();
}
