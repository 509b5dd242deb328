using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace ManimCloud.Web.Api;

/// <summary>A JSON document as the CLI prints it with --json (the same JsonNode builders, so the shapes cannot drift).</summary>
public sealed class JsonResult(JsonNode body, int status = 200) : IResult
{
    public IDictionary<string, string> Headers { get; } = new Dictionary<string, string>();

    public async Task ExecuteAsync(HttpContext http)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json; charset=utf-8";
        foreach (var (k, v) in Headers) http.Response.Headers[k] = v;
        await http.Response.WriteAsync(body.ToJsonString(Hosting.WebJson.Out), http.RequestAborted);
    }
}
