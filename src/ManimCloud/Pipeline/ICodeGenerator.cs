namespace ManimCloud.Pipeline;

/// <summary>What a code generator is asked: a request, and when editing, the current code it changes.</summary>
public sealed record CodeRequest(string Prompt, string Title, string? CurrentCode = null, int? CurrentVersion = null)
{
    public bool IsEdit => CurrentCode is not null;
}

/// <summary>A generator's answer: the whole module, who wrote it (recorded as the version's author) and what it changed.</summary>
public sealed record GeneratedCode(string Code, string Author, string Summary);

/// <summary>
/// Writes Manim code from a request: a new module, or the next version of an existing one. Implementations: the
/// deterministic <see cref="TemplateCodeGenerator"/> (no network; the embedded default) and
/// <see cref="ChatCodeGenerator"/> over any OpenAI-compatible endpoint. Validation and storage are the step's job
/// (<see cref="CodeGenerationStep"/>), not the generator's.
/// </summary>
public interface ICodeGenerator
{
    /// <summary>Names the generator in step output, e.g. "template" or "llm:gpt-4o-mini".</summary>
    string Name { get; }

    /// <param name="progress">Receives text as it arrives (a streamed completion), for people watching.</param>
    Task<GeneratedCode> GenerateAsync(CodeRequest request, IProgress<string>? progress, CancellationToken ct);
}
