using System.CommandLine;
using ManimCloud.Domain;

namespace ManimCloud.Cli.Commands;

/// <summary>Options shared by several commands, parsed into domain types (bad ids are refused before any write).</summary>
internal static class Args
{
    public static Option<string> Video(bool required = true) => new("--video") { Description = "The video id (a UUID).", Required = required };
    public static Option<string> Project() => new("--project") { Description = "The project id (1–63 of a-z 0-9 - _).", Required = true };

    public static VideoId VideoId(ParseResult p, Option<string> o) => Domain.VideoId.Parse(p.GetValue(o));

    public static MediaSlot Slot(ParseResult p, Option<int?> scene, Option<bool> full) =>
        (p.GetValue(scene), p.GetValue(full)) switch
        {
            ({ } n, false) => MediaSlot.ForScene(n),
            (null, true) => MediaSlot.Full,
            _ => throw new ManimCloudException(ErrorKind.InvalidInput, "Give exactly one of --scene N and --full.",
                "--scene N names a scene clip (1–999); --full names the combined video."),
        };
}
