using ManimCloud.Storage;

namespace ManimCloud.Pipeline;

/// <summary>One scene to render: the module file on disk, the scene in it, and where the renderer may write.</summary>
public sealed record SceneRenderRequest(string ModulePath, SceneSource Scene, RenderQuality Quality, string WorkDir);

/// <summary>
/// Turns one scene of a Manim module into one MP4 clip. Implementations: <see cref="ManimRenderer"/> (the real
/// `manim` command) and <see cref="TestSceneRenderer"/> (ffmpeg, standing in where Manim is not installed).
/// </summary>
public interface IRenderer
{
    /// <summary>"manim" or "test": recorded with every job and in step output.</summary>
    string Name { get; }

    /// <summary>The settings that change the output beyond the code (renderer, quality, size): part of a clip's content address.</summary>
    string Fingerprint(RenderQuality quality);

    /// <summary>Renders the scene and returns the clip's path (inside <see cref="SceneRenderRequest.WorkDir"/>).</summary>
    Task<string> RenderSceneAsync(SceneRenderRequest request, CancellationToken ct);
}

/// <summary>
/// The content address of a rendered clip: what the renderer and its settings were, the scene's own source and the
/// module's shared source. Equal addresses render equal clips, so a scene whose address did not change since any
/// earlier render reuses that clip instead of being rendered again (an edit of one scene renders one scene).
/// </summary>
public static class RenderKey
{
    public static string For(IRenderer renderer, RenderQuality quality, ManimScenes module, SceneSource scene) =>
        ContentHash.Sha256Hex(System.Text.Encoding.UTF8.GetBytes(string.Join('\u0000',
            "manimcloud-render-key-1", renderer.Fingerprint(quality), scene.Name, scene.Source, module.SharedSource)));
}
