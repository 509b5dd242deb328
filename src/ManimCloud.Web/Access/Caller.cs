using ManimCloud.Domain;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace ManimCloud.Web.Access;

/// <summary>The authenticated token behind a request, and the checks every endpoint makes with it.</summary>
public sealed class Caller(ApiToken token)
{
    public ApiToken Token => token;

    public void EnsureRole(Role needed)
    {
        if (!token.Allows(needed))
            throw new ManimCloudException(ErrorKind.Auth, $"Token {token.Id} is a {token.Role.ToWire()} token; this needs {needed.ToWire()}.",
                $"Use a token made with `manimcloud token create --role {needed.ToWire()}`.");
    }

    public void EnsureProject(ProjectId project)
    {
        if (!token.Covers(project))
            throw new ManimCloudException(ErrorKind.Auth, $"Token {token.Id} is for project '{token.Project}', not '{project}'.",
                $"Use a token made with `--project {project}` (or one without --project).");
    }

    public void Ensure(Role needed, ProjectId project)
    {
        EnsureRole(needed);
        EnsureProject(project);
    }
}

/// <summary>Endpoint metadata: the least role a caller needs. Endpoints without it need no token.</summary>
public sealed record RequiresRole(Role Role);

public static class CallerExtensions
{
    private const string Key = "manimcloud.caller";

    public static Caller Caller(this HttpContext http) =>
        http.Items.TryGetValue(Key, out var c) && c is Caller caller ? caller
            : throw new InvalidOperationException("This endpoint has no RequiresRole metadata, so no caller was authenticated.");

    internal static void SetCaller(this HttpContext http, Caller caller) => http.Items[Key] = caller;

    public static TBuilder Requires<TBuilder>(this TBuilder builder, Role role) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RequiresRole(role));
}
