using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.CommandLine.Parsing;
using ManimCloud.Domain;
using ManimCloud.Operations.Telemetry;
using ManimCloud.Workspace;

namespace ManimCloud.Cli;

/// <summary>What a command produced: one JSON document for `--json`, and text for people.</summary>
public sealed record CliResult(JsonNode Json, string Text, int ExitCode = 0);

/// <summary>
/// Runs every command the same way: load options, open the client lazily, print one JSON document (with --json)
/// or text on stdout, progress and errors on stderr, and exit with the error's class (2 input, 3 not found, 4 conflict,
/// 5 auth, 6 unavailable, 1 other).
/// </summary>
public sealed class CliContext : IDisposable
{
    public static readonly Option<bool> RequireCloudOption = new("--require-cloud") { Description = "Fail instead of queueing when a write cannot reach the cloud now (also MANIMCLOUD_REQUIRE_CLOUD=1).", Recursive = true };

    public static readonly Option<bool> JsonOption = new("--json") { Description = "Print exactly one JSON document on stdout (logs and progress stay on stderr).", Recursive = true };

    private ManimCloudClient? _client;
    private ManimCloudOptions? _options;
    public bool Json { get; init; }

    public bool RequireCloud { get; init; }
    public ManimCloudOptions Options => _options ??= RequireCloud ? ManimCloudOptions.Load() with { RequireCloud = true } : ManimCloudOptions.Load();
    public ManimCloudClient Client => _client ??= ManimCloudClient.Open(Options);

    /// <summary>Adjusts the options before the client is opened (a command that knows more than the configuration, e.g. `serve`'s address).</summary>
    public void Configure(Func<ManimCloudOptions, ManimCloudOptions> change)
    {
        if (_client is not null) throw new InvalidOperationException("The client is open already; configure it before first use.");
        _options = change(Options);
    }

    /// <summary>Progress and notes for people: always stderr, so stdout keeps exactly one JSON document.</summary>
    public void Progress(string message) => Console.Error.WriteLine(message);

    public void Dispose() => _client?.Dispose();

    public static void Bind(Command command, Func<ParseResult, CliContext, CancellationToken, Task<CliResult>> body)
    {
        command.SetAction(async (parse, ct) =>
        {
            var json = parse.GetValue(JsonOption);
            var name = CommandPath(parse);
            using var context = new CliContext { Json = json, RequireCloud = parse.GetValue(RequireCloudOption) };
            // Telemetry for this command (nothing at all unless an exporter is configured); flushed, within a short
            // deadline, when the command is done.
            using var telemetry = StartTelemetry(context, name);
            using var span = OperationScope.Start(name, spanName: "manimcloud " + name);
            span?.Activity?.SetTag(ManimCloudTelemetry.Attributes.Command, name);
            var (exitCode, outcome, message) = await RunAsync(parse, context, body, json, ct);
            span?.Activity?.SetTag(ManimCloudTelemetry.Attributes.ExitCode, exitCode);
            span?.Complete(outcome, message);
            if (telemetry.Active) RecordBacklog(context);
            return exitCode;
        });
    }

    private static async Task<(int ExitCode, string Outcome, string? Message)> RunAsync(ParseResult parse, CliContext context,
        Func<ParseResult, CliContext, CancellationToken, Task<CliResult>> body, bool json, CancellationToken ct)
    {
        try
        {
            var result = await body(parse, context, ct);
            if (json) Console.Out.WriteLine(result.Json.ToJsonString(JsonOut));
            else if (result.Text.Length > 0) Console.Out.WriteLine(result.Text);
            return (result.ExitCode, result.ExitCode == 0 ? ManimCloudMetrics.Ok : "failed", null);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return (Fail(json, ErrorKind.Fatal, "Cancelled.",
                "Work already stored is kept: run the command again, or `manimcloud uploads resume` / `manimcloud sync`, to finish.", 130), "cancelled", "Cancelled.");
        }
        catch (ManimCloudException e)
        {
            return (Fail(json, e.Kind, e.Message, e.Hint, e.ExitCode), ManimCloudMetrics.OutcomeOf(e.Kind), e.Message);
        }
        catch (Exception e)
        {
            return (Fail(json, ErrorKind.Fatal, $"Unexpected {e.GetType().Name}: {e.Message}",
                "This is a bug in manimcloud; please report it with the command you ran.", 1), ManimCloudMetrics.OutcomeOf(ErrorKind.Fatal), e.Message);
        }
    }

    /// <summary>Commands that serve ManimCloud's metrics to Prometheus (/metrics), so keep a pull reader.</summary>
    public static readonly HashSet<string> MetricsServingCommands = ["serve"];

    private static TelemetryHost StartTelemetry(CliContext context, string command)
    {
        ManimCloudOptions? options = null;
        try { options = context.Options; }
        catch (ManimCloudException) { } // the command itself reports bad configuration; telemetry goes on from the environment
        var aws = options is { Monitoring.CloudWatchMetrics: true } ? new Aws.AwsClients(options) : null;
        var settings = TelemetrySettings.From(options, aws) with { Prometheus = MetricsServingCommands.Contains(command) };
        return TelemetryHost.Start(settings);
    }

    private static void RecordBacklog(CliContext context)
    {
        if (context._client is not { Sync: not null } client) return;
        var (count, oldest) = client.Outbox.Backlog();
        ManimCloudMetrics.RecordSyncBacklog(count, oldest is { } o ? DateTimeOffset.UtcNow - o : TimeSpan.Zero);
    }

    /// <summary>The command's path without the program: "video put", "monitoring provision".</summary>
    public static string CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (SymbolResult? r = parse.CommandResult; r is CommandResult c && c.Parent is not null; r = c.Parent) names.Add(c.Command.Name);
        names.Reverse();
        return names.Count == 0 ? "manimcloud" : string.Join(' ', names);
    }

    private static int Fail(bool json, ErrorKind kind, string message, string hint, int exitCode)
    {
        Console.Error.WriteLine($"error: {message}");
        Console.Error.WriteLine($"  fix: {hint}");
        if (json)
            Console.Out.WriteLine(new JsonObject
            {
                ["ok"] = false,
                ["error"] = new JsonObject { ["kind"] = System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(kind.ToString()), ["message"] = message, ["hint"] = hint },
            }.ToJsonString(JsonOut));
        return exitCode;
    }

    /// <summary>Adds whether a write reached the cloud (`synced`) or waits in the outbox (`pending`, with the reason).</summary>
    public static CliResult Written<T>(Written<T> written, JsonObject json, string text, bool cloudConfigured)
    {
        if (cloudConfigured)
        {
            json["synced"] = written.Synced;
            json["pending"] = !written.Synced;
            if (!written.Synced)
            {
                json["pending_reason"] = written.PendingReason;
                Console.Error.WriteLine($"saved in the workspace; queued for the cloud ({written.PendingReason}). `manimcloud sync` sends it.");
            }
        }
        return new CliResult(json, text);
    }

    public static readonly JsonSerializerOptions JsonOut = new() { WriteIndented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
