using System.CommandLine;
using System.Globalization;
using System.Text;
using ManimCloud.Delivery;
using ManimCloud.Domain;

namespace ManimCloud.Cli.Commands;

/// <summary>`video url` and `delivery provision|invalidate|stats` (SPEC R5).</summary>
internal static class DeliveryCommands
{
    /// <summary>`video url V [--version N] [--format hls|dash] [--expires 2h | --expires-at TIME] [--cookies] [--ip CIDR]`.</summary>
    public static Command VideoUrl()
    {
        var id = new Argument<string>("VIDEO") { Description = "The video id." };
        var version = new Option<int?>("--version") { Description = "The version to play (default: the latest transcoded one)." };
        var format = new Option<string>("--format") { Description = "hls (default) or dash.", DefaultValueFactory = _ => "hls" };
        var expires = new Option<string?>("--expires") { Description = "How long the link may be opened: 90s, 30m, 2h (default), 7d." };
        var expiresAt = new Option<string?>("--expires-at") { Description = "Until when the link may be opened (ISO 8601, e.g. 2026-12-24T18:00Z)." };
        var cookies = new Option<bool>("--cookies") { Description = "Also print the signed cookies (CloudFront-Policy, -Signature, -Key-Pair-Id) for the video's folder." };
        var ip = new Option<string?>("--ip") { Description = "Only clients in this address or CIDR range may use the link." };
        var c = new Command("url",
            "Print a signed playback link to a version's manifest (CloudFront's signed-URL format; verified by CloudFront, or by `serve` in local mode). " +
            "The grant covers the video's whole transcoded folder and outlasts the deadline by the video's duration, so a session started in time plays to the end.")
            { id, version, format, expires, expiresAt, cookies, ip };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var videoId = VideoId.Parse(p.GetValue(id));
            var streamFormat = p.GetValue(format) switch
            {
                "hls" => StreamFormat.Hls,
                "dash" => StreamFormat.Dash,
                var other => throw new ManimCloudException(ErrorKind.InvalidInput, $"--format {other} is not a format.", "Use --format hls or --format dash."),
            };
            var startBy = Deadline(p.GetValue(expires), p.GetValue(expiresAt), DateTimeOffset.UtcNow);
            var video = await ctx.Client.GetVideoAsync(videoId, ct);
            var link = ctx.Client.Delivery.Link(video, p.GetValue(version), streamFormat, startBy, p.GetValue(ip));
            var text = new StringBuilder(link.Url);
            if (p.GetValue(cookies))
            {
                text.AppendLine().AppendLine($"# signed cookies for {link.CookiePath} (valid until {link.GrantExpires:O}):");
                foreach (var header in link.Grant.SetCookieHeaders(null, link.CookiePath, link.Url.StartsWith("https:", StringComparison.Ordinal)))
                    text.AppendLine("Set-Cookie: " + header);
            }
            return new CliResult(link.ToJson(p.GetValue(cookies)), text.ToString().TrimEnd());
        });
        return c;
    }

    /// <summary>`delivery provision|invalidate|stats`.</summary>
    public static Command Delivery()
    {
        var c = new Command("delivery", "The CloudFront side (SPEC R5): the distribution, invalidations of exactly what changed, statistics.");
        c.Subcommands.Add(Provision());
        c.Subcommands.Add(Invalidate());
        c.Subcommands.Add(Stats());
        return c;
    }

    /// <summary>`delivery invalidate VIDEO [--version N] [--no-wait]`.</summary>
    private static Command Invalidate()
    {
        var id = new Argument<string>("VIDEO") { Description = "The video id." };
        var version = new Option<int?>("--version") { Description = "The version whose cached copies to drop (default: the latest transcoded one)." };
        var noWait = new Option<bool>("--no-wait") { Description = "Return once CloudFront accepted it, without following it to Completed." };
        var c = new Command("invalidate",
            "Drop from CloudFront's caches what can be stale of a published version: its manifests, poster and storyboard (rewritten in place when " +
            "the version is transcoded again); never its segments, whose paths are content-addressed. One invalidation, with a CallerReference " +
            "derived from distribution, video, version, published manifests and paths, so running it again is the same invalidation, not a second " +
            "one; a folder holding only such files (hls/, storyboard/) is one wildcard path when that is cheaper. Followed until Completed. " +
            "Queued in the outbox when the cloud is unreachable (`sync` sends it).") { id, version, noWait };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var invalidations = ctx.Client.Delivery.Invalidations!;
            var outcome = await invalidations.InvalidateVersionAsync(VideoId.Parse(p.GetValue(id)), p.GetValue(version), ct);
            if (!p.GetValue(noWait) && outcome.Synced && !outcome.IsCompleted)
            {
                ctx.Progress($"invalidation {outcome.InvalidationId} of {outcome.Batch.Paths.Count} path(s): {outcome.Status}; following it (CloudFront takes a minute or more)…");
                outcome = await invalidations.WaitAsync(outcome, new Progress<string>(ctx.Progress), ct);
            }
            if (!outcome.Synced) ctx.Progress($"queued for the cloud ({outcome.PendingReason}). `manimcloud sync` sends it.");
            return new CliResult(outcome.ToJson(), outcome.ToText());
        });
        return c;
    }

    /// <summary>`delivery stats [--since 24h]`.</summary>
    private static Command Stats()
    {
        var since = new Option<string>("--since") { Description = "The window to report, up to now: 90m, 24h (default), 7d.", DefaultValueFactory = _ => "24h" };
        var c = new Command("stats",
            "The distribution's requests, bytes downloaded, 4xx and 5xx error rates and cache hit rate from CloudWatch (AWS/CloudFront in us-east-1, " +
            "Region=Global; error and hit rates weighted by requests), and the invalidations made in the window. A figure with no datapoints is " +
            "shown as no data, with the reason.") { since };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var window = Durations.Parse(p.GetValue(since)!, "--since");
            if (window <= TimeSpan.Zero || window > TimeSpan.FromDays(455))
                throw new ManimCloudException(ErrorKind.InvalidInput, $"--since {p.GetValue(since)} is out of range.", "CloudWatch keeps metrics for 15 months: give 1m to 455d.");
            var end = DateTimeOffset.UtcNow;
            var stats = await ctx.Client.Delivery.StatisticsAsync(end - window, end, ct);
            return new CliResult(stats.ToJson(), stats.ToText());
        });
        return c;
    }

    /// <summary>`delivery provision [--dry-run]`.</summary>
    private static Command Provision()
    {
        var dryRun = new Option<bool>("--dry-run") { Description = "Print what differs (drift) without writing anything." };
        var c = new Command("provision",
            "Create or bring into line this environment's CloudFront distribution: the video bucket as a private origin (Origin Access Control; the bucket " +
            "grants only this distribution read on transcoded/), HTTPS only, HTTP/2 and 3, cache behaviours by path (segments, init segments, posters, " +
            "storyboards a year; manifests a minute; nothing else), security and CORS headers, 403/404 cached briefly, MANIMCLOUD_CDN_GEO and " +
            "MANIMCLOUD_CDN_PRICE_CLASS, and the signing key (MANIMCLOUD_CDN_PRIVATE_KEY) in its key group. Idempotent; updates use If-Match; " +
            "a distribution not tagged as ManimCloud's is never changed. Records cdn_domain, distribution_id and cdn_key_pair_id in config.json.") { dryRun };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            using var aws = new ManimCloud.Aws.AwsClients(ctx.Options);
            using var provisioner = new ManimCloud.Provisioning.Provisioner(ctx.Options, aws) { DeliveryOnly = true };
            try
            {
                var plan = p.GetValue(dryRun) ? await provisioner.PlanAsync(ct) : await provisioner.ApplyAsync(ct);
                return new CliResult(plan.ToJson(), plan.ToText());
            }
            catch (ManimCloud.Provisioning.ProvisioningIncompleteException e)
            {
                if (ctx.Json) Console.Error.WriteLine(e.Plan.ToJson().ToJsonString());
                else Console.Error.WriteLine(e.Plan.ToText());
                throw;
            }
        });
        return c;
    }

    /// <summary>The time a link may be opened until: --expires (from now) or --expires-at, default two hours.</summary>
    internal static DateTimeOffset Deadline(string? expires, string? expiresAt, DateTimeOffset now)
    {
        if (expires is not null && expiresAt is not null)
            throw new ManimCloudException(ErrorKind.InvalidInput, "Give one of --expires and --expires-at.", "--expires 2h counts from now; --expires-at names the time.");
        if (expiresAt is not null)
        {
            if (!DateTimeOffset.TryParse(expiresAt, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
                throw new ManimCloudException(ErrorKind.InvalidInput, $"--expires-at {expiresAt} is not a time.", "Use ISO 8601, e.g. 2026-12-24T18:00:00Z.");
            if (at <= now)
                throw new ManimCloudException(ErrorKind.InvalidInput, $"--expires-at {expiresAt} is in the past.", "Give a time in the future (UTC unless an offset is written).");
            return at;
        }
        var span = expires is null ? TimeSpan.FromHours(2) : PlaybackSigner.ParseDuration(expires)
            ?? throw new ManimCloudException(ErrorKind.InvalidInput, $"--expires {expires} is not a duration.", "Use a number and a unit: 90s, 30m, 2h, 7d.");
        if (span > TimeSpan.FromDays(365))
            throw new ManimCloudException(ErrorKind.InvalidInput, $"--expires {expires} is longer than a year.", "Give a shorter duration; links are meant to expire.");
        return now + span;
    }
}
