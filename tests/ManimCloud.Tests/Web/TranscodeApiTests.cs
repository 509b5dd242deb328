using System.Net;
using System.Text.Json.Nodes;
using ManimCloud.Web.Access;

namespace ManimCloud.Tests.Web;

/// <summary>POST /videos/{id}/transcode refuses what it cannot start, with the reason and the fix, and changes nothing.</summary>
public sealed class TranscodeApiTests : IAsyncLifetime
{
    private WebHarness _web = null!;
    public async Task InitializeAsync() => _web = await WebHarness.StartAsync();
    public async Task DisposeAsync() => await _web.DisposeAsync();

    [Fact]
    public async Task A_transcode_request_without_media_a_bad_engine_or_a_viewer_token_is_refused_and_the_status_stays()
    {
        var project = "tr-" + Guid.NewGuid().ToString("N")[..10];
        var editor = _web.Token(Role.Editor, project);
        var id = await _web.CreateVideoAsync(editor, project);

        var (none, problem) = await _web.SendAsync(HttpMethod.Post, $"/api/v1/videos/{id}/transcode", editor);
        Assert.Equal(HttpStatusCode.Conflict, none.StatusCode);
        Assert.Contains("no clips", (string)problem!["detail"]!);
        Assert.Contains("Upload", (string)problem["fix"]!);

        var (engine, p2) = await _web.SendAsync(HttpMethod.Post, $"/api/v1/videos/{id}/transcode?engine=handbrake", editor);
        Assert.Equal(HttpStatusCode.BadRequest, engine.StatusCode);
        Assert.Contains("handbrake", (string)p2!["detail"]!);

        var (viewer, _) = await _web.SendAsync(HttpMethod.Post, $"/api/v1/videos/{id}/transcode", _web.Token(Role.Viewer, project));
        Assert.Equal(HttpStatusCode.Forbidden, viewer.StatusCode);

        var (_, video) = await _web.SendAsync(HttpMethod.Get, $"/api/v1/videos/{id}", editor);
        Assert.Equal("created", (string)video!["status"]!);
    }
}
