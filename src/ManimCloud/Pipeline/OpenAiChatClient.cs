using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;

namespace ManimCloud.Pipeline;

/// <summary>
/// An <see cref="IChatClient"/> for any OpenAI-compatible endpoint: POST {endpoint}/chat/completions, plain or streamed
/// (server-sent events, "data: {chunk}" lines, "data: [DONE]"). JSON through JsonNode, so it is Native AOT clean.
/// Failures are <see cref="HttpRequestException"/>s carrying the status code, which <see cref="ChatCodeGenerator.Classify"/>
/// sorts into auth, throttled and transient. The key travels only in the Authorization header.
/// </summary>
public sealed class OpenAiChatClient : IChatClient
{
    private readonly HttpClient _http;
    private readonly Uri _completions;
    private readonly string _model;
    private readonly string? _key;

    public OpenAiChatClient(Uri endpoint, string model, string? apiKey, HttpMessageHandler? handler = null)
    {
        _http = handler is null ? new HttpClient() : new HttpClient(handler);
        _http.Timeout = TimeSpan.FromMinutes(5);
        if (!string.IsNullOrEmpty(apiKey)) _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        _completions = new Uri(endpoint.ToString().TrimEnd('/') + "/chat/completions");
        _model = model;
        _key = string.IsNullOrEmpty(apiKey) ? null : apiKey;
    }

    private HttpRequestMessage Request(IEnumerable<ChatMessage> messages, ChatOptions? options, bool stream)
    {
        var body = new JsonObject
        {
            ["model"] = options?.ModelId ?? _model,
            ["messages"] = new JsonArray(messages.Select(m => (JsonNode)new JsonObject { ["role"] = m.Role.Value, ["content"] = m.Text }).ToArray()),
            ["stream"] = stream,
        };
        if (options?.Temperature is { } t) body["temperature"] = t;
        if (options?.MaxOutputTokens is { } n) body["max_tokens"] = n;
        return new HttpRequestMessage(HttpMethod.Post, _completions) { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };
    }

    private async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken ct)
    {
        if (response.IsSuccessStatusCode) return;
        var text = await response.Content.ReadAsStringAsync(ct);
        string? message = null;
        try { message = (string?)JsonNode.Parse(text)?["error"]?["message"]; } catch (System.Text.Json.JsonException) { }
        message ??= text.Length > 300 ? text[..300] : text;
        // Some servers echo the key they refused: it never reaches a message.
        if (_key is not null) message = message.Replace(_key, "***");
        throw new HttpRequestException($"{(int)response.StatusCode} {response.ReasonPhrase}: {message}".Trim(), null, response.StatusCode);
    }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        using var response = await _http.SendAsync(Request(messages, options, stream: false), cancellationToken);
        await EnsureSuccessAsync(response, cancellationToken);
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken))
            ?? throw new HttpRequestException("The endpoint answered with an empty body.", null, HttpStatusCode.BadGateway);
        var text = (string?)json["choices"]?[0]?["message"]?["content"]
            ?? throw new HttpRequestException("The endpoint's answer has no choices[0].message.content.", null, HttpStatusCode.BadGateway);
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, text)) { ModelId = (string?)json["model"] };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var request = Request(messages, options, stream: true);
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        await EnsureSuccessAsync(response, cancellationToken);
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var finished = false;
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (!line.StartsWith("data:", StringComparison.Ordinal)) continue;
            var data = line[5..].Trim();
            if (data == "[DONE]") { finished = true; break; }
            var chunk = JsonNode.Parse(data);
            if (chunk?["error"] is { } error)
                throw new HttpRequestException($"The endpoint failed mid-stream: {(string?)error["message"] ?? error.ToJsonString()}", null, HttpStatusCode.BadGateway);
            var piece = (string?)chunk?["choices"]?[0]?["delta"]?["content"];
            if (piece is { Length: > 0 }) yield return new ChatResponseUpdate(ChatRole.Assistant, piece);
            if ((string?)chunk?["choices"]?[0]?["finish_reason"] is { Length: > 0 }) finished = true;
        }
        if (!finished)
            throw new HttpRequestException("The endpoint closed the stream before the completion finished.", null, HttpStatusCode.BadGateway);
    }

    public object? GetService(Type serviceType, object? serviceKey = null) => serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose() => _http.Dispose();
}
