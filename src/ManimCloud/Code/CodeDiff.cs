using System.Text;

namespace ManimCloud.Code;

/// <summary>One line of a diff: kept (' '), removed ('-') or added ('+'), with its line numbers in the old and new text.</summary>
public readonly record struct DiffLine(char Op, string Text, int? OldLine, int? NewLine);

/// <summary>
/// A line diff between two versions of a video's code (Myers' O(ND) algorithm: the shortest edit script), printed as a
/// unified diff. Used by the web API and the player page, which shows what changed between the versions it plays.
/// </summary>
public sealed class CodeDiff
{
    /// <summary>Beyond this many changed lines the diff is reported as a whole replacement (bounds time and memory).</summary>
    public const int MaxEdits = 20_000;

    public IReadOnlyList<DiffLine> Lines { get; }
    public int Added => Lines.Count(l => l.Op == '+');
    public int Removed => Lines.Count(l => l.Op == '-');

    private CodeDiff(IReadOnlyList<DiffLine> lines) => Lines = lines;

    public static CodeDiff Between(string oldText, string newText)
    {
        var a = SplitLines(oldText);
        var b = SplitLines(newText);
        return new CodeDiff(Myers(a, b) ?? Replace(a, b));
    }

    private static string[] SplitLines(string text)
    {
        if (text.Length == 0) return [];
        var lines = text.Replace("\r\n", "\n").Split('\n');
        return text.EndsWith('\n') ? lines[..^1] : lines;
    }

    private static List<DiffLine> Replace(string[] a, string[] b)
    {
        var lines = new List<DiffLine>(a.Length + b.Length);
        for (var i = 0; i < a.Length; i++) lines.Add(new DiffLine('-', a[i], i + 1, null));
        for (var j = 0; j < b.Length; j++) lines.Add(new DiffLine('+', b[j], null, j + 1));
        return lines;
    }

    private static List<DiffLine>? Myers(string[] a, string[] b)
    {
        int n = a.Length, m = b.Length, max = Math.Min(n + m, MaxEdits), offset = max + 1;
        var v = new int[2 * max + 3];
        var trace = new List<int[]>();
        for (var d = 0; d <= max; d++)
        {
            trace.Add((int[])v.Clone());
            for (var k = -d; k <= d; k += 2)
            {
                var x = k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1]) ? v[offset + k + 1] : v[offset + k - 1] + 1;
                var y = x - k;
                while (x < n && y < m && a[x] == b[y]) { x++; y++; }
                v[offset + k] = x;
                if (x >= n && y >= m) return Backtrack(a, b, trace, offset, d);
            }
        }
        return null;
    }

    private static List<DiffLine> Backtrack(string[] a, string[] b, List<int[]> trace, int offset, int depth)
    {
        var lines = new List<DiffLine>();
        int x = a.Length, y = b.Length;
        for (var d = depth; d > 0; d--)
        {
            var v = trace[d];
            var k = x - y;
            var prevK = k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1]) ? k + 1 : k - 1;
            var prevX = v[offset + prevK];
            var prevY = prevX - prevK;
            while (x > prevX && y > prevY) { lines.Add(new DiffLine(' ', a[x - 1], x, y)); x--; y--; }
            if (x == prevX) lines.Add(new DiffLine('+', b[y - 1], null, y));
            else lines.Add(new DiffLine('-', a[x - 1], x, null));
            x = prevX;
            y = prevY;
        }
        while (x > 0 && y > 0) { lines.Add(new DiffLine(' ', a[x - 1], x, y)); x--; y--; }
        lines.Reverse();
        return lines;
    }

    /// <summary>The unified diff (as `diff -u` prints it) with <paramref name="context"/> lines around each change.</summary>
    public string ToUnified(string oldName, string newName, int context = 3)
    {
        var text = new StringBuilder();
        text.Append("--- ").Append(oldName).Append('\n').Append("+++ ").Append(newName).Append('\n');
        var changed = Enumerable.Range(0, Lines.Count).Where(i => Lines[i].Op != ' ').ToList();
        var c = 0;
        while (c < changed.Count)
        {
            var start = Math.Max(0, changed[c] - context);
            var end = Math.Min(Lines.Count - 1, changed[c] + context);
            while (c + 1 < changed.Count && changed[c + 1] - context <= end + 1)
            {
                c++;
                end = Math.Min(Lines.Count - 1, changed[c] + context);
            }
            c++;
            var hunk = Lines.Skip(start).Take(end - start + 1).ToList();
            var oldStart = hunk.FirstOrDefault(l => l.OldLine is not null).OldLine ?? OldLineBefore(start);
            var newStart = hunk.FirstOrDefault(l => l.NewLine is not null).NewLine ?? NewLineBefore(start);
            int oldCount = hunk.Count(l => l.Op != '+'), newCount = hunk.Count(l => l.Op != '-');
            text.Append($"@@ -{oldStart},{oldCount} +{newStart},{newCount} @@\n");
            foreach (var l in hunk) text.Append(l.Op).Append(l.Text).Append('\n');
        }
        return text.ToString();
    }

    private int OldLineBefore(int index)
    {
        for (var i = index - 1; i >= 0; i--) if (Lines[i].OldLine is { } n) return n;
        return 0;
    }

    private int NewLineBefore(int index)
    {
        for (var i = index - 1; i >= 0; i--) if (Lines[i].NewLine is { } n) return n;
        return 0;
    }
}
