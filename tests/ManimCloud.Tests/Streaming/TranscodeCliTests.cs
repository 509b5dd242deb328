using System.Diagnostics;
using ManimCloud.Domain;
using ManimCloud.Local;
using ManimCloud.Rendering;
using ManimCloud.Streaming;
using ManimCloud.Streaming.Ffmpeg;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Streaming;

/// <summary>
/// `video transcode` / `video renditions` through the real CLI: hostile input refused before anything is published,
/// a kill -9 mid-transcode that leaves nothing half-published and resumes without encoding finished scenes again,
/// ffmpeg missing, and an engine that is not configured.
/// </summary>
public sealed class TranscodeCliTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    private static async Task<string> ClipAsync(TempDir dir, string name, int scene, double seconds, string size = "320x180", bool audio = true)
    {
        var path = dir.File(name);
        await new TestRenderer().RenderClipAsync(path, scene, seconds, Ct, size, 30, audio);
        return path;
    }

    private static async Task FfmpegAsync(params string[] args)
    {
        var tools = await FfmpegLocator.LocateAsync(null, null, Ct);
        await FfmpegProcess.RunAsync(tools.Ffmpeg, ["-nostdin", "-loglevel", "error", "-y", .. args], "a test input", null, Ct);
    }

    private static string NewVideo(Dictionary<string, string> env, string project)
    {
        var created = CliRunner.Run(env, "video", "create", "--project", project, "--title", "t", "--json");
        Assert.True(created.ExitCode == 0, created.Stderr);
        return (string)created.Json["video_id"]!;
    }

    /// <summary>Keys the workspace's video store holds under transcoded/ (published or not).</summary>
    private static List<string> TranscodedKeys(string home)
    {
        using var c = new Catalog(Path.Combine(home, "catalog.db")).Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT key FROM objects WHERE store = 'videos' AND key LIKE 'transcoded/%'";
        using var r = cmd.ExecuteReader();
        var keys = new List<string>();
        while (r.Read()) keys.Add(r.GetString(0));
        return keys;
    }

    public static TheoryData<string> HostileInputs => ["truncated", "audio-only", "not-a-video", "undecodable"];

    [Theory]
    [MemberData(nameof(HostileInputs))]
    public async Task Bad_input_is_refused_naming_the_file_and_the_problem_and_nothing_is_published(string kind)
    {
        using var home = new TempDir();
        using var dir = new TempDir();
        var env = CliRunner.LocalEnv(home.Path);
        var good = await ClipAsync(dir, "good.mp4", 1, 1.0);
        var bad = dir.File("bad.mp4");
        string problem;
        switch (kind)
        {
            case "truncated": // moov at the end, cut off: the index never arrived
                await FfmpegAsync("-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", dir.File("whole.mp4"));
                var bytes = await File.ReadAllBytesAsync(dir.File("whole.mp4"));
                await File.WriteAllBytesAsync(bad, bytes[..(bytes.Length * 6 / 10)]);
                problem = "cannot be read as a video";
                break;
            case "audio-only":
                await FfmpegAsync("-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", "-f", "mp4", bad);
                problem = "has no video stream (audio only)";
                break;
            case "not-a-video": // an MP4 header on bytes that are not one
                await File.WriteAllBytesAsync(bad, [0, 0, 0, 20, .. "ftypisom"u8.ToArray(), 0, 0, 2, 0, .. "isom"u8.ToArray(), .. Enumerable.Repeat((byte)'x', 5000)]);
                problem = "cannot be read as a video";
                break;
            default: // a valid container whose H.264 data is noise
                var valid = await File.ReadAllBytesAsync(await ClipAsync(dir, "valid.mp4", 2, 1.0, audio: false));
                var mdat = valid.AsSpan().IndexOf("mdat"u8);
                new Random(7).NextBytes(valid.AsSpan(mdat + 4, Math.Min(valid.Length - mdat - 4, 200_000)));
                await File.WriteAllBytesAsync(bad, valid);
                problem = "has a video stream that cannot be decoded";
                break;
        }
        var id = NewVideo(env, "hostile");
        Assert.Equal(0, CliRunner.Run(env, "video", "put", good, "--video", id, "--scene", "1").ExitCode);
        Assert.Equal(0, CliRunner.Run(env, "video", "put", bad, "--video", id, "--scene", "2").ExitCode);

        var run = CliRunner.Run(env, "video", "transcode", id, "--json");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains($"v1/scene_002.mp4 {problem}", run.Stderr);
        Assert.Equal("invalid_input", (string)run.Json["error"]!["kind"]!);
        Assert.Empty(TranscodedKeys(home.Path));
        var renditions = CliRunner.Run(env, "video", "renditions", id, "--json");
        Assert.Equal(0, renditions.ExitCode);
        Assert.Empty(renditions.Json["renditions"]!.AsArray());
        Assert.Equal("error", (string)renditions.Json["status"]!);
        Assert.Contains(problem, (string)renditions.Json["status_reason"]!);
        // Nothing was encoded either: the good scene 1 waits for the fixed scene 2.
        Assert.Null(new SceneStash(new Catalog(Path.Combine(home.Path, "catalog.db")))
            .Find(ObjectLayout.SceneSegmentsFolder(ProjectId.Parse("hostile"), VideoId.Parse(id), 1, Storage.ContentHash.Sha256Hex(await File.ReadAllBytesAsync(good)), Ladder.Default.Fingerprint)));
    }

    [Fact]
    public async Task An_empty_file_is_refused_before_ffmpeg_sees_it()
    {
        using var dir = new TempDir();
        await File.WriteAllBytesAsync(dir.File("empty.mp4"), []);
        var tools = await FfmpegLocator.LocateAsync(null, null, Ct);
        var e = await Assert.ThrowsAsync<ManimCloudException>(() => Videos.MediaValidation.ProbeAsync(dir.File("empty.mp4"), "videos/p/v/v1/scene_004.mp4", tools.Ffprobe, tools.Ffmpeg, Ct));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Equal("videos/p/v/v1/scene_004.mp4 is empty.", e.Message);
    }

    [Fact]
    public async Task A_transcode_killed_mid_way_publishes_nothing_and_the_rerun_encodes_only_the_unfinished_scenes()
    {
        using var home = new TempDir();
        using var dir = new TempDir();
        var env = CliRunner.LocalEnv(home.Path);
        var id = NewVideo(env, "killed");
        const int scenes = 4;
        for (var s = 1; s <= scenes; s++)
            Assert.Equal(0, CliRunner.Run(env, "video", "put", await ClipAsync(dir, $"s{s}.mp4", s, 4.0, "640x360"), "--video", id, "--scene", s.ToString()).ExitCode);

        var stash = new Catalog(Path.Combine(home.Path, "catalog.db"));
        int Finished()
        {
            using var c = stash.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT count(*) FROM scene_renditions";
            try { return Convert.ToInt32(cmd.ExecuteScalar()); }
            catch (Microsoft.Data.Sqlite.SqliteException) { return 0; } // the table is made by the first transcode
        }
        var run = CliRunner.Start(env, "video", "transcode", id, "--json");
        var deadline = DateTime.UtcNow.AddSeconds(240);
        while (Finished() < 1)
        {
            if (run.Process.HasExited) Assert.Fail($"the transcode ended before it could be killed: {run.Stderr.Result}");
            Assert.True(DateTime.UtcNow < deadline, "no scene finished within 240 s");
            await Task.Delay(50);
        }
        var ffmpegs = Children(run.Process.Id);
        run.Process.Kill(); // SIGKILL, the CLI only: its ffmpeg child must not outlive it for long
        run.Process.WaitForExit();
        var finishedAtKill = Finished();
        Assert.InRange(finishedAtKill, 1, scenes - 1);
        foreach (var pid in ffmpegs) Assert.True(Exited(pid, TimeSpan.FromSeconds(20)), $"ffmpeg {pid} outlived the killed CLI");

        // Nothing half-published: no manifest, no segment in the store, no renditions on the record.
        Assert.Empty(TranscodedKeys(home.Path));
        var after = CliRunner.Run(env, "video", "renditions", id, "--json");
        Assert.Empty(after.Json["renditions"]!.AsArray());
        Assert.Equal("transcoding", (string)after.Json["status"]!);

        var rerun = CliRunner.Run(env, "video", "transcode", id, "--json");
        Assert.True(rerun.ExitCode == 0, rerun.Stderr);
        var resumed = (int)rerun.Json["scenes_resumed"]!;
        Assert.True(resumed >= finishedAtKill, $"{resumed} scenes resumed, {finishedAtKill} had finished");
        Assert.Equal(scenes, resumed + (int)rerun.Json["scenes_encoded"]!);
        Assert.Equal("ready", (string)rerun.Json["status"]!);
        var keys = TranscodedKeys(home.Path);
        Assert.Contains((string)rerun.Json["renditions"]!["hls_master_key"]!, keys);
        Assert.Equal(scenes, (int)rerun.Json["renditions"]!["scenes"]!.AsArray().Count);
    }

    private static List<int> Children(int parent) =>
        Directory.GetDirectories("/proc").Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : 0).Where(pid => pid > 0)
            .Where(pid =>
            {
                try { return File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1].Split(' ')[1] == parent.ToString(); }
                catch (IOException) { return false; }
            }).ToList();

    private static bool Exited(int pid, TimeSpan within)
    {
        var until = DateTime.UtcNow + within;
        while (DateTime.UtcNow < until)
        {
            try { using var p = Process.GetProcessById(pid); if (p.HasExited) return true; }
            catch (ArgumentException) { return true; }
            Thread.Sleep(100);
        }
        try { using var p = Process.GetProcessById(pid); p.Kill(); } catch (ArgumentException) { }
        return false;
    }

    [Fact]
    public async Task Without_ffmpeg_the_message_says_how_to_install_it_and_mediaconvert_unconfigured_says_so()
    {
        using var home = new TempDir();
        using var dir = new TempDir();
        var env = CliRunner.LocalEnv(home.Path);
        var id = NewVideo(env, "no-ffmpeg");
        Assert.Equal(0, CliRunner.Run(env, "video", "put", await ClipAsync(dir, "s.mp4", 1, 0.5), "--video", id, "--scene", "1").ExitCode);

        var bare = new Dictionary<string, string>(env) { ["PATH"] = dir.Path, ["MANIMCLOUD_FFMPEG_INSTALL"] = "never" };
        var missing = CliRunner.Run(bare, "video", "transcode", id, "--json");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("ffmpeg was not found on PATH", missing.Stderr);
        Assert.Contains("apt-get install -y ffmpeg", missing.Stderr);
        Assert.NotEqual("transcoding", (string)CliRunner.Run(env, "video", "show", id, "--json").Json["status"]!); // refused before it began

        var named = CliRunner.Run(new Dictionary<string, string>(env) { ["MANIMCLOUD_FFMPEG"] = dir.File("nope") }, "video", "transcode", id);
        Assert.Equal(2, named.ExitCode);
        Assert.Contains("MANIMCLOUD_FFMPEG", named.Stderr);

        var mc = CliRunner.Run(env, "video", "transcode", id, "--engine", "mediaconvert", "--json");
        Assert.Equal(2, mc.ExitCode);
        Assert.Contains("MediaConvert engine is not configured", mc.Stderr);
        Assert.Contains("MANIMCLOUD_MEDIACONVERT_ROLE", mc.Stderr);
    }
}
