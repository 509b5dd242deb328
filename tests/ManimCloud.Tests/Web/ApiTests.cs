using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Tests.Support;
using ManimCloud.Web.Access;

namespace ManimCloud.Tests.Web;

/// <summary>The HTTP API over real sockets in local mode: resources mirror the CLI's JSON, errors are problem details.</summary>
public sealed class ApiTests : IAsyncLifetime
{
    private WebHarness _web = null!;
    public async Task InitializeAsync() => _web = await WebHarness.StartAsync();
    public async Task DisposeAsync() => await _web.DisposeAsync();

    [Fact]
    public async Task Videos_are_created_listed_newest_first_in_pages_shown_and_updated_with_if_match()
    {
        var editor = _web.Token(Role.Editor);
        var project = Names.Unique("p").ToLowerInvariant();
        var ids = new List<string>();
        for (var i = 0; i < 5; i++) ids.Add(await _web.CreateVideoAsync(editor, project, $"Video {i}"));

        var seen = new List<string>();
        string? next = null;
        do
        {
            var (r, page) = await _web.SendAsync(HttpMethod.Get, $"/api/v1/projects/{project}/videos?limit=2{(next is null ? "" : $"&next={Uri.EscapeDataString(next)}")}", editor);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            seen.AddRange(page!["videos"]!.AsArray().Select(v => (string)v!["video_id"]!));
            next = (string?)page["next"];
        } while (next is not null);
        ids.Reverse();
        Assert.Equal(ids, seen);

        var (show, record) = await _web.SendAsync(HttpMethod.Get, $"/api/v1/videos/{ids[0]}", editor);
        Assert.Equal(HttpStatusCode.OK, show.StatusCode);
        Assert.Equal("\"1\"", show.Headers.ETag!.Tag);
        Assert.Equal(project, (string)record!["project_id"]!);

        var patch = _web.Request(HttpMethod.Patch, $"/api/v1/videos/{ids[0]}", editor, new JsonObject { ["status"] = "rendering", ["tags"] = new JsonArray("x", "y") });
        patch.Headers.IfMatch.Add(new EntityTagHeaderValue("\"1\""));
        var updated = await _web.Http.SendAsync(patch);
        Assert.Equal(HttpStatusCode.OK, updated.StatusCode);
        var after = JsonNode.Parse(await updated.Content.ReadAsStringAsync())!;
        Assert.Equal("rendering", (string)after["status"]!);
        Assert.Equal("\"2\"", updated.Headers.ETag!.Tag);

        // The revision moved on: a second writer holding revision 1 is refused with 412 and nothing changes.
        var stale = _web.Request(HttpMethod.Patch, $"/api/v1/videos/{ids[0]}", editor, new JsonObject { ["title"] = "Stale" });
        stale.Headers.IfMatch.Add(new EntityTagHeaderValue("\"1\""));
        var refused = await _web.Http.SendAsync(stale);
        Assert.Equal(HttpStatusCode.PreconditionFailed, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType!.MediaType);
        var (_, unchanged) = await _web.SendAsync(HttpMethod.Get, $"/api/v1/videos/{ids[0]}", editor);
        Assert.Equal("Video 4", (string)unchanged!["title"]!);
    }

    [Fact]
    public async Task Problem_details_carry_the_same_message_and_fix_as_the_cli()
    {
        var viewer = _web.Token(Role.Viewer);
        var missing = Guid.NewGuid().ToString();
        var (r, problem) = await _web.SendAsync(HttpMethod.Get, $"/api/v1/videos/{missing}", viewer);
        Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType!.MediaType);

