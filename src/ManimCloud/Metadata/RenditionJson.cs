using System.Text.Json.Nodes;
using ManimCloud.Domain;

namespace ManimCloud.Metadata;

/// <summary>
/// The JSON shape of a rendition set: inside the video record ("renditions", keyed by version), in the outbox, and
/// printed by `video renditions --json`. snake_case like the rest of the record.
/// </summary>
public static class RenditionJson
{
    public static JsonObject ToJson(RenditionSet r) => new()
    {
        ["version"] = r.Version,
        ["engine"] = r.Engine,
        ["ladder_fingerprint"] = r.LadderFingerprint,
        ["rungs"] = new JsonArray(r.Rungs.Select(g => (JsonNode)new JsonObject
        {
            ["name"] = g.Name, ["width"] = g.Width, ["height"] = g.Height, ["peak_bitrate"] = g.PeakBitrate,
            ["average_bitrate"] = g.AverageBitrate, ["frame_rate"] = g.FrameRate, ["codecs"] = g.Codecs,
        }).ToArray()),
        ["audio"] = r.Audio is { } a
            ? new JsonObject { ["codecs"] = a.Codecs, ["bitrate"] = a.Bitrate, ["sample_rate"] = a.SampleRate, ["channels"] = a.Channels }
            : null,
        ["hls_master_key"] = r.HlsMasterKey,
        ["dash_manifest_key"] = r.DashManifestKey,
        ["manifests"] = new JsonObject(r.Manifests.OrderBy(m => m.Key, StringComparer.Ordinal).Select(m => KeyValuePair.Create(m.Key, (JsonNode?)m.Value))),
        ["segment_count"] = r.SegmentCount,
        ["duration_seconds"] = r.DurationSeconds,
        ["bytes"] = r.Bytes,
        ["job_id"] = r.JobId,
        ["started_at"] = r.StartedAt.ToString("O"),
        ["finished_at"] = r.FinishedAt.ToString("O"),
        ["encode_seconds"] = r.EncodeSeconds,
        ["poster_key"] = r.PosterKey,
        ["storyboard_keys"] = Strings(r.StoryboardKeys),
        ["playback_base_url"] = r.PlaybackBaseUrl,
        ["scenes"] = new JsonArray(r.Scenes.Select(s => (JsonNode)new JsonObject
        {
            ["scene"] = s.Scene, ["clip_sha256"] = s.ClipSha256, ["folder_key"] = s.FolderKey, ["segment_count"] = s.SegmentCount,
            ["duration_seconds"] = s.DurationSeconds, ["bytes"] = s.Bytes, ["encoded_in_version"] = s.EncodedInVersion,
        }).ToArray()),
    };

    public static RenditionSet FromJson(JsonNode j) => new()
    {
        Version = (int)j["version"]!,
        Engine = (string)j["engine"]!,
        LadderFingerprint = (string)j["ladder_fingerprint"]!,
        Rungs = j["rungs"]!.AsArray().Select(g => new RenditionRung((string)g!["name"]!, (int)g["width"]!, (int)g["height"]!,
            (long)g["peak_bitrate"]!, (long)g["average_bitrate"]!, (double)g["frame_rate"]!, (string)g["codecs"]!)).ToList(),
        Audio = j["audio"] is JsonObject a ? new RenditionAudio((string)a["codecs"]!, (int)a["bitrate"]!, (int)a["sample_rate"]!, (int)a["channels"]!) : null,
        HlsMasterKey = (string)j["hls_master_key"]!,
        DashManifestKey = (string)j["dash_manifest_key"]!,
        Manifests = j["manifests"]?.AsObject().ToDictionary(m => m.Key, m => (string)m.Value!) ?? new Dictionary<string, string>(),
        SegmentCount = (int?)j["segment_count"] ?? 0,
        DurationSeconds = (double?)j["duration_seconds"] ?? 0,
        Bytes = (long?)j["bytes"] ?? 0,
        JobId = (string?)j["job_id"],
        StartedAt = DateTimeOffset.Parse((string)j["started_at"]!),
        FinishedAt = DateTimeOffset.Parse((string)j["finished_at"]!),
        EncodeSeconds = (double?)j["encode_seconds"] ?? 0,
        PosterKey = (string?)j["poster_key"],
        StoryboardKeys = j["storyboard_keys"]?.AsArray().Select(k => (string)k!).ToList() ?? [],
        PlaybackBaseUrl = (string?)j["playback_base_url"],
        Scenes = j["scenes"]?.AsArray().Select(s => new SceneRendition((int)s!["scene"]!, (string)s["clip_sha256"]!, (string)s["folder_key"]!,
            (int)s["segment_count"]!, (double)s["duration_seconds"]!, (long)s["bytes"]!, (int)s["encoded_in_version"]!)).ToList() ?? [],
    };

    /// <summary>The record's "renditions" field: an object keyed by version. Records written before it held an (always empty) array.</summary>
    public static JsonObject ToJson(IReadOnlyDictionary<int, RenditionSet> byVersion) =>
        new(byVersion.OrderBy(kv => kv.Key).Select(kv => KeyValuePair.Create(kv.Key.ToString(), (JsonNode?)ToJson(kv.Value))));

    public static IReadOnlyDictionary<int, RenditionSet> ByVersionFromJson(JsonNode? j) =>
        j is JsonObject o ? o.ToDictionary(kv => int.Parse(kv.Key), kv => FromJson(kv.Value!)) : new Dictionary<int, RenditionSet>();

    private static JsonArray Strings(IEnumerable<string> values) => new(values.Select(v => (JsonNode)JsonValue.Create(v)!).ToArray());
}
