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

    /// <summary>
    /// A video's renditions of every version: the folder a playback signature policy covers, since a version's
    /// manifests may point at segments an earlier version stored (unchanged scenes are not encoded again).
    /// </summary>
    public static string TranscodedFolder(ProjectId project, VideoId video) => $"{TranscodedPrefix}{project}/{video}/";

    /// <summary>One version's renditions: manifests, the segments encoded for it, poster and storyboard.</summary>
    public static string RenditionFolder(ProjectId project, VideoId video, int version) => $"{TranscodedFolder(project, video)}v{version}/";

    public static string HlsMasterKey(ProjectId project, VideoId video, int version) => $"{RenditionFolder(project, video, version)}hls/master.m3u8";

    /// <summary>The HLS media playlist of one track ("1080p", "720p", "480p", "audio").</summary>
    public static string HlsVariantKey(ProjectId project, VideoId video, int version, string track) => $"{RenditionFolder(project, video, version)}hls/{track}.m3u8";

    public static string DashManifestKey(ProjectId project, VideoId video, int version) => $"{RenditionFolder(project, video, version)}dash/manifest.mpd";

    /// <summary>
    /// The CMAF segments of one scene encoded in <paramref name="version"/>, shared by the HLS playlists and the DASH
    /// MPD: named by the clip's content hash and the ladder fingerprint, so the folder's content can never change
    /// (a new ladder or a changed clip is a new folder) and later versions may point at it.
    /// </summary>
    public static string SceneSegmentsFolder(ProjectId project, VideoId video, int version, string clipSha256, string ladderFingerprint) =>
        $"{RenditionFolder(project, video, version)}cmaf/{clipSha256[..16]}-{ladderFingerprint}/";

    /// <summary>A track's initialization segment inside a scene's segment folder.</summary>
    public static string InitSegmentKey(string sceneFolder, string track) => $"{sceneFolder}{track}/init.mp4";

    /// <summary>A track's media segment (1-based) inside a scene's segment folder.</summary>
    public static string MediaSegmentKey(string sceneFolder, string track, int number) => $"{sceneFolder}{track}/seg_{number:D5}.m4s";

    /// <summary>What a scene's folder holds (tracks, segments, durations): written last, so its presence means the scene is complete.</summary>
    public static string SceneIndexKey(string sceneFolder) => $"{sceneFolder}index.json";

    public static string PosterKey(ProjectId project, VideoId video, int version) => $"{RenditionFolder(project, video, version)}poster.jpg";

    public static string StoryboardVttKey(ProjectId project, VideoId video, int version) => $"{RenditionFolder(project, video, version)}storyboard/storyboard.vtt";

    /// <summary>A storyboard sprite sheet (1-based).</summary>
    public static string StoryboardSpriteKey(ProjectId project, VideoId video, int version, int sheet) =>
        $"{RenditionFolder(project, video, version)}storyboard/sprite_{sheet:D3}.jpg";

    /// <summary>Renditions; immutable once published except the manifests.</summary>
    public const string TranscodedPrefix = "transcoded/";

    /// <summary>Clips and full videos live under this prefix (lifecycle rules move them to Intelligent-Tiering).</summary>
    public const string VideosPrefix = "videos/";

    /// <summary>Short-lived objects; provisioning expires this prefix.</summary>
    public const string TemporaryPrefix = "tmp/";
}
