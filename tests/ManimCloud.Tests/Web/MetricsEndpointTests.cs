using System.Net;
using System.Text.RegularExpressions;
using ManimCloud.Operations.Telemetry;
using ManimCloud.Web.Access;

namespace ManimCloud.Tests.Web;

/// <summary>
/// GET /metrics: the service's own request counts (by status class) and ManimCloud's metrics in Prometheus text, for
/// admin tokens only. Other tests in the run record into the same meter, so counts are compared before and after.
/// </summary>
public sealed class MetricsEndpointTests : IAsyncLifetime
{
    private TelemetryHost _telemetry = null!;
    private WebHarness _web = null!;

    public async Task InitializeAsync()
    {
        _telemetry = TelemetryHost.Start(new TelemetrySettings { Prometheus = true });
        _web = await WebHarness.StartAsync(metrics: _telemetry.Prometheus);
    }

    public async Task DisposeAsync()
    {
        await _web.DisposeAsync();
        _telemetry.Dispose();
    }

    [Fact]
    public async Task Metrics_count_the_services_answers_by_status_class_and_need_an_admin_token()
    {
        var admin = _web.Token(Role.Admin);
        await _web.SendAsync(HttpMethod.Get, "/healthz", null); // a counter appears once something was counted
        var before = await ScrapeAsync(admin);
        Assert.Contains("# TYPE manimcloud_http_requests_total counter", before);
        var ok = Count(before, "2xx");
        var notFound = Count(before, "4xx");

        for (var i = 0; i < 3; i++)
            Assert.Equal(HttpStatusCode.OK, (await _web.SendAsync(HttpMethod.Get, "/healthz", null)).Response.StatusCode);
        var (missing, _) = await _web.SendAsync(HttpMethod.Get, $"/api/v1/videos/{Guid.NewGuid()}", _web.Token(Role.Viewer));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        var after = await ScrapeAsync(admin);
        Assert.True(Count(after, "2xx") >= ok + 4, $"2xx: {ok} before, {Count(after, "2xx")} after (3 /healthz and the first scrape)\n{after}");
        Assert.True(Count(after, "4xx") >= notFound + 1, $"4xx: {notFound} before, {Count(after, "4xx")} after");
        Assert.Contains("# TYPE manimcloud_http_request_duration_seconds histogram", after);

        // Operational detail about the whole workspace: not for viewers, not for anonymous callers.
        Assert.Equal(HttpStatusCode.Forbidden, (await _web.SendAsync(HttpMethod.Get, "/metrics", _web.Token(Role.Viewer))).Response.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _web.SendAsync(HttpMethod.Get, "/metrics", null)).Response.StatusCode);
    }

    private async Task<string> ScrapeAsync(string token)
    {
        using var response = await _web.Http.SendAsync(_web.Request(HttpMethod.Get, "/metrics", token));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType!.MediaType);
        return await response.Content.ReadAsStringAsync();
    }

    private static long Count(string text, string statusClass)
    {
        var m = Regex.Match(text, $"^manimcloud_http_requests_total\\{{[^}}]*status_class=\"{statusClass}\"[^}}]*\\}} (\\d+)", RegexOptions.Multiline);
        return m.Success ? long.Parse(m.Groups[1].Value) : 0;
    }
}
