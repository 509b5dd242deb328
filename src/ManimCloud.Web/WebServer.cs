using System.Net;
using ManimCloud.Web.Access;
using ManimCloud.Web.Api;
using ManimCloud.Web.Events;
using ManimCloud.Web.Hosting;
using ManimCloud.Web.Pages;
using ManimCloud.Web.Uploads;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ManimCloud.Web;

/// <summary>
/// `manimcloud serve`: one Kestrel service over the same library and workspace as the CLI. Composition only: each
/// concern (access, API resources, tus, events, playback, pages) lives in its own folder and maps its own endpoints.
/// </summary>
public static class WebServer
{
    public const long MaxBodyBytes = 16L << 20; // tus PATCH requests raise their own limit to what remains of the upload

    /// <param name="metrics">What /metrics renders; default: the Prometheus reader of the process's telemetry host (`serve` keeps one).</param>
    public static WebApplication Build(ManimCloudClient client, ServeOptions options, Action<ILoggingBuilder>? logging = null,
        Operations.Telemetry.PrometheusExposition? metrics = null)
    {
        options = options.Validated();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = client.Options.Home });
        builder.WebHost.UseKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = MaxBodyBytes;
            k.Limits.MaxRequestHeadersTotalSize = 32 * 1024;
            if (options.Host == "localhost") k.ListenLocalhost(options.Port);
            else if (IPAddress.TryParse(options.Host, out var ip)) k.Listen(ip, options.Port);
            else throw new Domain.ManimCloudException(Domain.ErrorKind.InvalidInput, $"--host {options.Host} is not an IP address.",
                "Use an address such as 127.0.0.1 (the default: this machine only), ::1, 0.0.0.0 (every interface) or localhost.");
        });
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = TimeSpan.FromSeconds(15));
        builder.Logging.ClearProviders();
        if (logging is null) builder.Logging.AddSimpleConsole(c => { c.SingleLine = true; c.TimestampFormat = "HH:mm:ss "; }).SetMinimumLevel(LogLevel.Information)
            .AddFilter("Microsoft.AspNetCore", LogLevel.Warning).AddFilter("Microsoft.Hosting", LogLevel.Warning);
        else logging(builder.Logging);
        // Logs are for people: stderr, so stdout keeps the one JSON document `serve --json` prints.
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(c => c.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Services.ConfigureHttpJsonOptions(j => j.SerializerOptions.TypeInfoResolverChain.Insert(0, WebJson.Default));
        builder.Services.AddOpenApi(o => o.AddDocumentTransformer((doc, _, _) =>
        {
            doc.Info.Title = "ManimCloud API";
            doc.Info.Description = "Videos, code versions, media, renditions, tus uploads, events and webhooks of a ManimCloud workspace. " +
                "Errors are RFC 9457 problem details with the CLI's message (detail) and fix. Bearer tokens: `manimcloud token create`.";
            return Task.CompletedTask;
        }));
        builder.Services.AddCors(c => c.AddPolicy("api", p =>
        {
            if (options.CorsOrigins.Count > 0)
                p.WithOrigins([.. options.CorsOrigins]).WithMethods("GET", "POST", "PATCH", "DELETE", "HEAD", "OPTIONS")
                    .WithHeaders("Authorization", "Content-Type", "If-Match", "If-None-Match", "Tus-Resumable", "Upload-Length", "Upload-Offset",
                        "Upload-Metadata", "Upload-Checksum", "Last-Event-ID")
                    .WithExposedHeaders("ETag", "Location", "Tus-Resumable", "Tus-Version", "Tus-Extension", "Tus-Max-Size", "Upload-Offset",
                        "Upload-Length", "Upload-Expires", "Retry-After")
                    .SetPreflightMaxAge(TimeSpan.FromMinutes(10));
        }));

        builder.Services.AddSingleton(client);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(new TokenStore(client.Catalog));
        builder.Services.AddSingleton(new TusUploadStore(client.Catalog, client.Options.Home));
        builder.Services.AddSingleton(new WebhookStore(client.Catalog));
        builder.Services.AddSingleton<EventFeed>();
        builder.Services.AddHostedService(s => s.GetRequiredService<EventFeed>());
        builder.Services.AddHostedService<WebhookDispatcher>();
        builder.Services.AddSingleton<UploadSweeper>();
        builder.Services.AddHostedService(s => s.GetRequiredService<UploadSweeper>());
        builder.Services.AddSingleton<Readiness>();
        builder.Services.AddSingleton<EmbeddedAssets>();
        builder.Services.AddSingleton<Playback.PlaybackEdge>();
        builder.Services.AddSingleton<BackgroundTranscodes>();
        builder.Services.AddHostedService(s => s.GetRequiredService<BackgroundTranscodes>());

        var app = builder.Build();
        app.UseMiddleware<RequestMetrics>();
        app.UseMiddleware<ErrorResponses>();
        app.UseMiddleware<SecurityHeaders>();
        app.UseRouting();
        app.UseCors();
        app.UseMiddleware<TokenAuthentication>();

        app.MapGet("/healthz", () => Results.Text("ok\n", "text/plain")).WithTags("service").WithSummary("Liveness: the process answers");
        app.MapGet("/readyz", async (Readiness r, CancellationToken ct) =>
        {
            var (ready, body) = await r.CheckAsync(ct);
            return new JsonResult(body, ready ? 200 : 503);
        }).WithTags("service").WithSummary("Readiness: the workspace and, in cloud mode, the cloud answer").Produces<System.Text.Json.Nodes.JsonObject>(200).Produces(503);
        MetricsEndpoint.Map(app, metrics ?? Operations.Telemetry.TelemetryHost.Current?.Prometheus);
        app.MapOpenApi("/openapi/{documentName}.json");

        var api = app.MapGroup("/api/v1").RequireCors("api");
        VideoApi.Map(api);
        CodeApi.Map(api);
        MediaApi.Map(api);
        TranscodeApi.Map(api);
        StatusApi.Map(api);
        TusProtocol.Map(api);
        EventStream.Map(api);
        WebhookApi.Map(api);
        Playback.WatchApi.Map(api);
        Playback.PlaybackEdge.Map(app);
        PageRoutes.Map(app);
        return app;
    }

    /// <summary>Starts the service and returns the base URL it listens on (with the port Kestrel picked for port 0).</summary>
    public static async Task<string> StartAsync(WebApplication app, CancellationToken ct)
    {
        await app.StartAsync(ct);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return address.Replace("[::]", "127.0.0.1").Replace("0.0.0.0", "127.0.0.1").TrimEnd('/');
    }
}
