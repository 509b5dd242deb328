using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Domain;

namespace ManimCloud.Pipeline;

/// <summary>One step of a run as the commands print it: what it did, how long it took, the details for --json.</summary>
public sealed record PipelineStep(string Name, string Summary, double Seconds, JsonObject Details);

/// <summary>What a pipeline command did, step by step, and where the result plays.</summary>
public sealed class PipelineReport
{
    public required VideoId Video { get; init; }
    public List<PipelineStep> Steps { get; } = [];
    public int Version { get; set; }
    public string? Run { get; set; }
    public string? Url { get; set; }
    public string Mode { get; set; } = "in-process";
    public bool Finished { get; set; }

    public PipelineStep Add(string name, string summary, double seconds, JsonObject? details = null)
    {
        var step = new PipelineStep(name, summary, Math.Round(seconds, 3), details ?? new JsonObject());
        Steps.Add(step);
        return step;
    }

    public JsonObject ToJson() => new()
    {
        ["video_id"] = Video.ToString(),
        ["version"] = Version,
        ["run"] = Run,
        ["mode"] = Mode,
        ["finished"] = Finished,
        ["steps"] = new JsonArray(Steps.Select(s => (JsonNode)new JsonObject
        {
            ["step"] = s.Name, ["summary"] = s.Summary, ["seconds"] = s.Seconds, ["details"] = s.Details.DeepClone(),
        }).ToArray()),
        ["url"] = Url,
    };

    public string ToText()
    {
        var sb = new StringBuilder();
        var width = Steps.Count == 0 ? 0 : Steps.Max(s => s.Name.Length);
        foreach (var s in Steps) sb.Append(s.Name.PadRight(width)).Append("  ").Append($"{s.Seconds,7:0.00} s  ").AppendLine(s.Summary);
        sb.Append($"video {Video} v{Version}");
        if (Url is not null) sb.Append("\nplay: ").Append(Url);
        return sb.ToString();
    }
}
