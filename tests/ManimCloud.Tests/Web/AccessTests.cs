using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Tests.Support;
using ManimCloud.Web;
using ManimCloud.Web.Access;

namespace ManimCloud.Tests.Web;

/// <summary>Tokens, roles, projects and hostile input: the right status, and nothing written.</summary>
public sealed class AccessTests : IAsyncLifetime
{
    private WebHarness _web = null!;
    public async Task InitializeAsync() => _web = await WebHarness.StartAsync();
    public async Task DisposeAsync() => await _web.DisposeAsync();

    private static string NewProject() => "acc-" + Guid.NewGuid().ToString("N")[..10];

    private async Task<int> VideoCountAsync(string project)
    {
        var (_, page) = await _web.SendAsync(HttpMethod.Get, $"/api/v1/projects/{project}/videos?limit=1000", _web.Token(Role.Admin));
        return page!["videos"]!.AsArray().Count;
    }

    [Fact]
    public async Task Missing_unknown_tampered_expired_and_revoked_tokens_are_refused_with_401()
    {
        var project = NewProject();
        var good = _web.Token(Role.Editor);
        var tampered = good[..^1] + (good[^1] == 'A' ? 'B' : 'A');
        var expiring = _web.Tokens.Create(Role.Editor, null, TimeSpan.FromSeconds(1), "short");
        var revoked = _web.Tokens.Create(Role.Editor, null, null, "gone");
        _web.Tokens.Revoke(revoked.Token.Id);
        await Task.Delay(1200);
        foreach (var (token, says) in new (string?, string)[]
        {
            (null, "no bearer token"), ("mct_000000000000_" + new string('a', 43), "unknown"), (tampered, "tampered"),
            (expiring.Secret, "expired"), (revoked.Secret, "revoked"), ("not-a-token", "not a ManimCloud token"),
        })
        {
            var (r, problem) = await _web.SendAsync(HttpMethod.Post, $"/api/v1/projects/{project}/videos", token, new JsonObject { ["title"] = "x" });
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
            Assert.Contains(says, (string)problem!["detail"]!);
            Assert.Equal("Bearer", r.Headers.WwwAuthenticate.Single().Scheme);
        }
        Assert.Equal(0, await VideoCountAsync(project));
    }

    [Fact]
    public async Task Roles_and_projects_are_checked_on_every_endpoint()
    {
        var project = NewProject();
        var other = NewProject();
        var editor = _web.Token(Role.Editor, project);
        var id = await _web.CreateVideoAsync(editor, project);

        var viewer = _web.Token(Role.Viewer, project);
        var (readOk, _) = await _web.SendAsync(HttpMethod.Get, $"/api/v1/videos/{id}", viewer);
        Assert.Equal(HttpStatusCode.OK, readOk.StatusCode);
        var (write, problem) = await _web.SendAsync(HttpMethod.Patch, $"/api/v1/videos/{id}", viewer, new JsonObject { ["title"] = "no" });
        Assert.Equal(HttpStatusCode.Forbidden, write.StatusCode);
        Assert.Contains("viewer", (string)problem!["detail"]!);

        var otherProject = _web.Token(Role.Admin, other);
        foreach (var (method, path) in new[]
        {
            (HttpMethod.Get, $"/api/v1/videos/{id}"), (HttpMethod.Get, $"/api/v1/videos/{id}/code"), (HttpMethod.Get, $"/api/v1/projects/{project}/videos"),
            (HttpMethod.Get, $"/api/v1/videos/{id}/media/full"), (HttpMethod.Get, $"/api/v1/projects/{project}/webhooks"),
        })
        {
            var (r, p) = await _web.SendAsync(method, path, otherProject);
            Assert.True(r.StatusCode == HttpStatusCode.Forbidden, $"{method} {path}: {r.StatusCode}");
            Assert.Contains($"for project '{other}'", (string)p!["detail"]!);
        }
        var (create, _) = await _web.SendAsync(HttpMethod.Post, $"/api/v1/projects/{project}/videos", otherProject, new JsonObject { ["title"] = "intruder" });
        Assert.Equal(HttpStatusCode.Forbidden, create.StatusCode);
        Assert.Equal(1, await VideoCountAsync(project));

        var (hooks, _) = await _web.SendAsync(HttpMethod.Get, $"/api/v1/projects/{project}/webhooks", editor);
        Assert.Equal(HttpStatusCode.Forbidden, hooks.StatusCode); // webhooks need admin
    }

