using System.Net.Http.Headers;
using System.Text;
using ManimCloud.Resilience;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ManimCloud.Web.Events;

/// <summary>
/// Sends each event to the webhooks of its project: recorded first (<see cref="WebhookStore"/>), then POSTed, signed
/// (<see cref="WebhookSignature"/>), with a fresh timestamp each attempt. A failure (no answer, non-2xx) is tried again
/// after an exponential backoff with full jitter (the retry pipeline's own delay), up to <see cref="MaxAttempts"/>;
/// the schedule is kept in the catalog, so it survives a restart, rather than in a retry loop in memory.
/// </summary>
public sealed class WebhookDispatcher(EventFeed feed, WebhookStore store, ILogger<WebhookDispatcher> log) : BackgroundService
{
    public const int MaxAttempts = 8;
    public static TimeSpan BaseDelay { get; set; } = TimeSpan.FromSeconds(2);
    private static readonly HttpClient Http = new(new SocketsHttpHandler { AllowAutoRedirect = false, ConnectTimeout = TimeSpan.FromSeconds(5) })
    {
        Timeout = TimeSpan.FromSeconds(10),
    };
    private readonly SemaphoreSlim _wake = new(0);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var subscription = feed.Subscribe(null);
        var enqueue = Task.Run(async () =>
        {
            await foreach (var e in subscription.Reader.ReadAllAsync(stoppingToken))
            {
                var hooks = store.List(e.Project);
                if (hooks.Count == 0) continue;
                var body = e.ToJson().ToJsonString();
                store.Enqueue(hooks.Select(h => (h, e.Type, body)));
                _wake.Release();
            }
        }, stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                foreach (var (delivery, hook) in store.Due(DateTimeOffset.UtcNow, 32))
                    await SendAsync(delivery, hook, stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                log.LogWarning(e, "Webhook dispatch failed; trying again shortly");
            }
            try { await _wake.WaitAsync(TimeSpan.FromSeconds(1), stoppingToken); } catch (OperationCanceledException) { break; }
        }
        await Task.WhenAny(enqueue);
    }

    private async Task SendAsync(WebhookDelivery delivery, Webhook hook, CancellationToken ct)
    {
        var body = Encoding.UTF8.GetBytes(delivery.Body);
        using var request = new HttpRequestMessage(HttpMethod.Post, hook.Url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.TryAddWithoutValidation(WebhookSignature.Header, WebhookSignature.Sign(hook.Secret, DateTimeOffset.UtcNow, body));
        request.Headers.TryAddWithoutValidation(WebhookSignature.DeliveryHeader, delivery.Id);
        request.Headers.TryAddWithoutValidation(WebhookSignature.EventHeader, delivery.EventType);
        request.Headers.UserAgent.ParseAdd("ManimCloud-Webhooks/1");
        var attempts = delivery.Attempts + 1;
        string error;
        try
        {
            using var response = await Http.SendAsync(request, ct);
            if (response.IsSuccessStatusCode)
            {
                store.Record(delivery.Id, WebhookStore.Delivered, attempts, DateTimeOffset.UtcNow, null);
                return;
            }
            error = $"HTTP {(int)response.StatusCode}";
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            error = e.Message;
        }
        var giveUp = attempts >= MaxAttempts;
        var next = DateTimeOffset.UtcNow + BaseDelay + RetryPipeline.FullJitter(attempts, BaseDelay);
        store.Record(delivery.Id, giveUp ? WebhookStore.Failed : WebhookStore.Pending, attempts, next, error);
        if (giveUp) log.LogError("Webhook {Webhook} delivery {Delivery} failed {Attempts} times ({Error}); given up", hook.Id, delivery.Id, attempts, error);
        else log.LogWarning("Webhook {Webhook} delivery {Delivery} failed ({Error}); attempt {Next} after {At:O}", hook.Id, delivery.Id, error, attempts + 1, next);
    }
}
