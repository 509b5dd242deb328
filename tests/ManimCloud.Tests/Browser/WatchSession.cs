using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Playwright;

namespace ManimCloud.Tests.Browser;

/// <summary>
/// One player page in its own browser context, with every request and response it makes recorded and every script
/// error kept, and the waits the tests need (on conditions in the page, never on the clock).
/// </summary>
public sealed class WatchSession : IAsyncDisposable
{
    public IBrowserContext Context { get; }
    public IPage Page { get; }
    /// <summary>Every request the page made, in order (the URL as sent).</summary>
    public ConcurrentQueue<(DateTimeOffset At, string Url)> Requests { get; } = new();
    public ConcurrentQueue<(string Url, int Status)> Responses { get; } = new();
    public ConcurrentQueue<string> ScriptErrors { get; } = new();
    public ConcurrentQueue<string> Console { get; } = new();

    private WatchSession(IBrowserContext context, IPage page)
    {
        Context = context;
        Page = page;
        page.Request += (_, r) => Requests.Enqueue((DateTimeOffset.UtcNow, r.Url));
        page.Response += (_, r) => Responses.Enqueue((r.Url, r.Status));
        page.PageError += (_, e) => ScriptErrors.Enqueue(e);
        page.Console += (_, m) => Console.Enqueue($"{m.Type}: {m.Text}");
    }

    public static async Task<WatchSession> OpenAsync(BrowserFixture fixture)
    {
        var context = await fixture.ContextAsync();
        return new WatchSession(context, await context.NewPageAsync());
    }

    public async Task GotoAsync(string path) => await Page.GotoAsync(path);

    /// <summary>What the page shows: its state, any problem, the status line, the video's clock and picture size.</summary>
    public async Task<JsonElement> StateAsync() => await Page.EvaluateAsync<JsonElement>("""
        () => {
          const $ = (id) => document.getElementById(id);
          const v = $("video");
          return {
            state: $("player").dataset.state,
            problem: $("problem").hidden ? null : $("problem").innerText,
            status: $("status").textContent,
            time: v.currentTime, paused: v.paused, ended: v.ended, height: v.videoHeight, width: v.videoWidth,
            error: v.error ? `${v.error.code} ${v.error.message}` : null,
            readyState: v.readyState,
          };
        }
        """);

    /// <summary>Everything a failure message needs: the page's state, its script errors and its last console lines.</summary>
    public async Task<string> DescribeAsync()
    {
        string state;
        try { state = (await StateAsync()).ToString(); } catch (Exception e) { state = $"(state unreadable: {e.Message})"; }
        return $"page: {state}\nscript errors: {string.Join(" | ", ScriptErrors)}\nconsole (last 15): {string.Join(" | ", Console.TakeLast(15))}"
            + $"\nlast requests: {string.Join("\n  ", Requests.TakeLast(12).Select(r => Path(r.Url)))}";
    }

    /// <summary>Waits until the player is ready to play, failing with the page's own message if it shows a problem.</summary>
    public async Task WaitReadyAsync()
    {
        await WaitAsync("""() => ["ready", "playing", "paused"].includes(document.getElementById("player").dataset.state) || !document.getElementById("problem").hidden""",
            "the player to be ready");
        var s = await StateAsync();
        Assert.True(s.GetProperty("problem").ValueKind == JsonValueKind.Null, "the page shows a problem:\n" + await DescribeAsync());
    }

    /// <summary>Starts playback (muted; the page's own Play button).</summary>
    public async Task PlayAsync()
    {
        await Page.EvaluateAsync("() => { document.getElementById('video').muted = true; }");
        await Page.ClickAsync("#play");
    }

    /// <summary>Waits until the video's clock passed <paramref name="seconds"/> while no problem is shown.</summary>
    public async Task WaitTimeAsync(double seconds)
    {
        await WaitAsync($$"""() => document.getElementById("video").currentTime > {{seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}} || !document.getElementById("problem").hidden || document.getElementById("video").error""",
            $"the video's clock to pass {seconds:0.00} s");
        var s = await StateAsync();
        Assert.True(s.GetProperty("problem").ValueKind == JsonValueKind.Null && s.GetProperty("error").ValueKind == JsonValueKind.Null,
            "playback failed:\n" + await DescribeAsync());
    }

    /// <summary>Waits for a condition in the page; on a timeout, fails with what the page showed.</summary>
    public async Task WaitAsync(string predicate, string what, float? timeout = null)
    {
        try
        {
            await Page.WaitForFunctionAsync(predicate, null, new PageWaitForFunctionOptions { Timeout = timeout ?? BrowserFixture.Timeout, PollingInterval = 100 });
        }
        catch (TimeoutException)
        {
            Assert.Fail($"timed out waiting for {what}:\n{await DescribeAsync()}");
        }
    }

    /// <summary>
    /// The video's current picture drawn into a canvas and read back: how many distinct colours (coarsely) and the
    /// spread of brightness. A black or blank frame has one colour.
    /// </summary>
    public async Task<(int Colours, double Spread)> FrameAsync()
    {
        var r = await Page.EvaluateAsync<JsonElement>("""
            () => {
              const v = document.getElementById("video");
              const c = document.createElement("canvas");
              c.width = 96; c.height = 54;
              const g = c.getContext("2d");
              g.drawImage(v, 0, 0, c.width, c.height);
              const d = g.getImageData(0, 0, c.width, c.height).data;
              const colours = new Set();
              let min = 255, max = 0;
              for (let i = 0; i < d.length; i += 4) {
                colours.add(((d[i] >> 5) << 6) | ((d[i + 1] >> 5) << 3) | (d[i + 2] >> 5));
                const y = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
                if (y < min) min = y;
                if (y > max) max = y;
              }
              return { colours: colours.size, spread: max - min };
            }
            """);
        return (r.GetProperty("colours").GetInt32(), r.GetProperty("spread").GetDouble());
    }

    /// <summary>The path and query of a URL (for messages and matching).</summary>
    public static string Path(string url) => new Uri(url).PathAndQuery;

    /// <summary>The media segments and init segments the page asked for, with when.</summary>
    public IReadOnlyList<(DateTimeOffset At, string Url)> Segments() =>
        Requests.Where(r => new Uri(r.Url).AbsolutePath is var p && p.StartsWith("/transcoded/", StringComparison.Ordinal)
            && (p.EndsWith(".m4s", StringComparison.Ordinal) || p.EndsWith(".mp4", StringComparison.Ordinal))).ToList();

    public async ValueTask DisposeAsync()
    {
        await Context.CloseAsync();
        await Context.DisposeAsync();
    }
}