    [Fact]
    public async Task Hostile_ids_bodies_and_content_types_are_refused_before_anything_is_written()
    {
        var project = NewProject();
        var editor = _web.Token(Role.Editor);
        foreach (var path in new[]
        {
            "/api/v1/projects/..%2F..%2Fetc/videos", "/api/v1/projects/Upper/videos", "/api/v1/projects/a%00b/videos",
            "/api/v1/videos/..%2F..%2Fcatalog.db", "/api/v1/videos/not-a-uuid/code", $"/api/v1/videos/{Guid.NewGuid()}/media/..%2F..%2Fcatalog.db",
        })
        {
            var (r, p) = await _web.SendAsync(HttpMethod.Get, path, editor);
            Assert.True(r.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound, $"{path}: {r.StatusCode}");
            if (p is not null) Assert.Equal(r.StatusCode == HttpStatusCode.BadRequest ? "invalid_input" : "not_found", (string)p["kind"]!); // Kestrel itself refuses a NUL, with no body
        }

        var form = _web.Request(HttpMethod.Post, $"/api/v1/projects/{project}/videos", editor);
        form.Content = new StringContent("title=x", Encoding.UTF8, "application/x-www-form-urlencoded");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await _web.Http.SendAsync(form)).StatusCode);

        var huge = _web.Request(HttpMethod.Post, $"/api/v1/projects/{project}/videos", editor);
        huge.Content = new StringContent(new JsonObject { ["title"] = new string('x', 200_000) }.ToJsonString(), Encoding.UTF8, "application/json");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await _web.Http.SendAsync(huge)).StatusCode);

        var notJson = _web.Request(HttpMethod.Post, $"/api/v1/projects/{project}/videos", editor);
        notJson.Content = new StringContent("{\"title\": ", Encoding.UTF8, "application/json");
        Assert.Equal(HttpStatusCode.BadRequest, (await _web.Http.SendAsync(notJson)).StatusCode);

        var (unknown, p2) = await _web.SendAsync(HttpMethod.Post, $"/api/v1/projects/{project}/videos", editor, new JsonObject { ["title"] = "x", ["revision"] = 99 });
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.Contains("revision", (string)p2!["detail"]!);

        var id = await _web.CreateVideoAsync(editor, project);
        var binary = _web.Request(HttpMethod.Post, $"/api/v1/videos/{id}/code", editor);
        binary.Content = new ByteArrayContent([0xff, 0xfe, 0x00, 0x41]);
        binary.Content.Headers.ContentType = new MediaTypeHeaderValue("text/x-python");
        Assert.Equal(HttpStatusCode.BadRequest, (await _web.Http.SendAsync(binary)).StatusCode);
        var (history, _) = await _web.SendAsync(HttpMethod.Get, $"/api/v1/videos/{id}/code", editor);
        Assert.Equal(HttpStatusCode.OK, history.StatusCode);
        Assert.Equal(1, await VideoCountAsync(project));
        Assert.DoesNotContain(Directory.EnumerateFiles(_web.Home.Path), f => !Path.GetFileName(f).StartsWith("catalog.db", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Each_token_has_its_own_request_rate()
    {
        await using var web = await WebHarness.StartAsync(new ServeOptions { RateLimit = 3 });
        var busy = web.Token(Role.Viewer);
        var calm = web.Token(Role.Viewer);
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 30; i++)
            statuses.Add((await web.SendAsync(HttpMethod.Get, $"/api/v1/projects/{NewProject()}/videos", busy)).Response.StatusCode);
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        var (r, _) = await web.SendAsync(HttpMethod.Get, $"/api/v1/projects/{NewProject()}/videos", calm);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
    }

    [Fact]
    public async Task Responses_carry_security_headers_and_the_api_answers_cors_only_for_configured_origins()
    {
        var r = await _web.Http.GetAsync("/healthz");
        Assert.Equal("nosniff", r.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("DENY", r.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("no-referrer", r.Headers.GetValues("Referrer-Policy").Single());
        Assert.Contains("default-src 'self'", r.Headers.GetValues("Content-Security-Policy").Single());

        var preflight = new HttpRequestMessage(HttpMethod.Options, "/api/v1/projects/p/videos");
        preflight.Headers.Add("Origin", "https://evil.example");
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        var answer = await _web.Http.SendAsync(preflight);
        Assert.False(answer.Headers.Contains("Access-Control-Allow-Origin"));

        await using var withCors = await WebHarness.StartAsync(new ServeOptions { CorsOrigins = ["https://app.example"] });
        var allowed = new HttpRequestMessage(HttpMethod.Options, "/api/v1/projects/p/videos");
        allowed.Headers.Add("Origin", "https://app.example");
        allowed.Headers.Add("Access-Control-Request-Method", "POST");
        allowed.Headers.Add("Access-Control-Request-Headers", "authorization,content-type");
        var ok = await withCors.Http.SendAsync(allowed);
        Assert.Equal("https://app.example", ok.Headers.GetValues("Access-Control-Allow-Origin").Single());
    }
}
