using System.CommandLine;
using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Web;
using ManimCloud.Web.Access;

namespace ManimCloud.Cli.Commands;

/// <summary>`serve` (the web service) and `token create|list|revoke` (its API tokens).</summary>
internal static class ServeCommands
{
    public static Command Serve()
    {
        var host = new Option<string>("--host") { Description = "Address to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface).", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port to listen on (0: any free port).", DefaultValueFactory = _ => 8080 };
        var c = new Command("serve", """
            Run the web service: the HTTP API under /api/v1/ (OpenAPI at /openapi/v1.json), tus uploads at /api/v1/uploads/,
            server-sent events at /api/v1/events, the player at /watch/{video}, /healthz and /readyz. Stops cleanly on Ctrl-C or SIGTERM.
            Settings: MANIMCLOUD_PUBLIC_URL, MANIMCLOUD_RATE_LIMIT, MANIMCLOUD_CORS_ORIGINS, MANIMCLOUD_UPLOAD_EXPIRY, MANIMCLOUD_UPLOAD_MAX.
            """) { host, port };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var options = ServeOptions.FromEnvironment(p.GetValue(host)!, p.GetValue(port)).WithFreePort();
            // Links (signed playback, watch pages, the pipeline's) name MANIMCLOUD_PUBLIC_URL when it is set, else this address.
            if (!ctx.Options.Delivery.PublicUrlConfigured) ctx.Configure(o => o.WithPublicUrl(options.ListenUrl));
            await using var app = WebServer.Build(ctx.Client, options);
            string url;
            try
            {
                url = await WebServer.StartAsync(app, ct);
            }
            catch (IOException e) // Kestrel: "Failed to bind to address …" (in use, or a privileged port)
            {
                throw new ManimCloudException(ErrorKind.ClientError, $"Cannot listen on {options.Host}:{options.Port}: {e.Message}",
                    "Another process holds the port (`ss -ltnp | grep :PORT` names it): stop it, or pass --port with a free one.", e);
            }
            ctx.Progress($"manimcloud serve: listening on {url} (workspace {ctx.Client.Options.Home}, {(ctx.Client.Cloud is null ? "local mode" : "cloud mode")}); Ctrl-C stops");
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                ctx.Progress("manimcloud serve: stopping (finishing requests in flight)…");
            }
            await app.StopAsync(CancellationToken.None);
            return new CliResult(new JsonObject { ["url"] = url, ["stopped"] = true }, "stopped");
        });
        return c;
    }

    public static Command Token()
    {
        var token = new Command("token", "API tokens for the web service: create (printed once; only a hash is kept), list, revoke.");
        token.Subcommands.Add(Create());
        token.Subcommands.Add(List());
        token.Subcommands.Add(Revoke());
        return token;
    }

    private static Command Create()
    {
        var role = new Option<string>("--role") { Description = "viewer (read), editor (read and write) or admin (also webhooks and status).", Required = true };
        var project = new Option<string?>("--project") { Description = "Limit the token to this project (default: every project)." };
        var expires = new Option<string?>("--expires") { Description = "Lifetime, e.g. 30d, 12h, 45m (default: no expiry)." };
        var description = new Option<string?>("--description") { Description = "What the token is for (shown by `token list`)." };
        var c = new Command("create", "Make an API token and print it (this is the only time it is shown).") { role, project, expires, description };
        CliContext.Bind(c, (p, ctx, _) =>
        {
            var r = Roles.Parse(p.GetValue(role));
            ProjectId? proj = p.GetValue(project) is { } pv ? ProjectId.Parse(pv) : null;
            TimeSpan? lifetime = p.GetValue(expires) is { } e ? Durations.Parse(e, "--expires") : null;
            var issued = new TokenStore(ctx.Client.Catalog).Create(r, proj, lifetime, p.GetValue(description) ?? "");
            ctx.Progress($"token {issued.Token.Id}: {r.ToWire()}{(proj is null ? "" : $" for project {proj}")}{(issued.Token.ExpiresAt is { } x ? $", expires {x:O}" : "")}. Keep it secret: it is not shown again.");
            var j = Json(issued.Token);
            j["token"] = issued.Secret;
            return Task.FromResult(new CliResult(j, issued.Secret));
        });
        return c;
    }

    private static Command List()
    {
        var c = new Command("list", "List API tokens (ids, roles, projects, expiry; never the tokens themselves).");
        CliContext.Bind(c, (_, ctx, _) =>
        {
            var tokens = new TokenStore(ctx.Client.Catalog).List();
            var now = DateTimeOffset.UtcNow;
            var text = new StringBuilder($"{"id",-13} {"role",-7} {"project",-20} {"state",-8} expires\n");
            foreach (var t in tokens)
                text.Append($"{t.Id,-13} {t.Role.ToWire(),-7} {t.Project?.ToString() ?? "(all)",-20} {State(t, now),-8} {t.ExpiresAt?.ToString("O") ?? "never"}  {t.Description}\n");
            if (tokens.Count == 0) text.Append("(no tokens: `manimcloud token create --role viewer` makes one)");
            return Task.FromResult(new CliResult(new JsonObject { ["tokens"] = new JsonArray(tokens.Select(t => (JsonNode)Json(t)).ToArray()) }, text.ToString().TrimEnd()));
        });
        return c;
    }

    private static Command Revoke()
    {
        var id = new Argument<string>("ID") { Description = "The token id (from `token list`)." };
        var c = new Command("revoke", "Revoke a token: requests with it are refused from now on.") { id };
        CliContext.Bind(c, (p, ctx, _) =>
        {
            var t = new TokenStore(ctx.Client.Catalog).Revoke(p.GetValue(id)!);
            return Task.FromResult(new CliResult(Json(t), $"revoked {t.Id}"));
        });
        return c;
    }

    private static string State(ApiToken t, DateTimeOffset now) => t.RevokedAt is not null ? "revoked" : t.IsExpired(now) ? "expired" : "active";

    private static JsonObject Json(ApiToken t) => new()
    {
        ["id"] = t.Id, ["role"] = t.Role.ToWire(), ["project_id"] = t.Project?.ToString(), ["description"] = t.Description,
        ["created_at"] = t.CreatedAt.ToString("O"), ["expires_at"] = t.ExpiresAt?.ToString("O"), ["revoked_at"] = t.RevokedAt?.ToString("O"),
        ["state"] = State(t, DateTimeOffset.UtcNow),
    };
}
