using System.Text;
using ManimCloud.Domain;
using ManimCloud.Tests.Support;
using ManimCloud.Workspace;

namespace ManimCloud.Tests.Code;

/// <summary>SPEC R2 / §5: 0 duplicate version numbers under 16 concurrent writers, on every backend.</summary>
public class VersionRaceTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public async Task Sixteen_workspaces_racing_on_one_video_in_the_cloud_get_versions_1_to_16_each_with_its_own_content()
    {
        var cloud = await TestCloud.CreateAsync();
        var homes = Enumerable.Range(0, 16).Select(_ => new TempDir()).ToList();
        try
        {
            using var creator = ManimCloudClient.Open(cloud.Options(homes[0].Path));
            var video = (await creator.CreateVideoAsync(ProjectId.Parse("race"), "race", null, null, Ct)).Value;
            var clients = homes.Select(h => ManimCloudClient.Open(cloud.Options(h.Path))).ToList();
            using var start = new ManualResetEventSlim();
            var writers = clients.Select((client, i) => Task.Run(async () =>
            {
                start.Wait();
                var content = Encoding.UTF8.GetBytes($"# writer {i}\nclass Scene{i}: pass\n");
                var v = (await client.PutCodeAsync(video.Id, content, $"writer-{i}", null, Ct)).Value;
                return (Writer: i, v.Version, Content: content);
            })).ToList();
            start.Set();
            var results = await Task.WhenAll(writers);

            Assert.Equal(Enumerable.Range(1, 16), results.Select(r => r.Version).OrderBy(n => n));
            using var reader = ManimCloudClient.Open(cloud.Options(new TempDir().Path));
            foreach (var r in results)
            {
                var (version, content) = await reader.GetCodeAsync(video.Id, r.Version, Ct);
                Assert.Equal(r.Content, content);
                Assert.Equal($"writer-{r.Writer}", version.Author);
            }
            Assert.Equal(16, (await reader.GetVideoAsync(video.Id, Ct)).CurrentVersion);
            foreach (var c in clients) c.Dispose();
        }
        finally
        {
            foreach (var h in homes) h.Dispose();
        }
    }

    [Fact]
    public async Task Sixteen_processes_racing_on_one_local_workspace_get_versions_1_to_16()
    {
        using var home = new TempDir();
        var env = CliRunner.LocalEnv(home.Path);
        var create = CliRunner.Run(env, "video", "create", "--project", "race", "--title", "local race", "--json");
        Assert.Equal(0, create.ExitCode);
        var id = (string)create.Json["video_id"]!;
        for (var i = 0; i < 16; i++) await File.WriteAllTextAsync(home.File($"w{i}.py"), $"# writer {i}\n");
        var runs = Enumerable.Range(0, 16)
            .Select(i => CliRunner.Start(env, "code", "put", home.File($"w{i}.py"), "--video", id, "--json")).ToList();
        var results = runs.Select(r => r.Finish()).ToList();
        Assert.All(results, r => Assert.True(r.ExitCode == 0, r.Stderr));
        Assert.Equal(Enumerable.Range(1, 16), results.Select(r => (int)r.Json["version"]!).OrderBy(n => n));
        foreach (var r in results)
        {
            var n = (int)r.Json["version"]!;
            var get = CliRunner.Run(env, "code", "get", "--video", id, "--version", n.ToString(), "--json");
            var writer = Enumerable.Range(0, 16).Single(i => (string)r.Json["sha256"]! == Storage.ContentHash.Sha256Hex(File.ReadAllBytes(home.File($"w{i}.py"))));
            Assert.Equal($"# writer {writer}\n", (string)get.Json["content"]!);
        }
    }
}
