using ManimCloud.Domain;

namespace ManimCloud.Pipeline;

/// <summary>Which renderer turns scene code into clips: the real `manim`, or the ffmpeg stand-in.</summary>
public enum RendererKind { Auto, Manim, Test }

/// <summary>Manim's quality presets (its -ql … -qk flags) and the media folder each writes to.</summary>
public enum RenderQuality { Low, Medium, High, Production, FourK }

/// <summary>
/// The pipeline's settings (SPEC §3): the queue that spreads jobs over workers, the renderer, the code generator's
/// endpoint. Read with the rest of <see cref="Workspace.ManimCloudOptions"/>; the environment wins over config.json.
/// </summary>
public sealed record PipelineSettings
{
    /// <summary>MANIMCLOUD_QUEUE: the SQS queue URL (or name); when set (cloud mode), render and pipeline jobs go to workers.</summary>
    public string? Queue { get; init; }
    public RendererKind Renderer { get; init; } = RendererKind.Auto;
    /// <summary>MANIMCLOUD_MANIM: the manim command (a name on PATH or a path).</summary>
    public string ManimCommand { get; init; } = "manim";
    public RenderQuality Quality { get; init; } = RenderQuality.Low;
    /// <summary>MANIMCLOUD_LLM_ENDPOINT: an OpenAI-compatible base URL (…/v1); without it the template generator writes the code.</summary>
    public string? LlmEndpoint { get; init; }
    public string? LlmModel { get; init; }
    /// <summary>MANIMCLOUD_PUBLIC_URL: where `manimcloud serve` is reached; playback URLs point there in local mode.</summary>
    public string PublicUrl { get; init; } = "http://127.0.0.1:8080";

    public static PipelineSettings Load(Func<string, string, string?> pick) => new()
    {
        Queue = pick("MANIMCLOUD_QUEUE", "queue"),
        Renderer = pick("MANIMCLOUD_RENDERER", "renderer") switch
        {
            null or "auto" => RendererKind.Auto,
            "manim" => RendererKind.Manim,
            "test" => RendererKind.Test,
            var other => throw new ManimCloudException(ErrorKind.InvalidInput, $"MANIMCLOUD_RENDERER is '{other}'.",
                "Use manim (the real Manim command), test (the ffmpeg test renderer) or leave it unset (manim when it is installed, else test)."),
        },
        ManimCommand = pick("MANIMCLOUD_MANIM", "manim_command") ?? "manim",
        Quality = ParseQuality(pick("MANIMCLOUD_RENDER_QUALITY", "render_quality") ?? "low", "MANIMCLOUD_RENDER_QUALITY"),
        LlmEndpoint = pick("MANIMCLOUD_LLM_ENDPOINT", "llm_endpoint"),
        LlmModel = pick("MANIMCLOUD_LLM_MODEL", "llm_model"),
        PublicUrl = (pick("MANIMCLOUD_PUBLIC_URL", "public_url") ?? "http://127.0.0.1:8080").TrimEnd('/'),
    };

    public static RenderQuality ParseQuality(string value, string what) => value.ToLowerInvariant() switch
    {
        "low" or "l" => RenderQuality.Low,
        "medium" or "m" => RenderQuality.Medium,
        "high" or "h" => RenderQuality.High,
        "production" or "p" => RenderQuality.Production,
        "fourk" or "4k" or "k" => RenderQuality.FourK,
        _ => throw new ManimCloudException(ErrorKind.InvalidInput, $"{what} is '{value}'.", "Use low, medium, high, production or 4k (Manim's -ql … -qk)."),
    };

    public IReadOnlyList<string> Validate(bool cloudConfigured)
    {
        var problems = new List<string>();
        if (Queue is not null && !cloudConfigured)
            problems.Add("MANIMCLOUD_QUEUE is set but the cloud is not: workers share S3 and DynamoDB, so set MANIMCLOUD_VIDEO_BUCKET, MANIMCLOUD_CODE_BUCKET and MANIMCLOUD_TABLE too (or unset MANIMCLOUD_QUEUE to run jobs in-process).");
        if (Queue is not null && !Uri.TryCreate(Queue, UriKind.Absolute, out _) && !System.Text.RegularExpressions.Regex.IsMatch(Queue, "^[A-Za-z0-9_-]{1,80}$"))
            problems.Add($"MANIMCLOUD_QUEUE '{Queue}' is neither a queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME) nor a queue name (1–80 of A-Z a-z 0-9 - _); `manimcloud provision --queue` creates one and records its URL.");
        if (LlmEndpoint is not null && !Uri.TryCreate(LlmEndpoint, UriKind.Absolute, out _))
            problems.Add($"MANIMCLOUD_LLM_ENDPOINT '{LlmEndpoint}' is not an absolute URL (for example http://127.0.0.1:11434/v1).");
        if (LlmEndpoint is not null && LlmModel is null)
            problems.Add("MANIMCLOUD_LLM_ENDPOINT is set but MANIMCLOUD_LLM_MODEL is not: name the model the endpoint serves.");
        if (!Uri.TryCreate(PublicUrl, UriKind.Absolute, out _))
            problems.Add($"MANIMCLOUD_PUBLIC_URL '{PublicUrl}' is not an absolute URL.");
        return problems;
    }
}
