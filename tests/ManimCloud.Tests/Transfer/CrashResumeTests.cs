using System.Diagnostics;
using ManimCloud.Transfer;

namespace ManimCloud.Tests.Transfer;

public class CrashResumeTests
{
    private const long MiB = 1 << 20;

    [Fact]
    public async Task An_upload_killed_twice_with_SIGKILL_resumes_each_time_without_resending_stored_parts()
    {
        await using var h = new TransferHarness();
        var video = TransferHarness.LargeVideo();
        Assert.True(new FileInfo(video).Length >= 150_000_000, "the test video should be at least 150 MB");
        const string key = "videos/p/v/full.mp4";
        // Parts take a little longer than on loopback, so the kills land in the middle of the upload.
        h.Proxy.Latency = r => r.IsUploadPart ? TimeSpan.FromMilliseconds(150) : TimeSpan.Zero;

        // First process: killed after a few parts. Second process: a plain re-run of the same upload, killed again.
        await RunAndKillAsync(h, key, video, killAfterParts: 4);
        var first = Assert.Single(h.Journal.List());
        var storedAfterFirst = await h.StoredPartsAsync(key, first.UploadId);
        var sentBefore = h.PartsSentThroughProxy(first.UploadId).Count;

        await RunAndKillAsync(h, key, video, killAfterParts: storedAfterFirst.Count + 4);
        var second = Assert.Single(h.Journal.List());
        Assert.Equal(first.UploadId, second.UploadId);
        Assert.Empty(h.PartsSentThroughProxy(first.UploadId).Skip(sentBefore).Intersect(storedAfterFirst));
        Assert.True(second.PartsDone < second.PartCount, "the second kill came before the last part");

        // Then in process, by id, as `manimcloud uploads resume ID` does.
        h.Proxy.Latency = null;
        var storedAfterSecond = await h.StoredPartsAsync(key, second.UploadId);
        sentBefore = h.PartsSentThroughProxy(second.UploadId).Count;

        var result = await h.Uploads().ResumeAsync(second.Id, null, CancellationToken.None);

        var sentByResume = h.PartsSentThroughProxy(second.UploadId).Skip(sentBefore).ToList();
        Assert.Equal(second.UploadId, result.ResumedUploadId);
        Assert.Empty(sentByResume.Intersect(storedAfterSecond));
        Assert.Equal(second.PartCount - storedAfterSecond.Count, sentByResume.Distinct().Count());
        Assert.Equal(TransferHarness.Sha256(video), await h.StoredSha256Async(key));
        Assert.Equal(TransferHarness.Crc32(video), result.Crc32);
        Assert.Empty(await h.OpenUploadsAsync());
        Assert.Empty(h.Journal.List());
    }

    private static async Task RunAndKillAsync(TransferHarness h, string key, string file, int killAfterParts)
    {
        using (var child = StartProbe(h, key, file, partSize: 8 * MiB, concurrency: 3))
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (h.Journal.List() is not [{ PartsDone: var done }] || done < killAfterParts)
            {
                if (child.HasExited) Assert.Fail($"the upload process ended ({child.ExitCode}) before it could be killed: {child.StandardError.ReadToEnd()}");
                Assert.True(DateTime.UtcNow < deadline, $"the upload process journaled fewer than {killAfterParts} parts within 60 s");
                await Task.Delay(20);
            }
            child.Kill(); // SIGKILL: no handler runs, nothing is flushed
            await child.WaitForExitAsync();
        }
        await h.Proxy.WaitIdleAsync(); // requests the proxy already took in still reach moto
    }

    private static Process StartProbe(TransferHarness h, string key, string file, long partSize, int concurrency)
    {
        var probe = Path.Combine(AppContext.BaseDirectory, "ManimCloud.TransferProbe.dll");
        var host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
        var psi = new ProcessStartInfo(host, [probe, h.Proxy.Endpoint, h.Catalog.Path, h.Bucket, key, file, partSize.ToString(), concurrency.ToString()])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var process = Process.Start(psi)!;
        process.OutputDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        return process;
    }
}
