using ManimCloud.Delivery;
using ManimCloud.Domain;
using ManimCloud.Tests.Support;
using ManimCloud.Workspace;

namespace ManimCloud.Tests.Delivery;

/// <summary>
/// `video url` in local mode: a link to the local service (MANIMCLOUD_PUBLIC_URL) in CloudFront's signed-URL format,
/// signed with the workspace's own key (made on first use, 0600), covering the video's folder and lasting the
/// video's duration past the deadline asked for.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class VideoUrlCliTests
{
    /// <summary>A video whose version 2 has a published rendition set (what streaming's publish records).</summary>
    internal static async Task<VideoRecord> PublishedVideoAsync(ManimCloudClient client, double durationSeconds = 30)
    {
        var video = (await client.CreateVideoAsync(ProjectId.Parse("demo"), "Pythagoras", null, null, CancellationToken.None)).Value;
        var now = DateTimeOffset.UtcNow;
        RenditionSet Set(int n) => new()
        {
            Version = n, Engine = "local", LadderFingerprint = "0123456789ab", Rungs = [],
            HlsMasterKey = ObjectLayout.HlsMasterKey(video.Project, video.Id, n), DashManifestKey = ObjectLayout.DashManifestKey(video.Project, video.Id, n),
            Manifests = new Dictionary<string, string> { [ObjectLayout.HlsMasterKey(video.Project, video.Id, n)] = "aa", [ObjectLayout.DashManifestKey(video.Project, video.Id, n)] = "bb" },
            DurationSeconds = durationSeconds, StartedAt = now, FinishedAt = now,
            PosterKey = ObjectLayout.PosterKey(video.Project, video.Id, n),
        };
        var published = video with { Renditions = new Dictionary<int, RenditionSet> { [1] = Set(1), [2] = Set(2) }, Revision = video.Revision + 1 };
        await client.Local.Metadata.PutVideosAsync([published], CancellationToken.None);
        return published;
    }

    [Fact]
    public async Task Video_url_in_local_mode_is_a_signed_link_to_the_local_service_that_its_verifier_accepts()
    {
        using var home = new TempDir();
        VideoRecord video;
        using (var client = ManimCloudClient.Open(new ManimCloudOptions { Home = home.Path }))
            video = await PublishedVideoAsync(client, durationSeconds: 125.2);

        var env = CliRunner.LocalEnv(home.Path);
        env["MANIMCLOUD_PUBLIC_URL"] = "http://127.0.0.1:8099";
        var before = DateTimeOffset.UtcNow;
        var run = CliRunner.Run(env, "video", "url", video.Id.ToString(), "--expires", "30m", "--format", "dash", "--cookies", "--json");
        Assert.True(run.ExitCode == 0, run.Stderr);
        var json = run.Json;
        var url = (string)json["url"]!;
        Assert.StartsWith($"http://127.0.0.1:8099/transcoded/demo/{video.Id}/v2/dash/manifest.mpd?Policy=", url);
        Assert.Equal($"http://127.0.0.1:8099/transcoded/demo/{video.Id}/*", (string)json["resource"]!);
        var startBy = DateTimeOffset.Parse((string)json["start_by"]!);
        var expiresAt = DateTimeOffset.Parse((string)json["expires_at"]!);
        Assert.InRange(startBy, before.AddMinutes(29), before.AddMinutes(31));
        // The grant outlasts the deadline by the video's duration (126 s) and the margin.
        Assert.InRange((expiresAt - startBy).TotalSeconds, (TimeSpan.FromSeconds(126) + PlaybackLink.Margin).TotalSeconds - 1, (TimeSpan.FromSeconds(126) + PlaybackLink.Margin).TotalSeconds + 1);
        Assert.Equal($"/transcoded/demo/{video.Id}/", (string)json["cookie_path"]!);
        Assert.StartsWith($"http://127.0.0.1:8099/watch/{video.Id}?v=2&Policy=", (string)json["watch_url"]!);

        // The workspace key was made on first use, private to its owner; the service's verifier accepts the link,
        // the cookies, and a segment of an earlier version; the same path without the signature is refused.
        var keyFile = Path.Combine(home.Path, "keys", "playback-signing.pem");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        Assert.DoesNotContain("PRIVATE", run.Stdout + run.Stderr);
        var options = ManimCloudOptions.Load(new Dictionary<string, string?> { ["MANIMCLOUD_HOME"] = home.Path, ["MANIMCLOUD_PUBLIC_URL"] = "http://127.0.0.1:8099" });
        using var service = ManimCloudClient.Open(options);
        var verifier = service.Delivery.CreateVerifier();
        Assert.True(verifier.Verify(new Uri(url), null, DateTimeOffset.UtcNow).Allowed);
        var cookies = json["cookies"]!.AsObject().ToDictionary(kv => kv.Key, kv => (string)kv.Value!);
        var segment = new Uri($"http://127.0.0.1:8099/transcoded/demo/{video.Id}/v1/cmaf/abc-0123456789ab/720p/seg_00001.m4s");
        Assert.True(verifier.Verify(segment, cookies, DateTimeOffset.UtcNow).Allowed);
        Assert.Equal(PlaybackOutcome.Missing, verifier.Verify(segment, null, DateTimeOffset.UtcNow).Outcome);
        Assert.Equal(PlaybackOutcome.Expired, verifier.Verify(new Uri(url), null, expiresAt.AddSeconds(1)).Outcome);

        // Text mode prints the URL first, then the cookies.
        var text = CliRunner.Run(env, "video", "url", video.Id.ToString(), "--version", "1", "--cookies");
        Assert.True(text.ExitCode == 0, text.Stderr);
        Assert.StartsWith($"http://127.0.0.1:8099/transcoded/demo/{video.Id}/v1/hls/master.m3u8?Policy=", text.Stdout);
        Assert.Contains("Set-Cookie: CloudFront-Signature=", text.Stdout);
    }

    [Fact]
    public async Task Video_url_refuses_bad_input_and_unpublished_versions_with_their_exit_codes()
    {
        using var home = new TempDir();
        VideoRecord video;
        using (var client = ManimCloudClient.Open(new ManimCloudOptions { Home = home.Path }))
            video = await PublishedVideoAsync(client);
        var env = CliRunner.LocalEnv(home.Path);
        Assert.Equal(2, CliRunner.Run(env, "video", "url", video.Id.ToString(), "--expires", "soon").ExitCode);
        Assert.Equal(2, CliRunner.Run(env, "video", "url", video.Id.ToString(), "--expires", "2h", "--expires-at", "2030-01-01T00:00Z").ExitCode);
        Assert.Equal(2, CliRunner.Run(env, "video", "url", video.Id.ToString(), "--expires-at", "2001-01-01T00:00Z").ExitCode);
        Assert.Equal(2, CliRunner.Run(env, "video", "url", video.Id.ToString(), "--format", "mp4").ExitCode);
        var missing = CliRunner.Run(env, "video", "url", video.Id.ToString(), "--version", "7", "--json");
        Assert.Equal(3, missing.ExitCode);
        Assert.Contains("video transcode", (string)missing.Json["error"]!["hint"]!);
    }
}
