using System.CommandLine;
using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Workspace;

namespace ManimCloud.Cli.Commands;

internal static class WorkspaceCommands
{
    public static Command Init()
    {
        var c = new Command("init", "Create the local workspace (SQLite catalog and blob folder) under MANIMCLOUD_HOME.");
        CliContext.Bind(c, (_, ctx, _) =>
        {
            var client = ctx.Client;
            var j = new JsonObject
            {
                ["home"] = client.Options.Home, ["catalog"] = client.Catalog.Path, ["blobs"] = client.Blobs.Root,
                ["mode"] = client.Cloud is null ? "local" : "aws",
            };
            return Task.FromResult(new CliResult(j, $"workspace ready at {client.Options.Home} ({(client.Cloud is null ? "local only" : "local + AWS")})"));
        });
        return c;
    }

    public static Command Config()
    {
        var config = new Command("config", "Inspect the configuration.");
        var validate = new Command("validate", "Check the effective configuration (environment over config file) and say what to fix.");
        CliContext.Bind(validate, (_, ctx, _) =>
        {
            var o = ctx.Options;
            var problems = o.Validate();
            var j = EffectiveJson(o);
            j["valid"] = problems.Count == 0;
            j["problems"] = new JsonArray(problems.Select(x => (JsonNode)JsonValue.Create(x)!).ToArray());
            var text = new StringBuilder();
            foreach (var (k, v) in j.Where(kv => kv.Key is not ("valid" or "problems"))) text.AppendLine($"{k,-18} {v?.ToJsonString().Trim('"') ?? "-"}");
            text.Append(problems.Count == 0 ? "configuration is valid" : "problems:\n  " + string.Join("\n  ", problems));
            return Task.FromResult(new CliResult(j, text.ToString(), problems.Count == 0 ? 0 : 2));
        });
        config.Subcommands.Add(validate);
        return config;
    }

    /// <summary>The effective settings, never including credentials.</summary>
    public static JsonObject EffectiveJson(ManimCloudOptions o) => new()
    {
        ["home"] = o.Home, ["mode"] = o.CloudConfigured ? "aws" : "local", ["env"] = o.Environment,
        ["video_bucket"] = o.VideoBucket, ["code_bucket"] = o.CodeBucket, ["table"] = o.Table,
        ["kms_key"] = o.KmsKey, ["region"] = o.Region, ["endpoint_url"] = o.EndpointUrl,
        ["cache_limit"] = o.CacheLimitBytes, ["conflict_policy"] = o.ConflictPolicy == ConflictPolicy.Manual ? "manual" : "latest-wins",
        ["checksum_mode"] = o.ChecksumMode == ChecksumMode.WhenRequired ? "when-required" : "when-supported",
    };

    public static Command Sync()
    {
        var c = new Command("sync", "Apply operations left in the outbox (by an interrupted command) to the cloud and the workspace.");
        CliContext.Bind(c, async (_, ctx, ct) =>
        {
            var r = await ctx.Client.SyncAsync(ct);
            var j = new JsonObject
            {
                ["applied"] = r.Applied, ["pending"] = r.StillPending,
                ["failures"] = new JsonArray(r.Failures.Select(f => (JsonNode)JsonValue.Create(f)!).ToArray()),
            };
            var text = $"applied {r.Applied}, pending {r.StillPending}" + (r.Failures.Count > 0 ? "\n" + string.Join("\n", r.Failures) : "");
            return new CliResult(j, text, r.Failures.Count > 0 ? 6 : 0);
        });
        return c;
    }

    public static Command Status()
    {
        var c = new Command("status", "Show pending operations, the last error and the workspace mode.");
        CliContext.Bind(c, (_, ctx, _) =>
        {
            var client = ctx.Client;
            var entries = client.Outbox.List();
            var lastError = entries.Where(e => e.LastError is not null).Select(e => e.LastError).LastOrDefault();
            var j = new JsonObject
            {
                ["mode"] = client.Cloud is null ? "local" : "aws",
                ["home"] = client.Options.Home,
                ["pending"] = entries.Count(e => e.State == ManimCloud.Sync.Outbox.Pending),
                ["parked"] = entries.Count(e => e.State == ManimCloud.Sync.Outbox.Parked),
                ["last_error"] = lastError,
                ["operations"] = new JsonArray(entries.Select(e => (JsonNode)new JsonObject
                {
                    ["id"] = e.Operation.Id, ["kind"] = e.Operation.Kind, ["video_id"] = e.Operation.Video.ToString(),
                    ["state"] = e.State, ["attempts"] = e.Attempts, ["last_error"] = e.LastError,
                }).ToArray()),
            };
            var text = new StringBuilder($"mode {(client.Cloud is null ? "local" : "aws")}, workspace {client.Options.Home}\n");
            text.Append($"pending {entries.Count(e => e.State == ManimCloud.Sync.Outbox.Pending)}, parked {entries.Count(e => e.State == ManimCloud.Sync.Outbox.Parked)}");
            foreach (var e in entries) text.Append($"\n  {e.State,-8} {e.Operation.Kind,-12} {e.Operation.Video}  attempts {e.Attempts}  {e.LastError}");
            return Task.FromResult(new CliResult(j, text.ToString()));
        });
        return c;
    }

    public static Command Doctor()
    {
        var c = new Command("doctor", "Check the workspace, tools, configuration and (when configured) AWS access; say what to fix.");
        CliContext.Bind(c, async (_, ctx, ct) =>
        {
            var checks = new List<(string Name, bool Ok, string Detail)>();
            ManimCloudOptions? options = null;
            try { options = ctx.Options; checks.Add(("configuration", options.Validate().Count == 0, string.Join(" ", options.Validate()))); }
            catch (ManimCloudException e) { checks.Add(("configuration", false, e.Message + " " + e.Hint)); }

            if (options is not null && options.Validate().Count == 0)
            {
                try
                {
                    var client = ctx.Client;
                    checks.Add(("workspace", true, $"{client.Options.Home}, {client.Outbox.List().Count} operations pending"));
                    if (client.Cloud is { } cloud)
                    {
                        foreach (var (name, probe) in new (string, Func<Task>)[]
                        {
                            ("video bucket", async () => await cloud.Videos.HeadAsync("doctor-probe", ct)),
                            ("code bucket", async () => await cloud.Code.HeadAsync("doctor-probe", ct)),
                            ("metadata table", async () => await cloud.Metadata.GetVideoAsync(VideoId.New(), ct)),
                        })
                        {
                            try { await probe(); checks.Add((name, true, "reachable")); }
                            catch (ManimCloudException e) { checks.Add((name, false, e.Message + " Fix: " + e.Hint)); }
                        }
                    }
                }
                catch (ManimCloudException e) { checks.Add(("workspace", false, e.Message + " Fix: " + e.Hint)); }
            }
            checks.Add(Tool("ffmpeg", "-version", "needed by the test renderer and local transcoding: apt-get install -y ffmpeg"));
            checks.Add(Tool(options?.ManimCommand ?? "manim", "--version", "needed to render real scenes: pip install manim (or set MANIMCLOUD_MANIM)"));
            var j = new JsonObject
            {
                ["ok"] = checks.All(x => x.Ok || x.Name == "manim"),
                ["checks"] = new JsonArray(checks.Select(x => (JsonNode)new JsonObject { ["name"] = x.Name, ["ok"] = x.Ok, ["detail"] = x.Detail }).ToArray()),
            };
            var text = string.Join("\n", checks.Select(x => $"{(x.Ok ? "ok  " : "FAIL")} {x.Name,-15} {x.Detail}"));
            return new CliResult(j, text, j["ok"]!.GetValue<bool>() ? 0 : 1);
        });
        return c;
    }

    private static (string, bool, string) Tool(string name, string versionArg, string fix)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(name, versionArg) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false })!;
            var first = p.StandardOutput.ReadLine() ?? "";
            p.WaitForExit(10_000);
            return (Path.GetFileName(name) == "manim" ? "manim" : name, p.ExitCode == 0, first.Trim());
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return (Path.GetFileName(name) == "manim" ? "manim" : name, false, $"not found — {fix}");
        }
    }
}
