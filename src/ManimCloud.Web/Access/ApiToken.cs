using ManimCloud.Domain;

namespace ManimCloud.Web.Access;

/// <summary>A stored API token: everything but the secret, of which only a SHA-256 is kept.</summary>
public sealed record ApiToken(
    string Id,
    Role Role,
    ProjectId? Project,
    string Description,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? RevokedAt)
{
    public bool IsExpired(DateTimeOffset now) => ExpiresAt is { } e && e <= now;

    /// <summary>Whether this token reaches <paramref name="project"/>: a token without a project reaches every project.</summary>
    public bool Covers(ProjectId project) => Project is null || Project.Value == project;

    public bool Allows(Role needed) => Role >= needed;
}

/// <summary>A token just made: the one moment its secret exists outside the caller's hands.</summary>
public sealed record IssuedToken(ApiToken Token, string Secret);
