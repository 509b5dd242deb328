using System.CommandLine;
using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Transfer;

namespace ManimCloud.Cli.Commands;

/// <summary>`uploads list|resume [ID]|abort (ID|--all)`: the multipart uploads a crash, kill or Ctrl-C left unfinished.</summary>
internal static class UploadsCommands
{
    public static Command Create()
    {
        var uploads = new Command("uploads", "Unfinished multipart uploads (kept across crashes so they can resume).");
        uploads.Subcommands.Add(List());
        uploads.Subcommands.Add(Resume());
        uploads.Subcommands.Add(Abort());
        return uploads;
    }

    private static Uploads Require(CliContext ctx) => ctx.Client.Uploads
        ?? throw new ManimCloudException(ErrorKind.InvalidInput, "There are no cloud uploads in local-only mode.",
            "Configure MANIMCLOUD_VIDEO_BUCKET, MANIMCLOUD_CODE_BUCKET and MANIMCLOUD_TABLE to use the cloud.");

    private static JsonObject EntryJson(JournalEntry e) => new()
    {
        ["id"] = e.Id, ["bucket"] = e.Bucket, ["key"] = e.Key, ["upload_id"] = e.UploadId, ["file"] = e.Path,
        ["size"] = e.Size, ["parts_done"] = e.PartsDone, ["parts_total"] = e.PartCount, ["bytes_done"] = e.BytesDone,
        ["started_at"] = e.CreatedAt.ToString("O"), ["updated_at"] = e.UpdatedAt.ToString("O"),
    };

    private static Command List()
    {
        var c = new Command("list", "List unfinished uploads this workspace knows, others found in the buckets, and interrupted downloads.");
        CliContext.Bind(c, async (_, ctx, ct) =>
        {
            var uploads = Require(ctx);
            var known = await uploads.ListAsync(ct);
            var o = ctx.Client.Options;
            var downloads = uploads.Downloads?.List() ?? [];
            var unknown = new List<RemoteUpload>();
            foreach (var bucket in new[] { o.VideoBucket!, o.CodeBucket! })
                unknown.AddRange((await uploads.ListInBucketAsync(bucket, "", ct)).Where(u => u.JournalId is null));
            var j = new JsonObject
            {
                ["uploads"] = new JsonArray(known.Select(e => (JsonNode)EntryJson(e)).ToArray()),
                ["unknown_in_buckets"] = new JsonArray(unknown.Select(u => (JsonNode)new JsonObject
                {
                    ["bucket"] = u.Bucket, ["key"] = u.Key, ["upload_id"] = u.UploadId, ["initiated"] = u.Initiated?.ToString("O"),
                }).ToArray()),
                ["downloads"] = new JsonArray(downloads.Select(d => (JsonNode)new JsonObject
                {
                    ["id"] = d.Id, ["bucket"] = d.Bucket, ["key"] = d.Key, ["version_id"] = d.VersionId, ["destination"] = d.Destination,
                    ["size"] = d.Size, ["ranges_done"] = d.RangesDone, ["ranges_total"] = d.RangeCount, ["bytes_done"] = d.BytesDone,
                    ["started_at"] = d.CreatedAt.ToString("O"), ["updated_at"] = d.UpdatedAt.ToString("O"),
                }).ToArray()),
            };
            var text = new StringBuilder();
            foreach (var e in known)
                text.AppendLine($"{e.Id}  s3://{e.Bucket}/{e.Key}  {e.PartsDone}/{e.PartCount} parts, {e.BytesDone >> 20}/{e.Size >> 20} MiB, since {e.CreatedAt:yyyy-MM-dd HH:mm}");
            foreach (var u in unknown)
                text.AppendLine($"(not this workspace's)  s3://{u.Bucket}/{u.Key}  upload {u.UploadId}, since {u.Initiated:yyyy-MM-dd HH:mm} — `uploads abort --all` cleans these");
            foreach (var d in downloads)
                text.AppendLine($"download {d.Id}  s3://{d.Bucket}/{d.Key} -> {d.Destination}  {d.RangesDone}/{d.RangeCount} ranges, "
                    + $"{d.BytesDone >> 20}/{d.Size >> 20} MiB, since {d.CreatedAt:yyyy-MM-dd HH:mm} — the same `video get` continues it");
            if (text.Length == 0) text.Append("no unfinished uploads or downloads");
            return new CliResult(j, text.ToString().TrimEnd());
        });
        return c;
    }

    private static Command Resume()
    {
        var id = new Argument<string?>("ID") { Description = "The upload to resume (default: all of them).", Arity = ArgumentArity.ZeroOrOne };
        var c = new Command("resume", "Continue unfinished uploads, sending only the parts S3 does not have; then finish their operations.") { id };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var uploads = Require(ctx);
            var ids = p.GetValue(id) is { } one ? [one] : (await uploads.ListAsync(ct)).Select(e => e.Id).ToList();
            var done = new JsonArray();
            foreach (var uploadId in ids)
            {
                using var bar = ProgressBar.ForTerminal(ctx.Json);
                var r = await uploads.ResumeAsync(uploadId, bar, ct);
                done.Add((JsonNode)new JsonObject { ["id"] = uploadId, ["key"] = r.Key, ["sha256"] = r.Sha256, ["size"] = r.Size });
                ctx.Progress($"resumed {uploadId}: s3://{r.Bucket}/{r.Key} complete");
            }
            // The operations these uploads belonged to (media records) finish with the queue.
            var report = await ctx.Client.SyncAsync(ct);
            return new CliResult(new JsonObject { ["resumed"] = done, ["synced"] = report.Applied, ["pending"] = report.StillPending },
                ids.Count == 0 ? "no unfinished uploads" : $"resumed {ids.Count} upload(s); {report.Applied} queued operation(s) finished");
        });
        return c;
    }

    private static Command Abort()
    {
        var id = new Argument<string?>("ID") { Description = "The upload to abort.", Arity = ArgumentArity.ZeroOrOne };
        var all = new Option<bool>("--all") { Description = "Abort every unfinished upload: this workspace's, and those S3 holds in the buckets that no workspace knows." };
        var olderThan = new Option<int?>("--older-than-hours") { Description = "With --all: spare uploads started more recently (other workers may be running them)." };
        var c = new Command("abort", "Abort an unfinished upload (its stored parts are deleted), or all of them.") { id, all, olderThan };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var uploads = Require(ctx);
            if (p.GetValue(all) == (p.GetValue(id) is not null))
                throw new ManimCloudException(ErrorKind.InvalidInput, "Give exactly one of an upload ID and --all.",
                    "`manimcloud uploads list` shows the ids.");
            if (p.GetValue(id) is { } one)
            {
                await uploads.AbortAsync(one, ct);
                return new CliResult(new JsonObject { ["aborted"] = one }, $"aborted {one}");
            }
            var before = p.GetValue(olderThan) is { } h ? DateTimeOffset.UtcNow.AddHours(-h) : (DateTimeOffset?)null;
            var o = ctx.Client.Options;
            int fromJournal = 0, unknown = 0;
            foreach (var bucket in new[] { o.VideoBucket!, o.CodeBucket! })
            {
                var r = await uploads.AbortAllAsync(bucket, "", before, ct);
                fromJournal += r.FromJournal;
                unknown += r.UnknownToJournal;
            }
            return new CliResult(new JsonObject { ["aborted_known"] = fromJournal, ["aborted_unknown"] = unknown },
                $"aborted {fromJournal} upload(s) of this workspace and {unknown} found only in the buckets");
        });
        return c;
    }
}
