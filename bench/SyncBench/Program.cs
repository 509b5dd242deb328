using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Amazon.S3;
using Amazon.S3.Model;
using ManimCloud;
using ManimCloud.Aws;
using ManimCloud.Domain;
using ManimCloud.Sync;
using ManimCloud.Workspace;
using SyncBench;

// Sync benchmark (SPEC §5: 1,000 small files to the cloud in ≤ 0.5× the wall time of `aws s3 sync`).
// Usage: SyncBench --endpoint URL --repo ROOT --aws PATH_TO_AWS [--moto-log FILE] [--moto-pid PID] [--rounds 5]
//        [--shape 100x10|1000x1] [--out results.json] [--work DIR] [--seed 42] [--probe N (requests per kind; 0 = off)]
//        [--s3-endpoint URL --s3-pid PID --s3-log FILE]   S3 on another server (FastS3); --endpoint keeps DynamoDB
//        --rounds -1 runs only the probe
// Without --s3-endpoint everything goes to --endpoint (moto). With it, every S3 request — aws s3 sync's and
// ManimCloud's (S3EndpointUrl / AWS_ENDPOINT_URL_S3) — goes there, and only DynamoDB stays on moto.
// The environment must carry AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION for the endpoint.

var opts = Args.Parse(args);
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CloudHealth.Quarantine = TimeSpan.FromHours(1); // the offline phase must never re-probe the (closed) endpoint mid-way
RequestCounter.Install();

var (videos, versions) = opts.Shape switch
{
    "100x10" => (100, 10),
    "1000x1" => (1000, 1),
    _ => throw new ArgumentException($"unknown shape {opts.Shape}"),
};
var total = videos * versions;
var work = Directory.CreateDirectory(Path.Combine(opts.Work, $"syncbench-{opts.Shape}-{Environment.ProcessId}")).FullName;

// The corpus: file i = video i / versions, version i % versions + 1.
var files = Enumerable.Range(0, total).Select(i => Corpus.File(opts.Seed, i)).ToArray();
var corpusDir = Path.Combine(work, "corpus");
for (var i = 0; i < total; i++)
{
    var path = Path.Combine(corpusDir, $"p{i / versions % 10}", $"video{i / versions:0000}", $"video{i / versions:0000}_v{i % versions + 1}.py");
    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
    File.WriteAllBytes(path, files[i]);
}
Log($"corpus: {total} files, {files.Sum(f => (long)f.Length) / 1024.0:0} KiB total, sizes {files.Min(f => f.Length)}–{files.Max(f => f.Length)} B, in {corpusDir}");

var results = new List<RunResult>();
var forms = new[] { "aws", "lib", "cli" };
for (var round = 0; round <= opts.Rounds; round++)
{
    var warmup = round == 0;
    // Prepare everything untimed first: a fresh bucket for aws; two fresh workspaces + deployments, queued offline.
    var awsBucket = Names.Unique("anchor");
    await Cloud.CreateAnchorBucketAsync(opts, awsBucket);
    var libSetup = await Prepare(opts, work, videos, versions, files);
    var cliSetup = await Prepare(opts, work, videos, versions, files);
    var order = forms.Skip(round % 3).Concat(forms.Take(round % 3)).ToArray();
    foreach (var form in order)
    {
        var before = MotoLog.Position(opts.MotoLog);
        var beforeS3 = MotoLog.Position(opts.S3Log);
        var cpu0 = Cpu.Sample(opts);
        RunResult r = form switch
        {
            "aws" => await RunAws(opts, corpusDir, awsBucket),
            "lib" => await RunLib(opts, libSetup),
            _ => await RunCli(opts, cliSetup),
        };
        var cpu1 = Cpu.Sample(opts);
        r = r with
        {
            Round = round, Warmup = warmup, Moto = MotoLog.Count(opts.MotoLog, before).Plus(MotoLog.Count(opts.S3Log, beforeS3)),
            ClientCpu = form == "lib" ? cpu1.Self - cpu0.Self : cpu1.Children - cpu0.Children, MotoCpu = cpu1.Moto - cpu0.Moto, S3Cpu = cpu1.S3 - cpu0.S3,
        };
        // Verify: every file in the bucket with equal bytes.
        var expected = form == "aws"
            ? Enumerable.Range(0, total).ToDictionary(
                i => $"code/p{i / versions % 10}/video{i / versions:0000}/video{i / versions:0000}_v{i % versions + 1}.py", i => files[i])
            : (form == "lib" ? libSetup : cliSetup).Expected;
        var bucket = form == "aws" ? awsBucket : (form == "lib" ? libSetup : cliSetup).CodeBucket;
        var (ok, detail) = await Verify.BucketAsync(opts, bucket, expected);
        r = r with { Verified = ok, VerifyDetail = detail };
        results.Add(r);
        Log($"round {round}{(warmup ? " (warm-up)" : "")} {form,-3}: {r.Seconds,7:0.000} s  client cpu {r.ClientCpu:0.0} s  moto cpu {r.MotoCpu:0.0} s{(opts.SeparateS3 ? $"  FastS3 cpu {r.S3Cpu:0.0} s" : "")}  load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}  verified={ok} {detail}  server requests={r.Moto.Total}"
            + (r.Note is null ? "" : $"  {r.Note}"));
        if (!ok) throw new Exception($"verification failed for {form} in round {round}: {detail}");
    }
    Directory.Delete(libSetup.Home, true);
    Directory.Delete(cliSetup.Home, true);
}

