using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ManimCloud.Tests.Support;

/// <summary>
/// One moto server per test run, on a free loopback port, started on first use and killed when the test process
/// exits. Tests isolate themselves with unique bucket and table names (<see cref="Names"/>). It is moto_server's
/// own application, with request handling serialized (moto_serialized.py says why).
/// </summary>
public static class MotoServer
{
    private static readonly Lazy<string> _endpoint = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);
    private static Process? _process;

    public static string Endpoint => _endpoint.Value;

    public static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    private static string Start()
    {
        // An endpoint handed in by the test script wins (lets a run share one server across test assemblies).
        if (Environment.GetEnvironmentVariable("MANIMCLOUD_TEST_MOTO") is { Length: > 0 } given) return given;
        Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", "testing");
        Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", "testing");
        Environment.SetEnvironmentVariable("AWS_REGION", "us-east-1");
        var port = FreePort();
        // moto, with request handling serialized (see moto_serialized.py for why).
        var launcher = Path.Combine(AppContext.BaseDirectory, "Support", "moto_serialized.py");
        var psi = new ProcessStartInfo("python3", [launcher, "127.0.0.1", port.ToString()])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment["MOTO_ALLOW_NONEXISTENT_REGION"] = "true";
        _process = Process.Start(psi) ?? throw new InvalidOperationException("moto_server did not start");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop();
        var endpoint = $"http://127.0.0.1:{port}";
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"moto_server exited with {_process.ExitCode}; is moto[server] installed?");
            try
            {
                if (http.GetAsync(endpoint + "/moto-api/").Result.IsSuccessStatusCode) return endpoint;
            }
            catch (Exception) { }
            Thread.Sleep(200);
        }
        throw new TimeoutException("moto_server did not answer within 60 s");
    }

    private static void Stop()
    {
        try { if (_process is { HasExited: false }) _process.Kill(entireProcessTree: true); } catch { }
    }
}

/// <summary>Unique, valid names per test so tests never share buckets or tables.</summary>
public static class Names
{
    private static int _counter;
    public static string Unique(string prefix) =>
        $"{prefix}-{Environment.ProcessId % 100000}-{Interlocked.Increment(ref _counter)}-{Guid.NewGuid().ToString("N")[..6]}";
}
