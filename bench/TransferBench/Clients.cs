namespace TransferBench;

public enum Direction { Upload, Download }

/// <summary>
/// One client under test: how to start it as a child process for one transfer. Every client gets the same
/// endpoint, bucket, file and checksum mode; only the program differs.
/// </summary>
public sealed record Client(string Id, string Label, bool IsAnchor, Func<Direction, Transfer, (string Program, string[] Args)> Command)
{
    /// <summary>Every client; the Native AOT TransferUtility only when bench/run.sh could build it (it needs a C toolchain).</summary>
    public static IReadOnlyList<Client> All(string benchRoot) =>
        Defined(benchRoot).Where(c => !c.Id.EndsWith("-aot", StringComparison.Ordinal) || File.Exists(c.Command(Direction.Upload, new("", "", "", "", false, true)).Program)).ToList();

    public static IReadOnlyList<string> Ids(string benchRoot) => Defined(benchRoot).Select(c => c.Id).ToList();

    private static IReadOnlyList<Client> Defined(string benchRoot)
    {
        string Exe(string project, string build = "net10.0") => Path.Combine(benchRoot, project, "bin", "Release", build, project);
        (string, string[]) Child(string exe, Direction d, Transfer t, params string[] extra) =>
            (exe, [d == Direction.Upload ? "upload" : "download", "--endpoint", t.Endpoint, "--bucket", t.Bucket, "--key", t.Key,
                "--file", t.File, "--checksum", t.WhenRequired ? "when-required" : "when-supported", "--sse", t.Sse ? "on" : "off", .. extra]);
        return
        [
            new("tu-default", "TransferUtility (default)", true, (d, t) => Child(Exe("TuClient"), d, t)),
            new("tu-tuned", "TransferUtility (tuned: 8 requests, 16 MiB parts)", true, (d, t) => Child(Exe("TuClient"), d, t, "--tuned")),
            // The same program compiled ahead of time, as ManimCloud's client is: what is left is the SDK's own work per byte.
            new("tu-default-aot", "TransferUtility (default, Native AOT)", true, (d, t) => Child(Exe("TuClient", "aot"), d, t)),
            new("tu-tuned-aot", "TransferUtility (tuned, Native AOT)", true, (d, t) => Child(Exe("TuClient", "aot"), d, t, "--tuned")),
            new("aws-cli", "aws s3 cp", true, (d, t) =>
            {
                var remote = $"s3://{t.Bucket}/{t.Key}";
                // Progress lines off: with a pipe for stdout they are only cost, not feedback.
                string[] sse = d == Direction.Upload && t.Sse ? ["--sse", "AES256"] : [];
                return ("aws", ["s3", "cp", d == Direction.Upload ? t.File : remote, d == Direction.Upload ? remote : t.File,
                    "--endpoint-url", t.Endpoint, "--only-show-errors", "--no-progress", .. sse]);
            }),
            // Native AOT when bench/run.sh could build it so (as ./manimcloud builds the CLI), else the ReadyToRun build.
            new("manimcloud", "ManimCloud", false, (d, t) => Child(File.Exists(Exe("McClient", "aot")) ? Exe("McClient", "aot") : Exe("McClient"), d, t)),
            // The same client with OpenTelemetry on (every span and metric exported over OTLP to a loopback sink): the
            // cost of observability (issue 13: CPU per GiB within 3 % of the client with it off).
            new("manimcloud-otel", "ManimCloud, telemetry on (OTLP)", false, (d, t) =>
            {
                var (exe, args) = Child(File.Exists(Exe("McClient", "aot")) ? Exe("McClient", "aot") : Exe("McClient"), d, t);
                return ("/usr/bin/env", [$"OTEL_EXPORTER_OTLP_ENDPOINT={OtlpSink.Url}", exe, .. args]);
            }),
        ];
    }
}

/// <summary>What one transfer moves: the object and the local file (the source to upload, or the target to download into).</summary>
/// <param name="Sse">Whether uploads ask for SSE-S3: the same for every client.</param>
public sealed record Transfer(string Endpoint, string Bucket, string Key, string File, bool WhenRequired, bool Sse = true);
