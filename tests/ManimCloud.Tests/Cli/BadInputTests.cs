using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Cli;

/// <summary>
/// Bad input gets a message that names the problem and the fix, a non-zero exit, and nothing partially written.
/// </summary>
public class BadInputTests
{
    private static string CreateVideo(Dictionary<string, string> env, string project = "bad-input")
    {
        var r = CliRunner.Run(env, "video", "create", "--project", project, "--title", "t", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        return (string)r.Json["video_id"]!;
    }

    private static void AssertRefused(CliRun r, int exitCode, params string[] mentions)
    {
        Assert.Equal(exitCode, r.ExitCode);
        Assert.Contains("error:", r.Stderr);
        Assert.Contains("fix:", r.Stderr);
        foreach (var m in mentions) Assert.Contains(m, r.Stderr);
        Assert.False((bool)r.Json["ok"]!);
    }

    [Theory]
    [InlineData("Has-Capitals")]
    [InlineData("-leading-dash")]
    [InlineData("with space")]
    [InlineData("ünïcode")]
    [InlineData("a123456789012345678901234567890123456789012345678901234567890123")]
    [InlineData("")]
    public void Invalid_project_ids_are_refused_before_any_write(string project)
    {
        using var home = new TempDir();
        var env = CliRunner.LocalEnv(home.Path);
        var r = CliRunner.Run(env, "video", "create", "--project", project, "--title", "t", "--json");
        AssertRefused(r, 2, "not a valid project id");
        var list = CliRunner.Run(env, "video", "list", "--project", "a", "--json");
        Assert.Empty(list.Json["videos"]!.AsArray());
    }

    [Theory]
    [InlineData("not-a-uuid")]
    [InlineData("3f2b8c1e9d4a4c1b8e2f0a1b2c3d4e5f")]
    [InlineData("../../etc/passwd")]
    public void Invalid_video_ids_are_refused(string id)
    {
        using var home = new TempDir();
        var r = CliRunner.Run(CliRunner.LocalEnv(home.Path), "video", "show", id, "--json");
        AssertRefused(r, 2, "not a valid video id");
    }

    [Fact]
    public void Unknown_video_is_not_found()
    {
        using var home = new TempDir();
        var r = CliRunner.Run(CliRunner.LocalEnv(home.Path), "video", "show", Guid.NewGuid().ToString(), "--json");
        AssertRefused(r, 3, "does not exist");
    }

    [Fact]
    public void Missing_empty_and_non_video_files_are_refused_and_nothing_is_recorded()
    {
        using var home = new TempDir();
        var env = CliRunner.LocalEnv(home.Path);
        var id = CreateVideo(env);
        File.WriteAllBytes(home.File("empty.mp4"), []);
        File.WriteAllText(home.File("notes.mp4"), "this is a text file pretending to be a video");

        AssertRefused(CliRunner.Run(env, "video", "put", home.File("missing.mp4"), "--video", id, "--scene", "1", "--json"), 2, "does not exist");
        AssertRefused(CliRunner.Run(env, "video", "put", home.File("empty.mp4"), "--video", id, "--scene", "1", "--json"), 2, "is empty");
        AssertRefused(CliRunner.Run(env, "video", "put", home.File("notes.mp4"), "--video", id, "--scene", "1", "--json"), 2, "not an MP4");
        AssertRefused(CliRunner.Run(env, "video", "put", home.File("notes.mp4"), "--video", id, "--json"), 2, "--scene N", "--full");

        var show = CliRunner.Run(env, "video", "show", id, "--json");
        Assert.Empty(show.Json["media"]!.AsObject());
        Assert.Equal(1, (int)show.Json["revision"]!);
    }

    [Fact]
    public void Code_that_is_not_UTF8_or_empty_is_refused_and_no_version_is_allocated()
    {
        using var home = new TempDir();
        var env = CliRunner.LocalEnv(home.Path);
        var id = CreateVideo(env);
        File.WriteAllBytes(home.File("latin1.py"), [0x23, 0x20, 0x63, 0x61, 0x66, 0xE9, 0x0A]); // "# café" in Latin-1
        File.WriteAllBytes(home.File("empty.py"), []);

        AssertRefused(CliRunner.Run(env, "code", "put", home.File("latin1.py"), "--video", id, "--json"), 2, "not valid UTF-8", "offset 5");
        AssertRefused(CliRunner.Run(env, "code", "put", home.File("empty.py"), "--video", id, "--json"), 2, "is empty");
        var history = CliRunner.Run(env, "code", "history", "--video", id, "--json");
        Assert.Empty(history.Json["versions"]!.AsArray());
    }

    [Fact]
    public void Object_metadata_over_2KB_is_refused_before_any_write()
    {
        using var home = new TempDir();
        var env = CliRunner.LocalEnv(home.Path);
        var id = CreateVideo(env);
        File.WriteAllText(home.File("ok.py"), "print('hi')\n");
        var r = CliRunner.Run(env, "code", "put", home.File("ok.py"), "--video", id, "--author", new string('a', 2100), "--json");
        AssertRefused(r, 2, "S3 allows at most 2048");
        Assert.Empty(CliRunner.Run(env, "code", "history", "--video", id, "--json").Json["versions"]!.AsArray());
    }

    [Fact]
    public void Scene_and_status_values_out_of_range_are_refused()
    {
        using var home = new TempDir();
        var env = CliRunner.LocalEnv(home.Path);
        var id = CreateVideo(env);
        AssertRefused(CliRunner.Run(env, "video", "update", id, "--status", "finished", "--json"), 2, "not a video status");
        AssertRefused(CliRunner.Run(env, "video", "update", id, "--status", "ready", "--json"), 2, "cannot go from status 'created' to 'ready'");
        AssertRefused(CliRunner.Run(env, "video", "get", "--video", id, "--scene", "0", "--out", home.File("x.mp4"), "--json"), 2, "out of range");
        Assert.False(File.Exists(home.File("x.mp4")));
    }

    [Fact]
    public void Incomplete_cloud_configuration_is_refused_with_the_missing_names()
    {
        using var home = new TempDir();
        var env = CliRunner.LocalEnv(home.Path);
        env["MANIMCLOUD_VIDEO_BUCKET"] = "some-videos";
        var r = CliRunner.Run(env, "config", "validate", "--json");
        Assert.Equal(2, r.ExitCode);
        Assert.False((bool)r.Json["valid"]!);
        Assert.Contains("MANIMCLOUD_CODE_BUCKET", r.Stdout);
        AssertRefused(CliRunner.Run(env, "video", "list", "--project", "p", "--json"), 2, "MANIMCLOUD_TABLE");
    }

    [Fact]
    public void Credentials_in_the_config_file_are_refused()
    {
        using var home = new TempDir();
        File.WriteAllText(home.File("config.json"), """{"aws_secret_access_key": "AKIA-not-here"}""");
        var r = CliRunner.Run(CliRunner.LocalEnv(home.Path), "video", "list", "--project", "p", "--json");
        AssertRefused(r, 2, "aws_secret_access_key", "credential chain");
        Assert.DoesNotContain("AKIA-not-here", r.Stderr + r.Stdout);
    }
}
