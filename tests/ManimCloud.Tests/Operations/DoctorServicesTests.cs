using System.Text.RegularExpressions;
using Amazon.KeyManagementService;
using Amazon.KeyManagementService.Model;
using ManimCloud.Aws;
using ManimCloud.Operations.Health;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Operations;

/// <summary>
/// `doctor` covers every configured service: what answers is reported with latency and clock skew, what does not
/// with its error class and a runbook entry that exists in docs/runbook.md.
/// </summary>
public sealed class DoctorServicesTests
{
    [Fact]
    public async Task Doctor_probes_each_configured_service_and_points_each_failure_at_its_runbook_entry()
    {
        var cloud = await TestCloud.CreateAsync();
        using var home = new TempDir();
        using var aws = cloud.Clients();
        using var kms = new AmazonKeyManagementServiceClient(aws.Credentials(), aws.Configure(new AmazonKeyManagementServiceConfig()));
        var key = (await kms.CreateKeyAsync(new CreateKeyRequest { Description = "doctor test" })).KeyMetadata.KeyId;
        var sqs = aws.Service(DeploymentHealth.Sqs);
        var queue = (await sqs.QueryAsync("CreateQueue", "2012-11-05", [new("QueueName", Names.Unique("doctor"))], CancellationToken.None))
            .Descendants().First(e => e.Name.LocalName == "QueueUrl").Value;

        var env = cloud.Environment(home.Path);
        env["MANIMCLOUD_KMS_KEY"] = key;
        env["MANIMCLOUD_QUEUE"] = queue;
        env["MANIMCLOUD_DISTRIBUTION_ID"] = "ENOSUCHDIST" + Guid.NewGuid().ToString("N")[..6].ToUpperInvariant();
        env["MANIMCLOUD_MEDIACONVERT_ROLE"] = "arn:aws:iam::123456789012:role/mediaconvert";
        env["AWS_ENDPOINT_URL_MEDIACONVERT"] = $"http://127.0.0.1:{MotoServer.FreePort()}"; // nobody listens: unreachable
        env["MANIMCLOUD_RETRY_SECONDS"] = "1";
        var run = CliRunner.Run(env, "doctor", "--json");
        Assert.Equal(1, run.ExitCode);
        var checks = run.Json["checks"]!.AsArray().ToDictionary(c => (string)c!["name"]!, c => c!);

        foreach (var name in new[] { "video bucket", "code bucket", "metadata table", "kms key", "work queue", "cloudwatch" })
        {
            var check = checks[name];
            Assert.True((string)check["status"]! == "ok", $"{name}: {check["detail"]}");
            Assert.True((double)check["latency_ms"]! > 0);
            // Same machine: what is left is the Date header's one-second resolution and when within the round trip
            // the server stamped it (a busy moto may take seconds).
            var slack = (double)check["latency_ms"]! / 2000 + 2;
            Assert.InRange((double)check["clock_skew_s"]!, -slack, slack);
        }
        Assert.Equal("ok", (string)checks["credentials"]["status"]!);
        Assert.Contains("long-term", (string)checks["credentials"]["detail"]!);

        var cdn = checks["cdn distribution"];
        Assert.Equal("fail", (string)cdn["status"]!);
        Assert.Equal("not_found", (string)cdn["error_kind"]!);
        Assert.Equal("docs/runbook.md#doctor-cloudfront", (string)cdn["runbook"]!);
        var mediaconvert = checks["mediaconvert"];
        Assert.Equal("fail", (string)mediaconvert["status"]!);
        Assert.Equal("transient", (string)mediaconvert["error_kind"]!);
        Assert.Equal("docs/runbook.md#doctor-mediaconvert", (string)mediaconvert["runbook"]!);
    }

    [Fact]
    public void Every_runbook_entry_doctor_can_name_exists()
    {
        var runbook = File.ReadAllText(Path.Combine(Repository.Root, "docs", "runbook.md"));
        var anchors = Regex.Matches(runbook, "<a id=\"([a-z0-9-]+)\"></a>").Select(m => m.Groups[1].Value).ToHashSet();
        foreach (var entry in new[] { "s3", "dynamodb", "kms", "sqs", "cloudfront", "mediaconvert", "cloudwatch", "credentials", "clock-skew", "configuration", "workspace", "ffmpeg", "manim" })
            Assert.Contains("doctor-" + entry, anchors);
        foreach (var slug in ManimCloud.Operations.Monitoring.MonitoringPlan.ManagedSlugs)
            Assert.Contains("alarm-" + slug, anchors);
    }

}
