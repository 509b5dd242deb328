using System.Diagnostics;
using System.Text.Json.Nodes;

namespace ManimCloud.Tests.Support;

/// <summary>
/// A second moto_server, for the IAM enforcement test only: started with INITIAL_NO_AUTH_ACTION_COUNT=0 (every
/// request's signature and IAM permissions are checked), on its own free loopback port, killed on dispose. Setting
/// up (users, policies, the deployment) happens with checking paused through moto's /moto-api/reset-auth.
/// moto checks resources only for S3 and SQS; other services (DynamoDB, KMS, CloudWatch) are authorised on the
/// action against Resource "*" (see <see cref="ForActionOnlyServices"/>).
/// </summary>
public sealed class IamEnforcingMoto : IDisposable
{
    private readonly Process _process;
    public string Endpoint { get; }

    public IamEnforcingMoto()
    {
        var port = MotoServer.FreePort();
        var launcher = Path.Combine(AppContext.BaseDirectory, "Support", "moto_serialized.py");
        var psi = new ProcessStartInfo("python3", [launcher, "127.0.0.1", port.ToString()])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        psi.Environment["INITIAL_NO_AUTH_ACTION_COUNT"] = "0";
        psi.Environment["MOTO_ALLOW_NONEXISTENT_REGION"] = "true";
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Endpoint = $"http://127.0.0.1:{port}";
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (_process.HasExited) throw new InvalidOperationException($"the IAM-enforcing moto_server exited with {_process.ExitCode}");
            try
            {
                if (http.GetAsync(Endpoint + "/moto-api/").Result.IsSuccessStatusCode) break;
            }
            catch (Exception) when (DateTime.UtcNow < deadline) { }
            Thread.Sleep(200);
        }
    }

    /// <summary>Pauses (false) or resumes (true) signature and permission checks.</summary>
    public async Task EnforceAsync(bool on)
    {
        using var http = new HttpClient();
        var answer = await http.PostAsync(Endpoint + "/moto-api/reset-auth", new StringContent(on ? "0" : "1000000000"));
        answer.EnsureSuccessStatusCode();
    }

    /// <summary>
    /// The policy as moto can check it: statements of services moto authorises against Resource "*" (everything but
    /// S3 and SQS) get Resource "*", keeping their actions. The documents themselves are scoped; the resource scoping
    /// of those services is checked statically (IamRoleTests), the actions here.
    /// </summary>
    public static JsonObject ForActionOnlyServices(JsonObject policy)
    {
        var copy = policy.DeepClone().AsObject();
        foreach (var s in copy["Statement"]!.AsArray())
        {
            var actions = s!["Action"]!.AsArray().Select(a => (string)a!).ToList();
            if (actions.All(a => !a.StartsWith("s3:") && !a.StartsWith("sqs:"))) s["Resource"] = "*";
        }
        return copy;
    }

    public void Dispose()
    {
        try { if (!_process.HasExited) _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        _process.Dispose();
    }
}
