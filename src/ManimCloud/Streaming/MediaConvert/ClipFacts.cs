namespace ManimCloud.Streaming.MediaConvert;

/// <summary>
/// What the MediaConvert job of a clip must know before it is submitted: its picture size (the ladder is planned from
/// it, never upscaled) and whether it has sound (MediaConvert fails a job that selects audio from a silent input,
/// and Manim clips are often silent).
/// </summary>
public sealed record ClipFacts(int Width, int Height, bool HasAudio, double DurationSeconds);
