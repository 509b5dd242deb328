using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Amazon.S3;
using Amazon.S3.Model;
using ManimCloud.Aws;
using ManimCloud.Workspace;

namespace ManimCloud.Tests.Support;

/// <summary>
/// A private AWS deployment on the shared moto_server: two buckets (versioned; Object Lock on code) and the
/// metadata table, under unique names, plus options for workspaces that use it.
/// </summary>
public sealed class TestCloud
{
    public required string VideoBucket { get; init; }
    public required string CodeBucket { get; init; }
    public required string Table { get; init; }
    public string Endpoint => MotoServer.Endpoint;

    public static async Task<TestCloud> CreateAsync(bool create = true)
    {
        var cloud = new TestCloud
        {
            VideoBucket = Names.Unique("vid"),
            CodeBucket = Names.Unique("code"),
            Table = Names.Unique("meta"),
        };
        if (create) await cloud.CreateResourcesAsync();
        return cloud;
    }

    public ManimCloudOptions Options(string home) => new()
    {
        Home = home, VideoBucket = VideoBucket, CodeBucket = CodeBucket, Table = Table,
        Region = "us-east-1", EndpointUrl = Endpoint,
    };

    /// <summary>Environment for a CLI child process using this deployment.</summary>
    public Dictionary<string, string> Environment(string home) => new()
    {
        ["MANIMCLOUD_HOME"] = home, ["MANIMCLOUD_VIDEO_BUCKET"] = VideoBucket, ["MANIMCLOUD_CODE_BUCKET"] = CodeBucket,
        ["MANIMCLOUD_TABLE"] = Table, ["AWS_ENDPOINT_URL"] = Endpoint, ["AWS_REGION"] = "us-east-1",
        ["AWS_ACCESS_KEY_ID"] = "testing", ["AWS_SECRET_ACCESS_KEY"] = "testing",
    };

    public AwsClients Clients() => new(Options(Path.GetTempPath()));

    private async Task CreateResourcesAsync()
    {
        using var aws = Clients();
        await aws.S3.PutBucketAsync(new PutBucketRequest { BucketName = VideoBucket });
        await aws.S3.PutBucketVersioningAsync(new PutBucketVersioningRequest
        {
            BucketName = VideoBucket, VersioningConfig = new S3BucketVersioningConfig { Status = VersionStatus.Enabled },
        });
        await aws.S3.PutBucketAsync(new PutBucketRequest { BucketName = CodeBucket, ObjectLockEnabledForBucket = true });
        await aws.DynamoDB.CreateTableAsync(DynamoMetadataStore.TableSchema(Table));
    }
}

public sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("mc-test-").FullName;
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
