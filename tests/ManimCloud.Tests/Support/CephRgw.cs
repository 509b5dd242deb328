using System.Diagnostics;
using System.Net.Sockets;

namespace ManimCloud.Tests.Support;

/// <summary>
/// A real S3 implementation nobody here wrote: a one-node Ceph RADOS gateway on 127.0.0.1:7480 (data in memory),
/// brought up once per test run by bench/ceph/ceph-rgw-up.sh and stopped at the end by ceph-rgw-down.sh (so is a
/// gateway a killed run left behind, by ./test.sh). A gateway that is already up on 7480 with the scripts' test user is
/// used as it is and left running: it is someone else's. Ceph comes from Debian (./test.sh installs it with apt).
/// </summary>
public static class CephRgw
{
    public const string Endpoint = "http://127.0.0.1:7480";
    public const string AccessKey = "benchkey";
    public const string SecretKey = "benchsecret";

    /// <summary>Where our own gateway keeps its data, pids and logs; ./test.sh names it so it can stop one a killed run left.</summary>
    public static string Dir { get; } = Environment.GetEnvironmentVariable("MANIMCLOUD_TEST_CEPH_DIR") is { Length: > 0 } d
        ? d : Path.Combine(Path.GetTempPath(), $"manimcloud-test-ceph-{Environment.ProcessId}");

    private static readonly Lazy<string> _endpoint = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);
    private static bool _ours;

    /// <summary>The gateway's endpoint, starting it on first use.</summary>
    public static string EnsureUp() => _endpoint.Value;

    /// <summary>Whether the Ceph tests are switched off for this run (MANIMCLOUD_TEST_CEPH=off), with why.</summary>
    public static string? SkipReason => Environment.GetEnvironmentVariable("MANIMCLOUD_TEST_CEPH") == "off"
        ? "MANIMCLOUD_TEST_CEPH=off: the Ceph RGW tests are switched off for this run." : null;

    private static string Scripts
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "bench", "ceph", "ceph-rgw-up.sh"))) return Path.Combine(dir.FullName, "bench", "ceph");
            throw new FileNotFoundException("bench/ceph/ceph-rgw-up.sh not found above the test binaries.");
        }
    }

    private static string Start()
    {
        if (PortAnswers(7480)) return Endpoint; // someone's gateway: use it, never stop it
        foreach (var tool in new[] { "ceph-mon", "ceph-osd", "radosgw", "radosgw-admin" })
            if (!OnPath(tool))
                throw new InvalidOperationException($"{tool} is missing: install Ceph with `apt-get install -y ceph-mon ceph-osd radosgw ceph-common` "
                    + "(./test.sh does), or set MANIMCLOUD_TEST_CEPH=off to leave the Ceph RGW tests out.");
        // A gateway that was just stopped (by an earlier run) may hold the monitor's port for a few seconds more.
        for (var i = 0; i < 30 && PortAnswers(6789); i++) Thread.Sleep(1000);
        if (PortAnswers(6789))
            throw new InvalidOperationException("Port 6789 (the Ceph monitor) is taken but no gateway answers on 7480: a Ceph left from another run? "
                + "Stop it (bench/ceph/ceph-rgw-down.sh with its CEPH_DIR), then run the tests again.");
        _ours = true;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop();
        var (code, output) = Script("ceph-rgw-up.sh", TimeSpan.FromMinutes(3));
        if (code != 0 || !Answers())
        {
            var logs = Directory.Exists(Path.Combine(Dir, "log"))
                ? string.Join("\n", Directory.GetFiles(Path.Combine(Dir, "log")).Select(f => $"{Path.GetFileName(f)}: …{Tail(f)}")) : "(no logs)";
            Stop();
            throw new InvalidOperationException($"Ceph RGW did not come up (exit {code}): {output}\n{logs}");
        }
        return Endpoint;
    }

    private static void Stop()
    {
        if (!_ours) return;
        _ours = false;
        // The up script records its daemons' pids only at the end: if it failed half-way, find them by our own folder
        // (each daemon runs with -c {Dir}/ceph.conf), so nothing is left listening on 6789/7480.
        var leftovers = DaemonsOfOurs();
        Script("ceph-rgw-down.sh", TimeSpan.FromSeconds(60));
        foreach (var p in leftovers)
            try { if (!p.HasExited) p.Kill(); } catch (InvalidOperationException) { } catch (System.ComponentModel.Win32Exception) { }
    }

    private static List<Process> DaemonsOfOurs()
    {
        var marker = Path.Combine(Dir, "ceph.conf");
        var found = new List<Process>();
        foreach (var proc in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(proc), out var pid)) continue;
            try
            {
                if (File.ReadAllText(Path.Combine(proc, "cmdline")).Replace('\0', ' ').Contains(marker)) found.Add(Process.GetProcessById(pid));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException) { }
        }
        return found;
    }

    private static (int Code, string Output) Script(string name, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo("bash", [Path.Combine(Scripts, name)])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        psi.Environment["CEPH_DIR"] = Dir;
        psi.Environment["CEPH_MEM_BYTES"] = (8L << 30).ToString();
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout)) { p.Kill(entireProcessTree: true); return (-1, "timed out"); }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    private static string Tail(string file)
    {
        try { var text = File.ReadAllText(file); return text.Length <= 1500 ? text : text[^1500..]; }
        catch (IOException) { return ""; }
    }

    private static bool Answers()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try { return http.GetAsync(Endpoint + "/").Result.IsSuccessStatusCode; }
        catch (Exception) { return false; }
    }

    private static bool PortAnswers(int port)
    {
        try
        {
            using var c = new TcpClient();
            return c.ConnectAsync("127.0.0.1", port).Wait(TimeSpan.FromSeconds(1)) && c.Connected;
        }
        catch (Exception) { return false; }
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(["/usr/sbin", "/usr/bin", "/sbin"])
            .Any(d => d.Length > 0 && File.Exists(Path.Combine(d, tool)));
}

/// <summary>A test on Ceph RGW; skipped only when MANIMCLOUD_TEST_CEPH=off says so (never silently).</summary>
public sealed class CephFactAttribute : FactAttribute
{
    public CephFactAttribute()
    {
        if (CephRgw.SkipReason is { } reason) Skip = reason;
    }
}
