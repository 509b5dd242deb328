using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Tests.Support;
using ManimCloud.Web;
using ManimCloud.Web.Access;
using ManimCloud.Workspace;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace ManimCloud.Tests.Web;

/// <summary>
/// A running `serve` on a free loopback port over its own workspace (local mode, or cloud mode on the suite's moto),
/// reached over real sockets with HttpClient. Tokens are made through the same store `token create` uses.
/// </summary>
public sealed class WebHarness : IAsyncDisposable
{
    public TempDir Home { get; }
    public ManimCloudClient Client { get; }
    public WebApplication App { get; }
    public string BaseUrl { get; }
    public TokenStore Tokens { get; }
    public HttpClient Http { get; } = new(new SocketsHttpHandler { AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(60) };

    private WebHarness(TempDir home, ManimCloudClient client, WebApplication app, string baseUrl)
    {
        Home = home;
        Client = client;
        App = app;
        BaseUrl = baseUrl;
        Tokens = new TokenStore(client.Catalog);
        Http.BaseAddress = new Uri(baseUrl);
    }

    public static async Task<WebHarness> StartAsync(ServeOptions? options = null, TestCloud? cloud = null, ManimCloud.Operations.Telemetry.PrometheusExposition? metrics = null)
    {
        var home = new TempDir();
        // A free port picked first, so the links the service hands out (playback URLs, watch pages) name it, as `serve` does.
        var serve = ((options ?? new ServeOptions()) with { Port = 0 }).WithFreePort();
        var client = ManimCloudClient.Open((cloud?.Options(home.Path) ?? new ManimCloudOptions { Home = home.Path }).WithPublicUrl(serve.ListenUrl));
        var app = WebServer.Build(client, serve, l => l.SetMinimumLevel(LogLevel.Warning), metrics);
        var url = await WebServer.StartAsync(app, CancellationToken.None);
        return new WebHarness(home, client, app, url);
    }

    public string Token(Role role, string? project = null, TimeSpan? lifetime = null) =>
        Tokens.Create(role, project is null ? null : ProjectId.Parse(project), lifetime, "test").Secret;

    public HttpRequestMessage Request(HttpMethod method, string path, string? token, JsonNode? json = null)
    {
        var r = new HttpRequestMessage(method, path);
        if (token is not null) r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (json is not null) r.Content = new StringContent(json.ToJsonString(), Encoding.UTF8, "application/json");
        return r;
    }

    public async Task<(HttpResponseMessage Response, JsonNode? Body)> SendAsync(HttpMethod method, string path, string? token, JsonNode? json = null)
    {
        var response = await Http.SendAsync(Request(method, path, token, json));
        var text = await response.Content.ReadAsStringAsync();
        return (response, text.Length > 0 && response.Content.Headers.ContentType?.MediaType is "application/json" or "application/problem+json" ? JsonNode.Parse(text) : null);
    }

    public async Task<string> CreateVideoAsync(string token, string project, string title = "A video")
    {
        var (r, body) = await SendAsync(HttpMethod.Post, $"/api/v1/projects/{project}/videos", token, new JsonObject { ["title"] = title });
        Assert.Equal(System.Net.HttpStatusCode.Created, r.StatusCode);
        return (string)body!["video_id"]!;
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        Client.Dispose();
        Http.Dispose();
        Home.Dispose();
    }
}
