using System.Text;
using ManimCloud.Domain;
using ManimCloud.Pipeline;
using ManimCloud.Storage;
using ManimCloud.Tests.Support;
using ManimCloud.Workspace;

namespace ManimCloud.Tests.Pipeline;

/// <summary>
/// Issue #12 on the embedded default: a prompt becomes a published version with every scene's clip and the full
/// video stored, and an edit of one scene renders that scene only (the others' clips are reused, byte for byte).
/// </summary>
public class LocalPipelineTests
{
    private static ManimCloudOptions Options(string home, RendererKind renderer = RendererKind.Test, string? manim = null) => new()
    {
        Home = home, Pipeline = new PipelineSettings { Renderer = renderer, ManimCommand = manim ?? "manim" },
    };

    private static async Task<string> ClipShaAsync(ManimCloudClient client, VideoId video, int version, int scene, string dir)
    {
        var path = System.IO.Path.Combine(dir, $"check-{version}-{scene}-{Guid.NewGuid():N}.mp4");
        var m = await client.GetMediaAsync(video, scene == 0 ? MediaSlot.Full : MediaSlot.ForScene(scene), version, path, default);
        Assert.Equal(m.Sha256, ContentHash.Sha256Hex(await File.ReadAllBytesAsync(path)));
        return m.Sha256;
    }

    [Fact]
    public async Task A_prompt_becomes_a_ready_video_and_an_edit_of_one_scene_renders_one_scene()
    {
        using var dir = new TempDir();
        using var client = ManimCloudClient.Open(Options(dir.Path));
        var first = await client.Pipeline.CreateAsync(ProjectId.Parse("pipe"), "Pythagoras", "The theorem in four scenes", null, new RunOptions(), null, default);
        Assert.True(first.Finished);
        Assert.Equal(1, first.Version);
        // The player page of v1, with its signed grant (the local service verifies it like CloudFront would).
        Assert.StartsWith($"http://127.0.0.1:8080/watch/{first.Video}?v=1&", first.Url);
        Assert.Equal(["estimate", "create", "code", "reuse", "render", "upload", "transcode", "publish"], first.Steps.Select(s => s.Name));
        var ladder = first.Steps.Single(s => s.Name == "transcode").Details;
        Assert.Equal(4, (int)ladder["scenes_encoded"]!);
        Assert.Equal([1, 2, 3, 4], ladder["probed_scenes"]!.AsArray().Select(n => (int)n!));
        Assert.Equal(ObjectLayout.HlsMasterKey(ProjectId.Parse("pipe"), first.Video, 1), (string?)ladder["hls"]);

        var record = await client.GetVideoAsync(first.Video, default);
        Assert.Equal(VideoStatus.Ready, record.Status);
        Assert.Equal(4, record.Stats["scenes_rendered"]);
        Assert.True(record.Stats.ContainsKey("pipeline_render_s") && record.Stats.ContainsKey("pipeline_total_s"));
        var v1 = new List<string>();
        for (var s = 1; s <= 4; s++) v1.Add(await ClipShaAsync(client, first.Video, 1, s, dir.Path));
        Assert.Equal(4, v1.Distinct().Count());
        await ClipShaAsync(client, first.Video, 1, 0, dir.Path);
        var history = await client.CodeHistoryAsync(first.Video, default);
        Assert.Equal("The theorem in four scenes", history.Single().Prompt);
        Assert.Equal("template", history.Single().Author);

        var edit = await client.Pipeline.EditAsync(first.Video, "scene 3: slow down at the end", new RunOptions(), null, default);
        Assert.Equal(2, edit.Version);
        var jobs = await client.Pipeline.Jobs.ListAsync(first.Video, edit.Run, 100, default);
        Assert.Equal([3], jobs.Where(j => j.Kind == JobKind.RenderScene).Select(j => j.Scene!.Value));
        Assert.All(jobs, j => Assert.Equal(JobState.Done, j.State));
        var v2 = new List<string>();
        for (var s = 1; s <= 4; s++) v2.Add(await ClipShaAsync(client, first.Video, 2, s, dir.Path));
        Assert.Equal(v1[0], v2[0]);
        Assert.Equal(v1[1], v2[1]);
        Assert.NotEqual(v1[2], v2[2]);
        Assert.Equal(v1[3], v2[3]);
        // Only the edited scene is encoded again; the ladder of v2 points at v1's segments for the other three.
        var ladder2 = edit.Steps.Single(s => s.Name == "transcode").Details;
        Assert.Equal([3], ladder2["encoded_scenes"]!.AsArray().Select(n => (int)n!));
        Assert.Equal(3, (int)ladder2["scenes_reused"]!);
        // ... and only its clip is probed and first-frame decoded: ffprobe, that decode and its one encode are all the
        // ffmpeg runs (the reused scenes' facts, storyboard sheets and the poster of the unchanged scene 1 are reused).
        Assert.Equal([3], ladder2["probed_scenes"]!.AsArray().Select(n => (int)n!));
        Assert.Equal(3, (int)ladder2["ffmpeg_runs"]!);
        Assert.StartsWith($"http://127.0.0.1:8080/watch/{first.Video}?v=2&", edit.Url);
        var after = await client.GetVideoAsync(first.Video, default);
        Assert.Equal(VideoStatus.Ready, after.Status);
        Assert.Equal([1, 2], after.Renditions.Keys.Order());
        Assert.Equal(1, after.Renditions[2].Scenes.Count(s => s.EncodedInVersion == 2));
        Assert.True(after.Stats["pipeline_transcode_s"] > 0);
        Assert.Equal(1, after.Stats["scenes_rendered"]);
        Assert.Equal(3, after.Stats["scenes_reused"]);
        Assert.Equal(ObjectLayout.FullVideoKey(after.Project, after.Id, 2), after.FullVideoPath);
        Assert.Equal("scene 3: slow down at the end", (await client.CodeHistoryAsync(first.Video, default))[^1].Prompt);

        // render --scene 1: that scene afresh (same code, so the same bytes), nothing else.
        var forced = await client.Pipeline.RenderAsync(first.Video, null, new RunOptions { ForceScenes = new HashSet<int> { 1 } }, null, default);
        var forcedJobs = await client.Pipeline.Jobs.ListAsync(first.Video, forced.Run, 100, default);
        Assert.Equal([1], forcedJobs.Where(j => j.Kind == JobKind.RenderScene).Select(j => j.Scene!.Value));
        Assert.Equal(v2[0], await ClipShaAsync(client, first.Video, 2, 1, dir.Path));
    }

