using System.Diagnostics;
using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Rendering;
using ManimCloud.Streaming;
using ManimCloud.Tests.Support;
using ManimCloud.Workspace;

namespace ManimCloud.Tests.Streaming;

/// <summary>
/// One workspace with the videos every streaming test reads, transcoded once for the whole suite (tiny clips):
/// A — three 720p scenes (30 fps with sound, 60 fps silent, 0.6 s with sound), then v2 with scene 2 changed;
/// B — silent, a 7 s 4:3 scene at 60 fps and a 0.5 s square one; C — only a full video, odd-sized (427x241).
/// </summary>
public sealed class StreamingFixture : IAsyncLifetime
{
    public TempDir Home { get; } = new();
    public ManimCloudClient Client { get; private set; } = null!;
    public VideoRecord A { get; private set; } = null!;
    public TranscodeResult A1 { get; private set; } = null!;
    public TranscodeResult A2 { get; private set; } = null!;
    public TranscodeResult A2Again { get; private set; } = null!;
    public TranscodeResult B1 { get; private set; } = null!;
    public TranscodeResult C1 { get; private set; } = null!;
    public FfmpegTools Tools { get; private set; } = null!;
    private static readonly CancellationToken Ct = CancellationToken.None;

    public async Task InitializeAsync()
    {
        Tools = await FfmpegLocator.LocateAsync(null, null, Ct);
        Client = ManimCloudClient.Open(new ManimCloudOptions { Home = Home.Path });
        var clips = new TempDir();
        try
        {
            var render = new TestRenderer();
            async Task<string> Clip(string name, int scene, double seconds, string size, int rate, bool audio, string pixelFormat = "yuv420p")
            {
                var path = clips.File(name);
                await render.RenderClipAsync(path, scene, seconds, Ct, size, rate, audio, pixelFormat);
                return path;
            }
            var a1 = await Clip("a1.mp4", 1, 2.5, "1280x720", 30, audio: true);
            var a2 = await Clip("a2.mp4", 2, 1.5, "1280x720", 60, audio: false);
            var a3 = await Clip("a3.mp4", 3, 0.6, "1280x720", 30, audio: true);
            var a2Edited = await Clip("a2e.mp4", 2, 1.6, "1280x720", 60, audio: false);

            A = (await Client.CreateVideoAsync(ProjectId.Parse("stream-a"), "Scenes", null, null, Ct)).Value;
            await Client.PutCodeAsync(A.Id, "class V1: pass\n"u8.ToArray(), "test", null, Ct);
            foreach (var (scene, clip) in new[] { (1, a1), (2, a2), (3, a3) }) await Client.PutMediaAsync(A.Id, MediaSlot.ForScene(scene), clip, Ct);
            await Client.UpdateVideoAsync(A.Id, null, null, null, VideoStatus.Uploaded, null, Ct);
            A1 = await Client.Streaming.TranscodeAsync(A.Id, null, null, null, Ct);
            await Client.PutCodeAsync(A.Id, "class V2: pass\n"u8.ToArray(), "test", null, Ct);
            foreach (var (scene, clip) in new[] { (1, a1), (2, a2Edited), (3, a3) }) await Client.PutMediaAsync(A.Id, MediaSlot.ForScene(scene), clip, Ct);
            A2 = await Client.Streaming.TranscodeAsync(A.Id, null, null, null, Ct);
            A2Again = await Client.Streaming.TranscodeAsync(A.Id, 2, "local", null, Ct);
            A = await Client.GetVideoAsync(A.Id, Ct);

            var b = (await Client.CreateVideoAsync(ProjectId.Parse("stream-b"), "Silent shapes", null, null, Ct)).Value;
            await Client.PutMediaAsync(b.Id, MediaSlot.ForScene(1), await Clip("b1.mp4", 4, 7.0, "640x480", 60, audio: false), Ct);
            await Client.PutMediaAsync(b.Id, MediaSlot.ForScene(2), await Clip("b2.mp4", 5, 0.5, "480x480", 30, audio: false), Ct);
            B1 = await Client.Streaming.TranscodeAsync(b.Id, null, null, null, Ct);

            var c = (await Client.CreateVideoAsync(ProjectId.Parse("stream-c"), "Full only", null, null, Ct)).Value;
            await Client.PutMediaAsync(c.Id, MediaSlot.Full, await Clip("c.mp4", 6, 1.0, "427x241", 25, audio: false, pixelFormat: "yuv444p"), Ct);
            C1 = await Client.Streaming.TranscodeAsync(c.Id, null, null, null, Ct);
        }
        finally
        {
            clips.Dispose();
        }
    }

    public Task DisposeAsync()
    {
        Client.Dispose();
        Home.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>An object's bytes as published in the workspace store.</summary>
    public async Task<byte[]> ReadAsync(string key)
    {
        await using var s = await Client.Local.Videos.OpenReadAsync(key, null, Ct);
        using var m = new MemoryStream();
        await s.CopyToAsync(m);
        return m.ToArray();
    }

    public async Task<string> TextAsync(string key) => System.Text.Encoding.UTF8.GetString(await ReadAsync(key));

    public async Task<bool> ExistsAsync(string key) => await Client.Local.Videos.HeadAsync(key, Ct) is not null;

    /// <summary>A track as a player sees it (init segment + media segments), written to a file for ffprobe.</summary>
    public async Task<string> TrackFileAsync(TempDir dir, string initKey, IEnumerable<string> segmentKeys)
    {
        var path = dir.File(Guid.NewGuid().ToString("N") + ".mp4");
        await using var f = File.Create(path);
        foreach (var key in segmentKeys.Prepend(initKey)) await f.WriteAsync(await ReadAsync(key));
        return path;
    }

    public JsonNode Probe(string path, params string[] args)
    {
        var psi = new ProcessStartInfo(Tools.Ffprobe) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-v", "error", "-of", "json" }.Concat(args).Append(path)) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEnd();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, stderr);
        return JsonNode.Parse(stdout)!;
    }
}

[CollectionDefinition(Name)]
public sealed class StreamingCollection : ICollectionFixture<StreamingFixture>
{
    public const string Name = "streaming";
}
