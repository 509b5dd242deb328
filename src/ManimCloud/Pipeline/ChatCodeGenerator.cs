using System.Text;
using System.Text.RegularExpressions;
using ManimCloud.Domain;
using ManimCloud.Resilience;
using Microsoft.Extensions.AI;

namespace ManimCloud.Pipeline;

/// <summary>
/// Writes Manim code with a language model behind any OpenAI-compatible chat endpoint (OpenAI, Azure OpenAI's
/// compatible surface, vLLM, Ollama, llama.cpp's server …) through Microsoft.Extensions.AI's <see cref="IChatClient"/>.
/// The completion is streamed (text reaches the progress sink as it arrives) unless <see cref="Stream"/> is off.
/// Failures are classified (401/403 auth, 429 throttled, 5xx and connection failures transient) and retried by the
/// one <see cref="RetryPipeline"/>. The API key is handed to the client and appears in no message.
/// </summary>
public sealed partial class ChatCodeGenerator(IChatClient chat, string model, RetryPipeline? retry = null) : ICodeGenerator
{
    public string Name => $"llm:{model}";
    public bool Stream { get; init; } = true;
    private readonly RetryPipeline _retry = retry ?? new RetryPipeline(Classify, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(500));

    /// <summary>An <see cref="IChatClient"/> for an OpenAI-compatible endpoint (…/v1), with the key from OPENAI_API_KEY.</summary>
    public static ChatCodeGenerator ForEndpoint(string endpoint, string model, string? apiKey) =>
        new(new OpenAiChatClient(new Uri(endpoint), model, apiKey), model);

    private const string SystemPrompt = """
        You write Python modules for Manim Community Edition (`from manim import *`). Each scene of the video is one
        top-level class deriving from Scene with a construct(self) method; scenes play in the order they appear.
        Use Text rather than Tex/MathTex (no LaTeX is installed). Answer with the complete module in one ```python
        fenced block and nothing else.
        """;

    public async Task<GeneratedCode> GenerateAsync(CodeRequest request, IProgress<string>? progress, CancellationToken ct)
    {
        var user = request.IsEdit
            ? $"""
              Here is version {request.CurrentVersion} of the module for the video "{request.Title}":

              ```python
              {request.CurrentCode}
              ```

              Change it as follows, and change nothing else: keep every scene the request does not concern byte for byte
              as it is, in the same order.

              {request.Prompt}
              """
            : $"""
              Write the module for a video titled "{request.Title}":

              {request.Prompt}
              """;
        List<ChatMessage> messages = [new(ChatRole.System, SystemPrompt), new(ChatRole.User, user)];
        var options = new ChatOptions { ModelId = model, Temperature = 0.2f };
        string text;
        try
        {
            text = await _retry.ExecuteAsync(async t =>
            {
                if (!Stream) return (await chat.GetResponseAsync(messages, options, t)).Text;
                var sb = new StringBuilder();
                await foreach (var update in chat.GetStreamingResponseAsync(messages, options, t))
                {
                    if (update.Text is not { Length: > 0 } piece) continue;
                    sb.Append(piece);
                    progress?.Report(piece);
                }
                return sb.ToString();
            }, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            throw Describe(e);
        }
        var code = ExtractCode(text);
        if (code.Length == 0)
            throw new ManimCloudException(ErrorKind.Fatal, $"The model {model} answered without any code.",
                "Try again, rephrase the prompt, or use another model (MANIMCLOUD_LLM_MODEL).");
        return new GeneratedCode(code, Name, request.IsEdit ? $"v{request.CurrentVersion} edited by {model}" : $"a new module written by {model}");
    }

    [GeneratedRegex(@"```(?:python|py)?[ \t]*\n(.*?)```", RegexOptions.Singleline | RegexOptions.CultureInvariant)]
    private static partial Regex Fenced();

    /// <summary>The code of the answer: its (longest) fenced block, else the whole answer.</summary>
    public static string ExtractCode(string answer)
    {
        var blocks = Fenced().Matches(answer).Select(m => m.Groups[1].Value).ToList();
        var code = blocks.Count > 0 ? blocks.MaxBy(b => b.Length)! : answer;
        return code.Trim('\n', '\r') is { Length: > 0 } c ? c + "\n" : "";
    }

    public static ErrorKind Classify(Exception e) => e switch
    {
        HttpRequestException { StatusCode: System.Net.HttpStatusCode.Unauthorized or System.Net.HttpStatusCode.Forbidden } => ErrorKind.Auth,
        HttpRequestException { StatusCode: System.Net.HttpStatusCode.TooManyRequests } => ErrorKind.Throttled,
        HttpRequestException { StatusCode: System.Net.HttpStatusCode.NotFound } => ErrorKind.NotFound,
        HttpRequestException { StatusCode: null or System.Net.HttpStatusCode.RequestTimeout } => ErrorKind.Transient,
        HttpRequestException { StatusCode: { } code } => (int)code >= 500 ? ErrorKind.Transient : ErrorKind.ClientError,
        IOException or TimeoutException or System.Text.Json.JsonException => ErrorKind.Transient,
        TaskCanceledException => ErrorKind.Transient,
        RetryPipeline.BudgetExhaustedException b => Classify(b.InnerException!),
        ManimCloudException m => m.Kind,
        _ => ErrorKind.Fatal,
    };

    private ManimCloudException Describe(Exception e)
    {
        var kind = Classify(e);
        var cause = e is RetryPipeline.BudgetExhaustedException b ? b.InnerException! : e;
        var status = cause is HttpRequestException { StatusCode: { } code } ? $" (HTTP {(int)code})" : "";
        var hint = kind switch
        {
            ErrorKind.Auth => "Check OPENAI_API_KEY for this endpoint (the key is never printed).",
            ErrorKind.Throttled => "The endpoint is rate-limiting: wait and run the command again, or use a less busy model.",
            ErrorKind.NotFound => "Check MANIMCLOUD_LLM_ENDPOINT (it ends in /v1 for most servers) and MANIMCLOUD_LLM_MODEL.",
            ErrorKind.Transient => "The endpoint did not answer: check MANIMCLOUD_LLM_ENDPOINT and that the server is up, then run the command again.",
            _ => "Check MANIMCLOUD_LLM_ENDPOINT and MANIMCLOUD_LLM_MODEL; unset MANIMCLOUD_LLM_ENDPOINT to use the template generator.",
        };
        return new ManimCloudException(kind, $"The code generator ({model}) failed{status}: {FirstLine(cause.Message)}", hint, e);
    }

    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();
}
