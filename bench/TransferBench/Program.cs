using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using TransferBench;

// The transfer benchmark for issue 3: the same file up and down with each client, as separate child processes,
// in interleaved rounds, against one loopback S3 endpoint. Medians of wall time, CPU (user + sys) and peak RSS,
// and ManimCloud's ratios against each anchor with the SPEC §5 targets marked. See docs/benchmarks.md.
const string Usage = """
    TransferBench [--start-fast [--tls CA_PEM] | --moto | --endpoint URL] [--size 256MiB] [--runs 3] [--out results.json]
                  [--clients tu-default,tu-tuned,tu-default-aot,tu-tuned-aot,aws-cli,manimcloud] [--checksum when-supported|when-required]
                  [--sse on|off (default: off on Ceph RGW, which has no SSE configured; on elsewhere)]
                  [--warmup SIZE (default: --size; 0 skips)] [--work DIR]
    """;

var opt = Options.Parse(args, Usage);
if (opt is null) return 2;
if (!File.Exists(ChildRunner.TimePath))
{
    Console.Error.WriteLine($"{ChildRunner.TimePath} is missing; install GNU time (`apt-get install -y time`) — it measures each child's CPU and peak memory.");
    return 2;
}

var benchRoot = opt.BenchRoot ?? FindBenchRoot();
var clients = Client.All(benchRoot).Where(c => opt.Clients is null || opt.Clients.Contains(c.Id)).ToList();
if (opt.Clients?.Except(clients.Select(c => c.Id)).ToList() is { Count: > 0 } unbuilt)
{
    Console.Error.WriteLine($"Not built: {string.Join(", ", unbuilt)} (the Native AOT clients need a C toolchain such as clang; bench/run.sh builds them when it finds one).");
    return 2;
}
var work = opt.Work ?? Path.Combine(Path.GetTempPath(), "transferbench-" + Guid.NewGuid().ToString("N")[..8]);
Directory.CreateDirectory(work);
var ownsWork = opt.Work is null;
var failures = 0;
try
{
    await using var endpoint = opt.Mode switch
    {
        "moto" => await Endpoint.StartMotoAsync(),
        "endpoint" => Endpoint.External(opt.EndpointUrl!),
        _ => await Endpoint.StartFastS3Async(benchRoot, Path.Combine(work, "fasts3"), opt.TlsCa),
    };
    // Ceph RGW refuses the SDK's default flexible checksums (SPEC §4), so it gets WHEN_REQUIRED unless told otherwise.
    var whenRequired = opt.Checksum is { } c ? c == "when-required" : endpoint.Kind == "ceph-rgw";
    var env = ChildEnvironment(endpoint.Url, whenRequired, work);
    // The server-side-encryption request, the same for every client: SSE-S3 (as ManimCloud always asks on AWS), except
    // on a Ceph RGW with no SSE configured, which refuses the header (InvalidRequest), so there nobody sends it.
    var sse = opt.Sse is { } s ? s == "on" : endpoint.Kind != "ceph-rgw";
    if (opt.TlsCa is { } ca)
    {
        // The CLI reads AWS_CA_BUNDLE; .NET (OpenSSL) reads SSL_CERT_FILE natively, at its first TLS handshake.
        env["AWS_CA_BUNDLE"] = ca;
        env["SSL_CERT_FILE"] = ca;
    }
    Console.WriteLine($"Endpoint: {endpoint.Kind} at {endpoint.Url}; file {Size.Format(opt.Size)}; {opt.Runs} interleaved round(s); " +
                      $"checksums {(whenRequired ? "when-required" : "when-supported")}; " +
                      $"SSE {(sse ? "SSE-S3 requested by every client" : "not requested by any client")}; {Environment.ProcessorCount} cores.");

    const string bucket = "transferbench";
    using var admin = AdminClient(endpoint.Url, env, whenRequired);
    try { await admin.PutBucketAsync(new PutBucketRequest { BucketName = bucket }); }
    catch (AmazonS3Exception e) when (e.ErrorCode is "BucketAlreadyOwnedByYou" or "BucketAlreadyExists") { }

    var samples = new List<Sample>();
    var engine = "";

    async Task<Sample?> MeasureAsync(Client client, Direction direction, int round, Transfer t, long size, string expectedSha, bool record)
    {
        var (program, childArgs) = client.Command(direction, t);
        var serverBefore = endpoint.ServerCpuSeconds();
        var machineBefore = MachineCpu.BusySeconds();
        var r = await ChildRunner.RunAsync(program, childArgs, env, work, TimeSpan.FromSeconds(Math.Max(300, size / (1 << 20))));
        var serverCpu = endpoint.ServerCpuSeconds() - serverBefore;
        var otherCpu = Math.Max(0, MachineCpu.BusySeconds() - machineBefore - r.UserSeconds - r.SystemSeconds - (serverCpu ?? 0));
        if (client.Id == "manimcloud" && r.Output.Split('\n').FirstOrDefault(l => l.StartsWith("engine=", StringComparison.Ordinal)) is { } e)
            engine = e.Trim()["engine=".Length..];
        string? note = null;
        var ok = r.ExitCode == 0;
        if (!ok) note = $"exit {r.ExitCode}: {Tail(r.Output)}";
        else if (direction == Direction.Download)
        {
            var actual = await Sha256Async(t.File);
            ok = actual == expectedSha;
            if (!ok) note = $"SHA-256 of the download is {actual}, the source's is {expectedSha}";
            File.Delete(t.File);
        }
        var sample = new Sample(client.Id, direction, round + 1, r.WallSeconds, r.UserSeconds, r.SystemSeconds, r.PeakRssMiB, serverCpu, otherCpu, ok, note);
        if (record)
        {
            samples.Add(sample);
            Console.WriteLine($"  round {round + 1}  {client.Id,-11} {direction.ToString().ToLowerInvariant(),-8} " +
                $"wall {r.WallSeconds,7:F2} s  CPU {sample.CpuSeconds,6:F2} s  peak {r.PeakRssMiB,6:F0} MiB  " +
                (serverCpu is { } sc ? $"server CPU {sc,5:F2} s  " : "") + $"others {otherCpu,5:F2} s  " + (ok ? (direction == Direction.Download ? "SHA-256 ok" : "ok") : "FAILED: " + note));
        }
        else if (!ok) Console.WriteLine($"  warm-up {client.Id} {direction}: FAILED: {note}");
        if (!ok) failures++;
        return ok ? sample : null;
    }

    async Task RoundTripAsync(Client client, int round, string source, long size, string sha, bool record)
    {
        var key = $"{client.Id}/{(record ? $"round-{round + 1}" : "warm-up")}";
        var up = await MeasureAsync(client, Direction.Upload, round, new Transfer(endpoint.Url, bucket, key, source, whenRequired, sse), size, sha, record);
        if (up is not null)
            await MeasureAsync(client, Direction.Download, round, new Transfer(endpoint.Url, bucket, key, Path.Combine(work, $"download-{client.Id}.bin"), whenRequired, sse), size, sha, record);
        try { await admin.DeleteObjectAsync(bucket, key); } catch (AmazonS3Exception) { }
    }

    if (opt.Warmup > 0)
    {
        // Untimed: warms the server's JIT and the machine's memory, so round 1 is not the odd one out.
        var warm = Path.Combine(work, "warm-up.bin");
        var warmSha = await TestFile.CreateAsync(warm, Math.Min(opt.Warmup, opt.Size), seed: 7);
        Console.WriteLine($"Warm-up: each client once with {Size.Format(Math.Min(opt.Warmup, opt.Size))} (not counted).");
        foreach (var client in clients) await RoundTripAsync(client, 0, warm, Math.Min(opt.Warmup, opt.Size), warmSha, record: false);
        File.Delete(warm);
    }

    var source = Path.Combine(work, "source.bin");
    Console.WriteLine($"Creating the {Size.Format(opt.Size)} test file of random bytes…");
    var sourceSha = await TestFile.CreateAsync(source, opt.Size, seed: 42);
    for (var round = 0; round < opt.Runs; round++)
    {
        // Each round starts with the next client, so no client always follows the same one.
        var order = clients.Skip(round % clients.Count).Concat(clients.Take(round % clients.Count)).ToList();
        Console.WriteLine($"Round {round + 1}/{opt.Runs}: {string.Join(", ", order.Select(c => c.Id))}");
        foreach (var client in order) await RoundTripAsync(client, round, source, opt.Size, sourceSha, record: true);
    }

    var medians = Report.Medians(samples, opt.Size);
    var anchors = clients.Where(c => c.IsAnchor).Select(c => c.Id).ToList();
    var comparisons = Report.Compare(medians, "manimcloud", anchors);
    Console.WriteLine();
    Console.WriteLine($"Medians over {opt.Runs} round(s), {Size.Format(opt.Size)}, endpoint {endpoint.Kind}" +
        (engine.Length > 0 ? $", ManimCloud engine: {engine}" : "") + ":");
    Console.WriteLine(Report.Table(medians, clients, comparisons, "manimcloud"));
    var busy = samples.Sum(x => x.OtherCpuSeconds) / samples.Sum(x => x.WallSeconds * Environment.ProcessorCount);
    if (busy > 0.05)
        Console.WriteLine($"Warning: other processes used {busy:P0} of the machine's CPU during the measured transfers; " +
                          "wall times are disturbed (CPU seconds much less). Repeat on a quiet machine for the figure.");
    Console.WriteLine(failures == 0 ? "Integrity: every download matched the source's SHA-256." : $"{failures} transfer(s) FAILED or did not verify; see above.");

    var results = new
    {
        issue = 3,
        date = DateTimeOffset.UtcNow,
        machine = new { cores = Environment.ProcessorCount, os = Environment.OSVersion.VersionString, runtime = Environment.Version.ToString() },
        endpoint = new { kind = endpoint.Kind, url = endpoint.Url },
        sizeBytes = opt.Size,
        runs = opt.Runs,
        checksums = whenRequired ? "when-required" : "when-supported",
        sse = sse ? "SSE-S3 (x-amz-server-side-encryption: AES256) on every upload" : "none",
        manimCloudEngine = engine,
        clients = clients.Select(c => new { id = c.Id, label = c.Label, anchor = c.IsAnchor }),
        medians,
        comparisons,
        samples,
        otherProcessesCpuShare = busy,
        failures,
    };
    var json = JsonSerializer.Serialize(results, new JsonSerializerOptions
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    });
    // Not into the current folder by default: a run from the repository root must not leave a file to commit by mistake.
    var outPath = opt.Out ?? Path.Combine(benchRoot, "results", "transfer-results.json");
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
    await File.WriteAllTextAsync(outPath, json);
    Console.WriteLine($"Results: {Path.GetFullPath(outPath)}");
}
finally
{
    if (ownsWork) Directory.Delete(work, recursive: true);
}
return failures == 0 ? 0 : 1;

