using System.Text.Json.Nodes;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using ManimCloud.Aws;
using ManimCloud.Operations.Iam;
using ManimCloud.Provisioning;
using ManimCloud.Tests.Support;
using ManimCloud.Workspace;

namespace ManimCloud.Tests.Operations;

/// <summary>
/// SPEC R8 "least privilege, proven": each role's policy lets it do its job through ManimCloud and refuses the rest,
/// on a moto that enforces IAM (S3 and SQS checked by resource, the other services by action), and statically.
/// </summary>
public sealed class IamRoleTests
{
    private static readonly DeploymentResources Deployment = new("v-bucket", "c-bucket", "meta")
    {
        Region = "eu-west-1", Account = "123456789012", QueueArn = "arn:aws:sqs:eu-west-1:123456789012:jobs", KmsKey = "alias/mc",
    };

    private static IEnumerable<(string Action, string Resource)> Grants(JsonObject policy) =>
        policy["Statement"]!.AsArray().Where(s => (string?)s!["Effect"] == "Allow")
            .SelectMany(s => s!["Action"]!.AsArray().SelectMany(a => s["Resource"]!.AsArray().Select(r => ((string)a!, (string)r!))));

    [Fact]
    public void No_role_may_delete_buckets_tables_or_history_or_use_a_wildcard_action()
    {
        foreach (var role in Enum.GetValues<IamRole>())
        {
            var grants = Grants(IamRoles.For(role, Deployment).Policy).ToList();
            Assert.DoesNotContain(grants, g => g.Action is "s3:DeleteBucket" or "dynamodb:DeleteTable"
                or "s3:BypassGovernanceRetention" or "s3:PutBucketAcl" or "dynamodb:DeleteBackup");
            // History is how overwrites are recovered: versions are deleted only where provision's probe write leaves one.
            Assert.All(grants.Where(g => g.Action == "s3:DeleteObjectVersion"), g => Assert.Contains("/tmp/manimcloud-provision-probe/", g.Resource));
            Assert.DoesNotContain(grants, g => g.Action.Contains('*'));
            // Objects are granted per prefix, never on a whole bucket.
            Assert.DoesNotContain(grants, g => g.Resource is "arn:aws:s3:::v-bucket/*" or "arn:aws:s3:::c-bucket/*");
            // DynamoDB, SQS and KMS only on the deployment's own table, queue and key.
            Assert.All(grants.Where(g => g.Action.StartsWith("dynamodb:")), g => Assert.StartsWith("arn:aws:dynamodb:eu-west-1:123456789012:table/meta", g.Resource));
            Assert.All(grants.Where(g => g.Action.StartsWith("sqs:")), g => Assert.Equal("arn:aws:sqs:eu-west-1:123456789012:jobs", g.Resource));
            Assert.All(grants.Where(g => g.Action.StartsWith("kms:")), g => Assert.StartsWith("arn:aws:kms:eu-west-1:123456789012:key/", g.Resource));
        }
    }

    [Fact]
    public void A_viewer_reads_and_never_writes_and_a_worker_writes_only_under_ManimCloud_prefixes()
    {
        var viewer = Grants(IamRoles.For(IamRole.Viewer, Deployment).Policy).ToList();
        Assert.DoesNotContain(viewer, g => g.Action.StartsWith("s3:Put") || g.Action.StartsWith("s3:Delete") || g.Action is "dynamodb:PutItem"
            or "dynamodb:UpdateItem" or "dynamodb:DeleteItem" or "dynamodb:BatchWriteItem" or "kms:GenerateDataKey" || g.Action.StartsWith("sqs:"));
        Assert.Contains(("s3:GetObject", "arn:aws:s3:::c-bucket/code/*"), viewer);

        var worker = Grants(IamRoles.For(IamRole.Worker, Deployment).Policy).ToList();
        Assert.Equal(
            ["arn:aws:s3:::c-bucket/audit/*", "arn:aws:s3:::c-bucket/code/*", "arn:aws:s3:::c-bucket/tmp/*",
             "arn:aws:s3:::v-bucket/tmp/*", "arn:aws:s3:::v-bucket/transcoded/*", "arn:aws:s3:::v-bucket/videos/*"],
            worker.Where(g => g.Action == "s3:PutObject").Select(g => g.Resource).Order());
        Assert.DoesNotContain(worker, g => g.Action == "s3:GetObject" && g.Resource.Contains("/audit/"));
        Assert.Contains(worker, g => g.Action == "sqs:ReceiveMessage");
    }

