namespace ManimCloud.Domain;

/// <summary>The object keys of SPEC §3. Users' scripts depend on these exact shapes.</summary>
public static class ObjectLayout
{
    public static string ClipKey(ProjectId project, VideoId video, int version, int scene) =>
        $"videos/{project}/{video}/v{version}/scene_{scene:D3}.mp4";

    public static string FullVideoKey(ProjectId project, VideoId video, int version) =>
        $"videos/{project}/{video}/v{version}/full.mp4";

    public static string CodeKey(ProjectId project, VideoId video, int version) =>
        $"code/{project}/{video}/{video}_v{version}.py";

    public static string RenditionPrefix(ProjectId project, VideoId video, int version, string format) =>
        $"transcoded/{project}/{video}/v{version}/{format}/";

    /// <summary>Short-lived objects; provisioning expires this prefix.</summary>
    public const string TemporaryPrefix = "tmp/";
}
