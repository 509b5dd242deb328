using System.Diagnostics;
using System.Text;
using ManimCloud.Domain;

namespace ManimCloud.Pipeline;

/// <summary>What the code step did: the version stored, by whom, from what, and how it was checked.</summary>
public sealed record CodeStepResult(CodeVersion Stored, ValidatedCode Code, string Generator, string Summary, bool Synced, string? Note, double Seconds);

/// <summary>
/// The code-generator step (SPEC R4): when editing, fetch the video's current code — from the cloud when it answers,
/// else the workspace copy, and say so — ask the generator for the new code, validate it (UTF-8, Python syntax, at least
/// one Scene subclass) and store it as the next version with the author and the prompt recorded beside it.
/// Nothing is stored when generation or validation fails.
/// </summary>
public sealed class CodeGenerationStep(ManimCloudClient client, ICodeGenerator generator)
{
    public const int MaxPromptLength = 10_000;

    public async Task<CodeStepResult> RunAsync(VideoId video, string prompt, IProgress<string>? progress, CancellationToken ct) =>
        await StoreAsync(video, await GenerateAsync(video, null, prompt, progress, ct), ct);

    /// <summary>
    /// Code generated and validated, not yet stored: what a run is priced from before anything is written (SPEC R9).
    /// <paramref name="video"/> null: a new video titled <paramref name="title"/>, with no code before.
    /// </summary>
    public sealed record Generated(byte[] Bytes, ValidatedCode Code, string Author, string Prompt, string Generator, string Summary, string? Note, Stopwatch Started);

    public async Task<Generated> GenerateAsync(VideoId? video, string? title, string prompt, IProgress<string>? progress, CancellationToken ct)
    {
        EnsurePrompt(prompt);
        var started = Stopwatch.StartNew();
        string? current = null;
        string? note = null;
        int? currentVersion = null;
        if (video is { } id)
        {
            var record = await client.GetVideoAsync(id, ct);
            title = record.Title;
            if (record.CurrentVersion > 0)
            {
                var (version, content) = await client.GetCodeAsync(id, null, ct);
                current = Encoding.UTF8.GetString(content);
                currentVersion = record.CurrentVersion;
                // The client answers from the workspace when the cloud is away (or this video's changes still wait for it).
                if (client.Cloud is not null && (client.Health.IsDown(out _) || client.Outbox.HasQueuedFor(id, "")))
                    note = $"the cloud could not be read, so v{version.Version} came from the workspace copy (it may miss versions other machines stored)";
            }
        }
        var request = new CodeRequest(prompt, title ?? "", current, currentVersion);
        var generated = await generator.GenerateAsync(request, progress, ct);
        var bytes = Encoding.UTF8.GetBytes(generated.Code);
        var validated = await CodeValidation.ValidateAsync(bytes, $"The code {generator.Name} wrote", ct);
        return new Generated(bytes, validated, generated.Author, prompt, generator.Name, generated.Summary, note, started);
    }

    /// <summary>Stores generated code as the video's next version.</summary>
    public Task<CodeStepResult> StoreAsync(VideoId video, Generated g, CancellationToken ct) =>
        StoreAsync(video, g.Bytes, g.Code, g.Author, g.Prompt, g.Generator, g.Summary, g.Note, g.Started, ct);

    /// <summary>Stores code a person wrote (`pipeline run --code FILE`), validated the same way.</summary>
    public static async Task<CodeStepResult> StoreGivenAsync(ManimCloudClient client, VideoId video, byte[] code, string? author, CancellationToken ct)
    {
        var started = Stopwatch.StartNew();
        var validated = await CodeValidation.ValidateAsync(code, "The code file", ct);
        return await new CodeGenerationStep(client, new TemplateCodeGenerator())
            .StoreAsync(video, code, validated, author ?? Environment.UserName, null, "file", $"{validated.Scenes.Scenes.Count} scene(s) from the file", null, started, ct);
    }

    private async Task<CodeStepResult> StoreAsync(VideoId video, byte[] bytes, ValidatedCode validated, string author, string? prompt, string generatorName,
        string summary, string? note, Stopwatch started, CancellationToken ct)
    {
        var written = await client.PutCodeAsync(video, bytes, author, null, ct, prompt);
        var current = await client.GetVideoAsync(video, ct);
        if (current.Status != VideoStatus.CodeReady)
        {
            if (!VideoStatuses.CanMove(current.Status, VideoStatus.CodeReady))
                await client.UpdateVideoAsync(video, null, null, null, VideoStatus.Error, null, ct);
            await client.UpdateVideoAsync(video, null, null, null, VideoStatus.CodeReady, null, ct);
        }
        if (!validated.SyntaxChecked) note = string.Join("; ", new[] { note, "python3 is not installed, so the syntax was not checked" }.Where(n => n is not null));
        return new CodeStepResult(written.Value, validated, generatorName, summary, written.Synced, note, Math.Round(started.Elapsed.TotalSeconds, 3));
    }

    public static void EnsurePrompt(string prompt)
    {
        if (string.IsNullOrWhiteSpace(prompt))
            throw new ManimCloudException(ErrorKind.InvalidInput, "The prompt is empty.", "Say what the video (or the change) should show with --prompt TEXT.");
        if (prompt.Length > MaxPromptLength)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"The prompt is {prompt.Length} characters long.", $"Keep prompts to {MaxPromptLength} characters.");
    }
}
