using System.Globalization;
using System.Text;

namespace ManimCloud.Streaming;

/// <summary>
/// Scrubbing previews: a thumbnail every <see cref="IntervalSeconds"/>, fitted into a <see cref="ThumbnailWidth"/> x
/// <see cref="ThumbnailHeight"/> box, laid out in sprite sheets of <see cref="Columns"/> x up to <see cref="MaxRows"/>
/// (a scene's own sheets: an edit of one scene makes that scene's sheets only), and a WebVTT file whose cues point into
/// the sheets with media fragments (`sprite_001.jpg#xywh=x,y,w,h`), as players' thumbnail plugins expect.
/// </summary>
public sealed record Storyboard
{
    public double IntervalSeconds { get; init; } = 2;
    public int ThumbnailWidth { get; init; } = 160;
    public int ThumbnailHeight { get; init; } = 90;
    public int Columns { get; init; } = 10;
    public int MaxRows { get; init; } = 10;

    public static Storyboard Default { get; } = new();

    public int PerSheet => Columns * MaxRows;

    /// <summary>The filter that makes the thumbnails from a scene's decoded frames (one decode shared with the encode).</summary>
    /// <remarks>select, not fps: the first frame and then one each interval, so a 0.6 s scene still gets its thumbnail.</remarks>
    public string ThumbnailFilter => string.Create(CultureInfo.InvariantCulture,
        $"select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,{IntervalSeconds - 0.001:0.###})',scale={ThumbnailWidth}:{ThumbnailHeight}:force_original_aspect_ratio=decrease:flags=bicubic," +
        $"pad={ThumbnailWidth}:{ThumbnailHeight}:(ow-iw)/2:(oh-ih)/2,setsar=1");

    /// <summary>What the storyboard of a scene depends on besides its clip: a scene's sheets are reused only under the same settings.</summary>
    public string Settings => string.Create(CultureInfo.InvariantCulture,
        $"{ThumbnailWidth}x{ThumbnailHeight}/{IntervalSeconds:0.###}s/{Columns}x{MaxRows}");

    /// <summary>The thumbnails a scene of this length gets (the first frame, then one each interval): at least one.</summary>
    public int ThumbnailsFor(double durationSeconds) => Math.Max(1, (int)Math.Ceiling(durationSeconds / IntervalSeconds - 1e-9));

    /// <summary>Rows of a scene's sheets: as many as its thumbnails fill (a short scene gets a one-row sheet), at most <see cref="MaxRows"/>.</summary>
    public int RowsFor(double durationSeconds) => Math.Clamp((int)Math.Ceiling(ThumbnailsFor(durationSeconds) / (double)Columns), 1, MaxRows);

    /// <summary>
    /// The filter that lays a scene's thumbnails out in its sheets (<see cref="Columns"/> x <paramref name="rows"/>;
    /// a partly filled last sheet is padded), in the same ffmpeg run that makes them.
    /// </summary>
    public string SheetFilter(int rows) => string.Create(CultureInfo.InvariantCulture, $"tile={Columns}x{rows}");

    /// <summary>One thumbnail's place on the timeline: on sheet <see cref="Sheet"/> of the version, at position <see cref="Index"/> (row-major).</summary>
    public sealed record Cue(double Start, double End, int Sheet, int Index);

    /// <summary>
    /// Cues for the scenes' thumbnails in order. Every scene has sheets of its own (made when it was encoded, reused
    /// with its segments), numbered through the version from <c>FirstSheet</c>, <c>PerSheet</c> thumbnails each:
    /// scene k's i-th thumbnail covers [i·interval, (i+1)·interval) of that scene, the last one up to the scene's end.
    /// </summary>
    public IReadOnlyList<Cue> Layout(IReadOnlyList<(double Start, double Duration, int Thumbnails, int FirstSheet, int PerSheet)> scenes)
    {
        var cues = new List<Cue>();
        foreach (var (start, duration, count, firstSheet, perSheet) in scenes)
            for (var i = 0; i < count; i++)
            {
                var from = start + i * IntervalSeconds;
                if (from >= start + duration) break;
                var to = i == count - 1 ? start + duration : Math.Min(start + duration, from + IntervalSeconds);
                cues.Add(new Cue(from, to, firstSheet + i / perSheet, i % perSheet));
            }
        return cues;
    }

    public string WebVtt(IReadOnlyList<Cue> cues, Func<int, string> sheetUri)
    {
        var b = new StringBuilder("WEBVTT\n");
        foreach (var c in cues)
        {
            var (x, y) = (c.Index % Columns * ThumbnailWidth, c.Index / Columns * ThumbnailHeight);
            b.Append(CultureInfo.InvariantCulture, $"\n{Time(c.Start)} --> {Time(c.End)}\n{sheetUri(c.Sheet)}#xywh={x},{y},{ThumbnailWidth},{ThumbnailHeight}\n");
        }
        return b.ToString();
    }

    private static string Time(double seconds)
    {
        var t = TimeSpan.FromMilliseconds(Math.Round(seconds * 1000));
        return string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalHours:D2}:{t.Minutes:D2}:{t.Seconds:D2}.{t.Milliseconds:D3}");
    }
}
