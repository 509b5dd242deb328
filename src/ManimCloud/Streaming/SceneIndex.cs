using System.Globalization;
using System.Text.Json.Nodes;

namespace ManimCloud.Streaming;

/// <summary>One stored segment of a track: its key and content, and its place on the track's timeline (timescale units).</summary>
public sealed record TrackSegment(string Key, string Sha256, long Size, ulong Start, ulong Duration);

/// <summary>One CMAF track of a scene (a video rung or the audio): its init segment and media segments.</summary>
public sealed record SceneTrack(string Name, bool IsAudio, int Width, int Height, double FrameRate, string Codecs, uint Timescale,
    string InitKey, string InitSha256, long InitSize, IReadOnlyList<TrackSegment> Segments)
{
    public double Seconds => Segments.Sum(s => (double)s.Duration) / Timescale;
    public long Bytes => InitSize + Segments.Sum(s => s.Size);
    /// <summary>The largest segment's rate in bits per second (HLS BANDWIDTH; a segment shorter than a second counts as one second).</summary>
    public long PeakBitrate => Segments.Count == 0 ? 0 : Segments.Max(s => (long)Math.Ceiling(s.Size * 8.0 / Math.Max(1.0, (double)s.Duration / Timescale)));
}

/// <summary>
/// What one scene's rendition holds, stored as index.json in its segment folder once every segment is stored, so its
/// presence means the scene is complete. A later version reusing the scene reads it instead of encoding again.
/// Tracks name their keys in full: a scene reused with a silent audio track added points at two folders.
/// <see cref="Source"/> is what the clip was found to be (probed and first frame decoded) when it was encoded: a later
/// version reusing the scene plans its ladder from it instead of probing the unchanged clip again (null in indexes
/// written before it was recorded: such a scene is probed).
/// </summary>
public sealed record SceneIndex(int Scene, string ClipSha256, string Fingerprint, string FolderKey, int EncodedInVersion, double DurationSeconds,
    IReadOnlyList<SceneTrack> Tracks, Videos.MediaInfo? Source = null)
{
    public IEnumerable<SceneTrack> Video => Tracks.Where(t => !t.IsAudio);
    public SceneTrack? Audio => Tracks.FirstOrDefault(t => t.IsAudio);

    public JsonObject ToJson() => new()
    {
        ["scene"] = Scene, ["clip_sha256"] = ClipSha256, ["fingerprint"] = Fingerprint, ["folder_key"] = FolderKey,
        ["encoded_in_version"] = EncodedInVersion, ["duration_seconds"] = DurationSeconds,
        ["tracks"] = new JsonArray(Tracks.Select(t => (JsonNode)new JsonObject
        {
            ["name"] = t.Name, ["audio"] = t.IsAudio, ["width"] = t.Width, ["height"] = t.Height, ["frame_rate"] = t.FrameRate,
            ["codecs"] = t.Codecs, ["timescale"] = t.Timescale, ["init_key"] = t.InitKey, ["init_sha256"] = t.InitSha256, ["init_size"] = t.InitSize,
            ["segments"] = new JsonArray(t.Segments.Select(s => (JsonNode)new JsonObject
            {
                ["key"] = s.Key, ["sha256"] = s.Sha256, ["size"] = s.Size,
                ["start"] = s.Start.ToString(CultureInfo.InvariantCulture), ["duration"] = s.Duration.ToString(CultureInfo.InvariantCulture),
            }).ToArray()),
        }).ToArray()),
        ["source"] = Source is not { } m ? null : new JsonObject
        {
            ["width"] = m.Width, ["height"] = m.Height, ["frame_rate"] = m.FrameRate, ["duration_seconds"] = m.DurationSeconds,
            ["video_codec"] = m.VideoCodec, ["audio"] = m.HasAudio,
        },
    };

    public static SceneIndex FromJson(JsonNode j) => new(
        (int)j["scene"]!, (string)j["clip_sha256"]!, (string)j["fingerprint"]!, (string)j["folder_key"]!, (int)j["encoded_in_version"]!,
        (double)j["duration_seconds"]!,
        j["tracks"]!.AsArray().Select(t => new SceneTrack((string)t!["name"]!, (bool)t["audio"]!, (int)t["width"]!, (int)t["height"]!,
            (double)t["frame_rate"]!, (string)t["codecs"]!, (uint)t["timescale"]!, (string)t["init_key"]!, (string)t["init_sha256"]!, (long)t["init_size"]!,
            t["segments"]!.AsArray().Select(s => new TrackSegment((string)s!["key"]!, (string)s["sha256"]!, (long)s["size"]!,
                ulong.Parse((string)s["start"]!, CultureInfo.InvariantCulture), ulong.Parse((string)s["duration"]!, CultureInfo.InvariantCulture))).ToList())).ToList(),
        j["source"] is JsonObject m
            ? new Videos.MediaInfo((int)m["width"]!, (int)m["height"]!, (double)m["frame_rate"]!, (double)m["duration_seconds"]!, (string)m["video_codec"]!, (bool)m["audio"]!)
            : null);

    /// <summary>This scene as used by another version: the same tracks, possibly without audio, or with a silent track added.</summary>
    public SceneIndex WithTracks(IReadOnlyList<SceneTrack> tracks, string folderKey) => this with { Tracks = tracks, FolderKey = folderKey };
}
