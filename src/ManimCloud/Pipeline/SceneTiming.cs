using System.Globalization;
using System.Text.RegularExpressions;
using ManimCloud.Operations;

namespace ManimCloud.Pipeline;

/// <summary>
/// What a scene's clip will be before it is rendered, for pricing a run (SPEC R9): its picture and frame rate from the
/// renderer and quality, its length from the code. The test renderer's length is exact (it follows the same rule);
/// Manim's is the usual reading of a scene: a play lasts its run_time (1 s by default), a wait its argument (1 s).
/// </summary>
public static partial class SceneTiming
{
    [GeneratedRegex(@"self\.wait\(\s*([0-9]*\.?[0-9]+)?", RegexOptions.CultureInvariant)]
    private static partial Regex Wait();

    [GeneratedRegex(@"self\.play\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)", RegexOptions.CultureInvariant)]
    private static partial Regex Play();

    [GeneratedRegex(@"run_time\s*=\s*([0-9]*\.?[0-9]+)", RegexOptions.CultureInvariant)]
    private static partial Regex RunTime();

    public static double Seconds(string renderer, SceneSource scene)
    {
        if (renderer == "test") return TestSceneRenderer.Seconds(scene);
        var waits = Wait().Matches(scene.Source).Sum(m => m.Groups[1].Success ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 1.0);
        var plays = Play().Matches(scene.Source).Sum(m => RunTime().Match(m.Value) is { Success: true } r ? double.Parse(r.Groups[1].Value, CultureInfo.InvariantCulture) : 1.0);
        return Math.Max(waits + plays, 1);
    }

    /// <summary>The clip a renderer makes at a quality: Manim's 480p15 … 2160p60 (silent), the test renderer's sizes at 25 fps with a tone.</summary>
    public static ClipToEncode Clip(string renderer, RenderQuality quality, SceneSource scene, bool reused)
    {
        if (renderer == "test")
        {
            var size = TestSceneRenderer.Size(quality).Split('x');
            return new ClipToEncode(scene.Number, int.Parse(size[0], CultureInfo.InvariantCulture), int.Parse(size[1], CultureInfo.InvariantCulture), 25,
                Seconds(renderer, scene), true, reused);
        }
        var (w, h, fps) = quality switch
        {
            RenderQuality.Low => (854, 480, 15), RenderQuality.Medium => (1280, 720, 30), RenderQuality.High => (1920, 1080, 60),
            RenderQuality.Production => (2560, 1440, 60), _ => (3840, 2160, 60),
        };
        return new ClipToEncode(scene.Number, w, h, fps, Seconds(renderer, scene), false, reused);
    }
}
