using System.Globalization;
using ManimCloud.Domain;
using ManimCloud.Workspace;

namespace ManimCloud.Web;

/// <summary>
/// The web service's settings (docs/configuration.md): where it listens, the per-token request rate, the browser origins allowed to call the API, and tus upload limits.
/// </summary>
public sealed record ServeOptions
{
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>0 picks a free port (tests).</summary>
    public int Port { get; init; } = 8080;
    /// <summary>MANIMCLOUD_RATE_LIMIT: API requests per second per token (bursts of twice that); 0 turns it off.</summary>
    public int RateLimit { get; init; } = 100;
    /// <summary>MANIMCLOUD_CORS_ORIGINS: comma-separated origins whose pages may call the API (none by default).</summary>
    public IReadOnlyList<string> CorsOrigins { get; init; } = [];
    /// <summary>MANIMCLOUD_UPLOAD_EXPIRY: how long an unfinished tus upload is kept before its bytes are removed.</summary>
    public TimeSpan UploadExpiry { get; init; } = TimeSpan.FromHours(24);
    /// <summary>MANIMCLOUD_UPLOAD_MAX: the largest tus upload accepted, in bytes.</summary>
    public long MaxUploadBytes { get; init; } = 8L << 30;
    /// <summary>How often expired uploads are swept and the catalog is polled for status changes.</summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromMinutes(1);
    public TimeSpan EventPollInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// The base URL clients reach a service listening here at, when MANIMCLOUD_PUBLIC_URL does not say: this address
    /// (a wildcard address is reached as 127.0.0.1). Port 0 must have been resolved to a real port first (<see cref="WithFreePort"/>).
    /// </summary>
    public string ListenUrl
    {
        get
        {
            var host = Host is "0.0.0.0" ? "127.0.0.1" : Host is "::" ? "[::1]" : Host.Contains(':') ? $"[{Host}]" : Host;
            return $"http://{host}:{Port.ToString(CultureInfo.InvariantCulture)}";
        }
    }

    /// <summary>Port 0 resolved to a port that is free now, so links can name it before Kestrel binds it.</summary>
    public ServeOptions WithFreePort()
    {
        if (Port != 0) return this;
        var ip = Host == "localhost" ? System.Net.IPAddress.Loopback : System.Net.IPAddress.TryParse(Host, out var a) ? a : System.Net.IPAddress.Loopback;
        var probe = new System.Net.Sockets.TcpListener(ip, 0);
        probe.Start();
        try { return this with { Port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port }; }
        finally { probe.Stop(); }
    }

    public static ServeOptions FromEnvironment(string host, int port, Func<string, string?>? env = null)
    {
        env ??= Environment.GetEnvironmentVariable;
        string? Get(string name) => env(name) is { } v && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;
        var o = new ServeOptions { Host = host, Port = port };
        if (Get("MANIMCLOUD_RATE_LIMIT") is { } rate)
            o = o with { RateLimit = int.TryParse(rate, NumberStyles.None, CultureInfo.InvariantCulture, out var r) ? r
                : throw Bad("MANIMCLOUD_RATE_LIMIT", rate, "a whole number of requests per second per token (0: no limit)") };
        if (Get("MANIMCLOUD_CORS_ORIGINS") is { } origins)
            o = o with { CorsOrigins = origins.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(CheckOrigin).ToList() };
        if (Get("MANIMCLOUD_UPLOAD_EXPIRY") is { } expiry)
            o = o with { UploadExpiry = Durations.Parse(expiry, "MANIMCLOUD_UPLOAD_EXPIRY") };
        if (Get("MANIMCLOUD_UPLOAD_MAX") is { } max)
            o = o with { MaxUploadBytes = long.TryParse(max, NumberStyles.None, CultureInfo.InvariantCulture, out var m) && m > 0 ? m
                : throw Bad("MANIMCLOUD_UPLOAD_MAX", max, "a size in bytes") };
        return o.Validated();
    }

    public ServeOptions Validated()
    {
        if (Port is < 0 or > 65535) throw Bad("--port", Port.ToString(CultureInfo.InvariantCulture), "a port from 1 to 65535");
        if (RateLimit < 0) throw Bad("MANIMCLOUD_RATE_LIMIT", RateLimit.ToString(CultureInfo.InvariantCulture), "0 or more");
        return this;
    }

    private static string CheckOrigin(string origin) =>
        Uri.TryCreate(origin, UriKind.Absolute, out var u) && u.Scheme is "http" or "https" && u.AbsolutePath == "/" && origin.TrimEnd('/') == $"{u.Scheme}://{u.Authority}"
            ? origin.TrimEnd('/')
            : throw Bad("MANIMCLOUD_CORS_ORIGINS", origin, "origins such as https://app.example.com (scheme, host, port; no path)");

    private static ManimCloudException Bad(string name, string value, string want) =>
        new(ErrorKind.InvalidInput, $"{name}={value} is not valid.", $"Set {name} to {want}.");
}

/// <summary>Durations as the CLI takes them: 90s, 45m, 12h, 30d.</summary>
public static class Durations
{
    public static TimeSpan Parse(string value, string what)
    {
        var v = value.Trim();
        if (v.Length >= 2 && double.TryParse(v[..^1], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n) && n > 0)
        {
            TimeSpan? t = v[^1] switch
            {
                's' => TimeSpan.FromSeconds(n), 'm' => TimeSpan.FromMinutes(n), 'h' => TimeSpan.FromHours(n), 'd' => TimeSpan.FromDays(n), _ => null,
            };
            if (t is { } ok) return ok;
        }
        throw new ManimCloudException(ErrorKind.InvalidInput, $"{what} '{value}' is not a duration.", "Write a number and a unit: 90s, 45m, 12h or 30d.");
    }
}
