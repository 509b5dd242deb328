using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Web;

/// <summary>The `serve` and `token` commands of the real CLI (the Native AOT executable under ./test.sh).</summary>
public sealed class ServeCliTests
{
    private static async Task<bool> HealthyAsync(int port)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        try { return (await http.GetStringAsync($"http://127.0.0.1:{port}/healthz")).StartsWith("ok"); }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { return false; }
    }

    [Fact]
    public async Task Serve_answers_with_the_cli_tokens_and_stops_cleanly_on_sigterm()
    {
        using var home = new TempDir();
        var env = CliRunner.LocalEnv(home.Path);
        var created = CliRunner.Run(env, "token", "create", "--role", "editor", "--project", "cli-proj", "--expires", "1h", "--json");
        Assert.Equal(0, created.ExitCode);
        var secret = (string)created.Json["token"]!;
        Assert.StartsWith("mct_", secret);
        var listed = CliRunner.Run(env, "token", "list", "--json");
        Assert.DoesNotContain(secret, listed.Stdout); // shown once, never again
        Assert.Equal("cli-proj", (string)listed.Json["tokens"]![0]!["project_id"]!);

        var port = MotoServer.FreePort();
        var serve = CliRunner.Start(env, "serve", "--port", port.ToString(), "--json");
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!await HealthyAsync(port) && DateTime.UtcNow < deadline) await Task.Delay(200);
            using var http = new HttpClient();
            using var request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{port}/api/v1/projects/cli-proj/videos")
            {
                Content = new StringContent("{\"title\":\"From the CLI's token\"}", System.Text.Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", secret);
            Assert.Equal(HttpStatusCode.Created, (await http.SendAsync(request)).StatusCode);

            // Another process holding the port: a clear error, exit 1, not a stack trace.
            var clash = CliRunner.Run(env, "serve", "--port", port.ToString(), "--json");
            Assert.Equal(1, clash.ExitCode);
            Assert.Contains("Cannot listen", (string)clash.Json["error"]!["message"]!);
            Assert.Contains("--port", (string)clash.Json["error"]!["hint"]!);

            var revoked = CliRunner.Run(env, "token", "revoke", (string)created.Json["id"]!, "--json");
            Assert.Equal("revoked", (string)revoked.Json["state"]!);
            using var again = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{port}/api/v1/projects/cli-proj/videos");
            again.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", secret);
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(again)).StatusCode);
        }
        finally
        {
            Process.Start("kill", ["-TERM", serve.Process.Id.ToString()])!.WaitForExit();
        }
        var run = serve.Finish();
        Assert.Equal(0, run.ExitCode);
        Assert.True((bool)JsonNode.Parse(run.Stdout)!["stopped"]!);
        Assert.Contains("listening on http://127.0.0.1:" + port, run.Stderr);
    }
}
