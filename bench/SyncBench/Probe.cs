using System.Diagnostics;
using Amazon.S3.Model;
using ManimCloud;
using ManimCloud.Domain;
using ManimCloud.Storage;

namespace SyncBench;

/// <summary>
/// The server side of the cost: each kind of request the sync makes, sent one at a time through the library's own
/// stores (or the raw SDK for a plain PUT like `aws s3 sync`'s), with moto_server's CPU per request and the wall
/// time per request. moto is one Python process, so its CPU per request bounds what any client can reach on it.
/// </summary>
public static class Probe
{
    public static async Task<List<(string Kind, double WallMs, double MotoCpuMs)>> RunAsync(Opts opts, Setup setup, byte[] sample, int n, int extraVideos)
    {
        var rows = new List<(string, double, double)>();
        var ct = CancellationToken.None;
        using var client = ManimCloudClient.Open(setup.Options(opts));
        var cloud = client.Cloud!;
        if (extraVideos > 0)
        {
            // Other videos in the table (with GSI keys), as after a 1,000-video sync: moto's cost per request may depend on them.
            var now = DateTimeOffset.UtcNow;
            await cloud.Metadata.PutVideosAsync(Enumerable.Range(0, extraVideos).Select(i => new VideoRecord
            {
                Id = VideoId.New(), Project = ProjectId.Parse($"bulk-p{i % 10}"), Title = $"bulk {i}", CreatedAt = now.AddSeconds(-i), UpdatedAt = now,
            }).ToList(), ct);
        }
        var video = (await client.CreateVideoAsync(ProjectId.Parse("probe"), "probe", null, null, ct)).Value;
        for (var k = 0; k < 10; k++) await client.PutCodeAsync(video.Id, sample, "probe", null, ct); // a 10-version history, like the 100x10 shape
        var record = await cloud.Metadata.GetVideoAsync(video.Id, ct) ?? throw new Exception("probe video missing");
        var sha = ContentHash.Sha256Hex(sample);
        var nextVersion = 1000;

        async Task Measure(string kind, Func<int, Task> call)
        {
            for (var i = 0; i < 10; i++) await call(-1 - i); // warm-up
            var cpu0 = Cpu.Servers(opts);
            var sw = Stopwatch.StartNew();
            for (var i = 0; i < n; i++) await call(i);
            sw.Stop();
            var cpu = Cpu.Servers(opts) - cpu0;
            rows.Add((kind, sw.Elapsed.TotalMilliseconds / n, cpu * 1000 / n));
        }

        await Measure("DynamoDB Query (ListCodeVersions, 10 items)", _ => cloud.Metadata.ListCodeVersionsAsync(video.Id, ct));
        await Measure("DynamoDB GetItem (GetVideo)", _ => cloud.Metadata.GetVideoAsync(video.Id, ct));
        await Measure("DynamoDB PutItem, condition attribute_not_exists (TryAddCodeVersion)", i => cloud.Metadata.TryAddCodeVersionAsync(new CodeVersion
        {
            Video = video.Id, Version = Interlocked.Increment(ref nextVersion), Key = $"code/probe/{video.Id}/{video.Id}_v{nextVersion}.py",
            Size = sample.Length, Sha256 = sha, CreatedAt = DateTimeOffset.UtcNow, Author = "probe", OperationId = Guid.NewGuid().ToString("N"),
        }, ct));
        await Measure("DynamoDB PutItem, condition revision (UpdateVideo)", async i =>
        {
            record = await cloud.Metadata.UpdateVideoAsync(record with { Title = $"probe {i}", UpdatedAt = DateTimeOffset.UtcNow }, record.Revision, ct);
        });
        await Measure("S3 HEAD → 404 (GetObjectMetadata of a new key)", i => cloud.Code.HeadAsync($"code/probe/none/{Guid.NewGuid():N}.py", ct));
        await Measure("S3 HEAD + PUT (library S3ObjectStore.PutAsync, SSE + SHA-256 checksum + metadata)", async i =>
        {
            using var ms = new MemoryStream(sample, writable: false);
            await cloud.Code.PutAsync(new ObjectWrite($"code/probe/{video.Id}/{Guid.NewGuid():N}.py", ObjectKind.Code, "text/x-python; charset=utf-8",
                new Dictionary<string, string> { ["project"] = "probe", ["video"] = video.Id.ToString(), ["version"] = "1", ["author"] = "probe" }, sha, sample.Length), ms, ct);
        });
        await Measure("S3 PUT, plain (raw SDK, like `aws s3 sync`)", async i =>
        {
            using var ms = new MemoryStream(sample, writable: false);
            await client.Aws!.S3.PutObjectAsync(new PutObjectRequest { BucketName = setup.CodeBucket, Key = $"plain/{Guid.NewGuid():N}.py", InputStream = ms }, ct);
        });
        return rows;
    }
}