static string FindBenchRoot()
{
    for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        if (Directory.Exists(Path.Combine(d.FullName, "FastS3")) && Directory.Exists(Path.Combine(d.FullName, "TransferBench")))
            return d.FullName;
    throw new DirectoryNotFoundException("Cannot find the bench/ folder above this program; pass --bench-root.");
}

// The same settings for every child: dummy credentials unless real ones are set (Ceph RGW needs its own),
// no shared config or credential files (their settings would tune one client and not the others), and the
// checksum mode for the AWS CLI, which reads it from the environment.
static Dictionary<string, string> ChildEnvironment(string endpointUrl, bool whenRequired, string work)
{
    var env = new Dictionary<string, string>
    {
        ["AWS_ACCESS_KEY_ID"] = Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID") ?? "transferbench",
        ["AWS_SECRET_ACCESS_KEY"] = Environment.GetEnvironmentVariable("AWS_SECRET_ACCESS_KEY") ?? "transferbench",
        ["AWS_REGION"] = "us-east-1",
        ["AWS_DEFAULT_REGION"] = "us-east-1",
        ["AWS_ENDPOINT_URL"] = endpointUrl,
        ["AWS_CONFIG_FILE"] = Path.Combine(work, "no-aws-config"),
        ["AWS_SHARED_CREDENTIALS_FILE"] = Path.Combine(work, "no-aws-credentials"),
        ["AWS_EC2_METADATA_DISABLED"] = "true",
    };
    if (whenRequired)
    {
        env["AWS_REQUEST_CHECKSUM_CALCULATION"] = "when_required";
        env["AWS_RESPONSE_CHECKSUM_VALIDATION"] = "when_required";
    }
    return env;
}

