using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using ManimCloud.Streaming;
using ManimCloud.Web.Access;
using Microsoft.Playwright;

namespace ManimCloud.Tests.Browser;

/// <summary>
/// The upload page (/upload, tus-js-client) in Debian's Chromium: a clip is sent in 256 KiB PATCHes, the network is
/// cut after a few of them and the page closed; a new page given the same file resumes at the offset the service
/// holds (never from 0, and no new upload is created), and what the service stored is the file, byte for byte.
/// </summary>
public sealed class UploadPageTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    private const int Chunk = 262_144;
    private const int PassedBeforeTheCut = 3;

    [BrowserFact]
    public async Task An_upload_cut_off_after_a_few_patches_resumes_in_a_new_page_from_the_stored_offset_and_arrives_byte_identical()
    {
        var web = fixture.Web;
        var project = "upload-" + Guid.NewGuid().ToString("N")[..8];
        var token = web.Token(Role.Editor, project);
        var video = await web.CreateVideoAsync(token, project, "Uploaded from a browser");
        var file = web.Home.File("scene.mp4");
        await NoisyClipAsync(file);
        var bytes = await File.ReadAllBytesAsync(file);
        Assert.True(bytes.Length > 8 * Chunk, $"the clip is {bytes.Length} bytes: too small to be cut off mid-way");
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes));

        await using var context = await fixture.ContextAsync(); // one browser profile: tus-js-client keeps the upload's URL in its localStorage

        // First visit: three PATCHes reach the service, then the network fails for every PATCH; the page is closed.
        var first = await context.NewPageAsync();
        var patches = 0;
        var cut = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        string? location = null;
        first.Response += (_, r) =>
        {
            if (r.Request.Method == "POST" && r.Url.EndsWith("/api/v1/uploads/", StringComparison.Ordinal) && r.Status == 201)
                location = r.Headers.TryGetValue("location", out var l) ? l : null;
        };
        await first.RouteAsync("**/api/v1/uploads/**", async route =>
        {
            if (route.Request.Method != "PATCH") { await route.ContinueAsync(); return; }
            if (Interlocked.Increment(ref patches) <= PassedBeforeTheCut) { await route.ContinueAsync(); return; }
            cut.TrySetResult();
            await route.AbortAsync("connectionreset");
        });
        await FillAsync(first, token, video, file);
        await cut.Task.WaitAsync(TimeSpan.FromMinutes(2));
        await first.CloseAsync();

        // What the service holds: the chunks that arrived, whole ones only — the three let through and, now and then
        // (1 of 3 fresh runs), one more that was already in flight when the cut began — and never the whole file.
        Assert.NotNull(location);
        var offset = await OffsetAsync(location!, token);
        Assert.InRange(offset, (long)PassedBeforeTheCut * Chunk, (long)(PassedBeforeTheCut + 1) * Chunk);
        Assert.Equal(0, offset % Chunk);
        Assert.True(offset < bytes.Length, $"the whole file ({bytes.Length} bytes) arrived before the cut");

        // Second visit, the same file: the upload resumes at the service's offset.
        var second = await context.NewPageAsync();
        var sent = new ConcurrentQueue<(string Method, string Url, long? Offset)>();
        second.Request += (_, r) =>
        {
            if (!r.Url.Contains("/api/v1/uploads/", StringComparison.Ordinal)) return;
            long? at = r.Headers.TryGetValue("upload-offset", out var o) ? long.Parse(o, System.Globalization.CultureInfo.InvariantCulture) : null;
            sent.Enqueue((r.Method, r.Url, at));
        };
        await FillAsync(second, token, video, file);
        await second.WaitForFunctionAsync("() => ['stored', 'failed'].includes(document.body.dataset.upload)", null,
            new PageWaitForFunctionOptions { Timeout = BrowserFixture.Timeout, PollingInterval = 100 });
        var state = await second.InnerTextAsync("#state");
        Assert.True(await second.GetAttributeAsync("body", "data-upload") == "stored",
            $"the upload did not finish: {state} {await second.InnerTextAsync("#problem")}\nlog: {await second.InnerTextAsync("#log")}");
        Assert.Contains("Resuming the upload", await second.InnerTextAsync("#log"));

        var requests = sent.ToList();
        Assert.DoesNotContain(requests, r => r.Method == "POST"); // no new upload was created
        var resumed = requests.Where(r => r.Method == "PATCH").ToList();
        Assert.NotEmpty(resumed);
        Assert.All(resumed, r => Assert.Equal(location, new Uri(r.Url).AbsolutePath));
        Assert.Equal(offset, resumed[0].Offset); // it started where the service stood, not at 0
        // …and sent only the rest, a chunk per request (Playwright does not show a Blob body, so by the offsets).
        Assert.Equal(Enumerable.Range(0, resumed.Count).Select(i => (long?)(offset + (long)i * Chunk)), resumed.Select(r => r.Offset));
        Assert.Equal((bytes.Length - offset + Chunk - 1) / Chunk, resumed.Count);

        // The service stored the file: the page shows its SHA-256, and the media read back is the file.
        Assert.Equal(sha256, await second.GetAttributeAsync("#state", "data-sha256"));
        var media = await web.Http.SendAsync(web.Request(HttpMethod.Get, $"/api/v1/videos/{video}/media/full", token));
        Assert.Equal(HttpStatusCode.OK, media.StatusCode);
        Assert.Equal(sha256, Convert.ToHexStringLower(SHA256.HashData(await media.Content.ReadAsByteArrayAsync())));
    }

    private static async Task FillAsync(IPage page, string token, string video, string file)
    {
        await page.GotoAsync("/upload");
        await page.FillAsync("#token", token);
        await page.FillAsync("#video", video);
        await page.FillAsync("#slot", "full");
        await page.SelectOptionAsync("#chunk", Chunk.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await page.SetInputFilesAsync("#file", file);
        await page.ClickAsync("#start");
    }

    private async Task<long> OffsetAsync(string location, string token)
    {
        var head = fixture.Web.Request(HttpMethod.Head, location, token);
        head.Headers.Add("Tus-Resumable", "1.0.0");
        var r = await fixture.Web.Http.SendAsync(head);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        return long.Parse(r.Headers.GetValues("Upload-Offset").Single(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>A real H.264 MP4 of a few MB (noise does not compress), so it takes many 256 KiB requests.</summary>
    private static async Task NoisyClipAsync(string path)
    {
        var ffmpeg = (await FfmpegLocator.LocateAsync(null, null, CancellationToken.None)).Ffmpeg;
        await FfmpegProcess.RunAsync(ffmpeg, ["-nostdin", "-y", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=24:duration=2",
            "-vf", "noise=alls=80:allf=t+u", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "14", "-pix_fmt", "yuv420p", "-movflags", "+faststart", path],
            "a test clip", null, CancellationToken.None);
    }
}
