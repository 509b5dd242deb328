using System.Text.Json.Nodes;
using ManimCloud.Aws;
using ManimCloud.Provisioning;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Streaming.MediaConvert;

/// <summary>The MediaConvert job role (SPEC R8): trusted by MediaConvert only, reading clips, writing renditions, nothing more.</summary>
public sealed class MediaConvertRoleTests
{
    private const string Key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    [Fact]
    public void Only_MediaConvert_may_assume_the_role_and_only_for_this_account()
    {
        var trust = IamPolicy.MediaConvertTrustPolicy("123456789012");
        var statement = trust["Statement"]![0]!;
        Assert.Equal("mediaconvert.amazonaws.com", (string?)statement["Principal"]!["Service"]);
        Assert.Equal("sts:AssumeRole", (string?)statement["Action"]);
        Assert.Equal("123456789012", (string?)statement["Condition"]!["StringEquals"]!["aws:SourceAccount"]);
    }

    [Fact]
    public void The_role_reads_only_videos_writes_only_transcoded_and_uses_the_key_only_with_SSE_KMS()
    {
        var policy = IamPolicy.ForMediaConvertRole("vid-bucket", Key, "us-east-1", "123456789012");
        var statements = policy["Statement"]!.AsArray();
        var read = statements.Single(s => (string?)s!["Sid"] == "MediaConvertReadsClips")!;
        Assert.Equal(["arn:aws:s3:::vid-bucket/videos/*"], read["Resource"]!.AsArray().Select(r => (string)r!));
        Assert.DoesNotContain(read["Action"]!.AsArray(), a => ((string)a!).StartsWith("s3:Put", StringComparison.Ordinal));
        var write = statements.Single(s => (string?)s!["Sid"] == "MediaConvertWritesRenditions")!;
        Assert.Equal(["arn:aws:s3:::vid-bucket/transcoded/*"], write["Resource"]!.AsArray().Select(r => (string)r!));
        Assert.Contains("s3:PutObject", write["Action"]!.AsArray().Select(a => (string)a!));
        var kms = statements.Single(s => (string?)s!["Sid"] == "MediaConvertKmsKey")!;
        Assert.Equal(["kms:GenerateDataKey", "kms:Decrypt"], kms["Action"]!.AsArray().Select(a => (string)a!));
        Assert.Equal(Key, (string?)kms["Resource"]![0]);
        Assert.DoesNotContain(statements, s => s!["Action"]!.AsArray().Any(a => ((string)a!).Contains("Delete", StringComparison.Ordinal) || (string)a! == "s3:*"));

        var noKms = IamPolicy.ForMediaConvertRole("vid-bucket");
        Assert.DoesNotContain(noKms["Statement"]!.AsArray(), s => (string?)s!["Sid"] == "MediaConvertKmsKey");
    }

    [Fact]
    public void The_caller_may_pass_exactly_this_role_and_only_to_MediaConvert()
    {
        var statements = IamPolicy.MediaConvertCallerStatements("arn:aws:iam::123456789012:role/mc", "us-east-1", "123456789012");
        var pass = statements.Single(s => s!["Action"]!.AsArray().Any(a => (string)a! == "iam:PassRole"))!;
        Assert.Equal("arn:aws:iam::123456789012:role/mc", (string?)pass["Resource"]![0]);
        Assert.Equal("mediaconvert.amazonaws.com", (string?)pass["Condition"]!["StringEquals"]!["iam:PassedToService"]);
    }

    [Fact]
    public async Task IAM_accepts_the_documents_as_a_role_with_an_inline_policy()
    {
        // moto's IAM parses and checks policy documents as IAM does on CreateRole/PutRolePolicy (grammar, versions).
        using var aws = new AwsClients(new Workspace.ManimCloudOptions { Home = Path.GetTempPath(), Region = "us-east-1", EndpointUrl = MotoServer.Endpoint });
        var iam = aws.Service(AwsServiceDescription.Iam);
        var name = Names.Unique("mc-role");
        await iam.QueryAsync("CreateRole", "2010-05-08",
            [new("RoleName", name), new("AssumeRolePolicyDocument", IamPolicy.MediaConvertTrustPolicy("123456789012").ToJsonString())], CancellationToken.None);
        await iam.QueryAsync("PutRolePolicy", "2010-05-08",
            [new("RoleName", name), new("PolicyName", "manimcloud-mediaconvert"), new("PolicyDocument", IamPolicy.ForMediaConvertRole("vid-bucket", Key).ToJsonString())], CancellationToken.None);
        var stored = await iam.QueryAsync("GetRolePolicy", "2010-05-08", [new("RoleName", name), new("PolicyName", "manimcloud-mediaconvert")], CancellationToken.None);
        var document = Uri.UnescapeDataString(stored.Descendants().Single(e => e.Name.LocalName == "PolicyDocument").Value);
        Assert.Equal("arn:aws:s3:::vid-bucket/transcoded/*", (string?)JsonNode.Parse(document)!["Statement"]![1]!["Resource"]![0]);
    }
}
