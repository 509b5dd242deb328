using System.CommandLine;
using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Operations.Health;
using ManimCloud.Workspace;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

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
        ["s3_endpoint_url"] = o.S3EndpointUrl, ["dynamodb_endpoint_url"] = o.DynamoDbEndpointUrl,
        ["cache_limit"] = o.CacheLimitBytes, ["conflict_policy"] = o.ConflictPolicy == ConflictPolicy.Manual ? "manual" : "latest-wins",
        ["checksum_mode"] = o.ChecksumMode == ChecksumMode.WhenRequired ? "when-required" : "when-supported",
    };

    public static Command Sync()
    {
        var watch = new Option<bool>("--watch") { Description = "Keep syncing in the background until stopped (Ctrl-C), backing off while the cloud is away." };
        var retryParked = new Option<bool>("--retry-parked") { Description = "Put parked operations back in the queue first (after fixing their cause)." };
        var c = new Command("sync", "Send queued operations to the cloud (and finish any a crash interrupted).") { watch, retryParked };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var client = ctx.Client;
            if (p.GetValue(retryParked)) ctx.Progress($"{client.Outbox.RetryParked()} parked operations queued again");
            if (p.GetValue(watch))
            {
                if (client.Cloud is null)
                    throw new Domain.ManimCloudException(Domain.ErrorKind.InvalidInput, "Nothing to watch in local-only mode.",
                        "Configure MANIMCLOUD_VIDEO_BUCKET, MANIMCLOUD_CODE_BUCKET and MANIMCLOUD_TABLE first.");
                return await WatchAsync(client, ctx, ct);
            }
            var progress = new Progress<ManimCloud.Sync.SyncProgress>(s => ctx.Progress($"[{s.Done + 1}/{s.Total}] {s.Current}"));
            using var bar = ProgressBar.ForTerminal(ctx.Json);
            var r = await client.SyncAsync(ctx.Json ? null : progress, bar, ct);
            await AuditCommands.ShipQuietlyAsync(client, ctx, ct);
            return SyncResult(r);
        });
        return c;
    }

    private static CliResult SyncResult(ManimCloud.Sync.SyncReport r)
    {
        var j = new JsonObject
        {
            ["applied"] = r.Applied, ["pending"] = r.StillPending, ["parked"] = r.Parked, ["conflicts"] = r.Conflicts,
            ["renumbered"] = new JsonArray(r.Renumbered.Select(x => (JsonNode)new JsonObject
            {
                ["video_id"] = x.Video.ToString(), ["local_version"] = x.LocalVersion, ["cloud_version"] = x.CloudVersion,
            }).ToArray()),
            ["discarded"] = new JsonArray(r.Discarded.Select(d => (JsonNode)JsonValue.Create(d)!).ToArray()),
            ["failures"] = new JsonArray(r.Failures.Select(f => (JsonNode)JsonValue.Create(f)!).ToArray()),
        };
        var text = new StringBuilder($"applied {r.Applied}, pending {r.StillPending}, parked {r.Parked}, conflicts {r.Conflicts}");
        foreach (var x in r.Renumbered) text.Append($"\nvideo {x.Video}: code version {x.LocalVersion} made offline is version {x.CloudVersion} in the cloud");
        foreach (var d in r.Discarded) text.Append($"\n{d}");
        foreach (var f in r.Failures) text.Append($"\n{f}");
        if (r.Conflicts > 0) text.Append("\n`manimcloud conflicts list` shows the kept conflicts; `conflicts resolve ID --keep local|cloud` settles one.");
        return new CliResult(j, text.ToString(), r.StillPending > 0 ? 6 : 0);
    }

    private static async Task<CliResult> WatchAsync(ManimCloudClient client, CliContext ctx, CancellationToken ct)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        // Logs go to stderr: stdout stays for the one JSON document.
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Services.AddSingleton(client);
        builder.Services.AddHostedService<ManimCloud.Sync.SyncService>();
        using var host = builder.Build();
        ctx.Progress("syncing in the background; Ctrl-C stops");
        try { await host.RunAsync(ct); }
        catch (OperationCanceledException) { }
        var pending = client.Outbox.List(ManimCloud.Sync.Outbox.Pending).Count;
        return new CliResult(new JsonObject { ["pending"] = pending, ["stopped"] = true }, $"stopped; {pending} operations pending");
    }

    public static Command Status()
    {
        var c = new Command("status", "Show pending operations, the last error, conflicts and the workspace mode.");
        CliContext.Bind(c, (_, ctx, _) =>
        {
            var client = ctx.Client;
            var entries = client.Outbox.List();
            var down = client.Health.IsDown(out var downUntil);
            int Count(string state) => entries.Count(e => e.State == state);
            var j = ManimCloud.Workspace.WorkspaceStatus.ToJson(client);
            var text = new StringBuilder($"mode {(client.Cloud is null ? "local" : "aws")}, workspace {client.Options.Home}\n");
            if (client.Cloud is not null && down) text.Append($"cloud unreachable (next direct try after {downUntil})\n");
            text.Append($"pending {Count(ManimCloud.Sync.Outbox.Pending)}, parked {Count(ManimCloud.Sync.Outbox.Parked)}, conflicts {Count(ManimCloud.Sync.Outbox.Conflicted)}");
            foreach (var e in entries) text.Append($"\n  {e.State,-8} {e.Operation.Kind,-12} {e.Operation.Video}  attempts {e.Attempts}  {e.LastError}");
            return Task.FromResult(new CliResult(j, text.ToString()));
        });
        return c;
    }

    public static Command Conflicts()
    {
        var conflicts = new Command("conflicts", "Offline edits that met a concurrent change (kept under MANIMCLOUD_CONFLICT_POLICY=manual).");
        var list = new Command("list", "List the kept conflicts: fields, your value, the cloud's value.");
        CliContext.Bind(list, (_, ctx, _) =>
        {
            var items = ctx.Client.Conflicts();
            var j = new JsonObject
            {
                ["conflicts"] = new JsonArray(items.Select(e => (JsonNode)new JsonObject
                {
                    ["id"] = e.Operation.Id, ["video_id"] = e.Operation.Video.ToString(), ["detail"] = e.Conflict?.DeepClone(),
                }).ToArray()),
            };
            var text = items.Count == 0 ? "no conflicts" : string.Join("\n", items.Select(e =>
                $"{e.Operation.Id}  video {e.Operation.Video}: {string.Join(", ", e.Conflict?["fields"]?.AsArray().Select(f => (string)f!) ?? [])}" +
                $"\n  local: {e.Conflict?["local"]?.ToJsonString()}\n  cloud: {e.Conflict?["cloud"]?.ToJsonString()}"));
            return Task.FromResult(new CliResult(j, text));
        });
        var id = new Argument<string>("ID") { Description = "The conflict id from `conflicts list`." };
        var keep = new Option<string>("--keep") { Description = "local (your offline edit overwrites the cloud) or cloud (your edit is dropped).", Required = true };
        var resolve = new Command("resolve", "Settle one conflict.") { id, keep };
        CliContext.Bind(resolve, async (p, ctx, ct) =>
        {
            var keepLocal = p.GetValue(keep) switch
            {
                "local" => true,
                "cloud" => false,
                var other => throw new Domain.ManimCloudException(Domain.ErrorKind.InvalidInput, $"--keep {other} is not a choice.", "Use --keep local or --keep cloud."),
            };
            await ctx.Client.ResolveConflictAsync(p.GetValue(id)!, keepLocal, ct);
            return new CliResult(new JsonObject { ["resolved"] = p.GetValue(id), ["kept"] = keepLocal ? "local" : "cloud" },
                $"resolved: kept the {(keepLocal ? "local" : "cloud")} value");
        });
        conflicts.Subcommands.Add(list);
        conflicts.Subcommands.Add(resolve);
        return conflicts;
    }

    public static Command Doctor()
    {
        var c = new Command("doctor",
            "Check the workspace, tools, configuration and every configured AWS service (S3, DynamoDB, KMS, SQS, CloudFront, MediaConvert, " +
            "CloudWatch): reachability, latency, clock skew, credentials' expiry; each failure names its runbook entry. Exit 1 when something fails.");
        CliContext.Bind(c, async (_, ctx, ct) =>
        {
            var checks = new List<HealthCheck>();
            ManimCloudOptions? options = null;
            try
            {
                options = ctx.Options;
                var problems = options.Validate();
                checks.Add(new HealthCheck("configuration", "workspace", problems.Count == 0 ? HealthStatus.Ok : HealthStatus.Fail,
                    problems.Count == 0 ? "valid" : string.Join(" ", problems)) { Runbook = problems.Count == 0 ? null : HealthCheck.RunbookFor("configuration") });
            }
            catch (ManimCloudException e)
            {
                checks.Add(new HealthCheck("configuration", "workspace", HealthStatus.Fail, e.Message + " " + e.Hint) { Runbook = HealthCheck.RunbookFor("configuration") });
            }

            if (options is not null && options.Validate().Count == 0)
            {
                try
                {
                    var client = ctx.Client;
                    checks.Add(new HealthCheck("workspace", "workspace", HealthStatus.Ok, $"{client.Options.Home}, {client.Outbox.List().Count} operations pending"));
                    var aws = client.Aws ?? (options.Monitoring.CloudWatchMetrics ? new Aws.AwsClients(options) : null);
                    if (aws is not null)
                        checks.AddRange(await new DeploymentHealth(aws).CheckAsync(Targets(options), StoreProbes(client, ct), TimeSpan.FromSeconds(20), ct));
                }
                catch (ManimCloudException e)
                {
                    checks.Add(new HealthCheck("workspace", "workspace", HealthStatus.Fail, e.Message + " Fix: " + e.Hint) { Runbook = HealthCheck.RunbookFor("workspace") });
                }
            }
            checks.Add(Tool("ffmpeg", "-version", "needed by the test renderer and local transcoding: apt-get install -y ffmpeg", optional: false));
            checks.Add(Tool(options?.Pipeline.ManimCommand ?? "manim", "--version", "needed to render real scenes: pip install manim (or set MANIMCLOUD_MANIM)", optional: true));
            var ok = checks.All(x => x.Status != HealthStatus.Fail);
            var j = new JsonObject
            {
                ["ok"] = ok,
                ["checks"] = new JsonArray(checks.Select(x => (JsonNode)CheckJson(x)).ToArray()),
            };
            var text = string.Join("\n", checks.Select(x =>
                $"{x.Status switch { HealthStatus.Ok => "ok  ", HealthStatus.Warn => "warn", HealthStatus.Skipped => "skip", _ => "FAIL" }} {x.Name,-17} {x.Detail}"
                + (x.Runbook is { } r ? $" (see {r})" : "")));
            return new CliResult(j, text, ok ? 0 : 1);
        });
        return c;
    }

    private static JsonObject CheckJson(HealthCheck x) => new()
    {
        ["name"] = x.Name, ["service"] = x.Service, ["status"] = x.Status.ToString().ToLowerInvariant(),
        ["ok"] = x.Status is HealthStatus.Ok or HealthStatus.Warn or HealthStatus.Skipped, ["detail"] = x.Detail,
        ["latency_ms"] = x.LatencyMs, ["clock_skew_s"] = x.ClockSkewSeconds,
        ["credentials_expire"] = x.CredentialsExpire?.UtcDateTime.ToString("O"), ["error_kind"] = x.ErrorKind, ["runbook"] = x.Runbook,
    };

    /// <summary>The services this configuration uses.</summary>
    private static HealthTargets Targets(ManimCloudOptions o) => new()
    {
        VideoBucket = o.VideoBucket, CodeBucket = o.CodeBucket, Table = o.Table, KmsKey = o.KmsKey,
        QueueUrl = System.Environment.GetEnvironmentVariable("MANIMCLOUD_QUEUE") is { Length: > 0 } q ? q : null,
        DistributionId = o.Delivery.DistributionId,
        MediaConvert = o.MediaConvertRole is not null,
        CloudWatch = o.Monitoring.CloudWatchMetrics || o.CloudConfigured,
    };

    /// <summary>The buckets and table through ManimCloud's own stores (names and permissions as the tool uses them), with the answers' Date.</summary>
    private static IEnumerable<DeploymentHealth.Probe> StoreProbes(ManimCloudClient client, CancellationToken ct)
    {
        if (client.Cloud is not { } cloud || client.Aws is not { } aws) yield break;
        yield return new("video bucket", "s3", t => WithSdkDate(aws.S3, async () => { await foreach (var _ in cloud.Videos.ListAsync("manimcloud-doctor-probe/", t)) break; }));
        yield return new("code bucket", "s3", t => WithSdkDate(aws.S3, async () => { await foreach (var _ in cloud.Code.ListAsync("manimcloud-doctor-probe/", t)) break; }));
        yield return new("metadata table", "dynamodb", t => WithSdkDate(aws.DynamoDB, async () => await cloud.Metadata.GetVideoAsync(VideoId.New(), t)));
    }

    /// <summary>
    /// Runs an SDK call and returns the Date header of the answer it got. A listing, not a HEAD, probes a bucket: S3
    /// answers a HEAD in a missing bucket with a bare 404, like a missing key.
    /// </summary>
    private static async Task<DateTimeOffset?> WithSdkDate(object sdkClient, Func<Task> call)
    {
        var client = (Amazon.Runtime.AmazonServiceClient)sdkClient;
        DateTimeOffset? date = null;
        Amazon.Runtime.ResponseEventHandler handler = (_, e) => date ??= DeploymentHealth.DateOf(e);
        client.AfterResponseEvent += handler;
        try { await call(); }
        finally { client.AfterResponseEvent -= handler; }
        return date;
    }

    /// <summary>A local tool; an optional one (manim: the library stores what any renderer made) only warns when missing.</summary>
    private static HealthCheck Tool(string name, string versionArg, string fix, bool optional)
    {
        var shown = Path.GetFileName(name) == "manim" ? "manim" : name;
        var missing = optional ? HealthStatus.Warn : HealthStatus.Fail;
        try
        {
            using var p = Process.Start(new ProcessStartInfo(name, versionArg) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false })!;
            var first = p.StandardOutput.ReadLine() ?? "";
            p.WaitForExit(10_000);
            return new HealthCheck(shown, "tool", p.ExitCode == 0 ? HealthStatus.Ok : missing, first.Trim()) { Runbook = p.ExitCode == 0 ? null : HealthCheck.RunbookFor(shown) };
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return new HealthCheck(shown, "tool", missing, $"not found — {fix}") { Runbook = HealthCheck.RunbookFor(shown) };
        }
    }
}
