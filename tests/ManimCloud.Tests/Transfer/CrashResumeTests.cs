using System.Diagnostics;
using ManimCloud.Tests.Support;
using ManimCloud.Transfer;

namespace ManimCloud.Tests.Transfer;

public class CrashResumeTests
{
    private const long MiB = 1 << 20;

    [Fact]
    public async Task An_upload_killed_with_SIGKILL_resumes_from_the_journal_without_resending_stored_parts()
    {
        await using var h = new TransferHarness();
        var video = TransferHarness.LargeVideo();
        Assert.True(new FileInfo(video).Length >= 150_000_000, "the test video should be at least 150 MB");
        const string key = "videos/p/v/full.mp4";

        // Parts take a little longer than on loopback, so the kill lands in the middle of the upload.
        h.Proxy.Latency = r => r.IsUploadPart ? TimeSpan.FromMilliseconds(150) : TimeSpan.Zero;
        using (var child = StartProbe(h, key, video, partSize: 8 * MiB, concurrency: 3))
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (h.Journal.List() is not [{ PartsDone: >= 4 }])
            {
                if (child.HasExited) Assert.Fail($"the upload process ended ({child.ExitCode}) before it could be killed: {child.StandardError.ReadToEnd()}");
                Assert.True(DateTime.UtcNow < deadline, "the upload process journaled no parts within 60 s");
                await Task.Delay(20);
            }
            child.Kill(); // SIGKILL: no handler runs, nothing is flushed
            await child.WaitForExitAsync();
        }
        await Task.Delay(500); // requests the proxy already took in finish on moto's side
        h.Proxy.Latency = null;

        var entry = Assert.Single(h.Journal.List());
        Assert.True(entry.PartsDone < entry.PartCount, "the kill came before the last part");
        var storedBefore = await h.StoredPartsAsync(key, entry.UploadId);
        var sentBefore = h.PartsSentThroughProxy(entry.UploadId).Count;

        var result = await h.Uploads().ResumeAsync(entry.Id, null, CancellationToken.None);

        var sentByResume = h.PartsSentThroughProxy(entry.UploadId).Skip(sentBefore).ToList();
        Assert.Equal(entry.UploadId, result.ResumedUploadId);
        Assert.Empty(sentByResume.Intersect(storedBefore));
        Assert.Equal(entry.PartCount - storedBefore.Count, sentByResume.Distinct().Count());
        Assert.Equal(TransferHarness.Sha256(video), await h.StoredSha256Async(key));
        Assert.Equal(TransferHarness.Sha256(video), result.Sha256);
        Assert.Empty(await h.OpenUploadsAsync());
        Assert.Empty(h.Journal.List());
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
