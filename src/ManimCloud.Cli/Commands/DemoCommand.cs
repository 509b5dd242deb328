using System.CommandLine;
using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Metadata;
using ManimCloud.Rendering;
using ManimCloud.Storage;
using ManimCloud.Streaming;

namespace ManimCloud.Cli.Commands;

/// <summary>
/// The main job end to end on whatever is configured (the embedded workspace by default): create a video, store
/// two code versions, render and store scene clips and the full video, read everything back and verify it, and
/// transcode the clips into a streaming ladder (HLS + DASH). ffmpeg is installed first when missing and allowed.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var project = new Option<string>("--project") { Description = "Project id to use.", DefaultValueFactory = _ => "demo" };
        var scenes = new Option<int>("--scenes") { Description = "How many scene clips to render (1–20).", DefaultValueFactory = _ => 3 };
        var c = new Command("demo", "Run the whole pipeline once: code versions, rendered clips, full video, read back and verified.") { project, scenes };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var projectId = ProjectId.Parse(p.GetValue(project));
            var sceneCount = p.GetValue(scenes);
            if (sceneCount is < 1 or > 20)
                throw new ManimCloudException(ErrorKind.InvalidInput, $"--scenes {sceneCount} is out of range.", "Use 1 to 20.");
            var client = ctx.Client;
            var work = Directory.CreateTempSubdirectory("manimcloud-demo-");
            try
            {
                ctx.Progress($"workspace: {client.Options.Home} ({(client.Cloud is null ? "local only" : "local + AWS")})");
                var video = (await client.CreateVideoAsync(projectId, "Pythagoras in three scenes", "Demo video made by `manimcloud demo`.", ["demo", "geometry"], ct)).Value;
                ctx.Progress($"created video {video.Id}");

                var v1 = (await client.PutCodeAsync(video.Id, Encoding.UTF8.GetBytes(SceneCode(1)), "demo", null, ct)).Value;
                var v2 = (await client.PutCodeAsync(video.Id, Encoding.UTF8.GetBytes(SceneCode(2)), "demo", null, ct)).Value;
                ctx.Progress($"stored code versions {v1.Version} and {v2.Version}");

                await client.UpdateVideoAsync(video.Id, null, null, null, VideoStatus.Rendering, null, ct);
                var renderer = new TestRenderer(client.Options.Ffmpeg);
                var clips = new List<string>();
                for (var scene = 1; scene <= sceneCount; scene++)
                {
                    var path = Path.Combine(work.FullName, $"scene_{scene:D3}.mp4");
                    await renderer.RenderClipAsync(path, scene, 1.0, ct, size: "1280x720");
                    clips.Add(path);
                    var m = (await client.PutMediaAsync(video.Id, MediaSlot.ForScene(scene), path, ct)).Value;
                    ctx.Progress($"rendered and stored {m.Key} ({m.Size} bytes)");
                }
                var full = Path.Combine(work.FullName, "full.mp4");
                await renderer.ConcatAsync(clips, full, ct);
                var fullMedia = (await client.PutMediaAsync(video.Id, MediaSlot.Full, full, ct)).Value;
                ctx.Progress($"stored {fullMedia.Key} ({fullMedia.Size} bytes)");
                await client.UpdateVideoAsync(video.Id, null, null, null, VideoStatus.Uploaded, null, ct);

                // Read everything back and compare bytes with what was rendered.
                var checks = new JsonArray();
                for (var scene = 1; scene <= sceneCount; scene++)
                {
                    var back = Path.Combine(work.FullName, $"back_{scene:D3}.mp4");
                    var m = await client.GetMediaAsync(video.Id, MediaSlot.ForScene(scene), null, back, ct);
                    checks.Add((JsonNode)Compare(clips[scene - 1], back, m.Key));
                }
                var fullBack = Path.Combine(work.FullName, "full_back.mp4");
                checks.Add((JsonNode)Compare(full, fullBack, (await client.GetMediaAsync(video.Id, MediaSlot.Full, null, fullBack, ct)).Key));
                var (latest, code) = await client.GetCodeAsync(video.Id, null, ct);
                var (first, code1) = await client.GetCodeAsync(video.Id, 1, ct);
                var codeOk = Encoding.UTF8.GetString(code) == SceneCode(2) && Encoding.UTF8.GetString(code1) == SceneCode(1);
                checks.Add((JsonNode)new JsonObject { ["what"] = $"code v{first.Version} and v{latest.Version}", ["equal"] = codeOk });
                if (checks.Any(c => c!["equal"]!.GetValue<bool>() == false))
                    throw new ManimCloudException(ErrorKind.Fatal, "Demo read-back differs from what was stored.", "This is a bug; please report it.");

                // The streaming ladder (HLS + DASH, 720p and 480p from these 720p clips), made here with ffmpeg.
                var ladder = await client.Streaming.TranscodeAsync(video.Id, null, "local", new Progress<TranscodeProgress>(p =>
                {
                    if (p.Stage != "encoding") ctx.Progress($"transcode: {(p.Scene > 0 ? $"scene {p.Scene} " : "")}{p.Stage}");
                }), ct);
                foreach (var key in new[] { ladder.Set.HlsMasterKey, ladder.Set.DashManifestKey })
                {
                    var head = await client.Local.Videos.HeadAsync(key, ct);
                    checks.Add((JsonNode)new JsonObject { ["what"] = key, ["equal"] = head is not null && head.Sha256 == ladder.Set.Manifests[key] });
                }
                ctx.Progress($"ladder {string.Join("/", ladder.Set.Rungs.Select(r => r.Name))}: {ladder.Set.HlsMasterKey}");
                if (checks.Any(c => c!["equal"]!.GetValue<bool>() == false))
                    throw new ManimCloudException(ErrorKind.Fatal, "Demo read-back of the streaming ladder differs from what was published.", "This is a bug; please report it.");

                var record = await client.GetVideoAsync(video.Id, ct);
                var history = await client.CodeHistoryAsync(video.Id, ct);
                var json = new JsonObject
                {
                    ["video"] = RecordJson.ToJson(record),
                    ["code_history"] = new JsonArray(history.Select(h => (JsonNode)RecordJson.ToJson(h)).ToArray()),
                    ["verified"] = checks,
                    ["renditions"] = RenditionJson.ToJson(ladder.Set),
                    ["workspace"] = client.Options.Home,
                    ["mode"] = client.Cloud is null ? "local" : "aws",
                };
                var text = VideoCommands.Describe(record) + "\n\nread back and verified: " +
                    string.Join(", ", checks.Select(c => (string)c!["what"]!)) + "\nall bytes equal.";
                return new CliResult(json, text);
            }
            finally
            {
                work.Delete(recursive: true);
            }
        });
        return c;
    }

    private static JsonObject Compare(string original, string back, string key)
    {
        var a = ContentHash.Sha256Hex(File.ReadAllBytes(original));
        var b = ContentHash.Sha256Hex(File.ReadAllBytes(back));
        return new JsonObject { ["what"] = key, ["sha256"] = a, ["equal"] = a == b };
    }

    private static string SceneCode(int version) => $$""""
        from manim import *


        class Pythagoras(Scene):
            """Version {{version}} of the demo scene."""

            def construct(self):
                triangle = Polygon(ORIGIN, RIGHT * 3, UP * 4, color=BLUE)
                self.play(Create(triangle))
                label = MathTex("a^2 + b^2 = c^2").next_to(triangle, DOWN)
                self.play(Write(label))
                self.wait({{version}})
        """";
}
