using System.Globalization;
using System.Text.RegularExpressions;
using ManimCloud.Rendering;

namespace ManimCloud.Pipeline;

/// <summary>
/// Stands in for Manim where it is not installed (tests, the demo, benchmarks): a real H.264/AAC clip per scene made by
/// ffmpeg. The clip follows the scene's code — its length from the scene's plays and waits, its picture and tone from
/// the scene's source — so a changed scene makes a different clip and an unchanged one the same bytes.
/// </summary>
public sealed partial class TestSceneRenderer(TestRenderer ffmpeg) : IRenderer
{
    public string Name => "test";

    public string Fingerprint(RenderQuality quality) => $"test:{Size(quality)}";

    public static string Size(RenderQuality q) => q switch
    {
        RenderQuality.Low => "320x180", RenderQuality.Medium => "640x360", RenderQuality.High => "1280x720", RenderQuality.Production => "1920x1080", _ => "1920x1080",
    };

    [GeneratedRegex(@"self\.wait\(\s*([0-9]*\.?[0-9]+)?", RegexOptions.CultureInvariant)]
    private static partial Regex Wait();

    [GeneratedRegex(@"self\.play\(", RegexOptions.CultureInvariant)]
    private static partial Regex Play();

    /// <summary>Half a second per play and per second of waiting, between 0.5 and 6 s: short clips, in proportion.</summary>
    public static double Seconds(SceneSource scene)
    {
        var waits = Wait().Matches(scene.Source).Sum(m => m.Groups[1].Success ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 1.0);
        var plays = Play().Matches(scene.Source).Count;
        return Math.Round(Math.Clamp(0.5 * (waits + plays), 0.5, 6.0), 2);
    }

    public async Task<string> RenderSceneAsync(SceneRenderRequest request, CancellationToken ct)
    {
        Directory.CreateDirectory(request.WorkDir);
        var path = Path.Combine(request.WorkDir, $"{request.Scene.Name}.mp4");
        // The look of the clip comes from the scene's source, not its position, so moving a scene does not change it.
        var look = 1 + (int)(uint.Parse(Storage.ContentHash.Sha256Hex(System.Text.Encoding.UTF8.GetBytes(request.Scene.Source))[..6], NumberStyles.HexNumber) % 7);
        await ffmpeg.RenderClipAsync(path, look, Seconds(request.Scene), ct, Size(request.Quality));
        return path;
    }
}
