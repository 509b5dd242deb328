namespace ManimCloud.Domain;

/// <summary>One video rung of a version's ladder as it was encoded: the size and bitrates it really got.</summary>
/// <param name="Name">"1080p", "720p", "480p" (or the source's own height when it is below every rung).</param>
/// <param name="PeakBitrate">Bits per second, the largest segment's rate (HLS BANDWIDTH, DASH @bandwidth).</param>
/// <param name="AverageBitrate">Bits per second over the whole version (HLS AVERAGE-BANDWIDTH).</param>
/// <param name="Codecs">RFC 6381 codec string of the video track, e.g. "avc1.640028".</param>
public sealed record RenditionRung(string Name, int Width, int Height, long PeakBitrate, long AverageBitrate, double FrameRate, string Codecs);

/// <summary>The audio track shared by every rung (absent when no scene of the version has sound).</summary>
public sealed record RenditionAudio(string Codecs, int Bitrate, int SampleRate, int Channels);

/// <summary>
/// One scene's part of a rendition set. Its segments sit under <paramref name="FolderKey"/>, which may be an earlier
/// version's folder: a scene whose clip (by content hash) and ladder did not change is not encoded again.
/// </summary>
/// <param name="Scene">Scene number; 0 for a version transcoded whole from its full video.</param>
/// <param name="EncodedInVersion">The version whose transcode produced these segments (this one, or an earlier one reused).</param>
public sealed record SceneRendition(int Scene, string ClipSha256, string FolderKey, int SegmentCount, double DurationSeconds, long Bytes, int EncodedInVersion);

/// <summary>
/// A version's adaptive-bitrate ladder as published (SPEC R3 "transcoded renditions", R6). Everything it names under
/// transcoded/ is immutable once published; only the manifests (<see cref="Manifests"/>) are ever rewritten.
/// </summary>
public sealed record RenditionSet
{
    public required int Version { get; init; }
    /// <summary>"local" (ffmpeg) or "mediaconvert".</summary>
    public required string Engine { get; init; }
    /// <summary>The ladder settings' fingerprint: equal fingerprints encode equal inputs to equal outputs.</summary>
    public required string LadderFingerprint { get; init; }
    public required IReadOnlyList<RenditionRung> Rungs { get; init; }
    public RenditionAudio? Audio { get; init; }
    public required string HlsMasterKey { get; init; }
    public required string DashManifestKey { get; init; }
    /// <summary>Every manifest of the set (HLS master, variant playlists, DASH MPD) with the SHA-256 of its content.</summary>
    public IReadOnlyDictionary<string, string> Manifests { get; init; } = new Dictionary<string, string>();
    /// <summary>Media segments of all tracks (init segments not counted).</summary>
    public int SegmentCount { get; init; }
    public double DurationSeconds { get; init; }
    /// <summary>Bytes of every object the set references (segments, init segments, manifests, poster, storyboard).</summary>
    public long Bytes { get; init; }
    /// <summary>The engine's job id (MediaConvert), or null.</summary>
    public string? JobId { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public required DateTimeOffset FinishedAt { get; init; }
    /// <summary>Seconds spent encoding (scenes reused cost nothing).</summary>
    public double EncodeSeconds { get; init; }
    public string? PosterKey { get; init; }
    /// <summary>The storyboard's WebVTT first, then its sprite sheets.</summary>
    public IReadOnlyList<string> StoryboardKeys { get; init; } = [];
    /// <summary>Filled by delivery: the CDN (or local service) URL the manifest keys are relative to; null until then.</summary>
    public string? PlaybackBaseUrl { get; init; }
    public IReadOnlyList<SceneRendition> Scenes { get; init; } = [];

    /// <summary>
    /// The manifest keys whose content a publish of <paramref name="after"/> over <paramref name="before"/> changed
    /// (new keys included): exactly what a CDN must invalidate. Nothing else under transcoded/ ever changes.
    /// </summary>
    public static IReadOnlyList<string> ChangedManifests(RenditionSet? before, RenditionSet after) =>
        after.Manifests
            .Where(m => before is null || !before.Manifests.TryGetValue(m.Key, out var old) || old != m.Value)
            .Select(m => m.Key)
            .Concat(before?.Manifests.Keys.Where(k => !after.Manifests.ContainsKey(k)) ?? [])
            .Order(StringComparer.Ordinal)
            .ToList();

    /// <summary>
    /// The keys of this version that a re-transcode of the same version rewrites in place, so a CDN may hold a stale
    /// copy: every manifest, the poster and the storyboard (fixed names per version). Segments are not among them:
    /// their folders are named by clip hash and ladder, so their content never changes.
    /// </summary>
    public IReadOnlyList<string> RewrittenInPlaceKeys =>
        Manifests.Keys.Concat(PosterKey is { } poster ? [poster] : []).Concat(StoryboardKeys)
            .Distinct().Order(StringComparer.Ordinal).ToList();

    /// <summary>
    /// What a publish of <paramref name="after"/> over the published <paramref name="before"/> (the same version) leaves
    /// stale in a CDN: the manifests that were published before and changed or went away, and — when the scenes' clips
    /// or the ladder changed — the poster and storyboard published before (rewritten under the same names). Nothing
    /// when there was no earlier publish: a new version's paths were never cached.
    /// </summary>
    public static IReadOnlyList<string> StaleKeys(RenditionSet? before, RenditionSet after)
    {
        if (before is null) return [];
        var stale = ChangedManifests(before, after).Where(before.Manifests.ContainsKey).ToList();
        var scenesChanged = before.LadderFingerprint != after.LadderFingerprint
            || !before.Scenes.Select(s => (s.Scene, s.ClipSha256)).SequenceEqual(after.Scenes.Select(s => (s.Scene, s.ClipSha256)));
        if (scenesChanged)
        {
            if (before.PosterKey is { } poster) stale.Add(poster);
            stale.AddRange(before.StoryboardKeys);
        }
        return stale.Distinct().Order(StringComparer.Ordinal).ToList();
    }
}
