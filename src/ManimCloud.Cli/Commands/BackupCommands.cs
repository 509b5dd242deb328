using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Aws;
using ManimCloud.Domain;
using ManimCloud.Operations.Backup;

namespace ManimCloud.Cli.Commands;

/// <summary>`backup create|list|restore`: backups of the metadata table, its export to S3, the buckets' protection (SPEC §2).</summary>
internal static class BackupCommands
{
    public static Command Create()
    {
        var backup = new Command("backup", "Back up the deployment (DynamoDB on-demand backup + export to S3; bucket versioning checked; optional replication) and restore it into a new table, verified.");
        backup.Subcommands.Add(CreateCommand());
        backup.Subcommands.Add(List());
        backup.Subcommands.Add(Restore());
        return backup;
    }

    private static Option<string> ExportBucketOption() => new("--export-bucket") { Description = "The bucket of the table exports and backup manifests (default: the video bucket, under backups/dynamodb/)." };

    private static Command CreateCommand()
    {
        var exportBucket = ExportBucketOption();
        var noExport = new Option<bool>("--no-export") { Description = "Only the DynamoDB backup; no export of the table to S3." };
        var exportWait = new Option<string>("--export-wait") { Description = "How long to wait for the export to complete (it goes on after).", DefaultValueFactory = _ => "30m" };
        var videosTo = new Option<string>("--replicate-videos-to") { Description = "Also replicate the video bucket to this (versioned) bucket." };
        var codeTo = new Option<string>("--replicate-code-to") { Description = "Also replicate the code bucket to this (versioned, Object Lock) bucket." };
        var role = new Option<string>("--replication-role") { Description = "The IAM role ARN S3 replicates as (needed with --replicate-*)." };
        var c = new Command("create",
            "An on-demand backup of the table (point-in-time recovery stays on, and is turned on when off), an export of the table to S3, the buckets' versioning checked, "
            + "and with --replicate-* a replication rule to a second bucket.")
        {
            exportBucket, noExport, exportWait, videosTo, codeTo, role,
        };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            using var aws = new AwsClients(ctx.Options);
            var created = await new BackupService(ctx.Options, aws).CreateAsync(new BackupRequest
            {
                ExportBucket = p.GetValue(exportBucket), Export = !p.GetValue(noExport), ExportWait = Durations.Parse(p.GetValue(exportWait)!, "--export-wait"),
                ReplicateVideosTo = p.GetValue(videosTo), ReplicateCodeTo = p.GetValue(codeTo), ReplicationRole = p.GetValue(role),
            }, ct);
            var json = created.Entry.ToJson();
            json["point_in_time_recovery"] = created.PointInTimeRecovery;
            json["replication_changed"] = new JsonArray(created.ReplicationChanged.Select(r => (JsonNode)r).ToArray());
            json["warnings"] = new JsonArray(created.Warnings.Select(w => (JsonNode)w).ToArray());
            var text = new StringBuilder();
            var e = created.Entry;
            text.AppendLine($"backup {e.Backup.Name} of table {e.Backup.Table}: {e.Backup.Status}, {e.Backup.ItemCount} item(s)");
            text.AppendLine($"  arn: {e.Backup.Arn}");
            text.AppendLine($"  point-in-time recovery: {created.PointInTimeRecovery}");
            if (e.Export is { } x) text.AppendLine($"  export: {x.Status} at s3://{x.Bucket}/{x.Prefix}" + (x.ItemCount is { } n ? $" ({n} item(s))" : ""));
            else text.AppendLine("  export: none (--no-export)");
            foreach (var b in e.Manifest!.Buckets)
                text.AppendLine($"  s3://{b.Bucket} ({b.Role}): versioning {b.Versioning}" + (b.ReplicatesTo.Count > 0 ? $", replicates to {string.Join(", ", b.ReplicatesTo)}" : ""));
            foreach (var r in created.ReplicationChanged) text.AppendLine($"  replication set: {r}");
            text.Append($"  manifest: s3://{e.Manifest.Bucket}/{e.Manifest.Key}");
            foreach (var w in created.Warnings) text.Append($"\nwarning: {w}");
            return new CliResult(json, text.ToString());
        });
        return c;
    }

    private static Command List()
    {
        var exportBucket = ExportBucketOption();
        var c = new Command("list", "The table's on-demand backups, newest first, with their exports and the bucket states recorded with them.") { exportBucket };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            using var aws = new AwsClients(ctx.Options);
            var entries = await new BackupService(ctx.Options, aws).ListAsync(p.GetValue(exportBucket), ct);
            var text = new StringBuilder();
            if (entries.Count == 0) text.Append($"table {ctx.Options.Table} has no backups; `manimcloud backup create` makes one.");
            foreach (var e in entries)
                text.AppendLine($"{e.Backup.CreatedAt.ToString("u", CultureInfo.InvariantCulture)}  {e.Backup.Name}  {e.Backup.Status}"
                    + (e.Backup.ItemCount is { } n ? $"  {n} item(s)" : "") + $"  export {e.Export?.Status ?? "none"}");
            return new CliResult(new JsonObject
            {
                ["table"] = ctx.Options.Table,
                ["backups"] = new JsonArray(entries.Select(e => (JsonNode)e.ToJson()).ToArray()),
            }, text.ToString().TrimEnd());
        });
        return c;
    }

    private static Command Restore()
    {
        var backup = new Option<string>("--backup") { Description = "The backup (ARN or name) to restore; default: the newest available." };
        var to = new Option<string>("--to") { Description = "The NEW table to restore into (default TABLE-restored-TIME)." };
        var against = new Option<string>("--verify-against") { Description = "auto (the backup's export, else the live source table), export, source or none.", DefaultValueFactory = _ => "auto" };
        var sample = new Option<int>("--sample") { Description = "How many records to compare one by one.", DefaultValueFactory = _ => 25 };
        var wait = new Option<string>("--wait") { Description = "How long to wait for the restored table to become ACTIVE.", DefaultValueFactory = _ => "2h" };
        var verifyOnly = new Option<bool>("--verify-only") { Description = "Do not restore: verify the table --to names (restored earlier)." };
        var exportBucket = ExportBucketOption();
        var c = new Command("restore",
            "Restore a backup into a new table (never over an existing one) and verify it: record counts and a sample of records compared with the "
            + "export taken with the backup (or the live table), printed. Exits 1 when verification fails.")
        {
            backup, to, against, sample, wait, verifyOnly, exportBucket,
        };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            using var aws = new AwsClients(ctx.Options);
            var outcome = await new BackupService(ctx.Options, aws).RestoreAsync(new RestoreRequest
            {
                Backup = p.GetValue(backup), Target = p.GetValue(to), VerifyAgainst = p.GetValue(against)!, Sample = p.GetValue(sample),
                Wait = Durations.Parse(p.GetValue(wait)!, "--wait"), VerifyOnly = p.GetValue(verifyOnly), ExportBucket = p.GetValue(exportBucket),
            }, ct);
            var json = new JsonObject
            {
                ["backup"] = outcome.Backup.Name,
                ["backup_arn"] = outcome.Backup.Arn,
                ["table"] = outcome.Target,
                ["restored"] = outcome.Restored,
                ["verification"] = outcome.Verification?.ToJson(),
                ["verified"] = outcome.Verification?.Passed,
                ["notes"] = new JsonArray(outcome.Notes.Select(n => (JsonNode)n).ToArray()),
            };
            var text = new StringBuilder();
            text.AppendLine(outcome.Restored ? $"restored backup {outcome.Backup.Name} into the new table {outcome.Target}" : $"verifying table {outcome.Target} (restored from {outcome.Backup.Name})");
            text.AppendLine(outcome.Verification?.ToText() ?? "not verified (--verify-against none)");
            foreach (var n in outcome.Notes) text.AppendLine($"note: {n}");
            return new CliResult(json, text.ToString().TrimEnd(), outcome.Verification is { Passed: false } ? 1 : 0);
        });
        return c;
    }
}
