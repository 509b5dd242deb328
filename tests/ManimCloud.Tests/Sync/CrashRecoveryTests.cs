using System.Text;
using ManimCloud.Storage;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Sync;

/// <summary>
/// SPEC §5: a kill -9 at a random instant, repeated, loses no operation. Every operation recorded in the outbox
/// is applied by the next `sync`, none twice, and no version ever points at an object that is not there.
/// </summary>
public class CrashRecoveryTests
{
    [Fact]
    public async Task Killing_code_put_at_random_instants_then_syncing_loses_nothing_and_duplicates_nothing()
    {
        var cloud = await TestCloud.CreateAsync();
        using var home = new TempDir();
        var env = cloud.Environment(home.Path);
        var create = CliRunner.Run(env, "video", "create", "--project", "crash", "--title", "kill -9", "--json");
        Assert.True(create.ExitCode == 0, create.Stderr);
        var id = (string)create.Json["video_id"]!;

        var random = new Random(20261125);
        var contents = new Dictionary<string, int>(); // sha256 → writer
        var succeeded = new HashSet<int>();
        for (var i = 0; i < 10; i++)
        {
            var path = home.File($"w{i}.py");
            await File.WriteAllTextAsync(path, $"# writer {i}\nclass Scene{i}: pass\n");
            contents[ContentHash.Sha256Hex(await File.ReadAllBytesAsync(path))] = i;
            var run = CliRunner.Start(env, "code", "put", path, "--video", id, "--json");
            await Task.Delay(random.Next(100, 1200));
            if (!run.Process.HasExited) run.Process.Kill(entireProcessTree: true); // SIGKILL: no cleanup runs
            run.Process.WaitForExit();
            if (run.Process.ExitCode == 0) succeeded.Add(i);
        }

        var sync = CliRunner.Run(env, "sync", "--json");
        Assert.True(sync.ExitCode == 0, sync.Stdout + sync.Stderr);
        Assert.Equal(0, (int)CliRunner.Run(env, "status", "--json").Json["pending"]!);

        // What the cloud holds: every version readable with the bytes of exactly one writer, no writer twice.
        using var readerHome = new TempDir();
        var history = CliRunner.Run(cloud.Environment(readerHome.Path), "code", "history", "--video", id, "--json").Json["versions"]!.AsArray();
        var writers = new List<int>();
        foreach (var v in history)
        {
            var n = (int)v!["version"]!;
            var get = CliRunner.Run(cloud.Environment(readerHome.Path), "code", "get", "--video", id, "--version", n.ToString(), "--json");
            Assert.True(get.ExitCode == 0, $"version {n}: {get.Stderr}");
            var sha = ContentHash.Sha256Hex(Encoding.UTF8.GetBytes((string)get.Json["content"]!));
            Assert.True(contents.ContainsKey(sha), $"version {n} holds bytes no writer wrote");
            writers.Add(contents[sha]);
        }
        Assert.Equal(writers.Count, writers.Distinct().Count());          // none applied twice
        Assert.Subset(writers.ToHashSet(), succeeded);                     // every reported success is there
        Assert.Equal(Enumerable.Range(1, history.Count), history.Select(v => (int)v!["version"]!)); // no holes
    }
}
