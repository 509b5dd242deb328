using System.Diagnostics;
using System.Text.Json.Nodes;

namespace ManimCloud.Tests.Support;

/// <summary>The independent AWS CLI (botocore) against the test's moto_server: a second reader of what ManimCloud wrote.</summary>
public static class AwsCli
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public JsonNode Json => JsonNode.Parse(Stdout) ?? throw new InvalidOperationException("The AWS CLI printed no JSON: " + Stderr);
    }

    public static async Task<Result> RunAsync(params string[] args)
    {
        var psi = new ProcessStartInfo("aws") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("--endpoint-url");
        psi.ArgumentList.Add(MotoServer.Endpoint);
        psi.ArgumentList.Add("--output");
        psi.ArgumentList.Add("json");
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["AWS_ACCESS_KEY_ID"] = "testing";
        psi.Environment["AWS_SECRET_ACCESS_KEY"] = "testing";
        psi.Environment["AWS_DEFAULT_REGION"] = "us-east-1";
        psi.Environment.Remove("AWS_PROFILE");
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return new Result(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Synchronous form, for tests that do not await.</summary>
    public static Result Run(params string[] args) => RunAsync(args).GetAwaiter().GetResult();

    public static JsonNode Json(params string[] args) => JsonAsync(args).GetAwaiter().GetResult();

    /// <summary>Runs a command that prints nothing on success, failing the test with the CLI's error when it fails.</summary>
    public static async Task OkAsync(params string[] args)
    {
        var r = await RunAsync(args);
        Assert.True(r.ExitCode == 0, $"aws {string.Join(' ', args)} failed ({r.ExitCode}): {r.Stderr}");
    }

    /// <summary>Runs and returns the JSON output, failing the test with the CLI's error when it fails.</summary>
    public static async Task<JsonNode> JsonAsync(params string[] args)
    {
        var r = await RunAsync(args);
        Assert.True(r.ExitCode == 0, $"aws {string.Join(' ', args)} failed ({r.ExitCode}): {r.Stderr}");
        return r.Json;
    }
}
