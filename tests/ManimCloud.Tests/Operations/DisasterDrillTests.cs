using System.Security.Cryptography;
using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Metadata;
using ManimCloud.Rendering;
using ManimCloud.Tests.Support;
using ManimCloud.Workspace;

namespace ManimCloud.Tests.Operations;

/// <summary>
/// The disaster drill (SPEC §2, backup and recovery) on moto: videos with code versions, scene clips, full videos and
/// HLS/DASH renditions go to S3 and DynamoDB; `backup create` backs the table up and exports it; the table is
/// deleted; `backup restore` brings it back into a new table and verifies it against the export; a client with a fresh
/// workspace pointed at the restored table finds every video, version and rendition again, and reads the same bytes.
/// </summary>
public sealed class DisasterDrillTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    private static string Sha(byte[] b) => Convert.ToHexStringLower(SHA256.HashData(b));

    private static async Task<byte[]> ReadAsync(ManimCloudClient client, string key)
    {
        await using var s = await client.Cloud!.Videos.OpenReadAsync(key, null, Ct);
        using var m = new MemoryStream();
        await s.CopyToAsync(m, Ct);
        return m.ToArray();
    }

    /// <summary>Every object under the videos' rendition folders, by key, with the SHA-256 of its bytes as read from S3.</summary>
    private static async Task<SortedDictionary<string, string>> RenditionObjectsAsync(ManimCloudClient client, IEnumerable<VideoRecord> videos)
    {
        var objects = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var v in videos)
            await foreach (var o in client.Cloud!.Videos.ListAsync($"{ObjectLayout.TranscodedPrefix}{v.Project}/{v.Id}/", Ct))
                objects[o.Key] = Sha(await ReadAsync(client, o.Key));
        return objects;
    }

    [Fact]
    public async Task After_the_table_is_deleted_a_restore_brings_back_every_video_version_and_rendition_readable_with_the_same_bytes()
    {
        var cloud = await TestCloud.CreateAsync();
        using var home = new TempDir();
        using var clips = new TempDir();
        var render = new TestRenderer();
        async Task<string> Clip(string name, int scene)
        {
            var path = clips.File(name);
            await render.RenderClipAsync(path, scene, 0.6, Ct, "640x360", 25, audio: scene % 2 == 0);
            return path;
        }

        var project = ProjectId.Parse(Names.Unique("drill"));
        var expectedCode = new Dictionary<(VideoId, int), byte[]>();
        var expectedMedia = new Dictionary<(VideoId, int, string), byte[]>();
        var videos = new List<VideoId>();
        using (var client = ManimCloudClient.Open(cloud.Options(home.Path)))
        {
            // Video A: two versions, three scenes each (scene 2 changed in v2), a full video in v2, a ladder per version.
            var a = (await client.CreateVideoAsync(project, "Derivatives, drilled", "a description", ["drill", "calculus"], Ct)).Value;
            videos.Add(a.Id);
            for (var version = 1; version <= 2; version++)
            {
                var code = System.Text.Encoding.UTF8.GetBytes($"from manim import *\nclass V{version}(Scene):\n    pass  # ünïcode\n");
                Assert.Equal(version, (await client.PutCodeAsync(a.Id, code, "drill", null, Ct)).Value.Version);
                expectedCode[(a.Id, version)] = code;
                for (var scene = 1; scene <= 3; scene++)
                {
                    var clip = await Clip($"a{version}-{scene}.mp4", version == 2 && scene == 2 ? 7 : scene);
                    await client.PutMediaAsync(a.Id, MediaSlot.ForScene(scene), clip, Ct);
                    expectedMedia[(a.Id, version, MediaSlot.ForScene(scene).Name)] = await File.ReadAllBytesAsync(clip, Ct);
                }
                await client.Streaming.TranscodeAsync(a.Id, version, "local", null, Ct);
            }
            var full = await Clip("a-full.mp4", 9);
            await client.PutMediaAsync(a.Id, MediaSlot.Full, full, Ct);
            expectedMedia[(a.Id, 2, MediaSlot.Full.Name)] = await File.ReadAllBytesAsync(full, Ct);
            await client.UpdateVideoAsync(a.Id, null, null, null, VideoStatus.Ready, null, Ct);

            // Video B: one version, only a full video, with its ladder.
            var b = (await client.CreateVideoAsync(project, "Integrals", null, null, Ct)).Value;
            videos.Add(b.Id);
            var bCode = "class B(Scene): pass\n"u8.ToArray();
            await client.PutCodeAsync(b.Id, bCode, "drill", null, Ct);
            expectedCode[(b.Id, 1)] = bCode;
            var bFull = await Clip("b-full.mp4", 4);
            await client.PutMediaAsync(b.Id, MediaSlot.Full, bFull, Ct);
            expectedMedia[(b.Id, 1, MediaSlot.Full.Name)] = await File.ReadAllBytesAsync(bFull, Ct);
            await client.Streaming.TranscodeAsync(b.Id, 1, "local", null, Ct);
            Assert.Equal(0, client.Outbox.Backlog().Count);
        }

        // What the cloud holds before the disaster, read through a client of its own (no workspace copy to fall back on).
        using var beforeHome = new TempDir();
        List<VideoRecord> before;
        SortedDictionary<string, string> renditionObjects;
        using (var reader = ManimCloudClient.Open(cloud.Options(beforeHome.Path)))
        {
            before = [];
            foreach (var id in videos) before.Add(await reader.GetVideoAsync(id, Ct));
            renditionObjects = await RenditionObjectsAsync(reader, before);
        }
        Assert.Equal(3, before.Sum(v => v.Renditions.Count));
        Assert.NotEmpty(renditionObjects);

        var env = cloud.Environment(home.Path);
        var backup = CliRunner.Run(env, "backup", "create", "--json");
        Assert.True(backup.ExitCode == 0, backup.Stderr + backup.Stdout);
        Assert.Equal("AVAILABLE", (string)backup.Json["status"]!);
        Assert.Equal("COMPLETED", (string)backup.Json["export"]!["status"]!);
        Assert.StartsWith("ENABLED", (string)backup.Json["point_in_time_recovery"]!);
        Assert.All(backup.Json["buckets"]!.AsArray(), b => Assert.Equal("Enabled", (string)b!["versioning"]!));
        var items = (long)backup.Json["item_count"]!;
        Assert.True(items >= 5, $"{items} items: expected two videos and three code versions at least");

        // The disaster: the metadata table is gone.
        await AwsCli.OkAsync("dynamodb", "delete-table", "--table-name", cloud.Table);
        var gone = await AwsCli.RunAsync("dynamodb", "describe-table", "--table-name", cloud.Table);
        Assert.Contains("ResourceNotFoundException", gone.Stderr);

        var listed = CliRunner.Run(env, "backup", "list", "--json");
        Assert.True(listed.ExitCode == 0, listed.Stderr);
        Assert.Equal((string)backup.Json["arn"]!, (string)listed.Json["backups"]![0]!["arn"]!);

        var restoredTable = cloud.Table + "-restored-drill";
        var restore = CliRunner.Run(env, "backup", "restore", "--to", restoredTable, "--sample", "1000", "--json");
        Assert.True(restore.ExitCode == 0, restore.Stderr + restore.Stdout);
        var verification = restore.Json["verification"]!;
        Assert.True((bool)verification["passed"]!, verification.ToJsonString());
        Assert.Contains("export", (string)verification["reference"]!);
        Assert.Equal(items, (long)verification["reference_count"]!);
        Assert.Equal(items, (long)verification["restored_count"]!);
        Assert.Equal(items, (long)verification["sampled"]!);
        var pitr = await AwsCli.JsonAsync("dynamodb", "describe-continuous-backups", "--table-name", restoredTable);
        Assert.Equal("ENABLED", (string)pitr["ContinuousBackupsDescription"]!["PointInTimeRecoveryDescription"]!["PointInTimeRecoveryStatus"]!);

        // Point a client with an empty workspace at the restored table: everything comes from the cloud.
        using var afterHome = new TempDir();
        using var after = ManimCloudClient.Open(cloud.Options(afterHome.Path) with { Table = restoredTable });
        var page = await after.ListVideosAsync(project, 10, null, Ct);
        Assert.Equal(videos.Select(v => v.ToString()).Order(), page.Items.Select(v => v.Id.ToString()).Order());
        foreach (var original in before)
        {
            var back = await after.GetVideoAsync(original.Id, Ct);
            Assert.Equal(RecordJson.ToJson(original).ToJsonString(), RecordJson.ToJson(back).ToJsonString());
            var history = await after.CodeHistoryAsync(original.Id, Ct);
            Assert.Equal(Enumerable.Range(1, original.CurrentVersion), history.Select(h => h.Version).Order());
            foreach (var h in history)
            {
                var (version, content) = await after.GetCodeAsync(original.Id, h.Version, Ct);
                Assert.Equal(expectedCode[(original.Id, h.Version)], content);
                Assert.Equal(h.Sha256, version.Sha256);
            }
            var sets = (await after.Streaming.RenditionsAsync(original.Id, null, Ct)).Sets;
            Assert.Equal(original.Renditions.Keys.Order(), sets.Select(s => s.Version).Order());
            foreach (var set in sets)
                foreach (var (key, sha) in set.Manifests)
                    Assert.Equal(sha, Sha(await ReadAsync(after, key)));
        }
        foreach (var ((id, version, slot), bytes) in expectedMedia)
        {
            var outPath = afterHome.File($"{id}-{version}-{slot}.mp4");
            await after.GetMediaAsync(id, slot == MediaSlot.Full.Name ? MediaSlot.Full : MediaSlot.ForScene(int.Parse(slot.Split('_')[^1])), version, outPath, Ct);
            Assert.Equal(bytes, await File.ReadAllBytesAsync(outPath, Ct));
        }
        Assert.Equal(renditionObjects, await RenditionObjectsAsync(after, before));

        // The restored deployment takes new writes: a third version gets the next number.
        Assert.Equal(3, (await after.PutCodeAsync(videos[0], "class V3(Scene): pass\n"u8.ToArray(), "drill", null, Ct)).Value.Version);
    }
}
