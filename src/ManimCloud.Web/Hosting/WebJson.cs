using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace ManimCloud.Web.Hosting;

/// <summary>The types the OpenAPI document describes, source-generated (Native AOT has no reflection serializer).</summary>
[JsonSerializable(typeof(JsonObject))]
[JsonSerializable(typeof(JsonNode))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(Microsoft.AspNetCore.Mvc.ProblemDetails))]
[JsonSerializable(typeof(Microsoft.AspNetCore.Http.HttpValidationProblemDetails))]
internal sealed partial class WebJson : JsonSerializerContext
{
    /// <summary>How responses are written: as the CLI writes --json (no escaping of +, ` or non-ASCII letters).</summary>
    public static readonly JsonSerializerOptions Out = new() { WriteIndented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
