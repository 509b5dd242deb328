namespace TransferBench.Clients;

/// <summary>
/// The command line every benchmark client child takes, so the runner starts them all the same way:
///   upload|download --endpoint URL --bucket B --key K --file PATH [--tuned] [--checksum when-supported|when-required] [--sse on|off]
/// --sse on: the upload asks for SSE-S3 (x-amz-server-side-encryption: AES256), as ManimCloud always does on AWS;
/// off for stores without SSE (Ceph RGW with none configured refuses the header). Every client gets the same.
/// </summary>
public sealed record ClientArgs(bool Upload, string Endpoint, string Bucket, string Key, string File, bool Tuned, bool WhenRequired, bool Sse = true)
{
    public const string Usage = "upload|download --endpoint URL --bucket B --key K --file PATH [--tuned] [--checksum when-supported|when-required] [--sse on|off]";

    public static ClientArgs Parse(string[] args)
    {
        if (args.Length == 0 || args[0] is not ("upload" or "download"))
            throw new ArgumentException("Usage: " + Usage);
        var values = new Dictionary<string, string>();
        var tuned = false;
        for (var i = 1; i < args.Length; i++)
        {
            if (args[i] == "--tuned") tuned = true;
            else if (args[i].StartsWith("--", StringComparison.Ordinal) && i + 1 < args.Length) values[args[i][2..]] = args[++i];
            else throw new ArgumentException($"Unexpected argument '{args[i]}'. Usage: {Usage}");
        }
        string Need(string name) => values.TryGetValue(name, out var v) ? v : throw new ArgumentException($"--{name} is required. Usage: {Usage}");
        var checksum = values.GetValueOrDefault("checksum", "when-supported");
        if (checksum is not ("when-supported" or "when-required"))
            throw new ArgumentException($"--checksum is '{checksum}'; use when-supported or when-required.");
        var sse = values.GetValueOrDefault("sse", "on");
        if (sse is not ("on" or "off")) throw new ArgumentException($"--sse is '{sse}'; use on or off.");
        return new ClientArgs(args[0] == "upload", Need("endpoint"), Need("bucket"), Need("key"), Need("file"), tuned, checksum == "when-required", sse == "on");
    }
}
