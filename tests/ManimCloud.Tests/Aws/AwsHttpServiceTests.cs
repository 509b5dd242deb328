using System.Net;
using System.Text.Json.Nodes;
using Amazon.Runtime;
using ManimCloud.Aws;
using ManimCloud.Domain;
using ManimCloud.Local;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Aws;

/// <summary>
/// The shared signed client for services without an SDK package: its three protocols reach moto's real services,
/// and an error answer becomes the classified SDK exception the rest of ManimCloud handles.
/// </summary>
public sealed class AwsHttpServiceTests
{
    private static AwsClients Clients(Dictionary<string, string>? endpoints = null) =>
        new(new Workspace.ManimCloudOptions
        {
            Home = Path.GetTempPath(), Region = "us-east-1", EndpointUrl = MotoServer.Endpoint,
            ServiceEndpointUrls = endpoints ?? [], RetryBudget = TimeSpan.FromSeconds(2),
        });

    [Fact]
    public async Task A_query_protocol_call_reaches_cloudwatch_and_reads_back_what_it_wrote()
    {
        using var aws = Clients();
        var cw = aws.Service(AwsServiceDescription.CloudWatch);
        var ns = Names.Unique("ns");
        await cw.QueryAsync("PutMetricData", "2010-08-01",
            [new("Namespace", ns), new("MetricData.member.1.MetricName", "Uploads"), new("MetricData.member.1.Value", "3")], CancellationToken.None);
        var listed = await cw.QueryAsync("ListMetrics", "2010-08-01", [new("Namespace", ns)], CancellationToken.None);
        Assert.Contains(listed.Descendants(), e => e.Name.LocalName == "MetricName" && e.Value == "Uploads");
    }

    [Fact]
    public async Task A_json_protocol_call_reaches_budgets()
    {
        using var aws = Clients();
        var budgets = aws.Service(AwsServiceDescription.Budgets);
        var answer = await budgets.JsonRpcAsync("AWSBudgetServiceGateway", "DescribeBudgets", new JsonObject { ["AccountId"] = "123456789012" }, CancellationToken.None);
        Assert.NotNull(answer!["Budgets"]);
    }

    [Fact]
    public async Task A_rest_call_reaches_cloudfront_and_an_error_answer_is_classified_not_found()
    {
        using var aws = Clients();
        var cf = aws.Service(AwsServiceDescription.CloudFront);
        var list = await cf.SendAsync(() => new HttpRequestMessage(HttpMethod.Get, "2020-05-31/distribution"), CancellationToken.None);
        Assert.Equal("DistributionList", list.Xml().Name.LocalName);
        var e = await Assert.ThrowsAsync<AmazonServiceException>(() =>
            cf.SendAsync(() => new HttpRequestMessage(HttpMethod.Get, "2020-05-31/distribution/ENOSUCHDIST"), CancellationToken.None));
        Assert.Equal(ErrorKind.NotFound, AwsErrors.Classify(e));
        Assert.Equal("NoSuchDistribution", e.ErrorCode);
    }

    [Fact]
    public async Task A_per_service_endpoint_wins_over_the_shared_one()
    {
        // AWS_ENDPOINT_URL_CLOUDWATCH points at a port nobody listens on: the call fails as unreachable (transient),
        // proving it went there rather than to the shared moto endpoint.
        var dead = $"http://127.0.0.1:{MotoServer.FreePort()}";
        using var aws = Clients(new() { ["CLOUDWATCH"] = dead });
        var cw = aws.Service(AwsServiceDescription.CloudWatch);
        Assert.Equal(new Uri(dead + "/"), cw.Endpoint);
        var e = await Assert.ThrowsAnyAsync<Exception>(() => cw.QueryAsync("ListMetrics", "2010-08-01", [], CancellationToken.None));
        Assert.Equal(ErrorKind.Transient, AwsErrors.Classify(e));
    }

    [Fact]
    public void Endpoint_variables_of_any_service_are_read_from_the_environment()
    {
        var options = Workspace.ManimCloudOptions.Load(new Dictionary<string, string?>
        {
            ["MANIMCLOUD_HOME"] = Path.GetTempPath(), ["AWS_ENDPOINT_URL_MEDIACONVERT"] = "http://127.0.0.1:9/mc",
            ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:8",
        });
        Assert.Equal("http://127.0.0.1:9/mc", options.EndpointFor("MEDIACONVERT"));
        Assert.Equal("http://127.0.0.1:8", options.EndpointFor("CLOUDFRONT"));
        var bad = options with { ServiceEndpointUrls = new Dictionary<string, string> { ["SQS"] = "not a url" } };
        Assert.Contains(bad.Validate(), p => p.Contains("AWS_ENDPOINT_URL_SQS"));
    }

    [Fact]
    public void A_capability_schema_part_is_created_once_and_survives_reopening()
    {
        using var dir = new TempDir();
        var path = dir.File("catalog.db");
        var catalog = new Catalog(path);
        catalog.EnsureSchema("test.v1", "CREATE TABLE things (id TEXT PRIMARY KEY);");
        catalog.EnsureSchema("test.v1", "CREATE TABLE things (id TEXT PRIMARY KEY);"); // a second call is a no-op
        var reopened = new Catalog(path);
        reopened.EnsureSchema("test.v1", "CREATE TABLE things (id TEXT PRIMARY KEY);"); // would fail if it ran again
        Assert.Contains("test.v1", reopened.SchemaParts());
    }
}
