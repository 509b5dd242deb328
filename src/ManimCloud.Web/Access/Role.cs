using ManimCloud.Domain;

namespace ManimCloud.Web.Access;

/// <summary>What a token may do. Each role includes the ones below it: viewers read, editors also write, admins also
/// manage webhooks.</summary>
public enum Role { Viewer = 1, Editor = 2, Admin = 3 }

public static class Roles
{
    public static string ToWire(this Role role) => role.ToString().ToLowerInvariant();

    public static Role Parse(string? value) => value?.ToLowerInvariant() switch
    {
        "viewer" => Role.Viewer,
        "editor" => Role.Editor,
        "admin" => Role.Admin,
        _ => throw new ManimCloudException(ErrorKind.InvalidInput, $"'{value}' is not a role.",
            "Use --role viewer (read), editor (read and write) or admin (also webhooks)."),
    };
}
