using System.Text.Json.Nodes;
using ManimCloud.Domain;
using Microsoft.AspNetCore.Http;

namespace ManimCloud.Web.Api;

/// <summary>
/// RFC 9457 problem details, with the same message (<c>detail</c>) and fix (<c>fix</c>) the CLI prints for the same
/// failure, and its error class (<c>kind</c>), so an agent can branch on it as a script branches on the exit code.
/// </summary>
public sealed class Problem(int status, string kind, string title, string detail, string fix) : IResult
{
    public int Status => status;
    public string Detail => detail;
    public string Fix => fix;
    public IDictionary<string, string> Headers { get; } = new Dictionary<string, string>();

    public static Problem From(ManimCloudException e, bool conditional = false) =>
        new(StatusOf(e, conditional), KindName(e.Kind), TitleOf(e.Kind), e.Message, e.Hint);

    public static Problem Unauthorized(string detail) =>
        new(401, "auth", "Not authenticated", detail,
            "Send `Authorization: Bearer TOKEN` with a token from `manimcloud token create --role viewer|editor|admin`.")
        { Headers = { ["WWW-Authenticate"] = "Bearer realm=\"manimcloud\"" } };

    public static Problem Forbidden(string detail, string fix) => new(403, "auth", "Not allowed", detail, fix);

    public static Problem BadInput(string detail, string fix) => new(400, "invalid_input", "Bad request", detail, fix);

    public static Problem UnsupportedMediaType(string detail, string fix) => new(415, "invalid_input", "Unsupported media type", detail, fix);

    public static Problem TooLarge(string detail, string fix) => new(413, "invalid_input", "Request body too large", detail, fix);

    public static Problem TooManyRequests(TimeSpan retryAfter) =>
        new(429, "throttled", "Too many requests", "This token has used up its request rate for now.",
            $"Wait {Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds))} s and retry; MANIMCLOUD_RATE_LIMIT sets the rate per token.")
        { Headers = { ["Retry-After"] = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString() } };

    public static Problem NotFound(string detail, string fix) => new(404, "not_found", "Not found", detail, fix);

    public JsonObject ToJson(string? instance) => new()
    {
        ["type"] = $"https://manimcloud.dev/problems/{kind}",
        ["title"] = title,
        ["status"] = status,
        ["detail"] = detail,
        ["fix"] = fix,
        ["kind"] = kind,
        ["instance"] = instance,
    };

    public async Task ExecuteAsync(HttpContext http)
    {
        http.Response.StatusCode = status;
        foreach (var (k, v) in Headers) http.Response.Headers[k] = v;
        http.Response.ContentType = "application/problem+json";
        http.Response.Headers.CacheControl = "no-store";
        await http.Response.WriteAsync(ToJson(http.Request.Path).ToJsonString(Hosting.WebJson.Out), http.RequestAborted);
    }

    /// <summary>HTTP status per error class; a revision mismatch on a request that carried If-Match is 412.</summary>
    public static int StatusOf(ManimCloudException e, bool conditional) => e.Kind switch
    {
        ErrorKind.InvalidInput => 400,
        ErrorKind.NotFound => 404,
        ErrorKind.Conflict when conditional && e is ConcurrencyConflictException => 412,
        ErrorKind.Conflict => 409,
        ErrorKind.Locked => 423,
        ErrorKind.Auth => 403,
        ErrorKind.Throttled => 503,
        ErrorKind.Transient => 503,
        ErrorKind.ClientError => 400,
        _ => 500,
    };

    private static string KindName(ErrorKind k) => System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(k.ToString());

    private static string TitleOf(ErrorKind k) => k switch
    {
        ErrorKind.InvalidInput => "Bad request",
        ErrorKind.NotFound => "Not found",
        ErrorKind.Conflict => "Conflict",
        ErrorKind.Locked => "Locked",
        ErrorKind.Auth => "Access denied",
        ErrorKind.Transient => "Service unavailable",
        ErrorKind.Throttled => "Throttled",
        ErrorKind.ClientError => "Bad request",
        _ => "Internal error",
    };
}
