using System.Buffers.Binary;

namespace ManimCloud.Streaming.MediaConvert;

/// <summary>
/// One second of silence as a PCM WAV file. It stands in for the audio of a silent scene in a version whose other
/// scenes have sound: MediaConvert cannot select audio a clip does not have, and the joined manifests need the same
/// tracks in every scene. The audio output pads it to the scene's length (MATCH_VIDEO_DURATION).
/// </summary>
public static class SilentAudio
{
    /// <summary>Beside the clips (the MediaConvert role reads videos/…); "_" cannot start a project id, so it never collides with one.</summary>
    public static string Key(int sampleRate, int channels) => $"videos/_silence/{sampleRate}hz-{channels}ch-1s.wav";

    public static byte[] Wav(int sampleRate, int channels)
    {
        const int bytesPerSample = 2;
        var dataLength = sampleRate * channels * bytesPerSample;
        var wav = new byte[44 + dataLength];
        var s = wav.AsSpan();
        "RIFF"u8.CopyTo(s);
        BinaryPrimitives.WriteInt32LittleEndian(s[4..], 36 + dataLength);
        "WAVEfmt "u8.CopyTo(s[8..]);
        BinaryPrimitives.WriteInt32LittleEndian(s[16..], 16);              // fmt chunk size
        BinaryPrimitives.WriteInt16LittleEndian(s[20..], 1);               // PCM
        BinaryPrimitives.WriteInt16LittleEndian(s[22..], (short)channels);
        BinaryPrimitives.WriteInt32LittleEndian(s[24..], sampleRate);
        BinaryPrimitives.WriteInt32LittleEndian(s[28..], sampleRate * channels * bytesPerSample);
        BinaryPrimitives.WriteInt16LittleEndian(s[32..], (short)(channels * bytesPerSample));
        BinaryPrimitives.WriteInt16LittleEndian(s[34..], 8 * bytesPerSample);
        "data"u8.CopyTo(s[36..]);
        BinaryPrimitives.WriteInt32LittleEndian(s[40..], dataLength);
        return wav;                                                          // samples stay zero: silence
    }
}
