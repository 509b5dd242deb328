using System.Globalization;
using System.Xml;
using System.Xml.Linq;
using ManimCloud.Domain;

namespace ManimCloud.Streaming.MediaConvert;

/// <summary>A version's manifests joined from its scenes' MediaConvert outputs, and what they describe.</summary>
/// <param name="Manifests">Key → text of every manifest written for the version (HLS master, media playlists, DASH MPD).</param>
public sealed record JoinedVersion(IReadOnlyDictionary<string, string> Manifests, IReadOnlyList<RenditionRung> Rungs, RenditionAudio? Audio, int SegmentCount, double DurationSeconds);

/// <summary>
/// Joins per-scene MediaConvert outputs into one presentation at the version's keys (SPEC §3): an HLS master playlist
/// and one media playlist per track, the scenes separated by EXT-X-DISCONTINUITY (each scene is its own encode, with
/// its own init segment and timestamps starting at zero), and a DASH MPD with one Period per scene. Every URI is
/// relative, pointing into the scene folders (which may be an earlier version's: unchanged scenes are not encoded
/// again), so the manifests work from any base URL.
/// </summary>
public static class SceneJoin
{
    public static JoinedVersion Join(ProjectId project, VideoId video, int version, IReadOnlyList<SceneOutput> scenes, Ladder ladder)
    {
        if (scenes.Count == 0) throw new ArgumentException("A version has at least one scene.", nameof(scenes));
        var hlsFolder = ObjectLayout.HlsMasterKey(project, video, version)[..(ObjectLayout.HlsMasterKey(project, video, version).LastIndexOf('/') + 1)];
        var template = HlsPlaylist.MasterEntries(scenes[0].HlsMaster);
        var tracks = template.Select(e => TrackOf(e.Uri)).ToList();
        foreach (var scene in scenes.Skip(1))
        {
            var theirs = HlsPlaylist.MasterEntries(scene.HlsMaster).Select(e => TrackOf(e.Uri)).ToList();
            if (!theirs.Order().SequenceEqual(tracks.Order()))
                throw new ManimCloudException(ErrorKind.Fatal,
                    $"Scene {scene.Scene}'s MediaConvert output has tracks {string.Join(", ", theirs)}, scene {scenes[0].Scene}'s has {string.Join(", ", tracks)}; they cannot be joined.",
                    "Transcode the version again (the scenes' jobs were made with different settings).");
        }

        var manifests = new Dictionary<string, string>(StringComparer.Ordinal);
        var segmentCount = 0;
        var sceneDurations = new double[scenes.Count];
        var trackStats = new Dictionary<string, (long Peak, double BitSeconds, double Seconds)>();
        foreach (var entry in template)
        {
            var track = TrackOf(entry.Uri);
            var lines = new List<string> { "#EXTM3U" };
            var body = new List<string>();
            var target = 1.0;
            var playlistVersion = 6;
            long peak = 0;
            double bitSeconds = 0, seconds = 0;
            for (var k = 0; k < scenes.Count; k++)
            {
                var scene = scenes[k];
                var sceneEntry = HlsPlaylist.MasterEntries(scene.HlsMaster).First(e => TrackOf(e.Uri) == track);
                var media = HlsPlaylist.ParseMedia(scene.MediaPlaylists[sceneEntry.Uri]);
                playlistVersion = Math.Max(playlistVersion, media.Version);
                if (k > 0) body.Add("#EXT-X-DISCONTINUITY");
                if (media.MapUri is { } map) body.Add($"#EXT-X-MAP:URI={HlsPlaylist.Quote(Relative(hlsFolder, scene.FolderKey + map))}");
                foreach (var (duration, uri) in media.Segments)
                {
                    body.Add(string.Create(CultureInfo.InvariantCulture, $"#EXTINF:{duration:0.######},"));
                    body.Add(Relative(hlsFolder, scene.FolderKey + uri));
                    target = Math.Max(target, duration);
                }
                segmentCount += media.Segments.Count;
                var sceneSeconds = media.Segments.Sum(s => s.Duration);
                sceneDurations[k] = Math.Max(sceneDurations[k], sceneSeconds);
                if (Number(sceneEntry.Attributes, "BANDWIDTH") is { } bandwidth) peak = Math.Max(peak, bandwidth);
                var average = Number(sceneEntry.Attributes, "AVERAGE-BANDWIDTH") ?? Number(sceneEntry.Attributes, "BANDWIDTH") ?? 0;
                bitSeconds += average * sceneSeconds;
                seconds += sceneSeconds;
            }
            lines.Add($"#EXT-X-VERSION:{playlistVersion}");
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"#EXT-X-TARGETDURATION:{(int)Math.Ceiling(target - 0.0005)}"));
            lines.Add("#EXT-X-MEDIA-SEQUENCE:1");
            lines.Add("#EXT-X-PLAYLIST-TYPE:VOD");
            lines.Add("#EXT-X-INDEPENDENT-SEGMENTS");
            lines.AddRange(body);
            lines.Add("#EXT-X-ENDLIST");
            manifests[ObjectLayout.HlsVariantKey(project, video, version, track)] = HlsPlaylist.Text(lines);
            trackStats[track] = (peak, bitSeconds, seconds);
        }

        var master = new List<string> { "#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS" };
        var rungs = new List<RenditionRung>();
        RenditionAudio? audio = null;
        foreach (var entry in template.Where(e => e.Tag == "#EXT-X-MEDIA"))
        {
            var attributes = new Dictionary<string, string>(entry.Attributes) { ["URI"] = HlsPlaylist.Quote(TrackOf(entry.Uri) + ".m3u8") };
            master.Add("#EXT-X-MEDIA:" + HlsPlaylist.Format(attributes));
            if (HlsPlaylist.Unquote(attributes.GetValueOrDefault("TYPE", "")) == "AUDIO")
                audio = new RenditionAudio(Ladder.AudioCodecs, ladder.AudioBitrate, ladder.AudioSampleRate, ladder.AudioChannels);
        }
        foreach (var entry in template.Where(e => e.Tag == "#EXT-X-STREAM-INF"))
        {
            var track = TrackOf(entry.Uri);
            var (peak, bitSeconds, seconds) = trackStats[track];
            var average = seconds > 0 ? (long)Math.Round(bitSeconds / seconds) : peak;
            var attributes = new Dictionary<string, string>(entry.Attributes)
            {
                ["BANDWIDTH"] = peak.ToString(CultureInfo.InvariantCulture),
                ["AVERAGE-BANDWIDTH"] = average.ToString(CultureInfo.InvariantCulture),
            };
            master.Add("#EXT-X-STREAM-INF:" + HlsPlaylist.Format(attributes));
            master.Add(track + ".m3u8");
            var (width, height) = Resolution(attributes.GetValueOrDefault("RESOLUTION"));
            var frameRate = attributes.TryGetValue("FRAME-RATE", out var fr) && double.TryParse(fr, NumberStyles.Float, CultureInfo.InvariantCulture, out var f) ? f : 0;
            var codecs = HlsPlaylist.Unquote(attributes.GetValueOrDefault("CODECS", "")).Split(',').FirstOrDefault(c => c.StartsWith("avc1", StringComparison.Ordinal)) ?? "";
            rungs.Add(new RenditionRung(track, width, height, peak, average, frameRate, codecs));
        }
        manifests[ObjectLayout.HlsMasterKey(project, video, version)] = HlsPlaylist.Text(master);

        var dashKey = ObjectLayout.DashManifestKey(project, video, version);
        var (mpd, total) = JoinDash(dashKey[..(dashKey.LastIndexOf('/') + 1)], scenes, sceneDurations);
        manifests[dashKey] = mpd;
        return new JoinedVersion(manifests, rungs, audio, segmentCount, total);
    }

    private static (string Text, double Seconds) JoinDash(string dashFolder, IReadOnlyList<SceneOutput> scenes, double[] hlsDurations)
    {
        XElement? root = null;
        var periods = new List<XElement>();
        var offset = 0.0;
        for (var k = 0; k < scenes.Count; k++)
        {
            var scene = scenes[k];
            var mpd = XDocument.Parse(scene.DashManifest).Root!;
            var ns = mpd.Name.Namespace;
            root ??= new XElement(mpd.Name, mpd.Attributes().Where(a => a.Name.LocalName is not ("mediaPresentationDuration")));
            var duration = mpd.Attribute("mediaPresentationDuration") is { } d ? XmlConvert.ToTimeSpan(d.Value).TotalSeconds : hlsDurations[k];
            // A BaseURL the scene's MPD has of its own stays inside the path to its folder.
            var sceneBase = Relative(dashFolder, scene.FolderKey) + (mpd.Element(ns + "BaseURL")?.Value ?? "");
            var i = 0;
            foreach (var source in mpd.Elements(ns + "Period"))
            {
                var period = new XElement(source);
                period.SetAttributeValue("id", $"scene-{scene.Scene}" + (i++ > 0 ? $"-{i}" : ""));
                period.SetAttributeValue("start", XmlConvert.ToString(TimeSpan.FromSeconds(offset)));
                period.SetAttributeValue("duration", XmlConvert.ToString(TimeSpan.FromSeconds(duration)));
                var own = period.Element(ns + "BaseURL");
                if (own is not null) own.Value = sceneBase + own.Value;
                else period.AddFirst(new XElement(ns + "BaseURL", sceneBase));
                periods.Add(period);
            }
            offset += duration;
        }
        root!.SetAttributeValue("type", "static");
        root.SetAttributeValue("mediaPresentationDuration", XmlConvert.ToString(TimeSpan.FromSeconds(offset)));
        root.Add(periods);
        var document = new XDocument(new XDeclaration("1.0", "UTF-8", null), root);
        return (document.Declaration + "\n" + document.Root!.ToString() + "\n", offset);
    }

    /// <summary>The track a MediaConvert playlist belongs to: its name minus the job's base name ("scene_1080p.m3u8" → "1080p").</summary>
    public static string TrackOf(string uri)
    {
        var name = Path.GetFileNameWithoutExtension(uri.Split('?')[0]);
        return name.StartsWith(SceneJob.BaseName + "_", StringComparison.Ordinal) ? name[(SceneJob.BaseName.Length + 1)..] : name;
    }

    /// <summary>The relative URI from a folder (key ending in '/') to a key: "../../v1/cmaf/…/x.cmfv".</summary>
    public static string Relative(string fromFolder, string toKey)
    {
        var from = fromFolder.TrimEnd('/').Split('/');
        var to = toKey.Split('/');
        var common = 0;
        while (common < from.Length && common < to.Length - 1 && from[common] == to[common]) common++;
        return string.Concat(Enumerable.Repeat("../", from.Length - common)) + string.Join('/', to[common..]);
    }

    private static long? Number(IReadOnlyDictionary<string, string> attributes, string name) =>
        attributes.TryGetValue(name, out var raw) && long.TryParse(HlsPlaylist.Unquote(raw), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : null;

    private static (int, int) Resolution(string? raw)
    {
        var parts = (raw ?? "").Split('x');
        return parts.Length == 2 && int.TryParse(parts[0], CultureInfo.InvariantCulture, out var w) && int.TryParse(parts[1], CultureInfo.InvariantCulture, out var h) ? (w, h) : (0, 0);
    }
}
