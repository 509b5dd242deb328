using System.Diagnostics;
using ManimCloud.Operations.Telemetry;
using Microsoft.AspNetCore.Http;

namespace ManimCloud.Web.Hosting;

/// <summary>
/// Counts every answered request by status class and times it (manimcloud.http.requests and
/// manimcloud.http.request.duration), which /metrics, OTLP and CloudWatch's service-5xx alarm read. An exception that
/// escapes is counted as the 500 the error handler turns it into.
/// </summary>
public sealed class RequestMetrics(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext http)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await next(http);
            ManimCloudMetrics.RecordHttpRequest(http.Response.StatusCode, Stopwatch.GetElapsedTime(started));
        }
        catch
        {
            ManimCloudMetrics.RecordHttpRequest(StatusCodes.Status500InternalServerError, Stopwatch.GetElapsedTime(started));
            throw;
        }
    }
}
