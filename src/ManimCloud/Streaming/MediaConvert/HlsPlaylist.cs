using System.Globalization;
using System.Text;

namespace ManimCloud.Streaming.MediaConvert;

/// <summary>The few parts of HLS playlists (RFC 8216) the scene join reads: tags with attribute lists, and segments.</summary>
public static class HlsPlaylist
{
    /// <summary>A variant (#EXT-X-STREAM-INF + URI) or a rendition (#EXT-X-MEDIA with URI) of a master playlist.</summary>
    public sealed record Entry(string Tag, IReadOnlyDictionary<string, string> Attributes, string Uri);

    /// <summary>A media playlist's init section and its segments (duration, URI).</summary>
    public sealed record Media(string? MapUri, IReadOnlyList<(double Duration, string Uri)> Segments, int Version);

    public static IReadOnlyList<Entry> MasterEntries(string text)
    {
        var lines = Lines(text);
        var entries = new List<Entry>();
        for (var i = 0; i < lines.Count; i++)
        {
            if (lines[i].StartsWith("#EXT-X-STREAM-INF:", StringComparison.Ordinal) && i + 1 < lines.Count)
                entries.Add(new Entry("#EXT-X-STREAM-INF", Attributes(lines[i]["#EXT-X-STREAM-INF:".Length..]), lines[++i]));
            else if (lines[i].StartsWith("#EXT-X-MEDIA:", StringComparison.Ordinal))
            {
                var attributes = Attributes(lines[i]["#EXT-X-MEDIA:".Length..]);
                if (attributes.TryGetValue("URI", out var uri)) entries.Add(new Entry("#EXT-X-MEDIA", attributes, Unquote(uri)));
            }
        }
        return entries;
    }

    public static Media ParseMedia(string text)
    {
        string? map = null;
        var version = 6;
        var segments = new List<(double, string)>();
        double? pending = null;
        foreach (var line in Lines(text))
        {
            if (line.StartsWith("#EXT-X-MAP:", StringComparison.Ordinal)) map = Attributes(line["#EXT-X-MAP:".Length..]).GetValueOrDefault("URI") is { } uri ? Unquote(uri) : null;
            else if (line.StartsWith("#EXT-X-VERSION:", StringComparison.Ordinal)) version = int.Parse(line["#EXT-X-VERSION:".Length..], CultureInfo.InvariantCulture);
            else if (line.StartsWith("#EXTINF:", StringComparison.Ordinal))
                pending = double.Parse(line["#EXTINF:".Length..].Split(',')[0], CultureInfo.InvariantCulture);
            else if (!line.StartsWith('#') && pending is { } duration)
            {
                segments.Add((duration, line));
                pending = null;
            }
        }
        return new Media(map, segments, version);
    }

    /// <summary>
    /// An attribute list (<c>A=1,B="x,y"</c>) as written: quoted values keep their quotes, so writing it back keeps
    /// each attribute's form (a quoted string, or an enumerated value such as CLOSED-CAPTIONS=NONE).
    /// </summary>
    public static Dictionary<string, string> Attributes(string list)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var i = 0;
        while (i < list.Length)
        {
            var eq = list.IndexOf('=', i);
            if (eq < 0) break;
            var name = list[i..eq].Trim();
            var end = eq + 1 < list.Length && list[eq + 1] == '"' ? list.IndexOf('"', eq + 2) + 1 : list.IndexOf(',', eq + 1);
            if (end <= 0) end = list.Length;
            result[name] = list[(eq + 1)..end];
            i = end;
            if (i < list.Length && list[i] == ',') i++;
        }
        return result;
    }

    public static string Unquote(string raw) => raw.Length >= 2 && raw[0] == '"' && raw[^1] == '"' ? raw[1..^1] : raw;

    public static string Quote(string value) => $"\"{value}\"";

    public static string Format(IEnumerable<KeyValuePair<string, string>> attributes) => string.Join(',', attributes.Select(a => $"{a.Key}={a.Value}"));

    private static List<string> Lines(string text) =>
        text.Split('\n').Select(l => l.TrimEnd('\r').Trim()).Where(l => l.Length > 0).ToList();

    public static string Text(IEnumerable<string> lines) => new StringBuilder().AppendJoin('\n', lines).Append('\n').ToString();
}
