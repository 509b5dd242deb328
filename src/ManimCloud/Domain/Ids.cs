using System.Text.RegularExpressions;

namespace ManimCloud.Domain;

/// <summary>A project id: 1–63 characters of a-z 0-9 - _, starting with a letter or digit (SPEC §3).</summary>
public readonly partial record struct ProjectId
{
    public string Value { get; }
    private ProjectId(string value) => Value = value;

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,62}$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();

    public static bool IsValid(string? value) => value is not null && Pattern().IsMatch(value);

    public static ProjectId Parse(string? value) =>
        IsValid(value)
            ? new ProjectId(value!)
            : throw new ManimCloudException(ErrorKind.InvalidInput,
                $"'{value}' is not a valid project id.",
                "Use 1–63 characters of a-z, 0-9, '-' and '_', starting with a letter or digit (e.g. 'calculus-101').");

    public override string ToString() => Value;
}

/// <summary>A video id: a UUID in its canonical 36-character form.</summary>
public readonly record struct VideoId
{
    public Guid Value { get; }
    private VideoId(Guid value) => Value = value;

    public static VideoId New() => new(Guid.NewGuid());

    public static bool IsValid(string? value) =>
        value is { Length: 36 } && Guid.TryParseExact(value, "D", out _);

    public static VideoId Parse(string? value) =>
        IsValid(value)
            ? new VideoId(Guid.ParseExact(value!, "D"))
            : throw new ManimCloudException(ErrorKind.InvalidInput,
                $"'{value}' is not a valid video id.",
                "Video ids are UUIDs such as 3f2b8c1e-9d4a-4c1b-8e2f-0a1b2c3d4e5f; `manimcloud video list --project P` shows them.");

    public override string ToString() => Value.ToString("D");
}
