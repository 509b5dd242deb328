using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using ManimCloud.Web.Api;
using Microsoft.AspNetCore.Http;

namespace ManimCloud.Web.Access;

/// <summary>
/// Authenticates endpoints that carry <see cref="RequiresRole"/>: a bearer token from the catalog (401 when missing,
/// unknown, tampered, revoked or expired), the role (403), then the token's own request rate (429). Project checks are
/// made by each endpoint once it knows the project.
/// </summary>
public sealed class TokenAuthentication(RequestDelegate next, TokenStore tokens, ServeOptions options)
{
    private readonly ConcurrentDictionary<string, TokenBucketRateLimiter> _limiters = new();

    public async Task InvokeAsync(HttpContext http)
    {
        var needed = http.GetEndpoint()?.Metadata.GetMetadata<RequiresRole>();
        if (needed is null)
        {
            await next(http);
            return;
        }
        var header = http.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            await Problem.Unauthorized(header.Length == 0 ? "The request carries no bearer token." : "The Authorization header is not a bearer token.").ExecuteAsync(http);
            return;
        }
        var (token, refusal) = tokens.Authenticate(header["Bearer ".Length..].Trim(), DateTimeOffset.UtcNow);
        if (token is null)
        {
            await Problem.Unauthorized(refusal!).ExecuteAsync(http);
            return;
        }
        var caller = new Caller(token);
        caller.EnsureRole(needed.Role); // ManimCloudException(Auth): 403 from the error handler
        if (options.RateLimit > 0)
        {
            var limiter = _limiters.GetOrAdd(token.Id, _ => new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
            {
                TokenLimit = options.RateLimit * 2, TokensPerPeriod = options.RateLimit, ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = 0, AutoReplenishment = true,
            }));
            using var lease = limiter.AttemptAcquire();
            if (!lease.IsAcquired)
            {
                await Problem.TooManyRequests(lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1)).ExecuteAsync(http);
                return;
            }
        }
        http.SetCaller(caller);
        await next(http);
    }
}