static AmazonS3Client AdminClient(string url, IReadOnlyDictionary<string, string> env, bool whenRequired) =>
    new(new BasicAWSCredentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]), new AmazonS3Config
    {
        ServiceURL = url,
        ForcePathStyle = true,
        AuthenticationRegion = "us-east-1",
        RequestChecksumCalculation = whenRequired ? RequestChecksumCalculation.WHEN_REQUIRED : RequestChecksumCalculation.WHEN_SUPPORTED,
    });

static async Task<string> Sha256Async(string path)
{
    await using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
    return Convert.ToHexStringLower(await SHA256.HashDataAsync(f));
}

// What went wrong, without stack frames: the first lines that say something (an exception's message comes first).
static string Tail(string output)
{
    var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim())
        .Where(l => l.Length > 0 && !l.StartsWith("at ", StringComparison.Ordinal) && !l.StartsWith("---", StringComparison.Ordinal) && !l.StartsWith("engine=", StringComparison.Ordinal));
    return string.Join(" | ", lines.Take(3));
}

sealed record Options(string Mode, string? EndpointUrl, long Size, int Runs, string? Out, HashSet<string>? Clients, string? Checksum,
    long Warmup, string? Work, string? BenchRoot, string? TlsCa = null, string? Sse = null)
{
    public static Options? Parse(string[] args, string usage)
    {
        string mode = "fast";
        string? url = null, outPath = null, checksum = null, work = null, benchRoot = null, tlsCa = null, sse = null;
        long size = 256L << 20;
        long? warmup = null;
        var runs = 3;
        HashSet<string>? clients = null;
        try
        {
            for (var i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
                switch (args[i])
                {
                    case "--start-fast": mode = "fast"; break;
                    case "--moto": mode = "moto"; break;
                    case "--tls": tlsCa = Path.GetFullPath(Next()); break;
                    case "--endpoint": mode = "endpoint"; url = Next(); break;
                    case "--size": size = TransferBench.Size.Parse(Next()); break;
                    case "--runs": runs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--out": outPath = Next(); break;
                    case "--clients": clients = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(); break;
                    case "--checksum": checksum = Next(); break;
                    case "--sse": sse = Next(); break;
                    case "--warmup": warmup = TransferBench.Size.Parse(Next()); break;
                    case "--work": work = Next(); break;
                    case "--bench-root": benchRoot = Next(); break;
                    case "-h" or "--help": Console.WriteLine(usage); return null;
                    default: throw new ArgumentException($"Unknown argument '{args[i]}'.");
                }
            }
            if (runs < 1) throw new ArgumentException("--runs must be at least 1.");
            if (size < 1) throw new ArgumentException("--size must be positive.");
            if (checksum is not (null or "when-supported" or "when-required")) throw new ArgumentException("--checksum is when-supported or when-required.");
            if (sse is not (null or "on" or "off")) throw new ArgumentException("--sse is on or off.");
            var known = Client.Ids(benchRoot ?? "");
            if (clients?.Except(known).ToList() is { Count: > 0 } unknown)
                throw new ArgumentException($"Unknown client(s) {string.Join(", ", unknown)}; the clients are {string.Join(", ", known)}.");
            // A full-size untimed round by default: on these VMs the first touch of guest memory (page cache for new
            // files, fresh heap) costs far more than later ones, and round 1 would pay it alone.
            if (tlsCa is not null && mode != "fast") throw new ArgumentException("--tls applies to the FastS3 started here (--start-fast).");
            // .NET on Linux takes extra trust anchors only from SSL_CERT_FILE in the environment it started with
            // (Environment.SetEnvironmentVariable does not reach OpenSSL), so the caller must set it: bench/run.sh --tls does.
            if (tlsCa is not null && Environment.GetEnvironmentVariable("SSL_CERT_FILE") is var sslCertFile && (sslCertFile is null || Path.GetFullPath(sslCertFile) != tlsCa))
                throw new ArgumentException($"--tls {tlsCa} needs SSL_CERT_FILE={tlsCa} in this process's environment (it is '{sslCertFile}'); bench/run.sh --tls sets it.");
            return new Options(mode, url, size, runs, outPath, clients, checksum, warmup ?? size, work, benchRoot, tlsCa, sse);
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(usage);
            return null;
        }
    }
}
