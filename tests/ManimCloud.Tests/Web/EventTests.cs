using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Tests.Support;
using ManimCloud.Web.Access;
using ManimCloud.Web.Events;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ManimCloud.Tests.Web;

/// <summary>Status changes as server-sent events and as signed, retried, de-duplicable webhook deliveries.</summary>
public sealed class EventTests : IAsyncLifetime
{
    private WebHarness _web = null!;
    public async Task InitializeAsync() => _web = await WebHarness.StartAsync();
    public async Task DisposeAsync() => await _web.DisposeAsync();

    private static async IAsyncEnumerable<(string Id, string Event, JsonNode Data)> ReadEventsAsync(Stream stream, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        using var reader = new StreamReader(stream);
        string? id = null, type = null, data = null;
        while (!ct.IsCancellationRequested && await reader.ReadLineAsync(ct) is { } line)
        {
            if (line.Length == 0)
            {
                if (type is not null && data is not null) yield return (id!, type, JsonNode.Parse(data)!);
                id = type = data = null;
            }
            else if (line.StartsWith("id: ")) id = line[4..];
            else if (line.StartsWith("event: ")) type = line[7..];
            else if (line.StartsWith("data: ")) data = line[6..];
        }
    }

    [Fact]
    public async Task Status_changes_by_the_api_and_by_another_process_arrive_as_server_sent_events_of_the_tokens_project_only()
    {
        var project = "sse-" + Guid.NewGuid().ToString("N")[..8];
        var editor = _web.Token(Role.Editor, project);
        var id = await _web.CreateVideoAsync(editor, project);
        var stranger = await _web.CreateVideoAsync(_web.Token(Role.Editor), "sse-other-" + Guid.NewGuid().ToString("N")[..6]);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var request = _web.Request(HttpMethod.Get, "/api/v1/events", _web.Token(Role.Viewer, project));
        using var response = await _web.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        var events = ReadEventsAsync(await response.Content.ReadAsStreamAsync(timeout.Token), timeout.Token).GetAsyncEnumerator(timeout.Token);

        var (patched, _) = await _web.SendAsync(HttpMethod.Patch, $"/api/v1/videos/{id}", editor, new JsonObject { ["status"] = "rendering" });
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        // Another process on the same workspace (the CLI) moves it on; the service finds it by polling the catalog.
        var cli = CliRunner.Run(CliRunner.LocalEnv(_web.Home.Path), "video", "update", id, "--status", "uploaded", "--json");
        Assert.Equal(0, cli.ExitCode);
        await _web.SendAsync(HttpMethod.Patch, $"/api/v1/videos/{stranger}", _web.Token(Role.Editor), new JsonObject { ["status"] = "error" });

        var statuses = new List<(string From, string To)>();
        var lastId = "";
        while (statuses.Count < 2 && await events.MoveNextAsync())
        {
            var (eid, type, data) = events.Current;
            Assert.Equal(project, (string)data["project_id"]!);
            lastId = eid;
            if (type == "video.status_changed") statuses.Add(((string)data["data"]!["previous_status"]!, (string)data["data"]!["status"]!));
        }
        Assert.Equal([("created", "rendering"), ("rendering", "uploaded")], statuses);

        // A client that reconnects with Last-Event-ID gets what came after, without a gap.
        await _web.SendAsync(HttpMethod.Patch, $"/api/v1/videos/{id}", editor, new JsonObject { ["status"] = "ready" });
        var again = _web.Request(HttpMethod.Get, "/api/v1/events", editor);
        again.Headers.Add("Last-Event-ID", lastId);
        using var resumed = await _web.Http.SendAsync(again, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        await foreach (var (_, type, data) in ReadEventsAsync(await resumed.Content.ReadAsStreamAsync(timeout.Token), timeout.Token))
            if (type == "video.status_changed")
            {
                Assert.Equal("ready", (string)data["data"]!["status"]!);
                break;
            }
    }

    /// <summary>A loopback receiver that checks signatures with <see cref="WebhookSignature"/>, fails its first answer, and dedupes by delivery id.</summary>
    private sealed class Receiver : IAsyncDisposable
    {
        public WebApplication App { get; }
        public string Url { get; }
        public string Secret { get; set; } = "";
        public ConcurrentQueue<(string Delivery, string Signature, byte[] Body, int Status)> Seen { get; } = new();
        public ConcurrentDictionary<string, bool> Accepted { get; } = new();
        private int _calls;

        private Receiver(WebApplication app, string url) { App = app; Url = url; }

        public static async Task<Receiver> StartAsync()
        {
            var b = WebApplication.CreateSlimBuilder();
            b.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
            b.Logging.ClearProviders();
            var app = b.Build();
            Receiver? self = null;
            app.MapPost("/hook", async (HttpContext http) => await self!.HandleAsync(http));
            await app.StartAsync();
            var url = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
                .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First() + "/hook";
            self = new Receiver(app, url);
            return self;
        }

        public async Task HandleAsync(HttpContext http)
        {
            using var buffer = new MemoryStream();
            await http.Request.Body.CopyToAsync(buffer);
            var body = buffer.ToArray();
            var signature = http.Request.Headers[WebhookSignature.Header].ToString();
            var delivery = http.Request.Headers[WebhookSignature.DeliveryHeader].ToString();
            var status = Interlocked.Increment(ref _calls) == 1 ? 503 // the first attempt fails: the service must retry
                : WebhookSignature.Verify(Secret, signature, body, DateTimeOffset.UtcNow) switch
                {
                    WebhookSignature.Verdict.Valid => Accepted.TryAdd(delivery, true) ? 200 : 208,
                    WebhookSignature.Verdict.Stale => 408,
                    _ => 401,
                };
            Seen.Enqueue((delivery, signature, body, status));
            http.Response.StatusCode = status;
        }

        public async ValueTask DisposeAsync() => await App.DisposeAsync();
    }

    [Fact]
    public async Task Webhooks_are_signed_retried_with_backoff_and_carry_a_delivery_id_and_a_replay_is_refused()
    {
        WebhookDispatcher.BaseDelay = TimeSpan.FromMilliseconds(200);
        await using var receiver = await Receiver.StartAsync();
        var project = "hook-" + Guid.NewGuid().ToString("N")[..8];
        var admin = _web.Token(Role.Admin, project);
        var (added, hook) = await _web.SendAsync(HttpMethod.Post, $"/api/v1/projects/{project}/webhooks", admin, new JsonObject { ["url"] = receiver.Url });
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        receiver.Secret = (string)hook!["secret"]!;
        var (listed, list) = await _web.SendAsync(HttpMethod.Get, $"/api/v1/projects/{project}/webhooks", admin);
        Assert.Null(list!["webhooks"]![0]!["secret"]); // shown once, at registration

        var id = await _web.CreateVideoAsync(admin, project);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (receiver.Accepted.IsEmpty && DateTime.UtcNow < deadline) await Task.Delay(100);
        var accepted = receiver.Seen.First(s => s.Status == 200);
        var first = receiver.Seen.First();
        Assert.Equal(503, first.Status);
        Assert.Equal(first.Delivery, accepted.Delivery); // the retry is the same delivery
        var body = JsonNode.Parse(accepted.Body)!;
        Assert.Equal("video.created", (string)body["type"]!);
        Assert.Equal(id, (string)body["data"]!["video_id"]!);

        var (_, deliveries) = await _web.SendAsync(HttpMethod.Get, $"/api/v1/projects/{project}/webhooks/{(string)hook["id"]!}/deliveries", admin);
        var d = deliveries!["deliveries"]!.AsArray().First(x => (string)x!["id"]! == accepted.Delivery)!;
        Assert.Equal("delivered", (string)d["state"]!);
        Assert.Equal(2, (int)d["attempts"]!);

        // A captured delivery sent again later: the timestamp is stale (refused), a tampered body fails the MAC,
        // and the same delivery id within the tolerance is recognised as a duplicate.
        Assert.Equal(WebhookSignature.Verdict.Stale, WebhookSignature.Verify(receiver.Secret, accepted.Signature, accepted.Body, DateTimeOffset.UtcNow.AddMinutes(10)));
        var tampered = (byte[])accepted.Body.Clone();
        tampered[^2] ^= 1;
        Assert.Equal(WebhookSignature.Verdict.BadSignature, WebhookSignature.Verify(receiver.Secret, accepted.Signature, tampered, DateTimeOffset.UtcNow));
        using var replay = new HttpRequestMessage(HttpMethod.Post, receiver.Url) { Content = new ByteArrayContent(accepted.Body) };
        replay.Headers.Add(WebhookSignature.Header, accepted.Signature);
        replay.Headers.Add(WebhookSignature.DeliveryHeader, accepted.Delivery);
        using var plain = new HttpClient();
        Assert.Equal(208, (int)(await plain.SendAsync(replay)).StatusCode);
        Assert.Single(receiver.Accepted);
    }
}