// Report (--rounds -1: no rounds, only the probe).
Dictionary<string, double>? med = null;
double Median(IEnumerable<double> xs) { var a = xs.OrderBy(x => x).ToArray(); return a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2; }
if (results.Count > 0)
{
    var measured = results.Where(r => !r.Warmup).ToList();
    if (measured.Count == 0) measured = results; // --rounds 0: report the warm-up round
    med = forms.ToDictionary(f => f, f => Median(measured.Where(r => r.Form == f).Select(r => r.Seconds)));
    var perRoundRatio = (string f) => Median(measured.Where(r => r.Form == f).Select(r => r.Seconds / measured.Single(a => a.Form == "aws" && a.Round == r.Round).Seconds));
    Console.WriteLine();
    Console.WriteLine($"## Sync benchmark, shape {opts.Shape} ({videos} videos × {versions} versions = {total} files, {files.Sum(f => (long)f.Length) / 1024.0:0} KiB), {opts.Rounds} interleaved rounds after 1 warm-up");
    Console.WriteLine();
    Console.WriteLine(opts.SeparateS3
        ? $"S3 on FastS3 ({opts.S3Endpoint}), DynamoDB on moto ({opts.Endpoint})."
        : $"S3 and DynamoDB both on moto ({opts.Endpoint}).");
    Console.WriteLine();
    Console.WriteLine($"| form | median wall s | min | max | median ratio vs aws (per round) | ratio of medians | target ≤ 0.5× | client CPU s | moto CPU s |{(opts.SeparateS3 ? " FastS3 CPU s |" : "")}");
    Console.WriteLine($"|---|---:|---:|---:|---:|---:|---|---:|---:|{(opts.SeparateS3 ? "---:|" : "")}");
    foreach (var f in forms)
    {
        var xs = measured.Where(r => r.Form == f).Select(r => r.Seconds).ToList();
        var ratio = perRoundRatio(f);
        Console.WriteLine($"| {Label(f)} | {med[f]:0.000} | {xs.Min():0.000} | {xs.Max():0.000} | {ratio:0.00}× | {med[f] / med["aws"]:0.00}× | {(f == "aws" ? "—" : ratio <= 0.5 ? "met" : "missed")} | {Median(measured.Where(r => r.Form == f).Select(r => r.ClientCpu)):0.0} | {Median(measured.Where(r => r.Form == f).Select(r => r.MotoCpu)):0.0} |"
            + (opts.SeparateS3 ? $" {Median(measured.Where(r => r.Form == f).Select(r => r.S3Cpu)):0.0} |" : ""));
    }
    Console.WriteLine();
    Console.WriteLine($"Requests seen by {(opts.SeparateS3 ? "moto (DynamoDB) and FastS3 (S3)" : "moto")} per run (median over measured rounds), by kind:");
    foreach (var f in forms)
    {
        var kinds = measured.Where(r => r.Form == f).SelectMany(r => r.Moto.ByKind.Keys).Distinct().OrderBy(k => k);
        var parts = kinds.Select(k => $"{k} {Median(measured.Where(r => r.Form == f).Select(r => (double)r.Moto.ByKind.GetValueOrDefault(k))):0}");
        Console.WriteLine($"- {Label(f)}: total {Median(measured.Where(r => r.Form == f).Select(r => (double)r.Moto.Total)):0} — {string.Join(", ", parts)}");
    }
    var libRuns = measured.Where(r => r.Form == "lib").ToList();
    if (libRuns.Count > 0)
    {
        Console.WriteLine();
        Console.WriteLine($"SDK calls made by SyncAsync (library form, median per run; per synced code version = ÷ {total}):");
        Console.WriteLine();
        Console.WriteLine("| call | per run | per synced code version |");
        Console.WriteLine("|---|---:|---:|");
        var keys = libRuns.SelectMany(r => r.Sdk!.Keys).Distinct().OrderByDescending(k => Median(libRuns.Select(r => (double)r.Sdk!.GetValueOrDefault(k))));
        foreach (var k in keys)
        {
            var m = Median(libRuns.Select(r => (double)r.Sdk!.GetValueOrDefault(k)));
            Console.WriteLine($"| {k} | {m:0} | {m / total:0.00} |");
        }
        var all = Median(libRuns.Select(r => (double)r.Sdk!.Values.Sum()));
        Console.WriteLine($"| **all** | {all:0} | {all / total:0.00} |");
    }
}
List<(string Kind, double WallMs, double MotoCpuMs)>? probe = null;
if (opts.Probe > 0)
{
    // Server cost per request kind, one request at a time, on a fresh deployment: an empty table, then one holding 1,000 other videos.
    var sample = files.OrderBy(f => f.Length).ElementAt(files.Length / 2); // the median-sized file
    probe = [];
    var byTable = new List<List<(string Kind, double WallMs, double MotoCpuMs)>>();
    foreach (var extra in new[] { 0, 1000 })
    {
        var probeSetup = new Setup
        {
            Home = Directory.CreateDirectory(Path.Combine(work, $"probe-{extra}")).FullName,
            VideoBucket = Names.Unique("vid"), CodeBucket = Names.Unique("code"), Table = Names.Unique("meta"),
        };
        await Cloud.CreateDeploymentAsync(opts, probeSetup);
        var rows = await Probe.RunAsync(opts, probeSetup, sample, opts.Probe, extra);
        byTable.Add(rows);
        probe.AddRange(rows.Select(r => (r.Kind + (extra > 0 ? $" [table + {extra} videos]" : " [fresh table]"), r.WallMs, r.MotoCpuMs)));
    }
    Console.WriteLine();
    Console.WriteLine($"Server cost per request (sequential, {opts.Probe} requests each, {sample.Length} B object; server CPU is moto's{(opts.SeparateS3 ? " plus FastS3's" : "")}; moto CPU is what bounds throughput on one moto process):");
    Console.WriteLine();
    Console.WriteLine("| request | wall ms, fresh table | server CPU ms, fresh table | wall ms, table + 1,000 videos | server CPU ms, table + 1,000 videos |");
    Console.WriteLine("|---|---:|---:|---:|---:|");
    for (var i = 0; i < byTable[0].Count; i++)
        Console.WriteLine($"| {byTable[0][i].Kind} | {byTable[0][i].WallMs:0.00} | {byTable[0][i].MotoCpuMs:0.00} | {byTable[1][i].WallMs:0.00} | {byTable[1][i].MotoCpuMs:0.00} |");
}
Console.WriteLine();
Console.WriteLine($"load average at end: {File.ReadAllText("/proc/loadavg").Trim()}");
if (opts.Out is not null)
{
    await File.WriteAllTextAsync(opts.Out, JsonSerializer.Serialize(new { shape = opts.Shape, rounds = opts.Rounds, medians = med, results, probe = probe?.Select(p => new { p.Kind, p.WallMs, p.MotoCpuMs }) },
        new JsonSerializerOptions { WriteIndented = true }));
    Log($"raw results: {opts.Out}");
}
Directory.Delete(work, true);
return 0;

static string Label(string f) => f switch { "aws" => "`aws s3 sync` (CLI v1)", "lib" => "ManimCloud `SyncAsync` (in-process)", _ => "ManimCloud `./manimcloud sync --json`" };

static void Log(string s) => Console.Error.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {s}");

// ------------------------------------------------------------------------------------------------ forms

static async Task<RunResult> RunAws(Opts opts, string corpusDir, string bucket)
{
    var psi = new ProcessStartInfo(opts.Aws)
    {
        ArgumentList = { "s3", "sync", corpusDir, $"s3://{bucket}/code/", "--endpoint-url", opts.S3Endpoint, "--only-show-errors" },
        RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
    };
    psi.Environment["AWS_DEFAULT_REGION"] = "us-east-1";
    var (secs, code, _, err) = await ChildProcess.RunAsync(psi);
    if (code != 0) throw new Exception($"aws s3 sync exited {code}: {err}");
    return new RunResult("aws", secs);
}

static async Task<RunResult> RunLib(Opts opts, Setup setup)
{
    using var client = ManimCloudClient.Open(setup.Options(opts));
    RequestCounter.Reset();
    var sw = Stopwatch.StartNew();
    var report = await client.SyncAsync(null, CancellationToken.None);
    sw.Stop();
    var sdk = RequestCounter.Snapshot();
    Check(report.Applied, report.StillPending, report.Parked, report.Conflicts, report.Failures.Count, report.Renumbered.Count, setup.Queued);
    return new RunResult("lib", sw.Elapsed.TotalSeconds) { Sdk = sdk, Note = $"applied {report.Applied}" };
}

static async Task<RunResult> RunCli(Opts opts, Setup setup)
{
    var psi = new ProcessStartInfo(Path.Combine(opts.Repo, "manimcloud"))
    {
        ArgumentList = { "sync", "--json" }, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
    };
    foreach (var (k, v) in setup.Environment(opts)) psi.Environment[k] = v;
    var (secs, code, stdout, err) = await ChildProcess.RunAsync(psi);
    if (code != 0) throw new Exception($"manimcloud sync exited {code}: {stdout} {err}");
    var j = JsonNode.Parse(stdout)!;
    Check((int)j["applied"]!, (int)j["pending"]!, (int)j["parked"]!, (int)j["conflicts"]!, j["failures"]!.AsArray().Count, j["renumbered"]!.AsArray().Count, setup.Queued);
    return new RunResult("cli", secs) { Note = $"applied {(int)j["applied"]!}" };
}

static void Check(int applied, int pending, int parked, int conflicts, int failures, int renumbered, int queued)
{
    if (applied != queued || pending != 0 || parked != 0 || conflicts != 0 || failures != 0 || renumbered != 0)
        throw new Exception($"sync report: applied {applied} of {queued}, pending {pending}, parked {parked}, conflicts {conflicts}, failures {failures}, renumbered {renumbered}");
}

// ------------------------------------------------------------------------------------------------ preparation

static async Task<Setup> Prepare(Opts opts, string work, int videos, int versions, byte[][] files)
{
    var setup = new Setup
    {
        Home = Directory.CreateDirectory(Path.Combine(work, "ws-" + Guid.NewGuid().ToString("N")[..12])).FullName,
        VideoBucket = Names.Unique("vid"), CodeBucket = Names.Unique("code"), Table = Names.Unique("meta"),
    };
    await Cloud.CreateDeploymentAsync(opts, setup);
    // 1. The videos, online: they reach the cloud at once, so the measured sync is about the code files.
    var ids = new List<(VideoId Id, ProjectId Project)>();
    using (var online = ManimCloudClient.Open(setup.Options(opts)))
    {
        for (var v = 0; v < videos; v++)
        {
            var project = ProjectId.Parse($"bench-p{v % 10}");
            var w = await online.CreateVideoAsync(project, $"Benchmark video {v}", "sync benchmark", ["bench"], CancellationToken.None);
            if (!w.Synced) throw new Exception($"video {v} was not created online: {w.PendingReason}");
            ids.Add((w.Value.Id, project));
        }
    }
    // 2. The code, offline: a closed loopback port, a short retry budget; the first write fails over, the rest queue at once.
    var closed = ClosedPort();
    using (var offline = ManimCloudClient.Open(setup.Options($"http://127.0.0.1:{closed}", $"http://127.0.0.1:{closed}") with { RetryBudget = TimeSpan.FromSeconds(0.2) }))
    {
        for (var k = 0; k < versions; k++)
            for (var v = 0; v < videos; v++)
            {
                var i = v * versions + k;
                var w = await offline.PutCodeAsync(ids[v].Id, files[i], "syncbench", null, CancellationToken.None);
                if (w.Synced) throw new Exception($"code {i} was synced although the endpoint is closed");
                if (w.Value.Version != k + 1) throw new Exception($"code {i} got provisional version {w.Value.Version}, expected {k + 1}");
                setup.Expected[ObjectLayout.CodeKey(ids[v].Project, ids[v].Id, k + 1)] = files[i];
            }
        setup.Queued = offline.Outbox.List(Outbox.Pending).Count;
        if (setup.Queued != videos * versions) throw new Exception($"{setup.Queued} operations queued, expected {videos * versions}");
    }
    return setup;
}

static int ClosedPort()
{
    var l = new TcpListener(IPAddress.Loopback, 0);
    l.Start();
    var port = ((IPEndPoint)l.LocalEndpoint).Port;
    l.Stop();
    return port;
}

// ------------------------------------------------------------------------------------------------ types

public sealed record Opts(string Endpoint, string Repo, string Aws, string? MotoLog, int Rounds, string Shape, string? Out, string Work, int Seed, int? MotoPid, int Probe,
    string S3Endpoint, int? S3Pid, string? S3Log)
{
    /// <summary>S3 is served by another process than DynamoDB (FastS3 next to moto).</summary>
    public bool SeparateS3 => S3Endpoint != Endpoint;
}

public static class Args
{
    public static Opts Parse(string[] a)
    {
        string? Get(string name) { var i = Array.IndexOf(a, name); return i >= 0 && i + 1 < a.Length ? a[i + 1] : null; }
        return new Opts(
            Get("--endpoint") ?? throw new ArgumentException("--endpoint URL is required"),
            Path.GetFullPath(Get("--repo") ?? "."),
            Get("--aws") ?? "aws",
            Get("--moto-log"),
            int.Parse(Get("--rounds") ?? "5"),
            Get("--shape") ?? "100x10",
            Get("--out"),
            Get("--work") ?? Path.GetTempPath(),
            int.Parse(Get("--seed") ?? "42"),
            Get("--moto-pid") is { } mp ? int.Parse(mp) : null,
            int.Parse(Get("--probe") ?? "0"),
            Get("--s3-endpoint") ?? Get("--endpoint")!,
            Get("--s3-pid") is { } sp ? int.Parse(sp) : null,
            Get("--s3-log"));
    }
}

public sealed class Setup
{
    public required string Home { get; init; }
    public required string VideoBucket { get; init; }
    public required string CodeBucket { get; init; }
    public required string Table { get; init; }
    public Dictionary<string, byte[]> Expected { get; } = new();
    public int Queued { get; set; }

    public ManimCloudOptions Options(Opts opts) => Options(opts.Endpoint, opts.S3Endpoint);

    /// <summary>DynamoDB on one endpoint, S3 on another (the same one when moto serves both).</summary>
    public ManimCloudOptions Options(string dynamoDbEndpoint, string s3Endpoint) => new()
    {
        Home = Home, VideoBucket = VideoBucket, CodeBucket = CodeBucket, Table = Table, Region = "us-east-1",
        EndpointUrl = dynamoDbEndpoint, DynamoDbEndpointUrl = dynamoDbEndpoint, S3EndpointUrl = s3Endpoint,
    };

    public Dictionary<string, string> Environment(Opts opts) => new()
    {
        ["MANIMCLOUD_HOME"] = Home, ["MANIMCLOUD_VIDEO_BUCKET"] = VideoBucket, ["MANIMCLOUD_CODE_BUCKET"] = CodeBucket,
        ["MANIMCLOUD_TABLE"] = Table, ["AWS_ENDPOINT_URL"] = opts.Endpoint, ["AWS_ENDPOINT_URL_DYNAMODB"] = opts.Endpoint,
        ["AWS_ENDPOINT_URL_S3"] = opts.S3Endpoint, ["AWS_REGION"] = "us-east-1",
        ["AWS_ACCESS_KEY_ID"] = "testing", ["AWS_SECRET_ACCESS_KEY"] = "testing",
    };
}

public sealed record RunResult(string Form, double Seconds)
{
    public int Round { get; init; }
    public bool Warmup { get; init; }
    public bool Verified { get; init; }
    public string? VerifyDetail { get; init; }
    public string? Note { get; init; }
    public MotoCounts Moto { get; init; } = new(0, new());
    public Dictionary<string, int>? Sdk { get; init; }
    public double ClientCpu { get; init; }
    public double MotoCpu { get; init; }
    /// <summary>CPU of the S3 server when it is not moto (FastS3); 0 otherwise.</summary>
    public double S3Cpu { get; init; }
}

/// <summary>CPU seconds from /proc: this process, its reaped children (aws, the CLI), moto_server and a separate S3 server.</summary>
public static class Cpu
{
    public static (double Self, double Children, double Moto, double S3) Sample(Opts opts)
    {
        var self = Fields("/proc/self/stat");
        const double hz = 100.0;
        return ((self[13] + self[14]) / hz, (self[15] + self[16]) / hz, Of(opts.MotoPid), opts.SeparateS3 ? Of(opts.S3Pid) : 0);

        static double Of(int? pid) => pid is { } p && File.Exists($"/proc/{p}/stat") && Fields($"/proc/{p}/stat") is var f ? (f[13] + f[14]) / hz : 0;
    }

    /// <summary>All server CPU: moto's plus the S3 server's.</summary>
    public static double Servers(Opts opts) { var s = Sample(opts); return s.Moto + s.S3; }

    private static long[] Fields(string path)
    {
        var text = File.ReadAllText(path);
        var rest = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        // rest[0] is field 3 (state); return an array indexed like stat(5)'s 1-based fields minus one.
        var all = new long[rest.Length + 2];
        for (var i = 1; i < rest.Length; i++) all[i + 2] = long.TryParse(rest[i], out var v) ? v : 0;
        return all;
    }
}

public static class Names
{
    private static int _n;
    public static string Unique(string prefix) => $"sb-{prefix}-{Environment.ProcessId}-{Interlocked.Increment(ref _n)}-{Guid.NewGuid().ToString("N")[..6]}";
}

public static class ChildProcess
{
    public static async Task<(double Seconds, int Code, string Stdout, string Stderr)> RunAsync(ProcessStartInfo psi)
    {
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        sw.Stop();
        return (sw.Elapsed.TotalSeconds, p.ExitCode, await stdout, await stderr);
    }
}

public static class Cloud
{
    private static AwsClients Clients(Opts opts) => new(new ManimCloudOptions
    {
        Home = Path.GetTempPath(), Region = "us-east-1", EndpointUrl = opts.Endpoint, DynamoDbEndpointUrl = opts.Endpoint, S3EndpointUrl = opts.S3Endpoint,
    });

    /// <summary>The anchor's bucket is made like ManimCloud's code bucket (Object Lock, hence versioned), so both pay the same per-PUT server cost.</summary>
    public static async Task CreateAnchorBucketAsync(Opts opts, string bucket)
    {
        using var aws = Clients(opts);
        await aws.S3.PutBucketAsync(new PutBucketRequest { BucketName = bucket, ObjectLockEnabledForBucket = true });
    }

    /// <summary>As tests/ManimCloud.Tests/Support/TestCloud.cs: two buckets (versioned; Object Lock on code) and the table with GSI by_project.</summary>
    public static async Task CreateDeploymentAsync(Opts opts, Setup s)
    {
        using var aws = Clients(opts);
        await aws.S3.PutBucketAsync(new PutBucketRequest { BucketName = s.VideoBucket });
        await aws.S3.PutBucketVersioningAsync(new PutBucketVersioningRequest
        {
            BucketName = s.VideoBucket, VersioningConfig = new S3BucketVersioningConfig { Status = VersionStatus.Enabled },
        });
        await aws.S3.PutBucketAsync(new PutBucketRequest { BucketName = s.CodeBucket, ObjectLockEnabledForBucket = true });
        await aws.DynamoDB.CreateTableAsync(DynamoMetadataStore.TableSchema(s.Table));
    }

    public static AwsClients For(Opts opts) => Clients(opts);
}

public static class Verify
{
    /// <summary>Every expected key is in the bucket (under code/) with equal bytes, and nothing else is.</summary>
    public static async Task<(bool Ok, string Detail)> BucketAsync(Opts opts, string bucket, IReadOnlyDictionary<string, byte[]> expected)
    {
        using var aws = Cloud.For(opts);
        var keys = new List<string>();
        string? token = null;
        do
        {
            var page = await aws.S3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = "code/", ContinuationToken = token });
            keys.AddRange((page.S3Objects ?? []).Select(o => o.Key));
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        } while (token is not null);
        var missing = expected.Keys.Except(keys).Count();
        var extra = keys.Except(expected.Keys).Count();
        var bad = 0;
        await Parallel.ForEachAsync(expected, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (kv, ct) =>
        {
            if (!keys.Contains(kv.Key)) return;
            using var r = await aws.S3.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = kv.Key }, ct);
            using var ms = new MemoryStream();
            await r.ResponseStream.CopyToAsync(ms, ct);
            if (!ms.ToArray().AsSpan().SequenceEqual(kv.Value)) Interlocked.Increment(ref bad);
        });
        return (missing == 0 && extra == 0 && bad == 0, $"{keys.Count} objects, {missing} missing, {extra} extra, {bad} differing");
    }
}

