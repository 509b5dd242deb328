using System.Diagnostics;
using ManimCloud.Domain;

namespace ManimCloud.Pipeline;

/// <summary>
/// Renders with the real `manim` command (Manim Community Edition): one process per scene,
/// `manim render -q{l|m|h|p|k} --media_dir DIR MODULE.py Scene`, and the clip read back from Manim's own media layout,
/// DIR/videos/{module}/{quality folder}/{Scene}.mp4 (480p15, 720p30, 1080p60, 1440p60, 2160p60).
/// </summary>
public sealed class ManimRenderer(string command) : IRenderer
{
    public string Name => "manim";
    public string Command => command;

    public string Fingerprint(RenderQuality quality) => $"manim:{QualityFolder(quality)}";

    public static string QualityFlag(RenderQuality q) => q switch
    {
        RenderQuality.Low => "-ql", RenderQuality.Medium => "-qm", RenderQuality.High => "-qh", RenderQuality.Production => "-qp", _ => "-qk",
    };

    public static string QualityFolder(RenderQuality q) => q switch
    {
        RenderQuality.Low => "480p15", RenderQuality.Medium => "720p30", RenderQuality.High => "1080p60", RenderQuality.Production => "1440p60", _ => "2160p60",
    };

    public static ManimCloudException NotFound(string command, Exception? inner = null) => new(ErrorKind.ClientError,
        $"The manim command was not found ('{command}').",
        "Install Manim (`pip install manim`), or set MANIMCLOUD_MANIM to the manim command's path; " +
        "MANIMCLOUD_RENDERER=test renders with the ffmpeg test renderer instead.", inner);

    /// <summary>Whether <paramref name="command"/> names an executable (a path, or a name found on PATH).</summary>
    public static bool Exists(string command)
    {
        if (command.Contains('/')) return File.Exists(command);
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            if (File.Exists(Path.Combine(dir, command))) return true;
        return false;
    }

    public async Task<string> RenderSceneAsync(SceneRenderRequest request, CancellationToken ct)
    {
        var media = Path.Combine(request.WorkDir, "media");
        Directory.CreateDirectory(media);
        var psi = new ProcessStartInfo(command) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false, WorkingDirectory = request.WorkDir };
        foreach (var a in new[] { "render", QualityFlag(request.Quality), "--media_dir", media, "--disable_caching", "--progress_bar", "none", request.ModulePath, request.Scene.Name })
            psi.ArgumentList.Add(a);
        Process process;
        try
        {
            process = Process.Start(psi) ?? throw NotFound(command);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw NotFound(command, e);
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync(ct);
            var stderr = process.StandardError.ReadToEndAsync(ct);
            try
            {
                await process.WaitForExitAsync(ct);
            }
            catch (OperationCanceledException)
            {
                try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                throw;
            }
            if (process.ExitCode != 0)
            {
                var tail = string.Join(" | ", ((await stderr) + "\n" + (await stdout)).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).TakeLast(6));
                throw new ManimCloudException(ErrorKind.Fatal, $"manim failed rendering scene {request.Scene.Number} ({request.Scene.Name}), exit code {process.ExitCode}: {tail}",
                    "Fix the scene's code (run the same manim command by hand to see the whole traceback), then render again.");
            }
        }
        var module = Path.GetFileNameWithoutExtension(request.ModulePath);
        var expected = Path.Combine(media, "videos", module, QualityFolder(request.Quality), request.Scene.Name + ".mp4");
        if (File.Exists(expected)) return expected;
        // Another Manim version may name the quality folder differently; the scene's file is still {Scene}.mp4.
        var found = Directory.Exists(Path.Combine(media, "videos"))
            ? Directory.EnumerateFiles(Path.Combine(media, "videos"), request.Scene.Name + ".mp4", SearchOption.AllDirectories)
                .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}partial_movie_files{Path.DirectorySeparatorChar}")).ToList()
            : [];
        return found.Count == 1 ? found[0] : throw new ManimCloudException(ErrorKind.Fatal,
            $"manim finished scene {request.Scene.Name} but its clip is not at {expected}" + (found.Count > 1 ? $" (found {found.Count} candidates)." : "."),
            "Check the Manim version (`manim --version`; Manim Community Edition writes media/videos/{module}/{quality}/{Scene}.mp4).");
    }
}
