using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using ManimCloud.Rendering;
using ManimCloud.Tests.Support;
using ManimCloud.Web.Access;

namespace ManimCloud.Tests.Web;

/// <summary>
/// examples/agent_client.py, the Python renderer agent (standard library only), run as a child process against a
/// live `serve`: it creates a video, stores code, uploads two clips with tus, asks for the ladder, waits for `ready`
/// over server-sent events and fetches a signed playback URL, which must then play: the master playlist and a segment
/// it names come back through the URL it was given.
/// </summary>
public sealed class AgentClientTests : IAsyncLifetime
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private WebHarness _web = null!;
    public async Task InitializeAsync() => _web = await WebHarness.StartAsync();
    public async Task DisposeAsync() => await _web.DisposeAsync();

    [Fact]
    public async Task The_python_agent_publishes_code_and_clips_and_its_playback_url_plays()
    {
        var project = "agent-" + Guid.NewGuid().ToString("N")[..8];
        using var dir = new TempDir();
        var code = dir.File("scenes.py");
        await File.WriteAllTextAsync(code, "from manim import *\n\nclass One(Scene):\n    def construct(self):\n        self.wait(1)\n", Ct);
        var renderer = new TestRenderer();
        var clips = new List<string>();
        for (var scene = 1; scene <= 2; scene++)
        {
            var clip = dir.File($"scene{scene}.mp4");
            await renderer.RenderClipAsync(clip, scene, 1.5, Ct, "320x180", 30, false);
            clips.Add(clip);
        }

        var (exit, stdout, stderr) = await RunAgentAsync(_web.Token(Role.Editor, project),
            ["--project", project, "--title", "From an agent", "--code", code, "--clip", clips[0], "--clip", clips[1], "--timeout", "300", "--json"]);
        Assert.True(exit == 0, $"agent_client.py exited {exit}\nstdout: {stdout}\nstderr: {stderr}");
        var result = JsonNode.Parse(stdout)!;
        Assert.Equal("ready", (string)result["status"]!);
        Assert.Equal(1, (int)result["code_version"]!);
        Assert.Equal(2, result["uploads"]!.AsArray().Count);

        // What the agent stored is what it had: each clip's bytes, by SHA-256, through the API.
        var id = (string)result["video_id"]!;
        var viewer = _web.Token(Role.Viewer, project);
        for (var scene = 1; scene <= 2; scene++)
        {
            using var media = await _web.Http.SendAsync(_web.Request(HttpMethod.Get, $"/api/v1/videos/{id}/media/{scene}", viewer), Ct);
            Assert.True(media.IsSuccessStatusCode, $"scene {scene}: {(int)media.StatusCode}");
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(clips[scene - 1], Ct))),
                Convert.ToHexStringLower(SHA256.HashData(await media.Content.ReadAsByteArrayAsync(Ct))));
        }

        // The signed URL it was handed names this service and plays without a bearer token: the master playlist, a
        // variant playlist and the first segment it names all answer 200 through the signed query.
        var url = (string)result["playback"]!["url"]!;
        Assert.StartsWith(_web.BaseUrl + "/", url);
        using var anonymous = new HttpClient();
        var master = await anonymous.GetStringAsync(url, Ct);
        Assert.Contains("#EXT-X-STREAM-INF", master);
        var variant = await anonymous.GetStringAsync(Resolve(url, master), Ct);
        Assert.Contains("#EXT-X-PLAYLIST-TYPE:VOD", variant);
        using var segment = await anonymous.GetAsync(Resolve(Resolve(url, master), variant), Ct);
        Assert.True(segment.IsSuccessStatusCode, $"segment: {(int)segment.StatusCode}");
        Assert.True((await segment.Content.ReadAsByteArrayAsync(Ct)).Length > 0);
    }

    [Fact]
    public async Task A_refusal_is_printed_as_the_services_problem_with_its_fix_and_exit_status_1()
    {
        var project = "agent-" + Guid.NewGuid().ToString("N")[..8];
        using var dir = new TempDir();
        var code = dir.File("scenes.py");
        await File.WriteAllTextAsync(code, "from manim import *\n\nclass One(Scene):\n    pass\n", Ct);
        var clip = dir.File("scene1.mp4");
        await File.WriteAllTextAsync(clip, "not a video", Ct);

        // A viewer token may not create videos: 403, the service's own words, nothing half-done.
        var (exit, _, stderr) = await RunAgentAsync(_web.Token(Role.Viewer, project),
            ["--project", project, "--title", "t", "--code", code, "--clip", clip]);
        Assert.Equal(1, exit);
        Assert.Contains("403", stderr);
        Assert.Contains("error:", stderr);
        var (_, list) = await _web.SendAsync(HttpMethod.Get, $"/api/v1/projects/{project}/videos", _web.Token(Role.Viewer, project));
        Assert.Empty(list!["videos"]!.AsArray());
    }

    /// <summary>The first line a playlist names that is not a tag, resolved against the playlist's own URL (query kept).</summary>
    private static string Resolve(string playlistUrl, string playlist)
    {
        var line = playlist.Split('\n').Select(l => l.Trim()).First(l => l.Length > 0 && !l.StartsWith('#'));
        var resolved = new Uri(new Uri(playlistUrl), line);
        // A relative reference carries no query: the signed grant rides on the playlist's query, as players do with it.
        return resolved.Query.Length > 0 ? resolved.ToString() : resolved + new Uri(playlistUrl).Query;
    }

    private async Task<(int Exit, string Stdout, string Stderr)> RunAgentAsync(string token, string[] args)
    {
        var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(Repository.Root, "examples", "agent_client.py"));
        psi.ArgumentList.Add("--url");
        psi.ArgumentList.Add(_web.BaseUrl);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["MANIMCLOUD_TOKEN"] = token;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync(Ct);
        var stderr = p.StandardError.ReadToEndAsync(Ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromMinutes(5));
        try { await p.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException) { p.Kill(true); throw; }
        return (p.ExitCode, await stdout, await stderr);
    }
}
