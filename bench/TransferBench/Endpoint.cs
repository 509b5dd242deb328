using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace TransferBench;

/// <summary>
/// The S3 endpoint under test: FastS3 or moto_server started here on a free loopback port (and stopped at the
/// end), or one given by URL. For servers started here, their CPU time is readable, so the report can show how
/// much of the machine's two cores the server took during each client's run.
/// </summary>
public sealed class Endpoint : IAsyncDisposable
{
    private readonly Process? _server;
    public string Kind { get; }
    public string Url { get; }

    private Endpoint(string kind, string url, Process? server)
    {
        Kind = kind;
        Url = url;
        _server = server;
    }

    public static Endpoint External(string url)
    {
        var uri = new Uri(url);
        if (!IPAddress.TryParse(uri.Host, out var ip) ? uri.Host != "localhost" : !IPAddress.IsLoopback(ip))
            throw new ArgumentException($"The endpoint {url} is not on loopback; this benchmark only sends traffic to 127.0.0.0/8 or localhost.");
        // 7480: RGW itself; 7443: bench/run.sh's TLS proxy in front of it (--ceph --tls).
        return new Endpoint(uri.Port is 7480 or 7443 ? "ceph-rgw" : "external", url.TrimEnd('/'), null);
    }

    /// <summary>Starts FastS3; with <paramref name="tlsCa"/>, over HTTPS with its self-signed certificate written there.</summary>
    public static async Task<Endpoint> StartFastS3Async(string benchRoot, string dataRoot, string? tlsCa = null)
    {
        var exe = Path.Combine(benchRoot, "FastS3", "bin", "Release", "net10.0", "FastS3");
        if (!File.Exists(exe)) throw new FileNotFoundException($"FastS3 is not built at {exe}; run bench/run.sh, which builds it.");
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("--root");
        psi.ArgumentList.Add(dataRoot);
        if (tlsCa is not null)
            foreach (var a in new[] { "--tls", "--ca-out", tlsCa }) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        p.ErrorDataReceived += (_, _) => { };
        p.BeginErrorReadLine();
        var line = await p.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var scheme = tlsCa is null ? "http" : "https";
        if (line is null || !line.StartsWith($"{scheme}://127.0.0.1:", StringComparison.Ordinal))
        {
            p.Kill();
            throw new InvalidOperationException($"FastS3 did not start (it printed '{line}').");
        }
        if (tlsCa is not null) await p.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)); // the certificate's path
        return new Endpoint(tlsCa is null ? "fasts3" : "fasts3-tls", line.Trim(), p);
    }

    public static async Task<Endpoint> StartMotoAsync()
    {
        var port = FreePort();
        var psi = new ProcessStartInfo("moto_server") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-H", "127.0.0.1", "-p", port.ToString() }) psi.ArgumentList.Add(a);
        var p = Process.Start(psi) ?? throw new InvalidOperationException("moto_server could not be started; install it with `pip install 'moto[server]'`.");
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var url = $"http://127.0.0.1:{port}";
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        for (var deadline = DateTime.UtcNow.AddSeconds(30); DateTime.UtcNow < deadline; await Task.Delay(200))
        {
            if (p.HasExited) throw new InvalidOperationException($"moto_server exited with code {p.ExitCode} before serving.");
            try { await http.GetAsync(url + "/moto-api/"); return new Endpoint("moto", url, p); }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
        }
        p.Kill(entireProcessTree: true);
        throw new TimeoutException($"moto_server did not answer on {url} within 30 s.");
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>The server's user+system CPU seconds so far, or null when it was not started here.</summary>
    public double? ServerCpuSeconds() => _server is { HasExited: false } p ? ProcStat.CpuSeconds(p.Id) : null;

    public async ValueTask DisposeAsync()
    {
        if (_server is null || _server.HasExited) return;
        _server.Kill(entireProcessTree: true);
        await _server.WaitForExitAsync();
        _server.Dispose();
    }
}

/// <summary>Reads a live process's CPU time from /proc/&lt;pid&gt;/stat (utime + stime, fields 14 and 15).</summary>
public static class ProcStat
{
    private const double TicksPerSecond = 100; // USER_HZ is 100 on every Linux this runs on

    public static double? CpuSeconds(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11]) + long.Parse(fields[12])) / TicksPerSecond;
        }
        catch (IOException) { return null; }
    }
}
