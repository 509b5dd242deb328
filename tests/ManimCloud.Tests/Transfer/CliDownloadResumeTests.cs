using ManimCloud.Local;
using ManimCloud.Tests.Support;
using ManimCloud.Transfer;

namespace ManimCloud.Tests.Transfer;

/// <summary>
/// Downloads resume across processes (issue 14): `kill -9` of `manimcloud video get` half-way through a ≥150 MB
/// download, then the same `video get` again — it fetches only the ranges it did not have, the file comes back whole
/// and verified, `uploads list` showed the unfinished download meanwhile, and nothing is left behind.
/// </summary>
public class CliDownloadResumeTests
{
    [Fact]
    public async Task A_killed_video_get_continues_from_the_ranges_it_has_and_the_file_is_verified_whole()
    {
        var cloud = await TestCloud.CreateAsync();
        using var writer = new TempDir();
        var video = TransferHarness.LargeVideo();
        var id = (string)CliRunner.Run(cloud.Environment(writer.Path), "video", "create", "--project", "big", "--title", "large", "--json").Json["video_id"]!;
        var put = CliRunner.Run(cloud.Environment(writer.Path), "video", "put", video, "--video", id, "--full", "--json");
        Assert.True(put.ExitCode == 0, put.Stderr);

        // Another workspace reads it through a proxy that slows ranged GETs, so the kill lands mid-download.
        await using var proxy = new FaultProxy(cloud.Endpoint);
        using var reader = new TempDir();
        var env = cloud.Environment(reader.Path);
        env["AWS_ENDPOINT_URL"] = proxy.Endpoint;
        static bool Ranged(ProxiedRequest r) => r.Method == "GET" && r.Headers.ContainsKey("Range");
        proxy.Latency = r => Ranged(r) ? TimeSpan.FromMilliseconds(300) : TimeSpan.Zero;
        var outPath = reader.File("back.mp4");
        var get = CliRunner.Start(env, "video", "get", "--video", id, "--full", "--out", outPath, "--json");
        var journal = new DownloadJournal(new Catalog(Path.Combine(reader.Path, "catalog.db")));
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (journal.List() is not [{ RangesDone: >= 4 }])
        {
            if (get.Process.HasExited) Assert.Fail($"video get ended before it could be interrupted: {get.Stderr.Result}");
            Assert.True(DateTime.UtcNow < deadline, "no ranges journaled within 120 s");
            await Task.Delay(20);
        }
        get.Process.Kill(); // SIGKILL
        get.Process.WaitForExit();
        await proxy.WaitIdleAsync();
        Assert.False(File.Exists(outPath));

        var listed = CliRunner.Run(env, "uploads", "list", "--json");
        var unfinished = Assert.Single(listed.Json["downloads"]!.AsArray())!;
        Assert.Equal(Path.GetFullPath(outPath), (string)unfinished["destination"]!);
        var had = journal.Ranges((string)unfinished["id"]!).Select(r => r.Number).ToHashSet();
        Assert.True(had.Count >= 4 && had.Count < (int)unfinished["ranges_total"]!, $"{had.Count} of {(int)unfinished["ranges_total"]!} ranges");
        var before = proxy.Forwarded.Count;

        proxy.Latency = null;
        var again = CliRunner.Run(env, "video", "get", "--video", id, "--full", "--out", outPath, "--json");
        Assert.True(again.ExitCode == 0, again.Stderr);
        var fetched = proxy.Forwarded.Skip(before).Where(Ranged).Select(r => RangeStart(r.Headers["Range"])).ToList();
        var partSize = journal.List().Count == 0 ? 8L << 20 : throw new InvalidOperationException("the download is still journaled");
        Assert.Empty(fetched.Select(start => (int)(start / partSize) + 1).Intersect(had));   // ranges it had were not fetched again
        Assert.NotEmpty(fetched);

        Assert.Equal(TransferHarness.Sha256(video), TransferHarness.Sha256(outPath));
        Assert.Empty(CliRunner.Run(env, "uploads", "list", "--json").Json["downloads"]!.AsArray());
        Assert.Empty(Directory.GetFiles(reader.Path, "*.partial"));
    }

    private static long RangeStart(string header) => long.Parse(header["bytes=".Length..].Split('-')[0]);
}