        var cli = CliRunner.Run(CliRunner.LocalEnv(_web.Home.Path), "video", "show", missing, "--json");
        Assert.Equal(3, cli.ExitCode);
        Assert.Equal((string)cli.Json["error"]!["message"]!, (string)problem!["detail"]!);
        Assert.Equal((string)cli.Json["error"]!["hint"]!, (string)problem["fix"]!);
        Assert.Equal("not_found", (string)problem["kind"]!);
        Assert.Equal(404, (int)problem["status"]!);
    }

    [Fact]
    public async Task Code_versions_are_stored_listed_fetched_and_diffed()
    {
        var editor = _web.Token(Role.Editor);
        var id = await _web.CreateVideoAsync(editor, "code-" + Guid.NewGuid().ToString("N")[..8]);
        var v1 = "from manim import *\n\nclass A(Scene):\n    def construct(self):\n        self.play(Create(Circle()))\n";
        var v2 = v1.Replace("Circle()", "Square()") + "        self.wait(1)\n";
        foreach (var (code, n) in new[] { (v1, 1), (v2, 2) })
        {
            var put = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/videos/{id}/code") { Content = new StringContent(code, Encoding.UTF8, "text/x-python") };
            put.Headers.Authorization = new AuthenticationHeaderValue("Bearer", editor);
            var r = await _web.Http.SendAsync(put);
            Assert.Equal(HttpStatusCode.Created, r.StatusCode);
            Assert.Equal(n, (int)JsonNode.Parse(await r.Content.ReadAsStringAsync())!["version"]!);
        }
        var (_, history) = await _web.SendAsync(HttpMethod.Get, $"/api/v1/videos/{id}/code", editor);
        Assert.Equal([1, 2], history!["versions"]!.AsArray().Select(v => (int)v!["version"]!));

        var raw = await _web.Http.SendAsync(_web.Request(HttpMethod.Get, $"/api/v1/videos/{id}/code/1", editor));
        Assert.Equal(v1, await raw.Content.ReadAsStringAsync());
        Assert.StartsWith("text/x-python", raw.Content.Headers.ContentType!.ToString());

        var diff = await (await _web.Http.SendAsync(_web.Request(HttpMethod.Get, $"/api/v1/videos/{id}/code/diff?from=1&to=2", editor))).Content.ReadAsStringAsync();
        Assert.Contains("-        self.play(Create(Circle()))", diff);
        Assert.Contains("+        self.play(Create(Square()))", diff);
        Assert.Contains("+        self.wait(1)", diff);
        Assert.Contains("@@ -", diff);
    }

    [Fact]
    public async Task Media_downloads_with_range_and_the_sha256_as_etag()
    {
        var editor = _web.Token(Role.Editor);
        var id = await _web.CreateVideoAsync(editor, "media-" + Guid.NewGuid().ToString("N")[..8]);
        var clip = _web.Home.File("clip.mp4");
        await new Rendering.TestRenderer().RenderClipAsync(clip, 1, 0.5, CancellationToken.None);
        var stored = await _web.Client.PutMediaAsync(Domain.VideoId.Parse(id), Domain.MediaSlot.ForScene(1), clip, CancellationToken.None);
        var bytes = await File.ReadAllBytesAsync(clip);

        var whole = await _web.Http.SendAsync(_web.Request(HttpMethod.Get, $"/api/v1/videos/{id}/media/scene_001", editor));
        Assert.Equal(HttpStatusCode.OK, whole.StatusCode);
        Assert.Equal($"\"{stored.Value.Sha256}\"", whole.Headers.ETag!.Tag);
        Assert.Equal(bytes, await whole.Content.ReadAsByteArrayAsync());

        var part = _web.Request(HttpMethod.Get, $"/api/v1/videos/{id}/media/1", editor);
        part.Headers.Range = new RangeHeaderValue(100, 299);
        var ranged = await _web.Http.SendAsync(part);
        Assert.Equal(HttpStatusCode.PartialContent, ranged.StatusCode);
        Assert.Equal(bytes[100..300], await ranged.Content.ReadAsByteArrayAsync());

        var cached = _web.Request(HttpMethod.Get, $"/api/v1/videos/{id}/media/scene_001", editor);
        cached.Headers.IfNoneMatch.Add(new EntityTagHeaderValue($"\"{stored.Value.Sha256}\""));
        Assert.Equal(HttpStatusCode.NotModified, (await _web.Http.SendAsync(cached)).StatusCode);

        var (none, _) = await _web.SendAsync(HttpMethod.Get, $"/api/v1/videos/{id}/media/full", editor);
        Assert.Equal(HttpStatusCode.NotFound, none.StatusCode);
    }

    [Fact]
    public async Task The_openapi_document_describes_every_api_endpoint_and_its_page_links_it()
    {
        var doc = JsonNode.Parse(await _web.Http.GetStringAsync("/openapi/v1.json"))!;
        var paths = doc["paths"]!.AsObject().Select(p => p.Key).ToHashSet();
        foreach (var expected in new[]
        {
            "/api/v1/projects/{project}/videos", "/api/v1/videos/{id}", "/api/v1/videos/{id}/code", "/api/v1/videos/{id}/code/{version}",
            "/api/v1/videos/{id}/code/diff", "/api/v1/videos/{id}/media/{slot}", "/api/v1/uploads", "/api/v1/uploads/{id}", "/api/v1/events",
            "/api/v1/projects/{project}/webhooks", "/api/v1/status", "/healthz", "/readyz",
        })
            Assert.Contains(expected, paths);
        // Every endpoint the service maps under /api/ is in the document (it cannot fall behind the code).
        var mapped = ((Microsoft.AspNetCore.Routing.IEndpointRouteBuilder)_web.App).DataSources.SelectMany(d => d.Endpoints)
            .OfType<Microsoft.AspNetCore.Routing.RouteEndpoint>().Select(e => "/" + e.RoutePattern.RawText!.Trim('/'))
            .Where(p => p.StartsWith("/api/v1/", StringComparison.Ordinal)).ToHashSet();
        Assert.NotEmpty(mapped);
        Assert.Empty(mapped.Except(paths));
        Assert.Contains("/openapi/v1.json", await _web.Http.GetStringAsync("/api"));
        Assert.Contains("/openapi/v1.json", await _web.Http.GetStringAsync("/"));
    }
}
