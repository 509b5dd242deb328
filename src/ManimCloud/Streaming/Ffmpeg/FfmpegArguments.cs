using System.Globalization;

namespace ManimCloud.Streaming.Ffmpeg;

/// <summary>What a scene's audio track is made from.</summary>
public enum SceneAudio { None, Source, Silence }

/// <summary>
/// Every ffmpeg command line of the local engine, derived from the <see cref="Ladder"/> (and nothing else), as
/// argument lists. The encoder settings are public so the benchmark's baseline uses exactly the same ones.
/// </summary>
public static class FfmpegArguments
{
    private static string N(double v) => v.ToString("0.######", CultureInfo.InvariantCulture);

    /// <summary>Flags every run gets: no stdin, errors only on stderr, machine-readable progress on stdout.</summary>
    public static readonly IReadOnlyList<string> Common = ["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-progress", "pipe:1", "-nostats"];

    /// <summary>
    /// x264 settings of one rung: H.264 High, yuv420p, average and peak rate with a two-second VBV window, keyframes
    /// every <see cref="Ladder.KeyframeIntervalSeconds"/> by time (forced, scene cuts off, so every rendition of every
    /// scene has its keyframes at the same instants), closed GOPs.
    /// </summary>
    public static IReadOnlyList<string> VideoEncoder(Ladder ladder, PlannedRendition r, double frameRate)
    {
        // keyint above the forced spacing, so only the forced, time-based keyframes happen (29.97 fps is not 60 frames).
        var keyint = (int)Math.Ceiling(frameRate * ladder.KeyframeIntervalSeconds) * 2;
        return
        [
            "-c:v", "libx264", "-profile:v", ladder.VideoProfile, "-preset", ladder.Preset, "-tune", ladder.Tune,
            "-pix_fmt", ladder.PixelFormat,
            "-b:v", r.AverageBitrate.ToString(CultureInfo.InvariantCulture),
            "-maxrate", r.PeakBitrate.ToString(CultureInfo.InvariantCulture),
            "-bufsize", (2L * r.PeakBitrate).ToString(CultureInfo.InvariantCulture),
            "-g", keyint.ToString(CultureInfo.InvariantCulture), "-keyint_min", keyint.ToString(CultureInfo.InvariantCulture),
            "-sc_threshold", "0", "-force_key_frames", $"expr:gte(t,n_forced*{N(ladder.KeyframeIntervalSeconds)})",
            "-x264-params", "open-gop=0:scenecut=0",
        ];
    }

    /// <summary>AAC-LC at the ladder's rate, 48 kHz stereo.</summary>
    public static IReadOnlyList<string> AudioEncoder(Ladder ladder) =>
    [
        "-c:a", "aac", "-b:a", ladder.AudioBitrate.ToString(CultureInfo.InvariantCulture),
        "-ar", ladder.AudioSampleRate.ToString(CultureInfo.InvariantCulture), "-ac", ladder.AudioChannels.ToString(CultureInfo.InvariantCulture),
    ];

    /// <summary>
    /// CMAF packaging of one track into <paramref name="trackDir"/>: init.mp4 and seg_00001.m4s… of about
    /// <see cref="Ladder.SegmentSeconds"/> each (cut on the forced keyframes), plus ffmpeg's playlist (index.m3u8),
    /// which is read for the segment list and never published.
    /// </summary>
    public static IReadOnlyList<string> CmafTrack(Ladder ladder, string trackDir) =>
    [
        "-f", "hls", "-hls_time", N(ladder.SegmentSeconds), "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4",
        "-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename", Path.Combine(trackDir, "seg_%05d.m4s"), "-start_number", "1",
        "-hls_flags", "independent_segments", Path.Combine(trackDir, "index.m3u8"),
    ];

    /// <summary>The scale step of a rung (pass-through when the source already has that size).</summary>
    public static string Scale(PlannedRendition r) => $"scale={r.Width}:{r.Height}:flags=bicubic,setsar=1,format=yuv420p";

