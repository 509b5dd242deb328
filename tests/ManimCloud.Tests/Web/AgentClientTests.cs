using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using ManimCloud.Rendering;
using ManimCloud.Tests.Support;
using ManimCloud.Web.Access;

namespace ManimCloud.Tests.Web;

/// <summary>
/// examples/agent_client.py — the standard-library Python client a renderer agent would use — run with python3 against
/// a live `serve`: code and two clips in, a ready video and a playback URL whose manifest opens with its grant out;
/// and a refusal printed as the service's problem (message and fix) with exit status 1.
/// </summary>
public sealed class AgentClientTests : IAsyncLifetime
{
    private WebHarness _web = null!;
    private readonly TempDir _files = new();
    public async Task InitializeAsync() => _web = await WebHarness.StartAsync();

    public async Task DisposeAsync()
    {
        await _web.DisposeAsync();
        _files.Dispose();
    }

    private static string NewProject() => "agent-" + Guid.NewGuid().ToString("N")[..10];

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ManimCloud.slnx"))) return dir.FullName;
        throw new DirectoryNotFoundException("ManimCloud.slnx not found above " + AppContext.BaseDirectory);
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunClientAsync(params string[] args)
    {
        var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(RepositoryRoot(), "examples", "agent_client.py"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove("MANIMCLOUD_TOKEN");
        psi.Environment.Remove("MANIMCLOUD_URL");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await p.WaitForExitAsync(cts.Token);
        return (p.ExitCode, await stdout, await stderr);
    }

    private async Task<(string Code, string Clip1, string Clip2)> AgentOutputAsync()
    {
        var code = _files.File("scenes.py");
        await File.WriteAllTextAsync(code, "from manim import *\n\nclass One(Scene):\n    def construct(self):\n        self.wait(1)\n\n" +
            "class Two(Scene):\n    def construct(self):\n        self.wait(1)\n");
        var render = new TestRenderer();
        var clip1 = _files.File("one.mp4");
        var clip2 = _files.File("two.mp4");
        await render.RenderClipAsync(clip1, 1, 1.2, CancellationToken.None, "640x360", 30, true, "yuv420p");
        await render.RenderClipAsync(clip2, 2, 0.8, CancellationToken.None, "640x360", 30, false, "yuv420p");
        return (code, clip1, clip2);
    }

    [Fact]
    public async Task A_python_agent_publishes_code_and_clips_and_gets_a_playback_url_whose_manifest_opens_with_its_grant()
    {
        var project = NewProject();
        var token = _web.Token(Role.Editor, project);
        var (code, clip1, clip2) = await AgentOutputAsync();

        var (exit, stdout, stderr) = await RunClientAsync("--url", _web.BaseUrl, "--token", token, "--project", project, "--title", "From Python",
            "--code", code, "--clip", clip1, "--clip", clip2, "--json", "--timeout", "240");

        Assert.True(exit == 0, $"agent_client.py exited {exit}:\n{stderr}\n{stdout}");
        var result = JsonNode.Parse(stdout)!;
        var id = (string)result["video_id"]!;
        Assert.Equal("ready", (string)result["status"]!);
        Assert.Equal(1, (int)result["code_version"]!);
        Assert.Equal(2, result["uploads"]!.AsArray().Count);
        Assert.All(result["uploads"]!.AsArray(), u => Assert.Equal("complete", (string)u!["state"]!));

        // What the service holds is what the agent sent: the code, and each clip byte for byte.
        var (show, video) = await _web.SendAsync(HttpMethod.Get, $"/api/v1/videos/{id}", token);
        Assert.Equal(HttpStatusCode.OK, show.StatusCode);
        Assert.Equal("ready", (string)video!["status"]!);
        var source = await _web.Http.SendAsync(_web.Request(HttpMethod.Get, $"/api/v1/videos/{id}/code/latest", token));
        Assert.Equal(await File.ReadAllTextAsync(code), await source.Content.ReadAsStringAsync());
        foreach (var (slot, clip) in new[] { ("scene_001", clip1), ("scene_002", clip2) })
        {
            var media = await _web.Http.SendAsync(_web.Request(HttpMethod.Get, $"/api/v1/videos/{id}/media/{slot}", token));
            Assert.Equal(await File.ReadAllBytesAsync(clip), await media.Content.ReadAsByteArrayAsync());
        }

        // The playback URL plays: its manifest opens with the grant it carries (no token), and not without it.
        var manifestUrl = (string)result["playback"]!["manifest"]!;
        using var anonymous = new HttpClient();
        var manifest = await anonymous.GetAsync(manifestUrl);
        Assert.Equal(HttpStatusCode.OK, manifest.StatusCode);
        var text = await manifest.Content.ReadAsStringAsync();
        Assert.StartsWith("#EXTM3U", text);
        Assert.Contains(".m3u8?", text); // the variants carry the grant too
        var bare = new UriBuilder(manifestUrl) { Query = "" }.Uri;
        Assert.Equal(HttpStatusCode.Forbidden, (await anonymous.GetAsync(bare)).StatusCode);
    }

    [Fact]
    public async Task A_refusal_is_printed_as_the_services_problem_with_its_fix_and_exit_status_1()
    {
        var project = NewProject();
        var (code, clip1, _) = await AgentOutputAsync();

        // A viewer token may not create videos: the service's 403 problem, printed as the CLI prints errors.
        var viewer = _web.Token(Role.Viewer, project);
        var (exit, _, stderr) = await RunClientAsync("--url", _web.BaseUrl, "--token", viewer, "--project", project, "--title", "No",
            "--code", code, "--clip", clip1);
        Assert.Equal(1, exit);
        Assert.Contains("403", stderr);
        Assert.Contains("error: ", stderr);
        Assert.Contains("viewer", stderr);
        Assert.Contains("fix: ", stderr);

        // A clip that is not an MP4 is refused when its last byte arrives, and the agent hears why.
        var editor = _web.Token(Role.Editor, project);
        var notVideo = _files.File("notes.mp4");
        await File.WriteAllTextAsync(notVideo, "these are not frames\n");
        (exit, var stdout, stderr) = await RunClientAsync("--url", _web.BaseUrl, "--token", editor, "--project", project, "--title", "Bad clip",
            "--code", code, "--clip", notVideo, "--json");
        Assert.Equal(1, exit);
        Assert.Contains("error: ", stderr);
        Assert.Contains("MP4", stderr, StringComparison.OrdinalIgnoreCase);
        Assert.NotNull(JsonNode.Parse(stdout)!["error"]);

        // Nothing answering at the URL: said so, with the fix.
        (exit, _, stderr) = await RunClientAsync("--url", "http://127.0.0.1:9", "--token", editor, "--project", project, "--title", "Nobody",
            "--code", code, "--clip", clip1);
        Assert.Equal(1, exit);
        Assert.Contains("no answer", stderr);
        Assert.Contains("fix: Check that `manimcloud serve` runs", stderr);
    }
}
