using System.Net;
using System.Security.Cryptography;
using System.Text;
using ManimCloud.Delivery;
using ManimCloud.Storage;

namespace ManimCloud.Tests.Web;

/// <summary>The service as the CDN edge: delivery's signed URLs and cookies verified on every rendition request.</summary>
public sealed class PlaybackEdgeTests : IAsyncLifetime
{
    private WebHarness _web = null!;
    private readonly string _folder = $"transcoded/edge-p/{Guid.NewGuid()}/";
    private readonly byte[] _segment = RandomNumberGenerator.GetBytes(200_000);

    public async Task InitializeAsync()
    {
        _web = await WebHarness.StartAsync();
        await PutAsync(_folder + "v2/hls/master.m3u8", Encoding.UTF8.GetBytes("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000000\n720p.m3u8\n"));
        // v2 reuses v1's segment of an unchanged scene: the grant covers the whole video folder.
        await PutAsync(_folder + "v2/hls/720p.m3u8", Encoding.UTF8.GetBytes("#EXTM3U\n#EXT-X-MAP:URI=\"../../v1/cmaf/a/720p/init.mp4\"\n#EXTINF:2.0,\n../../v1/cmaf/a/720p/seg_00001.m4s\n#EXT-X-ENDLIST\n"));
        await PutAsync(_folder + "v1/cmaf/a/720p/seg_00001.m4s", _segment);
    }

    private async Task PutAsync(string key, byte[] bytes) =>
        await _web.Client.Local.Videos.PutAsync(new ObjectWrite(key, ObjectKind.Rendition, "application/octet-stream", new Dictionary<string, string>(),
            Convert.ToHexStringLower(SHA256.HashData(bytes)), bytes.Length), new MemoryStream(bytes), CancellationToken.None);

    public async Task DisposeAsync() => await _web.DisposeAsync();

    private SignedGrant Grant(TimeSpan lifetime, string? folder = null) =>
        _web.Client.Delivery.Signer.Sign(new PlaybackPolicy($"{_web.Client.Delivery.PlaybackBaseUrl}/{folder ?? _folder}*", DateTimeOffset.UtcNow + lifetime));

    [Fact]
    public async Task A_signed_manifest_carries_its_grant_to_relative_uris_and_the_segments_come_back_byte_identical()
    {
        var grant = Grant(TimeSpan.FromMinutes(10));
        var master = await _web.Http.GetAsync($"/{_folder}v2/hls/master.m3u8?{grant.Query}");
        Assert.Equal(HttpStatusCode.OK, master.StatusCode);
        Assert.Equal("application/vnd.apple.mpegurl", master.Content.Headers.ContentType!.MediaType);
        Assert.Contains("720p.m3u8?" + grant.Query, await master.Content.ReadAsStringAsync());
        Assert.Contains("private", master.Headers.CacheControl!.ToString());

        var variant = await _web.Http.GetStringAsync($"/{_folder}v2/hls/720p.m3u8?{grant.Query}");
        var segmentUri = variant.Split('\n').Single(l => l.Contains("seg_00001.m4s"));
        var segment = await _web.Http.GetAsync(new Uri(new Uri($"{_web.BaseUrl}/{_folder}v2/hls/720p.m3u8"), segmentUri));
        Assert.Equal(HttpStatusCode.OK, segment.StatusCode);
        Assert.Equal(_segment, await segment.Content.ReadAsByteArrayAsync());
        Assert.Equal("video/iso.segment", segment.Content.Headers.ContentType!.MediaType);

        // Signed cookies instead of the query: the stored bytes, unchanged.
        using var withCookies = new HttpRequestMessage(HttpMethod.Get, $"/{_folder}v1/cmaf/a/720p/seg_00001.m4s");
        withCookies.Headers.Add("Cookie", string.Join("; ", grant.Cookies.Select(c => $"{c.Key}={c.Value}")));
        var byCookie = await _web.Http.SendAsync(withCookies);
        Assert.Equal(HttpStatusCode.OK, byCookie.StatusCode);
        Assert.Equal(_segment, await byCookie.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Expired_tampered_missing_and_other_video_grants_are_refused_with_403()
    {
        var expired = Grant(TimeSpan.FromSeconds(-5));
        var good = Grant(TimeSpan.FromMinutes(10));
        var tampered = good.Query.Replace("Signature=" + good.Signature, "Signature=" + good.Signature[..^4] + "AAAA");
        var otherVideo = Grant(TimeSpan.FromMinutes(10), $"transcoded/edge-p/{Guid.NewGuid()}/");
        var segment = $"/{_folder}v1/cmaf/a/720p/seg_00001.m4s";
        foreach (var (query, outcome) in new[]
        {
            (expired.Query, "Expired"), (tampered, "BadSignature"), ("", "Missing"), (otherVideo.Query, "NotCovered"),
        })
        {
            var r = await _web.Http.GetAsync(segment + (query.Length > 0 ? "?" + query : ""));
            Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
            Assert.Contains(outcome, await r.Content.ReadAsStringAsync());
        }
        var traversal = await _web.Http.GetAsync($"/{_folder}v1/..%2F..%2F..%2Fcatalog.db?{good.Query}");
        Assert.True(traversal.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound or HttpStatusCode.Forbidden, traversal.StatusCode.ToString());
    }
}
