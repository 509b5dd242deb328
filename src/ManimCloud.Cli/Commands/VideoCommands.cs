using System.CommandLine;
using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Metadata;

namespace ManimCloud.Cli.Commands;

internal static class VideoCommands
{
    public static Command Create()
    {
        var video = new Command("video", "Create, store, fetch, list and update videos; transcode them into a streaming ladder.");
        video.Subcommands.Add(CreateVideo());
        video.Subcommands.Add(Put());
        video.Subcommands.Add(Get());
        video.Subcommands.Add(Show());
        video.Subcommands.Add(List());
        video.Subcommands.Add(Update());
        video.Subcommands.Add(DeliveryCommands.VideoUrl());
        video.Subcommands.Add(StreamingCommands.Transcode());
        video.Subcommands.Add(StreamingCommands.Renditions());
        return video;
    }

    private static Command CreateVideo()
    {
        var project = Args.Project();
        var title = new Option<string>("--title") { Description = "Title of the video.", Required = true };
        var description = new Option<string?>("--description") { Description = "Longer description." };
        var tags = new Option<string[]>("--tag") { Description = "A tag (repeat for several)." };
        var c = new Command("create", "Create a video record; prints the new video id.") { project, title, description, tags };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var projectId = ProjectId.Parse(p.GetValue(project));
            var w = await ctx.Client.CreateVideoAsync(projectId, p.GetValue(title)!, p.GetValue(description), p.GetValue(tags) ?? [], ct);
            return CliContext.Written(w, RecordJson.ToJson(w.Value), w.Value.Id.ToString(), ctx.Client.Cloud is not null);
        });
        return c;
    }

    private static Command Put()
    {
        var file = new Argument<string>("FILE") { Description = "The rendered .mp4 file." };
        var videoOpt = Args.Video();
        var scene = new Option<int?>("--scene") { Description = "Scene number (1–999) of this clip." };
        var full = new Option<bool>("--full") { Description = "The file is the combined full video." };
        var c = new Command("put", "Store a scene clip or the full video (videos/{project}/{video}/v{n}/…).") { file, videoOpt, scene, full };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var id = Args.VideoId(p, videoOpt);
            var slot = Args.Slot(p, scene, full);
            using var bar = ProgressBar.ForTerminal(ctx.Json);
            var w = await ctx.Client.PutMediaAsync(id, slot, p.GetValue(file)!, bar, ct);
            var m = w.Value;
            return CliContext.Written(w, MediaJson(id, slot, m), $"stored {m.Key} ({m.Size} bytes, sha256 {m.Sha256})", ctx.Client.Cloud is not null);
        });
        return c;
    }

    private static Command Get()
    {
        var videoOpt = Args.Video();
        var scene = new Option<int?>("--scene") { Description = "Scene number of the clip to fetch." };
        var full = new Option<bool>("--full") { Description = "Fetch the combined full video." };
        var version = new Option<int?>("--version") { Description = "Code version the media was rendered from (default: latest stored)." };
        var output = new Option<string>("--out") { Description = "Where to write the file.", Required = true };
        var c = new Command("get", "Fetch a scene clip or the full video, verified against its SHA-256.") { videoOpt, scene, full, version, output };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var id = Args.VideoId(p, videoOpt);
            var slot = Args.Slot(p, scene, full);
            using var bar = ProgressBar.ForTerminal(ctx.Json);
            var m = await ctx.Client.GetMediaAsync(id, slot, p.GetValue(version), p.GetValue(output)!, bar, ct);
            var j = MediaJson(id, slot, m);
            j["out"] = Path.GetFullPath(p.GetValue(output)!);
            return new CliResult(j, $"wrote {p.GetValue(output)} ({m.Size} bytes, sha256 verified)");
        });
        return c;
    }

    private static JsonObject MediaJson(VideoId id, MediaSlot slot, MediaFile m) => new()
    {
        ["video_id"] = id.ToString(), ["slot"] = slot.Name, ["key"] = m.Key, ["size"] = m.Size,
        ["sha256"] = m.Sha256, ["version"] = m.Version,
    };

    private static Command Show()
    {
        var id = new Argument<string>("VIDEO") { Description = "The video id." };
        var c = new Command("show", "Print a video's metadata.") { id };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var v = await ctx.Client.GetVideoAsync(VideoId.Parse(p.GetValue(id)), ct);
            return new CliResult(RecordJson.ToJson(v), Describe(v));
        });
        return c;
    }

    private static Command List()
    {
        var project = Args.Project();
        var limit = new Option<int>("--limit") { Description = "Page size (1–1000).", DefaultValueFactory = _ => 20 };
        var next = new Option<string?>("--next") { Description = "Continue from the token printed by the previous page." };
        var c = new Command("list", "List a project's videos, newest first.") { project, limit, next };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var page = await ctx.Client.ListVideosAsync(ProjectId.Parse(p.GetValue(project)), p.GetValue(limit), p.GetValue(next), ct);
            var j = new JsonObject
            {
                ["videos"] = new JsonArray(page.Items.Select(v => (JsonNode)RecordJson.ToJson(v)).ToArray()),
                ["next"] = page.NextToken,
            };
            var text = new StringBuilder();
            foreach (var v in page.Items)
                text.AppendLine($"{v.Id}  {v.CreatedAt:yyyy-MM-dd HH:mm}  {v.Status.ToWire(),-11} v{v.CurrentVersion,-3} {v.Title}");
            if (page.Items.Count == 0) text.AppendLine("(no videos)");
            if (page.NextToken is not null) text.AppendLine($"more: --next {page.NextToken}");
            return new CliResult(j, text.ToString().TrimEnd());
        });
        return c;
    }

    private static Command Update()
    {
        var id = new Argument<string>("VIDEO") { Description = "The video id." };
        var title = new Option<string?>("--title") { Description = "New title." };
        var description = new Option<string?>("--description") { Description = "New description." };
        var tags = new Option<string[]>("--tag") { Description = "Replace the tags (repeat for several)." };
        var status = new Option<string?>("--status") { Description = "New status: created, code_ready, rendering, uploaded, transcoding, ready, error." };
        var ifRevision = new Option<long?>("--if-revision") { Description = "Apply only if the record is still at this revision (optimistic concurrency)." };
        var c = new Command("update", "Change a video's title, description, tags or status.") { id, title, description, tags, status, ifRevision };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var videoId = VideoId.Parse(p.GetValue(id));
            var tagValues = p.GetResult(tags) is null ? null : p.GetValue(tags);
            var s = p.GetValue(status) is { } st ? VideoStatuses.Parse(st) : (VideoStatus?)null;
            if (p.GetValue(title) is null && p.GetValue(description) is null && tagValues is null && s is null)
                throw new ManimCloudException(ErrorKind.InvalidInput, "Nothing to update.", "Give at least one of --title, --description, --tag, --status.");
            var w = await ctx.Client.UpdateVideoAsync(videoId, p.GetValue(title), p.GetValue(description), tagValues, s, p.GetValue(ifRevision), ct);
            return CliContext.Written(w, RecordJson.ToJson(w.Value), Describe(w.Value), ctx.Client.Cloud is not null);
        });
        return c;
    }

    public static string Describe(VideoRecord v)
    {
        var b = new StringBuilder();
        b.AppendLine($"video        {v.Id}");
        b.AppendLine($"project      {v.Project}");
        b.AppendLine($"title        {v.Title}");
        if (v.Description.Length > 0) b.AppendLine($"description  {v.Description}");
        if (v.Tags.Count > 0) b.AppendLine($"tags         {string.Join(", ", v.Tags)}");
        b.AppendLine($"status       {v.Status.ToWire()}");
        b.AppendLine($"created      {v.CreatedAt:O}");
        b.AppendLine($"updated      {v.UpdatedAt:O}");
        b.AppendLine($"code version {v.CurrentVersion}");
        foreach (var (n, path) in v.CodePaths.OrderBy(kv => kv.Key)) b.AppendLine($"  code v{n,-4} {path}");
        foreach (var (slot, m) in v.Media.OrderBy(kv => kv.Key, StringComparer.Ordinal)) b.AppendLine($"  {slot,-10} {m.Key} ({m.Size} bytes)");
        if (v.StatusReason is not null) b.AppendLine($"reason       {v.StatusReason}");
        foreach (var (n, r) in v.Renditions.OrderBy(kv => kv.Key)) b.AppendLine($"  ladder v{n,-3} {string.Join("/", r.Rungs.Select(g => g.Name))} {r.HlsMasterKey}");
        if (v.CdnUrl is not null) b.AppendLine($"cdn          {v.CdnUrl}");
        b.Append($"revision     {v.Revision}");
        return b.ToString();
    }
}
