using ManimCloud.Domain;
using ManimCloud.Operations.Telemetry;
using ManimCloud.Web.Access;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ManimCloud.Web.Hosting;

/// <summary>
/// GET /metrics: ManimCloud's metrics in Prometheus' text format, for an admin token (Prometheus sends it with
/// <c>authorization: {credentials_file: …}</c>). The metrics are operational detail about the whole workspace, so
/// they are not public even on loopback.
/// </summary>
public static class MetricsEndpoint
{
    public static void Map(IEndpointRouteBuilder app, PrometheusExposition? exposition) =>
        app.MapGet("/metrics", () => exposition is null
                ? throw new ManimCloudException(ErrorKind.NotFound, "This service keeps no metrics (OpenTelemetry is off: OTEL_SDK_DISABLED=true).",
                    "Unset OTEL_SDK_DISABLED and restart `manimcloud serve`, or scrape the OTLP collector instead.")
                : Results.Text(exposition.Render(), PrometheusExposition.ContentType))
            .Requires(Role.Admin).WithTags("service").WithSummary("ManimCloud's metrics, Prometheus text format 0.0.4 (admin token)")
            .Produces<string>(200, "text/plain");
}
