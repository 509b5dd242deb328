using System.CommandLine;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Metadata;
using ManimCloud.Pipeline;
using ManimCloud.Storage;

namespace ManimCloud.Cli.Commands;

/// <summary>
/// The main job end to end on whatever is configured (the embedded workspace by default), as an agent pipeline does
/// it: a prompt, generated code, every scene rendered to its clip, the full video, the streaming ladder (HLS + DASH),
/// then an edit of one scene that renders and encodes that one scene again; everything read back and verified, and
/// the player page of both versions printed. ffmpeg is installed first when missing and allowed.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var project = new Option<string>("--project") { Description = "Project id to use.", DefaultValueFactory = _ => "demo" };
        var scenes = new Option<int>("--scenes") { Description = "How many scenes the generated video has (1–12).", DefaultValueFactory = _ => 3 };
        var c = new Command("demo",
            "Run the whole pipeline once: a prompt, generated code, rendered scenes, the ladder, an edit of one scene; everything read back and verified, the player page of both versions printed.")
        { project, scenes };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var projectId = ProjectId.Parse(p.GetValue(project));
            var sceneCount = p.GetValue(scenes);
            if (sceneCount is < 1 or > 12)
                throw new ManimCloudException(ErrorKind.InvalidInput, $"--scenes {sceneCount} is out of range.", "Use 1 to 12.");
            var client = ctx.Client;
            var pipeline = client.Pipeline;
            ctx.Progress($"workspace: {client.Options.Home} ({(client.Cloud is null ? "local only" : "local + AWS")}); pipeline {pipeline.Mode}");
            var log = new Progress(ctx.Progress);

            // 1. A new video from a prompt: code, render, upload, ladder, publish.
            var prompt = $"Explain the Pythagorean theorem in {sceneCount} scenes";
            ctx.Progress($"pipeline run: \"{prompt}\"");
            var first = await pipeline.CreateAsync(projectId, "Pythagoras", prompt, null, Options, log, ct);
            Require(first, "pipeline run");

            // 2. An agent edits one scene: one scene is rendered and encoded again, the others are reused.
            var editPrompt = $"Slow down scene {sceneCount} and add a caption";
            ctx.Progress($"pipeline edit: \"{editPrompt}\"");
            var edit = await pipeline.EditAsync(first.Video, editPrompt, Options, log, ct);
            Require(edit, "pipeline edit");

            // 3. Read everything back, from the workspace and (when configured) from the cloud, and compare checksums.
            var record = await client.GetVideoAsync(first.Video, ct);
            var checks = new JsonArray();
            foreach (var version in new[] { first.Version, edit.Version })
            {
                var set = record.Renditions[version];
                var keys = Enumerable.Range(1, set.Scenes.Count).Select(s => ObjectLayout.ClipKey(record.Project, record.Id, version, s))
                    .Append(ObjectLayout.FullVideoKey(record.Project, record.Id, version))
                    .Concat([set.HlsMasterKey, set.DashManifestKey]);
                foreach (var key in keys) checks.Add((JsonNode)await VerifyAsync(client, key, ct));
            }
            var (latest, code) = await client.GetCodeAsync(record.Id, null, ct);
            var (v1, code1) = await client.GetCodeAsync(record.Id, first.Version, ct);
            checks.Add((JsonNode)new JsonObject
            {
                ["what"] = $"code v{v1.Version} and v{latest.Version}",
                ["equal"] = ContentHash.Sha256Hex(code1) == v1.Sha256 && ContentHash.Sha256Hex(code) == latest.Sha256,
            });
            if (checks.Any(x => x!["equal"]!.GetValue<bool>() == false))
                throw new ManimCloudException(ErrorKind.Fatal,
                    $"Demo read-back differs from what was stored: {string.Join(", ", checks.Where(x => !x!["equal"]!.GetValue<bool>()).Select(x => (string)x!["what"]!))}.",
                    "This is a bug; please report it with `manimcloud demo --json` output.");

            var history = await client.CodeHistoryAsync(record.Id, ct);
            var reused = edit.Steps.FirstOrDefault(s => s.Name == "transcode")?.Details;
            var json = new JsonObject
            {
                ["video"] = RecordJson.ToJson(record),
                ["code_history"] = new JsonArray(history.Select(h => (JsonNode)RecordJson.ToJson(h)).ToArray()),
                ["runs"] = new JsonArray(first.ToJson(), edit.ToJson()),
                ["verified"] = checks,
                ["renditions"] = RenditionJson.ToJson(record.Renditions[edit.Version]),
                ["player"] = new JsonObject { [$"v{first.Version}"] = first.Url, [$"v{edit.Version}"] = edit.Url },
                ["workspace"] = client.Options.Home,
                ["mode"] = client.Cloud is null ? "local" : "aws",
            };
            var text = $"run  (v{first.Version}):\n{Steps(first)}\n\nedit (v{edit.Version}):\n{Steps(edit)}\n\n" +
                VideoCommands.Describe(record) +
                (reused is null ? "" : $"\n\nthe edit encoded {reused["scenes_encoded"]} scene(s) and reused {reused["scenes_reused"]}.") +
                $"\n\nread back and verified: {checks.Count} objects and code versions ({(client.Cloud is null ? "workspace" : "workspace and cloud")})\nall bytes equal." +
                $"\n\nplay (with `manimcloud serve` running):\n  v{first.Version}: {first.Url}\n  v{edit.Version}: {edit.Url}";
            return new CliResult(json, text);
        });
        return c;
    }

    private static void Require(PipelineReport report, string what)
    {
        if (!report.Finished)
            throw new ManimCloudException(ErrorKind.Transient, $"{what} of video {report.Video} did not finish (pipeline mode {report.Mode}).",
                "With MANIMCLOUD_QUEUE set the jobs wait for `manimcloud worker` processes: start one, or unset MANIMCLOUD_QUEUE for the demo.");
    }

    /// <summary>The object's bytes read back from the workspace and from the cloud, each hashed and compared with the SHA-256 recorded at write time.</summary>
    private static async Task<JsonObject> VerifyAsync(ManimCloudClient client, string key, CancellationToken ct)
    {
        var head = await client.Local.Videos.HeadAsync(key, ct);
        var expected = head?.Sha256;
        var local = head is null ? null : await HashAsync(client.Local.Videos, key, ct);
        var result = new JsonObject { ["what"] = key, ["sha256"] = expected };
        var equal = expected is not null && local == expected;
        if (client.Cloud?.Videos is { } cloud)
        {
            var remote = await HashAsync(cloud, key, ct);
            result["cloud_sha256"] = remote;
            equal &= remote == expected;
        }
        result["equal"] = equal;
        return result;
    }

    private static async Task<string> HashAsync(IObjectStore store, string key, CancellationToken ct)
    {
        await using var s = await store.OpenReadAsync(key, null, ct);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(s, ct));
    }

    /// <summary>720p clips (the test renderer's high quality; real manim renders 1080p), so the ladder has more than one rung.</summary>
    private static readonly RunOptions Options = new() { Quality = RenderQuality.High };

    private static string Steps(PipelineReport report)
    {
        var width = report.Steps.Max(s => s.Name.Length);
        return string.Join("\n", report.Steps.Select(s => $"  {s.Name.PadRight(width)}  {s.Seconds,6:0.00} s  {s.Summary}"));
    }

    /// <summary>Reports on the caller's thread, in order.</summary>
    private sealed class Progress(Action<string> report) : IProgress<string>
    {
        public void Report(string value) => report(value);
    }
}
