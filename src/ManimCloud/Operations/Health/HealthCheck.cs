namespace ManimCloud.Operations.Health;

public enum HealthStatus { Ok, Warn, Fail, Skipped }

/// <summary>
/// One line of `doctor`: a service (or the workspace, a tool, the credentials) and what was found, with the latency
/// of the probe, the clock skew read from the service's Date header, and for a failure the runbook entry that says
/// what to do (<c>docs/runbook.md#doctor-…</c>).
/// </summary>
public sealed record HealthCheck(string Name, string Service, HealthStatus Status, string Detail)
{
    public double? LatencyMs { get; init; }
    /// <summary>Service clock minus local clock, in seconds (positive: the local clock is behind).</summary>
    public double? ClockSkewSeconds { get; init; }
    public DateTimeOffset? CredentialsExpire { get; init; }
    /// <summary>The failure's class (transient, auth, not_found …) when the probe failed.</summary>
    public string? ErrorKind { get; init; }
    public string? Runbook { get; init; }

    public const string RunbookPath = "docs/runbook.md";
    public static string RunbookFor(string anchor) => $"{RunbookPath}#doctor-{anchor}";
}
