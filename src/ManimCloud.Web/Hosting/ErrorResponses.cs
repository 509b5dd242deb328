using ManimCloud.Domain;
using ManimCloud.Web.Api;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ManimCloud.Web.Hosting;

/// <summary>
/// Turns every failure into problem details: ManimCloud's own errors by class (with the CLI's message and fix), refusals
/// at the HTTP layer as built, Kestrel's (body too large, bad framing) by their status, anything else as a 500 that is
/// logged with its cause. A client that went away gets nothing.
/// </summary>
public sealed class ErrorResponses(RequestDelegate next, ILogger<ErrorResponses> log)
{
    public async Task InvokeAsync(HttpContext http)
    {
        try
        {
            await next(http);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client went away; there is no one to answer.
        }
        catch (Exception e) when (!http.Response.HasStarted)
        {
            var problem = e switch
            {
                WebInputException w => w.Problem,
                ManimCloudException m => Problem.From(m, conditional: http.Request.Headers.IfMatch.Count > 0),
                BadHttpRequestException b => new Problem(b.StatusCode, "invalid_input", "Bad request", b.Message,
                    b.StatusCode == 413 ? "Send a smaller body." : "Check the request's headers and framing."),
                _ => null,
            };
            if (problem is null)
            {
                log.LogError(e, "Unhandled error on {Method} {Path}", http.Request.Method, http.Request.Path);
                problem = new Problem(500, "fatal", "Internal error", $"Unexpected {e.GetType().Name}: {e.Message}",
                    "This is a bug in manimcloud; please report it with the request you made.");
            }
            else if (problem.Status >= 500) log.LogWarning("{Method} {Path}: {Status} {Detail}", http.Request.Method, http.Request.Path, problem.Status, problem.Detail);
            http.Response.Clear();
            await problem.ExecuteAsync(http);
        }
    }
}