public sealed record MotoCounts(int Total, Dictionary<string, int> ByKind)
{
    public MotoCounts Plus(MotoCounts other)
    {
        var by = new Dictionary<string, int>(ByKind);
        foreach (var (k, v) in other.ByKind) by[k] = by.GetValueOrDefault(k) + v;
        return new(Total + other.Total, by);
    }
}

/// <summary>
/// Counts request log lines written since a position: moto_server's (werkzeug: `"METHOD /path HTTP/1.1" status -`)
/// or FastS3's --log lines (`METHOD /path?query status …`).
/// </summary>
public static class MotoLog
{
    public static long Position(string? path) => path is null || !File.Exists(path) ? 0 : new FileInfo(path).Length;

    public static MotoCounts Count(string? path, long from)
    {
        if (path is null || !File.Exists(path)) return new(0, new());
        Thread.Sleep(200); // let moto flush the last lines
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        f.Position = from;
        var text = new StreamReader(f).ReadToEnd();
        var by = new Dictionary<string, int>();
        var total = 0;
        foreach (var line in text.Split('\n'))
        {
            var q = line.IndexOf('"');
            if (q < 0)
            {
                // FastS3: METHOD TARGET STATUS …
                var fs = line.Split(' ', 4);
                if (fs.Length < 3 || fs[0] is not ("GET" or "PUT" or "POST" or "HEAD" or "DELETE") || !fs[1].StartsWith('/')) continue;
                total++;
                var k = Classify(fs[0], fs[1]) + (fs[2].StartsWith('2') ? "" : $" → {fs[2]}");
                by[k] = by.GetValueOrDefault(k) + 1;
                continue;
            }
            var end = line.IndexOf('"', q + 1);
            if (end < 0) continue;
            var parts = line[(q + 1)..end].Split(' ');
            if (parts.Length < 3 || !parts[2].StartsWith("HTTP/")) continue;
            var status = line[(end + 1)..].Trim().Split(' ')[0];
            total++;
            var kind = Classify(parts[0], parts[1]) + (status.StartsWith('2') ? "" : $" → {status}");
            by[kind] = by.GetValueOrDefault(kind) + 1;
        }
        return new(total, by);
    }

    private static string Classify(string method, string target)
    {
        var path = target.Split('?')[0];
        var query = target.Contains('?') ? target[(target.IndexOf('?') + 1)..] : "";
        if (method == "POST" && path == "/") return "DynamoDB POST /";
        var segments = path.Trim('/').Split('/', 2);
        var objectLevel = segments.Length == 2 && segments[1].Length > 0;
        var sub = query.Split('&').Select(p => p.Split('=')[0]).FirstOrDefault(p => p is "list-type" or "retention" or "legal-hold" or "versioning" or "uploads" or "uploadId" or "object-lock") ?? "";
        return $"S3 {method} {(objectLevel ? "object" : "bucket")}{(sub.Length > 0 ? "?" + sub : "")}";
    }
}
