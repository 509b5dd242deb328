using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Web;
using ManimCloud.Web.Access;
using ManimCloud.Web.Uploads;

namespace ManimCloud.Tests.Web;

/// <summary>tus 1.0 over real sockets: creation, resume after an interrupted PATCH, offsets, checksums, termination, expiry.</summary>
public sealed class TusTests : IAsyncLifetime
{
    private WebHarness _web = null!;
    private string _token = null!;
    private string _video = null!;
    private byte[] _clip = null!;

    public async Task InitializeAsync()
    {
        _web = await WebHarness.StartAsync(new ServeOptions { UploadExpiry = TimeSpan.FromHours(1) });
        _token = _web.Token(Role.Editor);
        _video = await _web.CreateVideoAsync(_token, "tus-" + Guid.NewGuid().ToString("N")[..8]);
        var path = _web.Home.File("source.mp4");
        await new Rendering.TestRenderer().RenderClipAsync(path, 1, 2, CancellationToken.None);
        _clip = await File.ReadAllBytesAsync(path);
        File.Delete(path);
    }

    public async Task DisposeAsync() => await _web.DisposeAsync();

    private static string Meta(params (string Key, string Value)[] pairs) =>
        string.Join(",", pairs.Select(p => $"{p.Key} {Convert.ToBase64String(Encoding.UTF8.GetBytes(p.Value))}"));

    private HttpRequestMessage Tus(HttpMethod method, string path)
    {
        var r = _web.Request(method, path, _token);
        r.Headers.Add("Tus-Resumable", "1.0.0");
        return r;
    }

    private async Task<string> CreateAsync(long length, string slot = "scene_001")
    {
        var create = Tus(HttpMethod.Post, "/api/v1/uploads/");
        create.Headers.Add("Upload-Length", length.ToString());
        create.Headers.Add("Upload-Metadata", Meta(("video", _video), ("slot", slot), ("filename", "Scene1.mp4")));
        var r = await _web.Http.SendAsync(create);
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        Assert.Equal("1.0.0", r.Headers.GetValues("Tus-Resumable").Single());
        Assert.True(r.Headers.Contains("Upload-Expires"));
        return r.Headers.Location!.ToString();
    }

    private async Task<long> OffsetAsync(string location)
    {
        var head = await _web.Http.SendAsync(Tus(HttpMethod.Head, location));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        return long.Parse(head.Headers.GetValues("Upload-Offset").Single());
    }

    private async Task<HttpResponseMessage> PatchAsync(string location, long offset, ReadOnlyMemory<byte> bytes, string? checksum = null, string type = TusProtocol.OffsetContentType)
    {
        var patch = Tus(HttpMethod.Patch, location);
        patch.Headers.Add("Upload-Offset", offset.ToString());
        if (checksum is not null) patch.Headers.Add("Upload-Checksum", checksum);
        patch.Content = new ReadOnlyMemoryContent(bytes);
        patch.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(type);
        return await _web.Http.SendAsync(patch);
    }

    [Fact]
    public async Task Discovery_names_the_version_extensions_and_limits()
    {
        var r = await _web.Http.SendAsync(new HttpRequestMessage(HttpMethod.Options, "/api/v1/uploads/"));
        Assert.Equal(HttpStatusCode.NoContent, r.StatusCode);
        Assert.Equal("1.0.0", r.Headers.GetValues("Tus-Version").Single());
        Assert.Equal("creation,termination,checksum,expiration", r.Headers.GetValues("Tus-Extension").Single());
        Assert.Contains("sha1", r.Headers.GetValues("Tus-Checksum-Algorithm").Single());
    }

