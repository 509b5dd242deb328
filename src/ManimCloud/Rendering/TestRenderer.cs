using System.Diagnostics;
using ManimCloud.Domain;

namespace ManimCloud.Rendering;

/// <summary>
/// Stands in for Manim in tests and the demo: real H.264 MP4 clips made by ffmpeg from its test sources,
/// and a full video concatenated from them.
/// </summary>
public sealed class TestRenderer(string ffmpeg = "ffmpeg")
{
    public async Task RenderClipAsync(string outPath, int scene, double seconds, CancellationToken ct, string size = "320x180")
    {
        // A different pattern and tone per scene, so clips are distinguishable and hashes differ.
        var pattern = (scene % 3) switch { 0 => "testsrc2", 1 => "smptebars", _ => "rgbtestsrc" };
        await RunAsync(["-y", "-loglevel", "error", "-f", "lavfi", "-i", $"{pattern}=size={size}:rate=25:duration={seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}",
            "-f", "lavfi", "-i", $"sine=frequency={220 * scene}:duration={seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", "-movflags", "+faststart", outPath], ct);
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

    private async Task RunAsync(string[] args, CancellationToken ct)
    {
        Process process;
        try
        {
            process = Process.Start(new ProcessStartInfo(ffmpeg, args) { RedirectStandardError = true, UseShellExecute = false })!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new ManimCloudException(ErrorKind.ClientError, $"ffmpeg was not found ('{ffmpeg}').",
                "Install it (`apt-get install -y ffmpeg` on Debian/Ubuntu, `brew install ffmpeg` on macOS).", e);
        }
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        if (process.ExitCode != 0)
            throw new ManimCloudException(ErrorKind.Fatal, $"ffmpeg failed ({process.ExitCode}): {(await stderr).Trim()}",
                "Check that this ffmpeg build has libx264 and aac.");
    }
}
