using System.Text.RegularExpressions;

namespace ManimCloud.Pipeline;

/// <summary>One scene class of a Manim module: its name, its number in the video (1-based, in file order) and its source.</summary>
public sealed record SceneSource(int Number, string Name, string Source, int StartLine, int EndLine);

/// <summary>
/// The scenes of a Manim module, found the way Manim finds them: top-level classes deriving (directly or through
/// another class of the file) from one of Manim's scene classes. A class that other scenes of the file derive from
/// is a base, not a scene of its own. Everything outside the scenes' bodies (imports, helpers, bases, constants) is
/// the module's shared source: a change there can change every scene.
/// </summary>
public sealed partial class ManimScenes
{
    public IReadOnlyList<SceneSource> Scenes { get; }
    public string SharedSource { get; }

    private ManimScenes(IReadOnlyList<SceneSource> scenes, string shared)
    {
        Scenes = scenes;
        SharedSource = shared;
    }

    /// <summary>Manim's own scene classes; anything deriving from them is a scene.</summary>
    private static readonly HashSet<string> ManimSceneClasses =
    [
        "Scene", "MovingCameraScene", "ThreeDScene", "ZoomedScene", "VectorScene", "LinearTransformationScene",
        "SpecialThreeDScene", "InteractiveScene",
    ];

    [GeneratedRegex(@"^class\s+([A-Za-z_][A-Za-z0-9_]*)\s*(?:\(([^)]*)\))?\s*:", RegexOptions.CultureInvariant)]
    private static partial Regex ClassLine();

    public static ManimScenes Parse(string code)
    {
        var lines = code.Replace("\r\n", "\n").Split('\n');
        var classes = new List<(string Name, string[] Bases, int Start, int End)>();
        for (var i = 0; i < lines.Length; i++)
        {
            var m = ClassLine().Match(lines[i]);
            if (!m.Success) continue;
            var end = i + 1;
            // The body runs until the next line that starts at column 0 and is code (not blank, not a comment).
            while (end < lines.Length && (lines[end].Length == 0 || char.IsWhiteSpace(lines[end][0]) || lines[end].StartsWith('#'))) end++;
            // Trailing blank lines and comments belong to what follows.
            var last = end;
            while (last > i + 1 && (lines[last - 1].Trim().Length == 0 || lines[last - 1].StartsWith('#'))) last--;
            var baseNames = m.Groups[2].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(b => b.Contains('.') ? b[(b.LastIndexOf('.') + 1)..] : b).ToArray();
            classes.Add((m.Groups[1].Value, baseNames, i, last));
        }

        var sceneClasses = new HashSet<string>();
        for (var changed = true; changed;)
        {
            changed = false;
            foreach (var c in classes)
                if (!sceneClasses.Contains(c.Name) && c.Bases.Any(b => ManimSceneClasses.Contains(b) || sceneClasses.Contains(b)))
                    changed = sceneClasses.Add(c.Name);
        }
        var bases = classes.SelectMany(c => c.Bases).ToHashSet();
        var scenes = new List<SceneSource>();
        var inScene = new bool[lines.Length];
        foreach (var c in classes.Where(c => sceneClasses.Contains(c.Name) && !bases.Contains(c.Name)))
        {
            scenes.Add(new SceneSource(scenes.Count + 1, c.Name, string.Join('\n', lines[c.Start..c.End]), c.Start + 1, c.End));
            for (var i = c.Start; i < c.End; i++) inScene[i] = true;
        }
        var shared = string.Join('\n', lines.Where((_, i) => !inScene[i]).Where(l => l.Trim().Length > 0));
        return new ManimScenes(scenes, shared);
    }

    public SceneSource? Find(string name) => Scenes.FirstOrDefault(s => s.Name == name);
}
