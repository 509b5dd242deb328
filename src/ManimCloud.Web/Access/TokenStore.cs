using System.Security.Cryptography;
using System.Text;
using ManimCloud.Domain;
using ManimCloud.Local;
using Microsoft.Data.Sqlite;

namespace ManimCloud.Web.Access;

/// <summary>
/// API tokens in the workspace catalog. A token reads <c>mct_{id}_{secret}</c>; the catalog keeps the id, the role, the
/// project and a SHA-256 of the whole token, never the token itself, so a copy of the workspace grants nothing.
/// Checked on every request without a cache, so `token revoke` in another process takes effect at once.
/// </summary>
public sealed class TokenStore
{
    private const string Prefix = "mct_";
    private readonly Catalog _catalog;

    public TokenStore(Catalog catalog)
    {
        _catalog = catalog;
        catalog.EnsureSchema("web.tokens", """
            CREATE TABLE IF NOT EXISTS api_tokens (
                id TEXT PRIMARY KEY, sha256 TEXT NOT NULL, role TEXT NOT NULL, project_id TEXT, description TEXT NOT NULL,
                created_at TEXT NOT NULL, expires_at TEXT, revoked_at TEXT);
            """);
    }

    public IssuedToken Create(Role role, ProjectId? project, TimeSpan? lifetime, string description)
    {
        if (lifetime is { } l && (l <= TimeSpan.Zero || l > TimeSpan.FromDays(3650)))
            throw new ManimCloudException(ErrorKind.InvalidInput, $"A token lifetime of {l} is out of range.", "Use --expires from 1m to 3650d (e.g. 30d, 12h).");
        if (description.Length > 200)
            throw new ManimCloudException(ErrorKind.InvalidInput, "The token description is longer than 200 characters.", "Shorten --description.");
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var secret = $"{Prefix}{id}_{Base64Url(RandomNumberGenerator.GetBytes(32))}";
        var now = DateTimeOffset.UtcNow;
        var token = new ApiToken(id, role, project, description, now, lifetime is { } t ? now + t : null, null);
        _catalog.InTransaction((c, tx) =>
        {
            using var insert = c.Command(tx, """
                INSERT INTO api_tokens (id, sha256, role, project_id, description, created_at, expires_at)
                VALUES ($id, $h, $r, $p, $d, $c, $e)
                """, ("$id", id), ("$h", Hash(secret)), ("$r", role.ToWire()), ("$p", project?.ToString()), ("$d", description),
                ("$c", now.ToString("O")), ("$e", token.ExpiresAt?.ToString("O")));
            return insert.ExecuteNonQuery();
        }, durable: true);
        return new IssuedToken(token, secret);
    }

    public IReadOnlyList<ApiToken> List()
    {
        using var c = _catalog.Open();
        using var cmd = c.Command(null, "SELECT id, role, project_id, description, created_at, expires_at, revoked_at FROM api_tokens ORDER BY created_at");
        using var r = cmd.ExecuteReader();
        var list = new List<ApiToken>();
        while (r.Read()) list.Add(Read(r));
        return list;
    }

    /// <summary>Revokes a token by id; revoking twice is not an error, an unknown id is.</summary>
    public ApiToken Revoke(string id)
    {
        var now = DateTimeOffset.UtcNow.ToString("O");
        var changed = _catalog.InTransaction((c, tx) =>
        {
            using var update = c.Command(tx, "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $t) WHERE id = $id", ("$t", now), ("$id", id));
            return update.ExecuteNonQuery();
        }, durable: true);
        if (changed == 0)
            throw new ManimCloudException(ErrorKind.NotFound, $"There is no token with id '{id}'.", "`manimcloud token list` shows the ids.");
        return List().First(t => t.Id == id);
    }

    /// <summary>The token a presented secret stands for, or why it is refused (null token, reason set).</summary>
    public (ApiToken? Token, string? Refusal) Authenticate(string presented, DateTimeOffset now)
    {
        // mct_{12 hex}_{43 base64url}
        if (presented.Length != Prefix.Length + 12 + 1 + 43 || !presented.StartsWith(Prefix, StringComparison.Ordinal) || presented[Prefix.Length + 12] != '_')
            return (null, "The bearer token is not a ManimCloud token.");
        var id = presented.Substring(Prefix.Length, 12);
        using var c = _catalog.Open();
        using var cmd = c.Command(null, "SELECT id, role, project_id, description, created_at, expires_at, revoked_at, sha256 FROM api_tokens WHERE id = $id", ("$id", id));
        using var r = cmd.ExecuteReader();
        if (!r.Read()) return (null, "The bearer token is unknown (revoked and removed, or made in another workspace).");
        var token = Read(r);
        var stored = Convert.FromHexString(r.GetString(7));
        if (!CryptographicOperations.FixedTimeEquals(stored, SHA256.HashData(Encoding.UTF8.GetBytes(presented))))
            return (null, "The bearer token does not match its record (tampered or mistyped).");
        if (token.RevokedAt is not null) return (null, $"The bearer token {id} was revoked at {token.RevokedAt:O}.");
        if (token.IsExpired(now)) return (null, $"The bearer token {id} expired at {token.ExpiresAt:O}.");
        return (token, null);
    }

    private static ApiToken Read(SqliteDataReader r) => new(
        r.GetString(0), Roles.Parse(r.GetString(1)), r.IsDBNull(2) ? null : ProjectId.Parse(r.GetString(2)), r.GetString(3),
        DateTimeOffset.Parse(r.GetString(4)), r.IsDBNull(5) ? null : DateTimeOffset.Parse(r.GetString(5)),
        r.IsDBNull(6) ? null : DateTimeOffset.Parse(r.GetString(6)));

    private static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
