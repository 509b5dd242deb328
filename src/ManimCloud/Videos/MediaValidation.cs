using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using ManimCloud.Domain;

namespace ManimCloud.Videos;

/// <summary>What ffprobe says about a video file: enough to plan a ladder for it.</summary>
/// <param name="FrameRate">Frames per second (avg_frame_rate, else r_frame_rate).</param>
public sealed record MediaInfo(int Width, int Height, double FrameRate, double DurationSeconds, string VideoCodec, bool HasAudio);

public static class MediaValidation
{
    /// <summary>Refuses what is not a readable, non-empty MP4 (ISO base media: an 'ftyp' box first) before anything is written.</summary>
    public static void EnsureVideoFile(string path) => EnsureVideoFile(path, $"Video file '{path}'", $"'{path}'");

    private static void EnsureVideoFile(string path, string subject, string name)
    {
        if (!File.Exists(path))
            throw new ManimCloudException(ErrorKind.InvalidInput, $"{subject} does not exist.", "Give the path of a rendered .mp4 file.");
        var length = new FileInfo(path).Length;
        if (length == 0)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"{subject} is empty.", "The render probably failed; render the scene again.");
        Span<byte> header = stackalloc byte[12];
        using (var fs = File.OpenRead(path))
        {
            if (fs.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length || !header[4..8].SequenceEqual("ftyp"u8))
                throw new ManimCloudException(ErrorKind.InvalidInput, $"{name} is not an MP4 video (no 'ftyp' header).",
                    "Pass the .mp4 the renderer produced (Manim writes media/videos/<scene>/<quality>/<Scene>.mp4).");
        }
    }

    /// <summary>
    /// Probes a stored video before it is transcoded, and decodes its first frame: a file that is not an MP4, is empty,
    /// truncated, has no video stream (audio only) or a stream this ffmpeg cannot decode is refused with a message
    /// naming <paramref name="what"/> (the stored key) and the problem. Nothing has been written when this throws.
    /// </summary>
    public static async Task<MediaInfo> ProbeAsync(string path, string what, string ffprobe, string ffmpeg, CancellationToken ct)
    {
        EnsureVideoFile(path, what, what);
        var (code, stdout, stderr) = await RunAsync(ffprobe, ["-v", "error", "-show_entries",
            "stream=codec_type,codec_name,width,height,avg_frame_rate,r_frame_rate,duration:format=duration", "-of", "json", path], ct);
        if (code != 0)
            throw Refused(what, $"cannot be read as a video ({FirstLine(stderr)})",
                "It is damaged or truncated (an interrupted render or copy): render it again and store it with `video put`.");
        var json = JsonNode.Parse(stdout)!;
        var streams = json["streams"]?.AsArray() ?? [];
        var video = streams.FirstOrDefault(s => (string?)s!["codec_type"] == "video");
        if (video is null)
            throw Refused(what, streams.Any(s => (string?)s!["codec_type"] == "audio") ? "has no video stream (audio only)" : "has no video stream",
                "Store the rendered video clip, not a sound track.");
        var codec = (string?)video["codec_name"];
        if (string.IsNullOrEmpty(codec) || codec == "none")
            throw Refused(what, "has a video stream in a codec this ffmpeg does not know", "Render it again as H.264 (Manim's default).");
        var width = (int?)video["width"] ?? 0;
        var height = (int?)video["height"] ?? 0;
        if (width <= 0 || height <= 0)
            throw Refused(what, $"has a video stream without a picture size ({width}x{height})", "Render it again.");
        var fps = Rate((string?)video["avg_frame_rate"]) is > 0 and var avg ? avg : Rate((string?)video["r_frame_rate"]);
        var duration = Seconds(video["duration"]) ?? Seconds(json["format"]?["duration"]) ?? 0;
        if (duration <= 0 || fps <= 0)
            throw Refused(what, "has a video stream with no frames", "The render probably failed; render it again.");
        // The first frame must decode: catches a stream ffprobe can describe but ffmpeg cannot decode, and cut-off data.
        var (decoded, _, decodeErrors) = await RunAsync(ffmpeg, ["-nostdin", "-v", "error", "-xerror", "-i", path, "-map", "0:v:0", "-frames:v", "1", "-f", "null", "-"], ct);
        if (decoded != 0 || decodeErrors.Trim().Length > 0)
            throw Refused(what, $"has a video stream that cannot be decoded ({FirstLine(decodeErrors)})", "Render it again as H.264 (Manim's default).");
        return new MediaInfo(width, height, fps, duration, codec, streams.Any(s => (string?)s!["codec_type"] == "audio"));
    }

    private static ManimCloudException Refused(string what, string problem, string hint) =>
        new(ErrorKind.InvalidInput, $"{what} {problem}; nothing was transcoded or published.", hint);

    private static string FirstLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "no detail";

    private static double Rate(string? rational)
    {
        if (rational is null) return 0;
        var parts = rational.Split('/');
        if (!double.TryParse(parts[0], CultureInfo.InvariantCulture, out var n)) return 0;
        if (parts.Length == 1) return n;
        return double.TryParse(parts[1], CultureInfo.InvariantCulture, out var d) && d > 0 ? n / d : 0;
    }

    private static double? Seconds(JsonNode? node) =>
        node is not null && double.TryParse((string?)node, CultureInfo.InvariantCulture, out var s) ? s : null;

    private static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string exe, string[] args, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(exe) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        try
        {
            await p.WaitForExitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            throw;
        }
        return (p.ExitCode, await stdout, await stderr);
    }
}
