using System.Text;

namespace SyncBench;

/// <summary>Deterministic Manim-like Python files, 1–20 KB of valid UTF-8 each.</summary>
public static class Corpus
{
    private static readonly string[] Mobjects = ["Circle", "Square", "Triangle", "Arrow", "Line", "Dot", "MathTex", "Text", "Axes", "NumberPlane"];
    private static readonly string[] Animations = ["Create", "Write", "FadeIn", "FadeOut", "Transform", "GrowFromCenter", "Indicate", "Rotate"];
    private static readonly string[] Comments = ["# derivative as the slope of the tangent", "# intégrale — aire sous la courbe", "# π ≈ 3.14159, ∑ 1/n² = π²/6",
        "# Ableitung: Änderungsrate", "# 微分 and 積分", "# keep the camera still here", "# ε-δ definition, informally"];

    public static byte[] File(int seed, int index)
    {
        var rng = new Random(unchecked(seed * 1_000_003 + index));
        var target = rng.Next(1024, 20 * 1024 + 1);
        var sb = new StringBuilder(target + 256);
        sb.Append("from manim import *\nimport numpy as np\n\n\n");
        sb.Append($"class Scene{index:0000}(Scene):\n    \"\"\"Generated scene {index} (seed {seed}).\"\"\"\n\n    def construct(self):\n");
        var n = 0;
        var bytes0 = Encoding.UTF8.GetByteCount(sb.ToString());
        while (bytes0 < target - 80)
        {
            var before = sb.Length;
            var m = Mobjects[rng.Next(Mobjects.Length)];
            var a = Animations[rng.Next(Animations.Length)];
            switch (rng.Next(4))
            {
                case 0: sb.Append($"        {Comments[rng.Next(Comments.Length)]}\n"); break;
                case 1: sb.Append($"        m{n} = {m}().scale({rng.NextDouble() * 2 + 0.2:0.###}).shift({rng.Next(-4, 5)} * RIGHT + {rng.Next(-3, 4)} * UP)\n"); break;
                case 2: sb.Append($"        self.play({a}(m{Math.Max(0, n - 1)}), run_time={rng.NextDouble() * 3 + 0.2:0.##})\n"); break;
                default: sb.Append($"        self.wait({rng.NextDouble():0.##})\n"); break;
            }
            n++;
            bytes0 += Encoding.UTF8.GetByteCount(sb.ToString(before, sb.Length - before));
        }
        sb.Append("        self.wait(1)\n");
        var bytes = Encoding.UTF8.GetBytes(sb.ToString());
        if (bytes.Length > 20 * 1024) throw new InvalidOperationException("corpus file too large");
        return bytes;
    }
}
