namespace ManimCloud.Domain;

/// <summary>The object keys of SPEC §3. Users' scripts depend on these exact shapes.</summary>
public static class ObjectLayout
{
    public static string ClipKey(ProjectId project, VideoId video, int version, int scene) =>
        $"{VideosPrefix}{project}/{video}/v{version}/scene_{scene:D3}.mp4";

    public static string FullVideoKey(ProjectId project, VideoId video, int version) =>
        $"{VideosPrefix}{project}/{video}/v{version}/full.mp4";

    public static string CodeKey(ProjectId project, VideoId video, int version) =>
        $"code/{project}/{video}/{video}_v{version}.py";

    /// <summary>Clips and full videos live under this prefix (lifecycle rules move them to Intelligent-Tiering).</summary>
    public const string VideosPrefix = "videos/";

    /// <summary>Short-lived objects; provisioning expires this prefix.</summary>
    public const string TemporaryPrefix = "tmp/";
}