    /// <summary>The connection drops in the middle of a PATCH: what arrived is kept, HEAD says how much, the rest follows.</summary>
    [Fact]
    public async Task An_interrupted_upload_resumes_where_it_stopped_and_arrives_byte_identical_through_the_video_put_path()
    {
        var location = await CreateAsync(_clip.Length);
        var cut = _clip.Length / 2;

        // A raw socket: send the headers announcing the whole remainder, then only part of it, then close.
        var uri = new Uri(new Uri(_web.BaseUrl), location);
        using (var socket = new TcpClient())
        {
            await socket.ConnectAsync(uri.Host, uri.Port);
            var stream = socket.GetStream();
            var head = $"PATCH {uri.PathAndQuery} HTTP/1.1\r\nHost: {uri.Authority}\r\nAuthorization: Bearer {_token}\r\nTus-Resumable: 1.0.0\r\n" +
                $"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: {_clip.Length}\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
            await stream.WriteAsync(_clip.AsMemory(0, cut));
            await stream.FlushAsync();
            await Task.Delay(500);
        }

        var offset = 0L;
        for (var i = 0; i < 50 && offset == 0; i++)
        {
            await Task.Delay(100);
            offset = await OffsetAsync(location);
        }
        Assert.InRange(offset, 1, cut);

        var rest = await PatchAsync(location, offset, _clip.AsMemory((int)offset));
        Assert.Equal(HttpStatusCode.NoContent, rest.StatusCode);
        Assert.Equal(_clip.Length.ToString(), rest.Headers.GetValues("Upload-Offset").Single());

        var (_, status) = await _web.SendAsync(HttpMethod.Get, location, _token);
        Assert.Equal("complete", (string)status!["state"]!);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(_clip)), (string)status["media"]!["sha256"]!);
        var download = await _web.Http.SendAsync(_web.Request(HttpMethod.Get, $"/api/v1/videos/{_video}/media/scene_001", _token));
        Assert.Equal(_clip, await download.Content.ReadAsByteArrayAsync());
        var (_, record) = await _web.SendAsync(HttpMethod.Get, $"/api/v1/videos/{_video}", _token);
        Assert.Equal($"videos/{record!["project_id"]}/{_video}/v1/scene_001.mp4", (string)record["media"]!["scene_001"]!["key"]!);
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_web.Home.Path, "uploads")));
    }

    [Fact]
    public async Task A_wrong_offset_a_bad_checksum_and_a_wrong_content_type_change_nothing()
    {
        var location = await CreateAsync(_clip.Length);
        var first = _clip.AsMemory(0, 1000);
        Assert.Equal(HttpStatusCode.NoContent, (await PatchAsync(location, 0, first, "sha1 " + Convert.ToBase64String(SHA1.HashData(first.Span)))).StatusCode);
        Assert.Equal(1000, await OffsetAsync(location));

        Assert.Equal(HttpStatusCode.Conflict, (await PatchAsync(location, 500, _clip.AsMemory(500, 1000))).StatusCode);
        Assert.Equal(1000, await OffsetAsync(location));

        var bad = await PatchAsync(location, 1000, _clip.AsMemory(1000, 1000), "sha256 " + Convert.ToBase64String(new byte[32]));
        Assert.Equal(460, (int)bad.StatusCode);
        Assert.Equal(1000, await OffsetAsync(location));
        Assert.Equal(1000, new FileInfo(Path.Combine(_web.Home.Path, "uploads", location.Split('/')[^1] + ".bin")).Length);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await PatchAsync(location, 1000, _clip.AsMemory(1000, 10), type: "application/octet-stream")).StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await PatchAsync(location, 1000, new byte[_clip.Length])).StatusCode);
        Assert.Equal(1000, await OffsetAsync(location));

        var noVersion = _web.Request(HttpMethod.Head, location, _token);
        Assert.Equal(HttpStatusCode.PreconditionFailed, (await _web.Http.SendAsync(noVersion)).StatusCode);
    }

    [Fact]
    public async Task Creation_refuses_bad_metadata_sizes_and_other_projects()
    {
        async Task<HttpStatusCode> Create(string? length, string metadata, string? token = null)
        {
            var r = _web.Request(HttpMethod.Post, "/api/v1/uploads/", token ?? _token);
            r.Headers.Add("Tus-Resumable", "1.0.0");
            if (length is not null) r.Headers.Add("Upload-Length", length);
            r.Headers.Add("Upload-Metadata", metadata);
            return (await _web.Http.SendAsync(r)).StatusCode;
        }
        Assert.Equal(HttpStatusCode.BadRequest, await Create(null, Meta(("video", _video), ("slot", "full"))));
        Assert.Equal(HttpStatusCode.BadRequest, await Create("-5", Meta(("video", _video), ("slot", "full"))));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, await Create((9L << 30).ToString(), Meta(("video", _video), ("slot", "full"))));
        Assert.Equal(HttpStatusCode.BadRequest, await Create("10", Meta(("video", "../../etc/passwd"), ("slot", "full"))));
        Assert.Equal(HttpStatusCode.BadRequest, await Create("10", Meta(("video", _video), ("slot", "../../x"))));
        Assert.Equal(HttpStatusCode.BadRequest, await Create("10", "video !!notbase64"));
        Assert.Equal(HttpStatusCode.NotFound, await Create("10", Meta(("video", Guid.NewGuid().ToString()), ("slot", "full"))));
        Assert.Equal(HttpStatusCode.Forbidden, await Create("10", Meta(("video", _video), ("slot", "full")), _web.Token(Role.Editor, "someone-else")));
        Assert.Equal(HttpStatusCode.Forbidden, await Create("10", Meta(("video", _video), ("slot", "full")), _web.Token(Role.Viewer)));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_web.Home.Path, "uploads")));
    }

    [Fact]
    public async Task A_finished_upload_that_is_not_an_mp4_is_refused_as_video_put_refuses_it_and_nothing_is_kept()
    {
        var junk = Encoding.UTF8.GetBytes("this is not a video at all, just text");
        var location = await CreateAsync(junk.Length, "full");
        var r = await PatchAsync(location, 0, junk);
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Contains("not an MP4", (string)JsonNode.Parse(await r.Content.ReadAsStringAsync())!["detail"]!);
        var (_, status) = await _web.SendAsync(HttpMethod.Get, location, _token);
        Assert.Equal("failed", (string)status!["state"]!);
        var (_, record) = await _web.SendAsync(HttpMethod.Get, $"/api/v1/videos/{_video}", _token);
        Assert.Null(record!["media"]!["full"]);
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_web.Home.Path, "uploads")));
    }

    [Fact]
    public async Task Terminated_and_expired_uploads_lose_their_bytes()
    {
        var terminated = await CreateAsync(_clip.Length);
        await PatchAsync(terminated, 0, _clip.AsMemory(0, 4096));
        Assert.Equal(HttpStatusCode.NoContent, (await _web.Http.SendAsync(Tus(HttpMethod.Delete, terminated))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _web.Http.SendAsync(Tus(HttpMethod.Head, terminated))).StatusCode);

        var abandoned = await CreateAsync(_clip.Length);
        await PatchAsync(abandoned, 0, _clip.AsMemory(0, 4096));
        var file = Path.Combine(_web.Home.Path, "uploads", abandoned.Split('/')[^1] + ".bin");
        Assert.True(File.Exists(file));
        var sweeper = (UploadSweeper)_web.App.Services.GetService(typeof(UploadSweeper))!;
        Assert.Equal(1, sweeper.Sweep(DateTimeOffset.UtcNow.AddHours(2)));
        Assert.False(File.Exists(file));
        Assert.Equal(HttpStatusCode.Gone, (await _web.Http.SendAsync(Tus(HttpMethod.Head, abandoned))).StatusCode);
        Assert.Equal(HttpStatusCode.Gone, (await PatchAsync(abandoned, 4096, _clip.AsMemory(4096, 10))).StatusCode);
    }
}
