using ManimCloud.Domain;

namespace ManimCloud.Videos;

public static class MediaValidation
{
    /// <summary>Refuses what is not a readable, non-empty MP4 (ISO base media: an 'ftyp' box first) before anything is written.</summary>
    public static void EnsureVideoFile(string path)
    {
        if (!File.Exists(path))
            throw new ManimCloudException(ErrorKind.InvalidInput, $"Video file '{path}' does not exist.", "Give the path of a rendered .mp4 file.");
        var length = new FileInfo(path).Length;
        if (length == 0)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"Video file '{path}' is empty.", "The render probably failed; render the scene again.");
        Span<byte> header = stackalloc byte[12];
        using (var fs = File.OpenRead(path))
        {
            if (fs.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length || !header[4..8].SequenceEqual("ftyp"u8))
                throw new ManimCloudException(ErrorKind.InvalidInput, $"'{path}' is not an MP4 video (no 'ftyp' header).",
                    "Pass the .mp4 the renderer produced (Manim writes media/videos/<scene>/<quality>/<Scene>.mp4).");
        }
    }
}
