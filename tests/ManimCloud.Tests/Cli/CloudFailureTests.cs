using System.Net;
using System.Net.Sockets;
using System.Text;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Cli;

/// <summary>Missing buckets or table and refused credentials: clear messages, and no record pointing at nothing.</summary>
public class CloudFailureTests
{
    private static string CreateVideo(Dictionary<string, string> env)
    {
        var r = CliRunner.Run(env, "video", "create", "--project", "cloud-fail", "--title", "t", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        return (string)r.Json["video_id"]!;
    }

    /// <summary>A cloud, a workspace with a video in it, and a rendered clip at home.File("clip.mp4").</summary>
    private static async Task<(TestCloud Cloud, TempDir Home, Dictionary<string, string> Env, string Video)> VideoWithClipAsync()
    {
        var cloud = await TestCloud.CreateAsync();
        var home = new TempDir();
        var env = cloud.Environment(home.Path);
        var id = CreateVideo(env);
        await new Rendering.TestRenderer().RenderClipAsync(home.File("clip.mp4"), 1, 0.5, CancellationToken.None);
        return (cloud, home, env, id);
    }

    [Fact]
    public void A_missing_table_is_named_with_the_fix_and_nothing_is_written()
    {
        var cloud = TestCloud.CreateAsync(create: false).Result;
        using var home = new TempDir();
        var r = CliRunner.Run(cloud.Environment(home.Path), "video", "create", "--project", "p", "--title", "t", "--json");
        Assert.Equal(3, r.ExitCode);
        Assert.Contains(cloud.Table, r.Stderr);
        Assert.Contains("manimcloud provision", r.Stderr);
        // Nothing was kept locally either: the write was withdrawn whole.
        var status = CliRunner.Run(CliRunner.LocalEnv(home.Path), "video", "list", "--project", "p", "--json");
        Assert.Empty(status.Json["videos"]!.AsArray());
    }

    [Fact]
    public async Task A_missing_video_bucket_leaves_no_media_in_the_record()
    {
        var (cloud, home, env, id) = await VideoWithClipAsync();
        using var _ = home;
        env["MANIMCLOUD_VIDEO_BUCKET"] = cloud.VideoBucket + "-gone";
        var r = CliRunner.Run(env, "video", "put", home.File("clip.mp4"), "--video", id, "--scene", "1", "--json");
        Assert.Equal(3, r.ExitCode);
        Assert.Contains("NoSuchBucket", r.Stderr);
        Assert.Contains("provision", r.Stderr);
        var item = AwsCli.Json("dynamodb", "get-item", "--table-name", cloud.Table, "--key", $$$"""{"pk":{"S":"video#{{{id}}}"},"sk":{"S":"meta"}}""");
        Assert.Empty(item["Item"]!["media"]!["M"]!.AsObject());
        Assert.Empty(CliRunner.Run(env, "status", "--json").Json["operations"]!.AsArray());
    }

    [Fact]
    public async Task Reading_from_a_missing_video_bucket_names_the_bucket_not_the_object()
    {
        var (cloud, home, env, id) = await VideoWithClipAsync();
        using var _ = home;
        Assert.Equal(0, CliRunner.Run(env, "video", "put", home.File("clip.mp4"), "--video", id, "--full").ExitCode);
        // A workspace elsewhere (nothing cached) pointed at a bucket name that does not exist.
        using var other = new TempDir();
        var elsewhere = cloud.Environment(other.Path);
        elsewhere["MANIMCLOUD_VIDEO_BUCKET"] = cloud.VideoBucket + "-gone";
        var r = CliRunner.Run(elsewhere, "video", "get", "--video", id, "--full", "--out", other.File("back.mp4"), "--json");
        Assert.Equal(3, r.ExitCode);
        Assert.Contains($"The bucket {cloud.VideoBucket}-gone does not exist", r.Stderr);
        Assert.Contains("provision", r.Stderr);
        Assert.False(File.Exists(other.File("back.mp4")));
    }

    [Fact]
    public async Task A_missing_code_bucket_withdraws_the_claimed_version()
    {
        var cloud = await TestCloud.CreateAsync();
        using var home = new TempDir();
        var env = cloud.Environment(home.Path);
        var id = CreateVideo(env);
        File.WriteAllText(home.File("s.py"), "print(1)\n");
        env["MANIMCLOUD_CODE_BUCKET"] = cloud.CodeBucket + "-gone";
        var r = CliRunner.Run(env, "code", "put", home.File("s.py"), "--video", id, "--json");
        Assert.Equal(3, r.ExitCode);
        Assert.Contains("NoSuchBucket", r.Stderr);
        var versions = AwsCli.Json("dynamodb", "query", "--table-name", cloud.Table, "--key-condition-expression", "pk = :pk AND begins_with(sk, :c)",
            "--expression-attribute-values", $$$"""{":pk":{"S":"video#{{{id}}}"},":c":{"S":"code#"}}""");
        Assert.Equal(0, (int)versions["Count"]!);
    }

    [Fact]
    public void Access_denied_is_classified_as_auth_with_the_fix_and_is_not_retried()
    {
        // An S3/DynamoDB stand-in on loopback that refuses every request the way AWS does for a missing permission.
        using var denier = new DenyingEndpoint();
        using var home = new TempDir();
        var env = new Dictionary<string, string>
        {
            ["MANIMCLOUD_HOME"] = home.Path, ["MANIMCLOUD_VIDEO_BUCKET"] = "denied-videos", ["MANIMCLOUD_CODE_BUCKET"] = "denied-code",
            ["MANIMCLOUD_TABLE"] = "denied-table", ["AWS_ENDPOINT_URL"] = denier.Url, ["AWS_REGION"] = "us-east-1",
            ["AWS_ACCESS_KEY_ID"] = "testing", ["AWS_SECRET_ACCESS_KEY"] = "testing",
        };
        var r = CliRunner.Run(env, "video", "create", "--project", "p", "--title", "t", "--json");
        Assert.Equal(5, r.ExitCode);
        Assert.Contains("AccessDenied", r.Stderr);
        Assert.Contains("IAM policy", r.Stderr);
        Assert.Equal(1, denier.Requests); // auth failures are never retried
        Assert.DoesNotContain("testing", r.Stderr.Replace("denied-", "")); // no credentials in messages
    }

    private sealed class DenyingEndpoint : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private int _requests;
        public int Requests => _requests;
        public string Url => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

        public DenyingEndpoint()
        {
            _listener.Start();
            _ = Task.Run(async () =>
            {
                while (true)
                {
                    TcpClient client;
                    try { client = await _listener.AcceptTcpClientAsync(); } catch { return; }
                    _ = Task.Run(() => Serve(client));
                }
            });
        }

        private async Task Serve(TcpClient client)
        {
            using var _ = client;
            var stream = client.GetStream();
            var reader = new StreamReader(stream, Encoding.ASCII);
            var contentLength = 0;
            string? line;
            while (!string.IsNullOrEmpty(line = await reader.ReadLineAsync()))
                if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)) contentLength = int.Parse(line[15..].Trim());
            var requestBody = "";
            if (contentLength > 0) { var buf = new char[contentLength]; var n = await reader.ReadBlockAsync(buf, 0, contentLength); requestBody = new string(buf, 0, n); }
            // The audit trail asks STS once who the caller is (its "who"); that lookup is not a retry of the refused write.
            if (!requestBody.Contains("Action=GetCallerIdentity", StringComparison.Ordinal)) Interlocked.Increment(ref _requests);
            var body = """{"__type":"com.amazon.coral.service#AccessDeniedException","message":"User: arn:aws:iam::123456789012:user/ci is not authorized to perform: dynamodb:PutItem"}""";
            var response = $"HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.0\r\nx-amzn-RequestId: test\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(response));
        }

        public void Dispose() => _listener.Stop();
    }
}
