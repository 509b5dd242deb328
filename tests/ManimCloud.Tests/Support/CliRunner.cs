using System.Diagnostics;
using System.Text.Json.Nodes;

namespace ManimCloud.Tests.Support;

public sealed record CliRun(int ExitCode, string Stdout, string Stderr)
{
    /// <summary>The single JSON document `--json` promises on stdout (parsing fails if there is anything else).</summary>
    public JsonNode Json => JsonNode.Parse(Stdout) ?? throw new InvalidOperationException("empty stdout");
}

/// <summary>
/// Runs the real manimcloud CLI as a child process: the native executable that MANIMCLOUD_TEST_CLI names (./test.sh
/// publishes the Native AOT build and sets it, so what only breaks trimmed and AOT-compiled fails here), else the
/// ManimCloud.Cli.dll built beside the tests, with dotnet.
/// </summary>
public static class CliRunner
{
    public static string CliDll => System.IO.Path.Combine(AppContext.BaseDirectory, "ManimCloud.Cli.dll");

    /// <summary>The native CLI under test, or null for the dll. A name that is not there fails every CLI test, not silently the dll.</summary>
    public static string? NativeCli { get; } = Environment.GetEnvironmentVariable("MANIMCLOUD_TEST_CLI") is { Length: > 0 } path
        ? File.Exists(path) ? System.IO.Path.GetFullPath(path) : throw new FileNotFoundException($"MANIMCLOUD_TEST_CLI names {path}, which does not exist.", path)
        : null;

    public static CliRun Run(IReadOnlyDictionary<string, string> env, params string[] args) => Start(env, args).Finish();

    public static Running Start(IReadOnlyDictionary<string, string> env, params string[] args)
    {
        var psi = new ProcessStartInfo(NativeCli ?? "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (NativeCli is null) psi.ArgumentList.Add(CliDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        // A clean slate: no configuration leaks in from the developer's shell.
        foreach (var k in psi.Environment.Keys.Where(k => k.StartsWith("MANIMCLOUD_") || k.StartsWith("AWS_")).ToList()) psi.Environment.Remove(k);
        foreach (var (k, v) in env) psi.Environment[k] = v;
        var p = Process.Start(psi)!;
        return new Running(p, p.StandardOutput.ReadToEndAsync(), p.StandardError.ReadToEndAsync());
    }

    public sealed record Running(Process Process, Task<string> Stdout, Task<string> Stderr)
    {
        public CliRun Finish()
        {
            if (!Process.WaitForExit(180_000)) { Process.Kill(true); throw new TimeoutException("manimcloud did not finish within 180 s"); }
            return new CliRun(Process.ExitCode, Stdout.Result, Stderr.Result);
        }
    }

    public static Dictionary<string, string> LocalEnv(string home) => new() { ["MANIMCLOUD_HOME"] = home };
}
