using System.Globalization;
using ManimCloud.Streaming;

namespace ManimCloud.Rendering;

/// <summary>
/// Stands in for Manim in tests and the demo: real H.264 MP4 clips made by ffmpeg from its test sources,
/// and a full video concatenated from them. ffmpeg comes from <see cref="FfmpegLocator"/> (installed when missing and allowed)
/// unless a path is given.
/// </summary>
public sealed class TestRenderer(string? ffmpeg = null)
{
    /// <param name="rate">Frames per second (Manim renders 15 at low quality, 60 at high).</param>
    /// <param name="audio">With a sine tone; Manim's own clips are silent (no audio stream at all).</param>
    /// <param name="pixelFormat">yuv420p; yuv444p allows odd sizes.</param>
    public async Task RenderClipAsync(string outPath, int scene, double seconds, CancellationToken ct, string size = "320x180",
        int rate = 25, bool audio = true, string pixelFormat = "yuv420p")
    {
        // A different pattern and tone per scene, so clips are distinguishable and hashes differ.
        var pattern = (scene % 3) switch { 0 => "testsrc2", 1 => "smptebars", _ => "rgbtestsrc" };
        var duration = seconds.ToString(CultureInfo.InvariantCulture);
        List<string> args = ["-y", "-loglevel", "error", "-f", "lavfi", "-i", $"{pattern}=size={size}:rate={rate}:duration={duration}"];
        if (audio) args.AddRange(["-f", "lavfi", "-i", $"sine=frequency={220 * scene}:duration={duration}", "-c:a", "aac", "-shortest"]);
        args.AddRange(["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", pixelFormat, "-movflags", "+faststart", outPath]);
        await RunAsync(args, ct);
    }

    public async Task ConcatAsync(IReadOnlyList<string> clips, string outPath, CancellationToken ct)
    {
        var list = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(outPath))!, $".concat-{Guid.NewGuid():N}.txt");
        await File.WriteAllLinesAsync(list, clips.Select(c => $"file '{Path.GetFullPath(c).Replace("'", "'\\''")}'"), ct);
        try
        {
            await RunAsync(["-y", "-loglevel", "error", "-f", "concat", "-safe", "0", "-i", list, "-c", "copy", "-movflags", "+faststart", outPath], ct);
        }
        finally { File.Delete(list); }
    }

    private async Task RunAsync(IReadOnlyList<string> args, CancellationToken ct)
    {
        var exe = (await FfmpegLocator.LocateAsync(ffmpeg, null, ct)).Ffmpeg;
        await FfmpegProcess.RunAsync(exe, ["-nostdin", .. args], "a test clip", null, ct);
    }
}
