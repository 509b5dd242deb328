using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using ManimCloud.Domain;

namespace ManimCloud.Pipeline;

/// <summary>
/// A deterministic code generator that needs no network: the embedded default, and what the demo and the benchmarks
/// use. A new module gets one scene per part of a fixed outline (as many as the prompt asks for: "in six scenes",
/// default three). An edit changes exactly one scene — the one the prompt names ("scene 2", or a scene's class name),
/// else the last — by adding a captioned beat at the end of its construct(); every other line stays byte-identical,
/// so an incremental render re-renders that one scene.
/// </summary>
public sealed partial class TemplateCodeGenerator : ICodeGenerator
{
    public string Name => "template";

    private static readonly string[] Outline = ["Intro", "Shapes", "Formula", "Graph", "Motion", "Summary"];
    private static readonly string[] Colors = ["BLUE", "GREEN", "YELLOW", "RED", "PURPLE", "TEAL", "ORANGE", "PINK"];
    public const int DefaultScenes = 3;

    public Task<GeneratedCode> GenerateAsync(CodeRequest request, IProgress<string>? progress, CancellationToken ct)
    {
        var result = request.IsEdit ? Edit(request) : Create(request);
        progress?.Report(result.Summary);
        return Task.FromResult(result);
    }

    private static GeneratedCode Create(CodeRequest request)
    {
        var count = SceneCount(request.Prompt);
        var sb = new StringBuilder();
        sb.Append("\"\"\"").Append(PythonText(request.Title)).Append(": written by ManimCloud's template generator.\n\nRequest: ")
            .Append(PythonText(request.Prompt)).Append("\n\"\"\"\n\nfrom manim import *\n");
        for (var i = 0; i < count; i++) sb.Append("\n\n").Append(SceneClass(i, request));
        return new GeneratedCode(sb.ToString(), "template", $"a new module of {count} scene(s): {string.Join(", ", Enumerable.Range(0, count).Select(SceneName))}");
    }

    public static string SceneName(int index) => index < Outline.Length ? Outline[index] : $"{Outline[index % Outline.Length]}{index / Outline.Length + 1}";

    private static string SceneClass(int index, CodeRequest request)
    {
        var color = Colors[index % Colors.Length];
        var title = PythonString(index == 0 ? request.Title : $"{request.Title}: part {index + 1}");
        var body = (index % Outline.Length) switch
        {
            0 => $"""
                        title = Text({title}, font_size=44, color={color})
                        self.play(Write(title))
                        self.wait(1)
                        self.play(FadeOut(title))
                """,
            1 => $"""
                        circle = Circle(color={color}).shift(LEFT * 2)
                        square = Square(color=WHITE).shift(RIGHT * 2)
                        self.play(Create(circle), Create(square))
                        self.play(Transform(circle, square.copy().shift(LEFT * 4)))
                        self.wait(1)
                """,
            2 => $"""
                        formula = Text("a² + b² = c²", font_size=56, color={color})
                        self.play(Write(formula))
                        self.play(formula.animate.scale(1.3))
                        self.wait(1)
                """,
            3 => $"""
                        axes = Axes(x_range=[-3, 3], y_range=[-1, 9])
                        graph = axes.plot(lambda x: x ** 2, color={color})
                        self.play(Create(axes), Create(graph))
                        self.wait(1)
                """,
            4 => $"""
                        dot = Dot(LEFT * 3, color={color})
                        self.play(dot.animate.shift(RIGHT * 6), run_time=2)
                        self.wait(1)
                """,
            _ => $"""
                        summary = Text({PythonString("In short: " + request.Title)}, font_size=36, color={color})
                        self.play(FadeIn(summary))
                        self.wait(1)
                """,
        };
        return $"class {SceneName(index)}(Scene):\n    def construct(self):\n{body.TrimEnd()}\n";
    }

