using System.CommandLine;
using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Metadata;

namespace ManimCloud.Cli.Commands;

internal static class CodeCommands
{
    public static Command Create()
    {
        var code = new Command("code", "Store and fetch versions of a video's Manim code.");
        code.Subcommands.Add(Put());
        code.Subcommands.Add(Get());
        code.Subcommands.Add(History());
        return code;
    }

    private static Command Put()
    {
        var file = new Argument<string>("FILE") { Description = "The Manim .py file (UTF-8)." };
        var videoOpt = Args.Video();
        var lockOpt = new Option<bool>("--lock") { Description = "Lock this version (S3 Object Lock legal hold, or retention with --retain-days): it cannot be deleted or overwritten." };
        var retainDays = new Option<int?>("--retain-days") { Description = "With --lock: a governance-mode retention of this many days instead of a legal hold." };
        var author = new Option<string?>("--author") { Description = "Who wrote this version (default: the current user)." };
        var c = new Command("put", "Store a new version of the code; prints its version number.") { file, videoOpt, lockOpt, retainDays, author };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var id = Args.VideoId(p, videoOpt);
            CodeLockRequest? lockRequest = null;
            if (p.GetValue(retainDays) is { } days)
            {
                if (!p.GetValue(lockOpt))
                    throw new ManimCloudException(ErrorKind.InvalidInput, "--retain-days needs --lock.", "Add --lock, or drop --retain-days.");
                if (days is < 1 or > 36500)
                    throw new ManimCloudException(ErrorKind.InvalidInput, $"--retain-days {days} is out of range.", "Use 1 to 36500 days.");
                lockRequest = new CodeLockRequest(LockMode.Governance, DateTimeOffset.UtcNow.AddDays(days));
            }
            else if (p.GetValue(lockOpt)) lockRequest = new CodeLockRequest(LockMode.LegalHold, null);
            var w = await ctx.Client.PutCodeAsync(id, p.GetValue(file)!, p.GetValue(author), lockRequest, ct);
            if (!w.Synced && ctx.Client.Cloud is not null)
                Console.Error.WriteLine($"version {w.Value.Version} is provisional: it takes the next free number when it reaches the cloud.");
            return CliContext.Written(w, RecordJson.ToJson(w.Value), w.Value.Version.ToString(), ctx.Client.Cloud is not null);
        });
        return c;
    }

    private static Command Get()
    {
        var videoOpt = Args.Video();
        var version = new Option<int?>("--version") { Description = "The version to fetch (default: latest)." };
        var output = new Option<string?>("--out") { Description = "Write to this file instead of stdout." };
        var c = new Command("get", "Fetch a version of the code (default: the latest).") { videoOpt, version, output };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var (v, content) = await ctx.Client.GetCodeAsync(Args.VideoId(p, videoOpt), p.GetValue(version), ct);
            var j = RecordJson.ToJson(v);
            if (p.GetValue(output) is { } path)
            {
                var tmp = path + ".part";
                await File.WriteAllBytesAsync(tmp, content, ct);
                File.Move(tmp, path, overwrite: true);
                j["out"] = Path.GetFullPath(path);
                return new CliResult(j, "");
            }
            j["content"] = Encoding.UTF8.GetString(content);
            if (!ctx.Json)
            {
                await using var stdout = Console.OpenStandardOutput();
                await stdout.WriteAsync(content, ct);
            }
            return new CliResult(j, "");
        });
        return c;
    }

    private static Command History()
    {
        var videoOpt = Args.Video();
        var c = new Command("history", "List the code versions: number, size, hash, time, author, lock.") { videoOpt };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var versions = await ctx.Client.CodeHistoryAsync(Args.VideoId(p, videoOpt), ct);
            var queued = ctx.Client.QueuedOperationIds();
            var pending = versions.Where(v => queued.Contains(v.OperationId)).Select(v => v.Version).ToHashSet();
            var text = new StringBuilder();
            text.AppendLine($"{"version",-8}{"size",9}  {"sha256",-16}  {"created",-20}  {"author",-16}  lock");
            foreach (var v in versions)
                text.AppendLine($"{v.Version,-8}{v.Size,9}  {v.Sha256[..16]}  {v.CreatedAt:yyyy-MM-dd HH:mm:ss}  {Trim(v.Author, 16),-16}  {LockText(v)}{(pending.Contains(v.Version) ? "  (pending sync: number provisional)" : "")}");
            return new CliResult(new JsonObject { ["versions"] = new JsonArray(versions.Select(v =>
            {
                var j = RecordJson.ToJson(v);
                j["pending"] = pending.Contains(v.Version);
                return (JsonNode)j;
            }).ToArray()) },
                text.ToString().TrimEnd());
        });
        return c;
    }

    private static string Trim(string s, int n) => s.Length <= n ? s : s[..(n - 1)] + "…";

    private static string LockText(CodeVersion v) => v.Lock switch
    {
        LockMode.None => "-",
        LockMode.LegalHold => "legal hold",
        _ => $"{v.Lock.ToString().ToLowerInvariant()} until {v.LockedUntil:yyyy-MM-dd}",
    };
}
