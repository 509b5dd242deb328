using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Pipeline;

/// <summary>
/// An OpenAI-compatible chat endpoint on loopback (POST /v1/chat/completions): answers the queued replies in order —
/// a canned completion, the same streamed as server-sent events, or a failure status — and records what it was sent.
/// </summary>
public sealed class LoopbackChatServer : IDisposable
{
    public abstract record Reply;
    public sealed record Completion(string Text) : Reply;
    public sealed record Streamed(IReadOnlyList<string> Pieces, bool CutOff = false) : Reply;
    public sealed record Failure(int Status, string Message) : Reply;

    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<Reply> _replies = new();
    public ConcurrentQueue<(string? Authorization, JsonNode Body)> Requests { get; } = new();
    public string Endpoint { get; }

    public LoopbackChatServer()
    {
        var port = MotoServer.FreePort();
        Endpoint = $"http://127.0.0.1:{port}/v1";
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        _listener.Start();
        _ = Task.Run(LoopAsync);
    }

    public void Enqueue(params Reply[] replies)
    {
        foreach (var r in replies) _replies.Enqueue(r);
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception) { return; }
            _ = Task.Run(() => AnswerAsync(context));
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
        var body = JsonNode.Parse(await reader.ReadToEndAsync())!;
        Requests.Enqueue((context.Request.Headers["Authorization"], body));
        var response = context.Response;
        if (context.Request.Url!.AbsolutePath != "/v1/chat/completions" || !_replies.TryDequeue(out var reply))
            reply = new Failure(404, "no such route or no reply queued");
        // A canned completion asked for as a stream comes as one (as a real server would send it).
        if (reply is Completion asked && (bool?)body["stream"] == true) reply = new Streamed([asked.Text]);
        switch (reply)
        {
            case Completion c:
                await WriteAsync(response, 200, "application/json", new JsonObject
                {
                    ["id"] = "chatcmpl-1", ["object"] = "chat.completion", ["model"] = (string?)body["model"],
                    ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = c.Text }, ["finish_reason"] = "stop" }),
                }.ToJsonString());
                break;
            case Streamed s:
                response.StatusCode = 200;
                response.ContentType = "text/event-stream";
                response.SendChunked = true;
                foreach (var piece in s.Pieces)
                {
                    var chunk = new JsonObject
                    {
                        ["id"] = "chatcmpl-1", ["object"] = "chat.completion.chunk",
                        ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = new JsonObject { ["content"] = piece } }),
                    };
                    var bytes = Encoding.UTF8.GetBytes($"data: {chunk.ToJsonString()}\n\n");
                    await response.OutputStream.WriteAsync(bytes);
                    await response.OutputStream.FlushAsync();
                }
                if (!s.CutOff)
                {
                    var end = new JsonObject { ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = new JsonObject(), ["finish_reason"] = "stop" }) };
                    await response.OutputStream.WriteAsync(Encoding.UTF8.GetBytes($"data: {end.ToJsonString()}\n\ndata: [DONE]\n\n"));
                }
                response.Close();
                break;
            case Failure f:
                await WriteAsync(response, f.Status, "application/json", new JsonObject { ["error"] = new JsonObject { ["message"] = f.Message, ["type"] = "test" } }.ToJsonString());
                break;
        }
    }

    private static async Task WriteAsync(HttpListenerResponse response, int status, string type, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        response.StatusCode = status;
        response.ContentType = type;
        response.ContentLength64 = bytes.Length;
        await response.OutputStream.WriteAsync(bytes);
        response.Close();
    }

    public void Dispose()
    {
        try { _listener.Stop(); _listener.Close(); } catch (ObjectDisposedException) { }
    }
}
