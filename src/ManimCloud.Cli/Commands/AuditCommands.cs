using System.CommandLine;
using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Operations;

namespace ManimCloud.Cli.Commands;

/// <summary>`audit list|verify|ship`: the hash-chained trail of what the tool did (SPEC R8).</summary>
internal static class AuditCommands
{
    public static Command Create()
    {
        var audit = new Command("audit", "The audit trail: who did what to which object, with what outcome (append-only, hash-chained).");

        var since = new Option<string?>("--since") { Description = "Only entries since then: a duration back from now (30m, 24h, 7d) or an ISO 8601 time." };
        var video = Args.Video(required: false);
        var limit = new Option<int>("--limit") { Description = "At most this many entries (oldest first).", DefaultValueFactory = _ => 1000 };
        var list = new Command("list", "Print audit entries, oldest first.") { since, video, limit };
        CliContext.Bind(list, (p, ctx, _) =>
        {
            var target = p.GetValue(video) is { } v ? VideoId.Parse(v).ToString() : null;
            var entries = ctx.Client.Audit.List(Durations.Since(p.GetValue(since)), target, p.GetValue(limit));
            var text = new StringBuilder();
            foreach (var e in entries) text.AppendLine($"{e.Seq,6} {e.At} {e.Actor} {e.Action} {e.Target} -> {e.Outcome}{(e.Detail is null ? "" : $" ({e.Detail})")}");
            if (entries.Count == 0) text.Append("no audit entries");
            return Task.FromResult(new CliResult(new JsonObject
            {
                ["entries"] = new JsonArray(entries.Select(e => (JsonNode)e.ToJson()).ToArray()),
            }, text.ToString().TrimEnd()));
        });

        var verify = new Command("verify", "Recompute the hash chain: exit 0 when every entry is intact, 4 naming the first entry edited or removed.");
        CliContext.Bind(verify, async (_, ctx, ct) =>
        {
            var client = ctx.Client;
            var result = client.Audit.Verify();
            string? shippedProblem = null;
            if (result.Intact && client.Cloud is not null)
                shippedProblem = await new AuditShipping(client.Audit, client.Cloud.Code).VerifyAgainstShippedAsync(ct);
            var intact = result.Intact && shippedProblem is null;
            var json = result.ToJson();
            json["intact"] = intact;
            if (shippedProblem is not null) json["summary"] = shippedProblem;
            json["checked_shipped_copy"] = client.Cloud is not null;
            return new CliResult(json, intact ? result.Summary : $"AUDIT LOG TAMPERED: {shippedProblem ?? result.Summary}", intact ? 0 : 4);
        });

        var ship = new Command("ship", "Copy the entries not shipped yet to the code bucket (audit/{workspace}/…jsonl); `sync` does this too.");
        CliContext.Bind(ship, async (_, ctx, ct) =>
        {
            var client = ctx.Client;
            if (client.Cloud is null)
                throw new ManimCloudException(ErrorKind.InvalidInput, "There is nowhere to ship the audit log in local-only mode.",
                    "Configure the buckets and table (or run `manimcloud provision`); the log stays in the workspace meanwhile.");
            var shipped = await new AuditShipping(client.Audit, client.Cloud.Code).ShipAsync(ct);
            return new CliResult(shipped ?? new JsonObject { ["entries"] = 0 },
                shipped is null ? "nothing new to ship" : $"shipped {shipped["entries"]} entries to {shipped["store"]}/{shipped["key"]}");
        });

        audit.Subcommands.Add(list);
        audit.Subcommands.Add(verify);
        audit.Subcommands.Add(ship);
        return audit;
    }

    /// <summary>After `sync`: ship the audit entries too; a failure is reported and left for the next sync.</summary>
    public static async Task ShipQuietlyAsync(ManimCloudClient client, CliContext ctx, CancellationToken ct)
    {
        if (client.Cloud is null) return;
        try
        {
            await new AuditShipping(client.Audit, client.Cloud.Code).ShipAsync(ct);
        }
        catch (ManimCloudException e)
        {
            ctx.Progress($"note: the audit log was not shipped ({e.Message}); the next sync or `audit ship` tries again.");
        }
    }
}

/// <summary>Durations on the command line: 30m, 24h, 7d, 2w (back from now), or an ISO 8601 time.</summary>
internal static class Durations
{
    public static TimeSpan Parse(string text, string option)
    {
        if (text.Length >= 2 && double.TryParse(text[..^1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var n) && n >= 0)
            switch (text[^1])
            {
                case 's': return TimeSpan.FromSeconds(n);
                case 'm': return TimeSpan.FromMinutes(n);
                case 'h': return TimeSpan.FromHours(n);
                case 'd': return TimeSpan.FromDays(n);
                case 'w': return TimeSpan.FromDays(7 * n);
            }
        throw new ManimCloudException(ErrorKind.InvalidInput, $"{option} {text} is not a duration.", "Use a number with s, m, h, d or w, e.g. 30d.");
    }

    public static DateTimeOffset? Since(string? text)
    {
        if (text is null) return null;
        if (DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var at)
            && text.Contains('-')) return at.ToUniversalTime();
        return DateTimeOffset.UtcNow - Parse(text, "--since");
    }
}
