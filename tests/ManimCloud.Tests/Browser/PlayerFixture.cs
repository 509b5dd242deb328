using System.Text;
using ManimCloud.Delivery;
using ManimCloud.Domain;
using ManimCloud.Rendering;
using ManimCloud.Tests.Support;
using ManimCloud.Tests.Web;
using ManimCloud.Web.Access;
using Microsoft.Playwright;

namespace ManimCloud.Tests.Browser;

/// <summary>
/// One browser and one running `serve` for a test class, with a real video transcoded by the ffmpeg engine: two
/// 720p scenes (so the ladder has 720p and 480p), v1 and v2 (v2 changes scene 2 and its code; scene 1's segments are
/// reused). Short clips at 24 fps keep the encode small; scene 2 is long enough for more than one segment, so a
/// quality switch during playback has segments left to fetch at the new rendition.
/// </summary>
public class BrowserFixture : IAsyncLifetime
{
    public IPlaywright Playwright { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;
    public WebHarness Web { get; private set; } = null!;
    /// <summary>Generous waits: a loaded 2-core machine decodes, seeks and transcodes slowly.</summary>
    public const float Timeout = 90_000;

    public virtual async Task InitializeAsync()
    {
        if (Chromium.SkipReason is not null) return; // the tests report the skip; nothing to start
        (Playwright, Browser) = await Chromium.LaunchAsync();
        Web = await WebHarness.StartAsync();
    }

    /// <summary>A fresh context (its own storage) with the fixture's timeouts.</summary>
    public async Task<IBrowserContext> ContextAsync()
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = Web.BaseUrl });
        context.SetDefaultTimeout(Timeout);
        context.SetDefaultNavigationTimeout(Timeout);
        return context;
    }

    public virtual async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        Playwright?.Dispose();
        if (Web is not null) await Web.DisposeAsync();
    }
}

public sealed class PlayerFixture : BrowserFixture
{
    public const string CodeV1 = "from manim import *\n\n\nclass Intro(Scene):\n    def construct(self):\n        self.play(Write(Text(\"Derivatives\")))\n\n\n"
        + "class Slope(Scene):\n    def construct(self):\n        self.play(Create(Line(LEFT, RIGHT)))\n";
    public const string CodeV2 = "from manim import *\n\n\nclass Intro(Scene):\n    def construct(self):\n        self.play(Write(Text(\"Derivatives\")))\n\n\n"
        + "class Slope(Scene):\n    def construct(self):\n        self.play(Create(Line(LEFT, UP * 2)))\n        self.wait()\n";

    public string Project { get; } = "browser-" + Guid.NewGuid().ToString("N")[..8];
    public VideoRecord Video { get; private set; } = null!;
    public string ViewerToken { get; private set; } = null!;
    /// <summary>Where scene 2 starts on the timeline (the HLS discontinuity, the second DASH Period).</summary>
    public double SceneBoundary { get; private set; }
    public double Duration(int version) => Video.Renditions[version].DurationSeconds;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        if (Chromium.SkipReason is not null) return;
        var ct = CancellationToken.None;
        var client = Web.Client;
        using var clips = new TempDir();
        var render = new TestRenderer();
        async Task<string> Clip(string name, int scene, double seconds)
        {
            var path = clips.File(name);
            await render.RenderClipAsync(path, scene, seconds, ct, "1280x720", 24, audio: true);
            return path;
        }
        var intro = await Clip("intro.mp4", 1, 3.0);
        var slope = await Clip("slope.mp4", 2, 9.0);
        var slope2 = await Clip("slope2.mp4", 3, 9.0);

        var video = (await client.CreateVideoAsync(ProjectId.Parse(Project), "Derivatives in the browser", null, null, ct)).Value;
        await client.PutCodeAsync(video.Id, Encoding.UTF8.GetBytes(CodeV1), "test", null, ct);
        await client.PutMediaAsync(video.Id, MediaSlot.ForScene(1), intro, ct);
        await client.PutMediaAsync(video.Id, MediaSlot.ForScene(2), slope, ct);
        await client.UpdateVideoAsync(video.Id, null, null, null, VideoStatus.Uploaded, null, ct);
        await client.Streaming.TranscodeAsync(video.Id, null, null, null, ct);
        await client.PutCodeAsync(video.Id, Encoding.UTF8.GetBytes(CodeV2), "test", null, ct);
        await client.PutMediaAsync(video.Id, MediaSlot.ForScene(1), intro, ct);
        await client.PutMediaAsync(video.Id, MediaSlot.ForScene(2), slope2, ct);
        await client.Streaming.TranscodeAsync(video.Id, null, null, null, ct);
        Video = await client.GetVideoAsync(video.Id, ct);
        Assert.Equal([1, 2], Video.Renditions.Keys.Order());
        Assert.True(Video.Renditions[2].Rungs.Count >= 2, "the ladder of a 720p source has at least 720p and 480p");
        SceneBoundary = Video.Renditions[2].Scenes.OrderBy(s => s.Scene).First().DurationSeconds;
        ViewerToken = Web.Token(Role.Viewer, Project);
    }

    /// <summary>The player page's address for a version, as `GET /videos/{id}/url` gives it (relative to the service).</summary>
    public async Task<string> WatchPathAsync(int version, string format = "hls")
    {
        var (r, body) = await Web.SendAsync(HttpMethod.Get, $"/api/v1/videos/{Video.Id}/url?version={version}&format={format}", ViewerToken);
        Assert.Equal(System.Net.HttpStatusCode.OK, r.StatusCode);
        return (string)body!["watch_path"]!;
    }

    /// <summary>A grant for the video's folder that expired a minute ago, signed with the service's own key.</summary>
    public SignedGrant ExpiredGrant()
    {
        var delivery = Web.Client.Delivery;
        var folder = delivery.KeyBaseUrl + ObjectLayout.TranscodedFolder(Video.Project, Video.Id);
        return delivery.Signer.Sign(PlaybackSigner.FolderPolicy(folder, DateTimeOffset.UtcNow - TimeSpan.FromMinutes(1), null));
    }
}