    [Fact]
    public async Task The_manim_renderer_runs_manim_per_scene_and_reads_its_media_layout_back()
    {
        using var dir = new TempDir();
        var log = dir.File("manim.log");
        Environment.SetEnvironmentVariable("FAKE_MANIM_LOG", log);
        try
        {
            using var client = ManimCloudClient.Open(Options(dir.Path, RendererKind.Manim, FakeManim.Path));
            var code = Encoding.UTF8.GetBytes("from manim import *\n\nclass Alpha(Scene):\n    def construct(self):\n        self.wait(1)\n\nclass Beta(Scene):\n    def construct(self):\n        self.wait(2)\n");
            var run = await client.Pipeline.CreateAsync(ProjectId.Parse("pipe"), "Two scenes", null, code, new RunOptions(), null, default);
            Assert.Equal(["Alpha", "Beta"], FakeManim.Done(log).Order());
            var jobs = await client.Pipeline.Jobs.ListAsync(run.Video, run.Run, 100, default);
            Assert.All(jobs.Where(j => j.Kind == JobKind.RenderScene), j => Assert.Equal("manim", j.Renderer));
            await ClipShaAsync(client, run.Video, 1, 2, dir.Path);

            // The same code rendered again: every scene is reused, manim is not run.
            await client.Pipeline.RenderAsync(run.Video, 1, new RunOptions(), null, default);
            Assert.Equal(2, FakeManim.Done(log).Count);
        }
        finally
        {
            Environment.SetEnvironmentVariable("FAKE_MANIM_LOG", null);
        }
    }

