using System.Globalization;
using System.Security;
using System.Text;
using ManimCloud.Domain;

namespace ManimCloud.Streaming;

/// <summary>A version's manifests and what they say about the ladder.</summary>
public sealed record BuiltManifests(IReadOnlyDictionary<string, string> Files, IReadOnlyList<RenditionRung> Rungs, RenditionAudio? Audio);

/// <summary>
/// Writes a version's HLS master and media playlists and its DASH MPD from its scenes' CMAF tracks, both pointing at
/// the same segments by relative URLs (so any base URL works, and a later version's manifests may point into an
/// earlier version's folder). Scenes are joined with EXT-X-DISCONTINUITY (each with its own EXT-X-MAP) in HLS and as one
/// Period per scene in DASH.
/// </summary>
public static class Manifests
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <param name="rungs">Video tracks to offer, best first (present in every scene).</param>
    public static BuiltManifests Build(ProjectId project, VideoId video, int version, IReadOnlyList<SceneIndex> scenes,
        IReadOnlyList<string> rungs, bool withAudio, Ladder ladder)
    {
        var files = new Dictionary<string, string>();
        var master = ObjectLayout.HlsMasterKey(project, video, version);
        var mpd = ObjectLayout.DashManifestKey(project, video, version);
        var audioTracks = withAudio ? scenes.Select(s => s.Audio ?? throw new InvalidOperationException($"scene {s.Scene} has no audio track")).ToList() : null;
        RenditionAudio? audio = audioTracks is null ? null : new RenditionAudio(Ladder.AudioCodecs, ladder.AudioBitrate, ladder.AudioSampleRate, ladder.AudioChannels);
        long audioPeak = audioTracks?.Max(t => t.PeakBitrate) ?? 0;
        long audioAverage = audioTracks is null ? 0 : Average(audioTracks);

        var described = new List<RenditionRung>();
        foreach (var name in rungs)
        {
            var tracks = scenes.Select(s => s.Video.Single(t => t.Name == name)).ToList();
            var key = ObjectLayout.HlsVariantKey(project, video, version, name);
            files[key] = MediaPlaylist(key, tracks);
            described.Add(new RenditionRung(name, tracks.Max(t => t.Width), tracks.Max(t => t.Height), tracks.Max(t => t.PeakBitrate), Average(tracks),
                tracks.Max(t => t.FrameRate), tracks.Select(t => t.Codecs).MaxBy(Level)!));
        }
        if (audioTracks is not null)
        {
            var key = ObjectLayout.HlsVariantKey(project, video, version, "audio");
            files[key] = MediaPlaylist(key, audioTracks);
        }

        var m = new StringBuilder("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
        if (audio is not null)
            m.Append(Inv, $"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"Main\",LANGUAGE=\"und\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"{audio.Channels}\",URI=\"{Relative(master, ObjectLayout.HlsVariantKey(project, video, version, "audio"))}\"\n");
        foreach (var r in described)
        {
            var codecs = audio is null ? r.Codecs : $"{r.Codecs},{audio.Codecs}";
            m.Append(Inv, $"#EXT-X-STREAM-INF:BANDWIDTH={r.PeakBitrate + audioPeak},AVERAGE-BANDWIDTH={r.AverageBitrate + audioAverage},RESOLUTION={r.Width}x{r.Height},FRAME-RATE={r.FrameRate:0.000},CODECS=\"{codecs}\"");
            m.Append(audio is null ? "\n" : ",AUDIO=\"audio\"\n");
            m.Append(Relative(master, ObjectLayout.HlsVariantKey(project, video, version, r.Name))).Append('\n');
        }
        files[master] = m.ToString();
        files[mpd] = Mpd(mpd, scenes, rungs, described, audioTracks, audio, audioPeak, ladder);
        return new BuiltManifests(files, described, audio);
    }

    private static long Average(IReadOnlyList<SceneTrack> tracks)
    {
        var seconds = tracks.Sum(t => t.Seconds);
        return seconds <= 0 ? 0 : (long)Math.Ceiling(tracks.Sum(t => t.Segments.Sum(s => (double)s.Size)) * 8 / seconds);
    }

    /// <summary>The H.264 level byte of an avc1 codec string (the last two hex digits): the highest one describes every scene.</summary>
    private static int Level(string codecs) => codecs.Length >= 2 && int.TryParse(codecs[^2..], NumberStyles.HexNumber, Inv, out var l) ? l : 0;

    private static string MediaPlaylist(string key, IReadOnlyList<SceneTrack> scenes)
    {
        var target = Math.Max(1, scenes.SelectMany(t => t.Segments.Select(s => (int)Math.Round((double)s.Duration / t.Timescale, MidpointRounding.AwayFromZero))).Max());
        var b = new StringBuilder();
        b.Append(Inv, $"#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n");
        for (var i = 0; i < scenes.Count; i++)
        {
            if (i > 0) b.Append("#EXT-X-DISCONTINUITY\n");
            b.Append(Inv, $"#EXT-X-MAP:URI=\"{Relative(key, scenes[i].InitKey)}\"\n");
            foreach (var s in scenes[i].Segments)
                b.Append(Inv, $"#EXTINF:{(double)s.Duration / scenes[i].Timescale:0.000000},\n{Relative(key, s.Key)}\n");
        }
        b.Append("#EXT-X-ENDLIST\n");
        return b.ToString();
    }

    private static string Mpd(string key, IReadOnlyList<SceneIndex> scenes, IReadOnlyList<string> rungs, IReadOnlyList<RenditionRung> described,
        IReadOnlyList<SceneTrack>? audioTracks, RenditionAudio? audio, long audioPeak, Ladder ladder)
    {
        var total = scenes.Sum(s => s.DurationSeconds);
        var b = new StringBuilder();
        b.Append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        b.Append(Inv, $"<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" type=\"static\" mediaPresentationDuration=\"{Duration(total)}\" minBufferTime=\"{Duration(ladder.KeyframeIntervalSeconds)}\">\n");
        var start = 0.0;
        for (var i = 0; i < scenes.Count; i++)
        {
            var scene = scenes[i];
            b.Append(Inv, $"  <Period id=\"p{i + 1}\" start=\"{Duration(start)}\" duration=\"{Duration(scene.DurationSeconds)}\">\n");
            var top = described[0];
            b.Append(Inv, $"    <AdaptationSet id=\"1\" contentType=\"video\" mimeType=\"video/mp4\" segmentAlignment=\"true\" startWithSAP=\"1\" maxWidth=\"{described.Max(r => r.Width)}\" maxHeight=\"{described.Max(r => r.Height)}\" maxFrameRate=\"{Rate(top.FrameRate)}\">\n");
            foreach (var name in rungs)
            {
                var t = scene.Video.Single(v => v.Name == name);
                b.Append(Inv, $"      <Representation id=\"{name}\" bandwidth=\"{t.PeakBitrate}\" codecs=\"{t.Codecs}\" width=\"{t.Width}\" height=\"{t.Height}\" frameRate=\"{Rate(t.FrameRate)}\" sar=\"1:1\">\n");
                Template(b, key, t, "        ");
                b.Append("      </Representation>\n");
            }
            b.Append("    </AdaptationSet>\n");
            if (audioTracks is not null && audio is not null)
            {
                var t = audioTracks[i];
                b.Append("    <AdaptationSet id=\"2\" contentType=\"audio\" mimeType=\"audio/mp4\" segmentAlignment=\"true\" startWithSAP=\"1\" lang=\"und\">\n");
                b.Append(Inv, $"      <AudioChannelConfiguration schemeIdUri=\"urn:mpeg:dash:23003:3:audio_channel_configuration:2011\" value=\"{audio.Channels}\"/>\n");
                b.Append(Inv, $"      <Representation id=\"audio\" bandwidth=\"{Math.Max(t.PeakBitrate, audioPeak)}\" codecs=\"{audio.Codecs}\" audioSamplingRate=\"{audio.SampleRate}\">\n");
                Template(b, key, t, "        ");
                b.Append("      </Representation>\n    </AdaptationSet>\n");
            }
            b.Append("  </Period>\n");
            start += scene.DurationSeconds;
        }
        b.Append("</MPD>\n");
        return b.ToString();
    }

    /// <summary>A SegmentTemplate with an explicit timeline (segments end on keyframes, so the last one is shorter).</summary>
    private static void Template(StringBuilder b, string mpdKey, SceneTrack t, string indent)
    {
        var first = t.Segments[0];
        var folder = first.Key[..(first.Key.LastIndexOf('/') + 1)];
        var media = SecurityElement.Escape(Relative(mpdKey, folder + "seg_") + "$Number%05d$.m4s");
        b.Append(Inv, $"{indent}<SegmentTemplate timescale=\"{t.Timescale}\" presentationTimeOffset=\"{first.Start}\" startNumber=\"1\" initialization=\"{SecurityElement.Escape(Relative(mpdKey, t.InitKey))}\" media=\"{media}\">\n");
        b.Append(indent).Append("  <SegmentTimeline>\n");
        ulong? expected = null;
        for (var i = 0; i < t.Segments.Count;)
        {
            var s = t.Segments[i];
            var repeat = 0;
            while (i + repeat + 1 < t.Segments.Count && t.Segments[i + repeat + 1].Duration == s.Duration
                   && t.Segments[i + repeat + 1].Start == s.Start + (ulong)(repeat + 1) * s.Duration) repeat++;
            b.Append(indent).Append("    <S");
            if (expected != s.Start) b.Append(Inv, $" t=\"{s.Start}\"");
            b.Append(Inv, $" d=\"{s.Duration}\"");
            if (repeat > 0) b.Append(Inv, $" r=\"{repeat}\"");
            b.Append("/>\n");
            expected = s.Start + (ulong)(repeat + 1) * s.Duration;
            i += repeat + 1;
        }
        b.Append(indent).Append("  </SegmentTimeline>\n");
        b.Append(indent).Append("</SegmentTemplate>\n");
    }

    private static string Duration(double seconds) => string.Create(Inv, $"PT{seconds:0.###}S");

    private static string Rate(double fps)
    {
        // DASH frameRate is a ratio: 30, 60, or 30000/1001 for NTSC rates.
        var rounded = Math.Round(fps);
        if (Math.Abs(fps - rounded) < 0.001) return rounded.ToString(Inv);
        var ntsc = Math.Round(fps * 1.001);
        return Math.Abs(fps - ntsc / 1.001) < 0.001 ? $"{ntsc * 1000:0}/1001" : fps.ToString("0.###", Inv);
    }

    /// <summary>The URL of <paramref name="target"/> relative to the object <paramref name="from"/> (keys share the bucket's root).</summary>
    public static string Relative(string from, string target)
    {
        var a = from.Split('/');
        var b = target.Split('/');
        var common = 0;
        while (common < a.Length - 1 && common < b.Length - 1 && a[common] == b[common]) common++;
        var up = string.Concat(Enumerable.Repeat("../", a.Length - 1 - common));
        return up + string.Join('/', b[common..].Select(Uri.EscapeDataString));
    }
}