    [Fact]
    public void The_MediaConvert_role_is_trusted_by_MediaConvert_only_and_the_CDN_reads_renditions_only()
    {
        var mc = IamRoles.For(IamRole.MediaConvert, Deployment);
        Assert.Equal("mediaconvert.amazonaws.com", (string?)mc.TrustPolicy!["Statement"]![0]!["Principal"]!["Service"]);
        Assert.All(Grants(mc.Policy).Where(g => g.Action == "s3:PutObject"), g => Assert.EndsWith("/transcoded/*", g.Resource));

        var cdn = IamRoles.For(IamRole.Cdn, Deployment with { DistributionId = "E123" });
        var read = cdn.BucketPolicyStatements!.Single()!;
        Assert.Equal(("s3:GetObject", "arn:aws:s3:::v-bucket/transcoded/*"), ((string)read["Action"]!, (string)read["Resource"]!));
        Assert.Equal("arn:aws:cloudfront::123456789012:distribution/E123", (string?)read["Condition"]!["StringEquals"]!["AWS:SourceArn"]);
        Assert.StartsWith(BucketPolicy.CdnSidPrefix, (string?)read["Sid"]);
    }

    [Fact]
    public async Task On_a_moto_that_enforces_IAM_each_role_does_its_job_through_ManimCloud_and_is_refused_the_rest()
    {
        _ = MotoServer.Endpoint; // sets the test process's credentials (the setup below signs with them)
        using var moto = new IamEnforcingMoto();
        using var home = new TempDir();
        await moto.EnforceAsync(false);

        // Set up with checks paused: the deployment (provision), an object outside ManimCloud's prefixes, and a user per role.
        var names = new { Video = Names.Unique("iam-v"), Code = Names.Unique("iam-c"), Table = Names.Unique("iam-t") };
        Dictionary<string, string> Env(string dir, string keyId, string secret) => new()
        {
            ["MANIMCLOUD_HOME"] = dir, ["MANIMCLOUD_VIDEO_BUCKET"] = names.Video, ["MANIMCLOUD_CODE_BUCKET"] = names.Code,
            ["MANIMCLOUD_TABLE"] = names.Table, ["AWS_ENDPOINT_URL"] = moto.Endpoint, ["AWS_REGION"] = "us-east-1",
            ["AWS_ACCESS_KEY_ID"] = keyId, ["AWS_SECRET_ACCESS_KEY"] = secret, ["MANIMCLOUD_RETRY_SECONDS"] = "2",
        };
        var setup = CliRunner.Run(Env(home.File("setup"), "testing", "testing"), "provision", "--json");
        Assert.True(setup.ExitCode == 0, setup.Stderr);
        var options = new ManimCloudOptions { Home = home.File("setup"), Region = "us-east-1", EndpointUrl = moto.Endpoint, VideoBucket = names.Video, CodeBucket = names.Code, Table = names.Table };
        using (var s3 = S3("testing", "testing", moto.Endpoint))
            await s3.PutObjectAsync(new PutObjectRequest { BucketName = names.Video, Key = "other/secret.txt", ContentBody = "not ManimCloud's" });
        var resources = new DeploymentResources(names.Video, names.Code, names.Table) { Region = "us-east-1", Account = "123456789012" };
        var keys = new Dictionary<IamRole, IamAccessKey>();
        using (var aws = new AwsClients(options))
        {
            var iam = IamClient.Create(aws);
            foreach (var role in new[] { IamRole.Worker, IamRole.Viewer, IamRole.Admin, IamRole.MediaConvert })
            {
                var user = Names.Unique("mc-" + role.ToString().ToLowerInvariant());
                await iam.CreateUserAsync(user, default);
                await iam.PutUserPolicyAsync(user, "manimcloud", IamEnforcingMoto.ForActionOnlyServices(IamRoles.For(role, resources).Policy), default);
                keys[role] = await iam.CreateAccessKeyAsync(user, default);
            }
        }
        await moto.EnforceAsync(true);
        Dictionary<string, string> As(IamRole role) => Env(home.File(role.ToString()), keys[role].AccessKeyId, keys[role].SecretAccessKey);
        AmazonS3Client S3As(IamRole role) => S3(keys[role].AccessKeyId, keys[role].SecretAccessKey, moto.Endpoint);

        // Checks are on: unknown credentials are refused outright.
        var stranger = CliRunner.Run(Env(home.File("stranger"), "AKIAUNKNOWN000000000", "nope"), "video", "list", "--project", "demo", "--json");
        Assert.NotEqual(0, stranger.ExitCode);

        // The worker does its job: the whole pipeline (video, two code versions, clips, full video, read back and verified).
        var demo = CliRunner.Run(As(IamRole.Worker), "demo", "--scenes", "1", "--json");
        Assert.True(demo.ExitCode == 0, demo.Stderr);
        Assert.Equal("aws", (string)demo.Json["mode"]!);
        var video = (string)demo.Json["video"]!["video_id"]!;
        // … and is refused the rest: deleting a bucket, reading or writing outside its prefixes.
        using (var s3 = S3As(IamRole.Worker))
        {
            await AssertDenied(() => s3.DeleteBucketAsync(new DeleteBucketRequest { BucketName = names.Video }));
            await AssertDenied(() => s3.GetObjectAsync(names.Video, "other/secret.txt"));
            await AssertDenied(() => s3.PutObjectAsync(new PutObjectRequest { BucketName = names.Video, Key = "other/planted.txt", ContentBody = "x" }));
            await AssertDenied(() => s3.PutBucketPolicyAsync(new PutBucketPolicyRequest { BucketName = names.Video, Policy = """{"Version":"2012-10-17","Statement":[]}""" }));
        }

        // The viewer reads everything ManimCloud shows …
        var shown = CliRunner.Run(As(IamRole.Viewer), "video", "show", video, "--json");
        Assert.True(shown.ExitCode == 0, shown.Stderr);
        var code = CliRunner.Run(As(IamRole.Viewer), "code", "get", "--video", video, "--out", home.File("code.py"), "--json");
        Assert.True(code.ExitCode == 0, code.Stderr);
        // … and cannot write: a new video (DynamoDB PutItem) and an object (S3 PutObject) are refused.
        var create = CliRunner.Run(As(IamRole.Viewer), "video", "create", "--project", "demo", "--title", "Not allowed", "--json");
        Assert.Equal(5, create.ExitCode);
        Assert.Contains("AccessDenied", create.Stderr);
        using (var s3 = S3As(IamRole.Viewer))
            await AssertDenied(() => s3.PutObjectAsync(new PutObjectRequest { BucketName = names.Code, Key = $"code/demo/{video}/{video}_v9.py", ContentBody = "x" }));

        // The admin provisions (every setting read back, the probe write) but cannot delete a bucket either.
        var provision = CliRunner.Run(As(IamRole.Admin), "provision", "--json");
        Assert.True(provision.ExitCode == 0, provision.Stderr);
        using (var s3 = S3As(IamRole.Admin))
            await AssertDenied(() => s3.DeleteBucketAsync(new DeleteBucketRequest { BucketName = names.Code }));

        // MediaConvert's job role reads clips and writes renditions, nothing else.
        var clipKey = demo.Json["verified"]!.AsArray().Select(v => (string)v!["what"]!).First(k => k.StartsWith("videos/"));
        using (var s3 = S3As(IamRole.MediaConvert))
        {
            (await s3.GetObjectAsync(names.Video, clipKey)).Dispose();
            await s3.PutObjectAsync(new PutObjectRequest { BucketName = names.Video, Key = $"transcoded/demo/{video}/v1/hls/probe.m3u8", ContentBody = "#EXTM3U" });
            await AssertDenied(() => s3.PutObjectAsync(new PutObjectRequest { BucketName = names.Video, Key = clipKey, ContentBody = "overwrite" }));
            await AssertDenied(() => s3.GetObjectAsync(names.Code, $"code/demo/{video}/{video}_v1.py"));
        }
    }

    private static AmazonS3Client S3(string keyId, string secret, string endpoint) =>
        new(new BasicAWSCredentials(keyId, secret), new AmazonS3Config { ServiceURL = endpoint, ForcePathStyle = true, AuthenticationRegion = "us-east-1", MaxErrorRetry = 0 });

    private static async Task AssertDenied(Func<Task> call)
    {
        var e = await Assert.ThrowsAnyAsync<AmazonServiceException>(call);
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, e.StatusCode);
    }
}