    [Fact]
    public async Task A_published_version_rendered_again_differently_invalidates_exactly_its_changed_manifests_behind_a_CDN()
    {
        using var dir = new TempDir();
        var log = dir.File("manim.log");
        Environment.SetEnvironmentVariable("FAKE_MANIM_LOG", log);
        try
        {
            VideoId video;
            using (var first = ManimCloudClient.Open(Options(dir.Path)))
            {
                var run = await first.Pipeline.CreateAsync(ProjectId.Parse("pipe"), "Invalidate", "Shapes in two scenes", null, new RunOptions(), null, default);
                video = run.Video;
                // A new version's paths are new: nothing of it can be cached anywhere yet.
                var publish = run.Steps.Single(s => s.Name == "publish").Details;
                Assert.False((bool)publish["invalidation"]!["needed"]!);
                Assert.Empty(publish["invalidation"]!["paths"]!.AsArray());
            }
            // The same version rendered again by another renderer (manim): new clips, new segments, so v1's manifests change.
            using (var rsa = System.Security.Cryptography.RSA.Create(2048))
                await File.WriteAllTextAsync(dir.File("cdn.pem"), rsa.ExportRSAPrivateKeyPem());
            File.SetUnixFileMode(dir.File("cdn.pem"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
            var cdn = Options(dir.Path, RendererKind.Manim, FakeManim.Path) with
            {
                Delivery = new ManimCloud.Delivery.DeliveryOptions
                {
                    Enabled = true, Domain = "d111111abcdef8.cloudfront.net", KeyPairId = "K2JCJMDEHXQW5F", PrivateKeyPath = dir.File("cdn.pem"),
                },
            };
            using var again = ManimCloudClient.Open(cdn);
            var invalidated = new List<string>();
            again.Pipeline.Invalidate = (record, version, paths, ct) =>
            {
                Assert.Equal(1, version);
                invalidated.AddRange(paths);
                return Task.FromResult(new System.Text.Json.Nodes.JsonObject { ["id"] = "I-test" });
            };
            var before = (await again.GetVideoAsync(video, default)).Renditions[1];
            var rerun = await again.Pipeline.RenderAsync(video, 1, new RunOptions(), null, default);
            var after = (await again.GetVideoAsync(video, default)).Renditions[1];
            // What was published before and changed (a manifest new in this publish was never cached, so it is not
            // invalidated), and the poster and storyboard, rewritten under the same names since the clips changed.
            var changed = RenditionSet.StaleKeys(before, after).Select(k => "/" + k).ToList();
            Assert.NotEmpty(changed);
            Assert.Contains("/" + ObjectLayout.HlsMasterKey(ProjectId.Parse("pipe"), video, 1), changed);
            Assert.Contains("/" + ObjectLayout.PosterKey(ProjectId.Parse("pipe"), video, 1), changed);
            Assert.All(RenditionSet.ChangedManifests(before, after).Where(before.Manifests.ContainsKey), k => Assert.Contains("/" + k, changed));
            Assert.Equal(changed.Order(), invalidated.Order());
            Assert.All(invalidated, p => Assert.DoesNotContain(".m4s", p)); // segments are immutable: never invalidated
            Assert.True((bool)rerun.Steps.Single(s => s.Name == "publish").Details["invalidation"]!["done"]!);
        }
        finally
        {
            Environment.SetEnvironmentVariable("FAKE_MANIM_LOG", null);
        }
    }

    [Fact]
    public async Task A_missing_manim_is_a_clear_message_naming_the_setting()
    {
        using var dir = new TempDir();
        var renderer = new ManimRenderer(dir.File("no-such-manim"));
        await File.WriteAllTextAsync(dir.File("m.py"), "from manim import *\nclass A(Scene):\n    pass\n");
        var scene = ManimScenes.Parse(await File.ReadAllTextAsync(dir.File("m.py"))).Scenes[0];
        var e = await Assert.ThrowsAsync<ManimCloudException>(() => renderer.RenderSceneAsync(new SceneRenderRequest(dir.File("m.py"), scene, RenderQuality.Low, dir.File("w")), default));
        Assert.Contains("manim command was not found", e.Message);
        Assert.Contains("MANIMCLOUD_MANIM", e.Hint);
        Assert.Contains("MANIMCLOUD_RENDERER=test", e.Hint);
    }
}