    private static GeneratedCode Edit(CodeRequest request)
    {
        var code = request.CurrentCode!;
        var scenes = ManimScenes.Parse(code);
        if (scenes.Scenes.Count == 0)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"The current code (v{request.CurrentVersion}) has no Scene subclass to edit.",
                "Store code with at least one Scene subclass first (`code put`).");
        var target = TargetScene(request.Prompt, scenes);
        var lines = code.Replace("\r\n", "\n").Split('\n').ToList();
        var construct = Enumerable.Range(target.StartLine - 1, target.EndLine - target.StartLine + 1)
            .FirstOrDefault(i => lines[i].TrimStart().StartsWith("def construct(", StringComparison.Ordinal), -1);
        // The new lines go after the scene's last line, indented like construct()'s body.
        var indent = construct >= 0 && construct + 1 < lines.Count
            ? new string(' ', lines[construct + 1].Length - lines[construct + 1].TrimStart().Length)
            : "        ";
        if (indent.Length == 0) indent = "        ";
        var revision = (request.CurrentVersion ?? 0) + 1;
        var added = new[]
        {
            $"{indent}note_v{revision} = Text({PythonString(Caption(request.Prompt))}, font_size=28).to_edge(DOWN)",
            $"{indent}self.play(Write(note_v{revision}))",
            $"{indent}self.wait(1)",
        };
        lines.InsertRange(target.EndLine, added);
        return new GeneratedCode(string.Join('\n', lines), "template",
            $"scene {target.Number} ({target.Name}) changed: a captioned beat added at its end; the other {scenes.Scenes.Count - 1} scene(s) unchanged");
    }

    [GeneratedRegex(@"\bscene\s*#?\s*(\d{1,3})\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SceneNumber();

    [GeneratedRegex(@"\b(\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|twelve)\s+scenes?\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SceneCountWords();

    private static SceneSource TargetScene(string prompt, ManimScenes scenes)
    {
        if (SceneNumber().Match(prompt) is { Success: true } m)
        {
            var n = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            return scenes.Scenes.FirstOrDefault(s => s.Number == n)
                ?? throw new ManimCloudException(ErrorKind.InvalidInput, $"The prompt names scene {n}, but the code has {scenes.Scenes.Count} scene(s).",
                    $"Name a scene from 1 to {scenes.Scenes.Count}, or one of: {string.Join(", ", scenes.Scenes.Select(s => s.Name))}.");
        }
        return scenes.Scenes.FirstOrDefault(s => Regex.IsMatch(prompt, $@"\b{Regex.Escape(s.Name)}\b", RegexOptions.IgnoreCase)) ?? scenes.Scenes[^1];
    }

    public static int SceneCount(string prompt)
    {
        if (SceneCountWords().Match(prompt) is not { Success: true } m) return DefaultScenes;
        var word = m.Groups[1].Value.ToLowerInvariant();
        var n = word switch
        {
            "one" => 1, "two" => 2, "three" => 3, "four" => 4, "five" => 5, "six" => 6, "seven" => 7, "eight" => 8,
            "nine" => 9, "ten" => 10, "twelve" => 12, _ => int.Parse(word, CultureInfo.InvariantCulture),
        };
        return Math.Clamp(n, 1, 60);
    }

    private static string Caption(string prompt)
    {
        var oneLine = string.Join(' ', prompt.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        return oneLine.Length <= 80 ? oneLine : oneLine[..77] + "...";
    }

    /// <summary>A Python string literal for any text (escapes quotes, backslashes and control characters).</summary>
    public static string PythonString(string text) => "\"" + PythonText(text) + "\"";

    private static string PythonText(string text)
    {
        var sb = new StringBuilder(text.Length + 8);
        foreach (var ch in text)
            sb.Append(ch switch
            {
                '\\' => "\\\\",
                '"' => "\\\"",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ when char.IsControl(ch) => $"\\x{(int)ch:x2}",
                _ => ch.ToString(),
            });
        return sb.ToString();
    }
}