    /// <summary>
    /// One scene, one decode: the source is decoded once and split into every rung (each scaled and encoded), the
    /// storyboard's thumbnails (and the scene's sprite sheets tiled from them) and the audio track; each track is
    /// packaged as CMAF into its own folder of <paramref name="outDir"/> ("1080p", …, "audio"; "thumbs", "sheets").
    /// </summary>
    public static IReadOnlyList<string> SceneEncode(Ladder ladder, string source, IReadOnlyList<PlannedRendition> rungs, double frameRate,
        double durationSeconds, SceneAudio audio, Storyboard storyboard, string outDir)
    {
        var args = new List<string>(Common) { "-xerror", "-i", source };
        if (audio == SceneAudio.Silence)
            args.AddRange(["-f", "lavfi", "-t", N(durationSeconds), "-i", $"anullsrc=r={ladder.AudioSampleRate}:cl=stereo"]);
        var branches = rungs.Count + 1;
        var graph = new List<string> { $"[0:v:0]split={branches}" + string.Concat(Enumerable.Range(0, branches).Select(i => $"[s{i}]")) };
        graph.AddRange(rungs.Select((r, i) => $"[s{i}]{Scale(r)}[v{i}]"));
        graph.Add(StoryboardGraph($"[s{rungs.Count}]", storyboard, durationSeconds));
        args.AddRange(["-filter_complex", string.Join(";", graph)]);
        for (var i = 0; i < rungs.Count; i++)
        {
            args.AddRange(["-map", $"[v{i}]"]);
            args.AddRange(VideoEncoder(ladder, rungs[i], frameRate));
            args.AddRange(["-an", "-sn", "-dn"]);
            args.AddRange(CmafTrack(ladder, Path.Combine(outDir, rungs[i].Name)));
        }
        if (audio != SceneAudio.None)
            args.AddRange(AudioTrack(ladder, audio == SceneAudio.Source ? "0:a:0" : "1:a:0", durationSeconds, Path.Combine(outDir, "audio")));
        args.AddRange(StoryboardOutputs(outDir));
        return args;
    }

    /// <summary>The thumbnails of a scene, and its sheets tiled from them (a scene's sheets are its own, reused with it).</summary>
    private static string StoryboardGraph(string input, Storyboard storyboard, double durationSeconds) =>
        $"{input}{storyboard.ThumbnailFilter},split=2[thumbs][tiles];[tiles]{storyboard.SheetFilter(storyboard.RowsFor(durationSeconds))}[sheets]";

    /// <summary>The thumbnails (counted, not kept) into "thumbs", the sheets into "sheets" (sprite_001.jpg …).</summary>
    private static IReadOnlyList<string> StoryboardOutputs(string outDir) =>
    [
        "-map", "[thumbs]", "-c:v", "mjpeg", "-q:v", "5", "-an", "-fps_mode", "passthrough", "-f", "image2", "-start_number", "1",
        Path.Combine(outDir, "thumbs", "%05d.jpg"),
        "-map", "[sheets]", "-c:v", "mjpeg", "-q:v", "5", "-an", "-fps_mode", "passthrough", "-f", "image2", "-start_number", "1",
        Path.Combine(outDir, "sheets", "sprite_%03d.jpg"),
    ];

    /// <summary>An audio track cut (or padded with silence) to the scene's video duration, so scenes join without drift.</summary>
    private static IReadOnlyList<string> AudioTrack(Ladder ladder, string input, double durationSeconds, string trackDir) =>
        ["-map", input, .. AudioEncoder(ladder), "-af", "apad", "-t", N(durationSeconds), "-vn", "-sn", "-dn", .. CmafTrack(ladder, trackDir)];

    /// <summary>A silent audio track for a scene reused from a version that needed none (another scene now has sound).</summary>
    public static IReadOnlyList<string> Silence(Ladder ladder, double durationSeconds, string outDir) =>
        [.. Common, "-f", "lavfi", "-t", N(durationSeconds), "-i", $"anullsrc=r={ladder.AudioSampleRate}:cl=stereo",
            .. AudioTrack(ladder, "0:a:0", durationSeconds, Path.Combine(outDir, "audio"))];

    /// <summary>The storyboard of a scene whose segments are reused but whose sheets this machine does not have.</summary>
    public static IReadOnlyList<string> Thumbnails(string source, Storyboard storyboard, double durationSeconds, string outDir) =>
        [.. Common, "-xerror", "-i", source, "-filter_complex", StoryboardGraph("[0:v:0]", storyboard, durationSeconds), .. StoryboardOutputs(outDir)];

    /// <summary>The poster: one frame <paramref name="atSeconds"/> into the first scene, at the top rung's size.</summary>
    public static IReadOnlyList<string> Poster(string source, double atSeconds, PlannedRendition top, string output) =>
        [.. Common, "-ss", N(atSeconds), "-i", source, "-map", "0:v:0", "-frames:v", "1", "-vf", Scale(top), "-c:v", "mjpeg", "-q:v", "3",
            "-f", "image2", "-update", "1", output];
}
