namespace TransferBench;

public enum Direction { Upload, Download }

/// <summary>
/// One client under test: how to start it as a child process for one transfer. Every client gets the same
/// endpoint, bucket, file and checksum mode; only the program differs.
/// </summary>
public sealed record Client(string Id, string Label, bool IsAnchor, Func<Direction, Transfer, (string Program, string[] Args)> Command)
{
    public static IReadOnlyList<Client> All(string benchRoot)
    {
        string Exe(string project) => Path.Combine(benchRoot, project, "bin", "Release", "net10.0", project);
        (string, string[]) Child(string project, Direction d, Transfer t, params string[] extra) =>
            (Exe(project), [d == Direction.Upload ? "upload" : "download", "--endpoint", t.Endpoint, "--bucket", t.Bucket, "--key", t.Key,
                "--file", t.File, "--checksum", t.WhenRequired ? "when-required" : "when-supported", .. extra]);
        return
        [
            new("tu-default", "TransferUtility (default)", true, (d, t) => Child("TuClient", d, t)),
            new("tu-tuned", "TransferUtility (tuned: 8 requests, 16 MiB parts)", true, (d, t) => Child("TuClient", d, t, "--tuned")),
            new("aws-cli", "aws s3 cp", true, (d, t) =>
            {
                var remote = $"s3://{t.Bucket}/{t.Key}";
                // Progress lines off: with a pipe for stdout they are only cost, not feedback.
                return ("aws", ["s3", "cp", d == Direction.Upload ? t.File : remote, d == Direction.Upload ? remote : t.File,
                    "--endpoint-url", t.Endpoint, "--only-show-errors", "--no-progress"]);
            }),
            new("manimcloud", "ManimCloud", false, (d, t) => Child("McClient", d, t)),
        ];
    }
}

/// <summary>What one transfer moves: the object and the local file (the source to upload, or the target to download into).</summary>
public sealed record Transfer(string Endpoint, string Bucket, string Key, string File, bool WhenRequired);
