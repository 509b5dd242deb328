using System.Text.Json;
using System.Text.Json.Nodes;
using ManimCloud.Domain;
using Microsoft.AspNetCore.Http;

namespace ManimCloud.Web.Api;

/// <summary>Reads a small JSON request body: the right content type (415), a bounded size (413), an object (400).</summary>
public static class JsonBody
{
    public const int MaxBytes = 64 * 1024;

    public static async Task<JsonObject> ReadAsync(HttpRequest request, CancellationToken ct)
    {
        var type = request.ContentType ?? "";
        if (!type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) &&
            !type.StartsWith("application/merge-patch+json", StringComparison.OrdinalIgnoreCase))
            throw new WebInputException(Problem.UnsupportedMediaType($"The body is '{(type.Length == 0 ? "(no content type)" : type)}', not JSON.",
                "Send the body as JSON with `Content-Type: application/json`."));
        var bytes = await ReadLimitedAsync(request, MaxBytes, ct);
        try
        {
            return JsonNode.Parse(bytes) as JsonObject
                ?? throw new WebInputException(Problem.BadInput("The body is not a JSON object.", "Send a JSON object, e.g. {\"title\": \"Derivatives\"}."));
        }
        catch (JsonException e)
        {
            throw new WebInputException(Problem.BadInput($"The body is not valid JSON: {e.Message}", "Send a JSON object."));
        }
    }

    /// <summary>Reads the whole body, refusing (413) once it passes <paramref name="max"/> bytes, before anything is written.</summary>
    public static async Task<byte[]> ReadLimitedAsync(HttpRequest request, long max, CancellationToken ct)
    {
        if (request.ContentLength > max)
            throw new WebInputException(Problem.TooLarge($"The body is {request.ContentLength} bytes; the limit here is {max}.", "Send a smaller body."));
        var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        int n;
        while ((n = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + n > max)
                throw new WebInputException(Problem.TooLarge($"The body is over {max} bytes.", "Send a smaller body."));
            buffer.Write(chunk, 0, n);
        }
        return buffer.ToArray();
    }

    public static string? String(JsonObject body, string name)
    {
        if (!body.TryGetPropertyValue(name, out var node) || node is null) return null;
        return node is JsonValue v && v.TryGetValue<string>(out var s) ? s
            : throw new ManimCloudException(ErrorKind.InvalidInput, $"'{name}' must be a string.", $"Send \"{name}\" as a JSON string.");
    }

    public static IReadOnlyList<string>? Strings(JsonObject body, string name)
    {
        if (!body.TryGetPropertyValue(name, out var node) || node is null) return null;
        if (node is not JsonArray a || a.Any(x => x is not JsonValue xv || !xv.TryGetValue<string>(out _)))
            throw new ManimCloudException(ErrorKind.InvalidInput, $"'{name}' must be an array of strings.", $"Send \"{name}\": [\"a\", \"b\"].");
        return a.Select(x => x!.GetValue<string>()).ToList();
    }

    public static void EnsureOnly(JsonObject body, params string[] allowed)
    {
        foreach (var (k, _) in body)
            if (!allowed.Contains(k))
                throw new ManimCloudException(ErrorKind.InvalidInput, $"Unknown field '{k}'.", $"Fields accepted here: {string.Join(", ", allowed)}.");
    }
}

/// <summary>A request refused at the HTTP layer (content type, size, headers) with the problem to answer.</summary>
public sealed class WebInputException(Problem problem) : Exception(problem.Detail)
{
    public Problem Problem { get; } = problem;
}
