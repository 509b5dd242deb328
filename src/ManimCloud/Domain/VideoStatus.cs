namespace ManimCloud.Domain;

public enum VideoStatus
{
    Created,
    CodeReady,
    Rendering,
    Uploaded,
    Transcoding,
    Ready,
    Error,
}

public static class VideoStatuses
{
    private static readonly Dictionary<VideoStatus, VideoStatus[]> Allowed = new()
    {
        [VideoStatus.Created] = [VideoStatus.CodeReady, VideoStatus.Rendering, VideoStatus.Uploaded, VideoStatus.Error],
        [VideoStatus.CodeReady] = [VideoStatus.Rendering, VideoStatus.Uploaded, VideoStatus.Error],
        [VideoStatus.Rendering] = [VideoStatus.Uploaded, VideoStatus.CodeReady, VideoStatus.Error],
        [VideoStatus.Uploaded] = [VideoStatus.Transcoding, VideoStatus.Ready, VideoStatus.CodeReady, VideoStatus.Rendering, VideoStatus.Error],
        [VideoStatus.Transcoding] = [VideoStatus.Ready, VideoStatus.Error],
        [VideoStatus.Ready] = [VideoStatus.CodeReady, VideoStatus.Rendering, VideoStatus.Uploaded, VideoStatus.Transcoding, VideoStatus.Error],
        [VideoStatus.Error] = [VideoStatus.Created, VideoStatus.CodeReady, VideoStatus.Rendering, VideoStatus.Uploaded, VideoStatus.Transcoding],
    };

    /// <summary>The wire name used in metadata, JSON and the CLI (snake_case, as in SPEC R3).</summary>
    public static string ToWire(this VideoStatus status) => status switch
    {
        VideoStatus.CodeReady => "code_ready",
        _ => status.ToString().ToLowerInvariant(),
    };

    public static VideoStatus Parse(string value)
    {
        foreach (var s in Enum.GetValues<VideoStatus>())
            if (string.Equals(s.ToWire(), value, StringComparison.OrdinalIgnoreCase)) return s;
        throw new ManimCloudException(ErrorKind.InvalidInput, $"'{value}' is not a video status.",
            "Use one of: " + string.Join(", ", Enum.GetValues<VideoStatus>().Select(s => s.ToWire())) + ".");
    }

    public static bool CanMove(VideoStatus from, VideoStatus to) => from == to || Allowed[from].Contains(to);

    public static void EnsureCanMove(VideoStatus from, VideoStatus to)
    {
        if (!CanMove(from, to))
            throw new ManimCloudException(ErrorKind.InvalidInput,
                $"A video cannot go from status '{from.ToWire()}' to '{to.ToWire()}'.",
                $"From '{from.ToWire()}' it can go to: {string.Join(", ", Allowed[from].Select(s => s.ToWire()))}.");
    }
}
