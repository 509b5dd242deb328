using System.Diagnostics;
using System.Globalization;
using Amazon.KeyManagementService;
using Amazon.KeyManagementService.Model;
using Amazon.Runtime;
using ManimCloud.Aws;
using ManimCloud.Domain;
using ManimCloud.Operations.Telemetry;

namespace ManimCloud.Operations.Health;

/// <summary>Which services a deployment uses, so `doctor` probes exactly those (the rest are reported as skipped).</summary>
public sealed record HealthTargets
{
    public string? VideoBucket { get; init; }
    public string? CodeBucket { get; init; }
    public string? Table { get; init; }
    public string? KmsKey { get; init; }
    public string? QueueUrl { get; init; }
    public string? DistributionId { get; init; }
    public bool MediaConvert { get; init; }
    public bool CloudWatch { get; init; }
}

/// <summary>
/// `doctor` for every configured AWS service: one cheap signed call each (in parallel), timed, with the clock skew
/// from the answer's Date header, the credentials' expiry, and for each failure its class, what to do, and the
/// runbook entry. Functional probes of the buckets and table (through ManimCloud's own stores, so names and
/// permissions are checked as the tool uses them) are passed in by the caller.
/// </summary>
public sealed class DeploymentHealth(AwsClients aws)
{
    /// <summary>Skew beyond which SigV4 requests start to fail (AWS refuses at 15 minutes; 5 is the safe bound).</summary>
    public static readonly TimeSpan SkewFail = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan SkewWarn = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan ExpiryWarn = TimeSpan.FromMinutes(15);

    public static readonly AwsServiceDescription Sqs = new("sqs", "SQS", r => $"https://sqs.{r}.amazonaws.com");

    /// <summary>A probe: a name, its service, the runbook anchor, and the call (which returns the answer's Date if it has one).</summary>
    public sealed record Probe(string Name, string Service, Func<CancellationToken, Task<DateTimeOffset?>> Call);

    public async Task<IReadOnlyList<HealthCheck>> CheckAsync(HealthTargets targets, IEnumerable<Probe> storeProbes, TimeSpan timeout, CancellationToken ct)
    {
        var checks = new List<HealthCheck> { await CredentialsAsync() };
        var probes = new List<Probe>(storeProbes);
        if (targets.KmsKey is { } key) probes.Add(new("kms key", "kms", t => KmsAsync(key, t)));
        if (targets.QueueUrl is { } queue) probes.Add(new("work queue", "sqs", t => QueryDateAsync(aws.Service(Sqs), "GetQueueAttributes", "2012-11-05",
            [new("QueueUrl", queue), new("AttributeName.1", "ApproximateNumberOfMessages")], t)));
        if (targets.DistributionId is { } distribution) probes.Add(new("cdn distribution", "cloudfront", t => RestDateAsync(aws.Service(AwsServiceDescription.CloudFront),
            HttpMethod.Get, $"2020-05-31/distribution/{Uri.EscapeDataString(distribution)}", "GetDistribution", t)));
        if (targets.MediaConvert) probes.Add(new("mediaconvert", "mediaconvert", t => RestDateAsync(aws.Service(AwsServiceDescription.MediaConvert),
            HttpMethod.Get, "2017-08-29/queues?maxResults=1", "ListQueues", t)));
        if (targets.CloudWatch) probes.Add(new("cloudwatch", "cloudwatch", t => QueryDateAsync(aws.Service(AwsServiceDescription.CloudWatch), "DescribeAlarms", "2010-08-01",
            [new("MaxRecords", "1")], t)));
        checks.AddRange(await Task.WhenAll(probes.Select(p => RunAsync(p, timeout, ct))));
        foreach (var (service, setting) in new[]
        {
            ("kms", targets.KmsKey is null ? "MANIMCLOUD_KMS_KEY" : null), ("sqs", targets.QueueUrl is null ? "MANIMCLOUD_QUEUE" : null),
            ("cloudfront", targets.DistributionId is null ? "MANIMCLOUD_DISTRIBUTION_ID" : null),
            ("mediaconvert", targets.MediaConvert ? null : "MANIMCLOUD_MEDIACONVERT_ROLE"), ("cloudwatch", targets.CloudWatch ? null : "MANIMCLOUD_CLOUDWATCH_METRICS"),
        })
            if (setting is not null) checks.Add(new HealthCheck(service, service, HealthStatus.Skipped, $"not configured ({setting})"));
        return checks;
    }

    private async Task<HealthCheck> CredentialsAsync()
    {
        try
        {
            var credentials = aws.Credentials();
            var immutable = await credentials.GetCredentialsAsync();
            DateTimeOffset? expires = credentials is RefreshingAWSCredentials { Expiration: { } e } ? new DateTimeOffset(DateTime.SpecifyKind(e, DateTimeKind.Utc)) : null;
            var kind = immutable.UseToken ? "temporary credentials" : "long-term access keys";
            if (expires is { } at)
            {
                var left = at - DateTimeOffset.UtcNow;
                var status = left < TimeSpan.Zero ? HealthStatus.Fail : left < ExpiryWarn ? HealthStatus.Warn : HealthStatus.Ok;
                return new HealthCheck("credentials", "sts", status, $"{kind}, expire {at.UtcDateTime:O} (in {Math.Round(left.TotalMinutes)} min)")
                {
                    CredentialsExpire = at, Runbook = status == HealthStatus.Ok ? null : HealthCheck.RunbookFor("credentials"),
                };
            }
            return new HealthCheck("credentials", "sts", HealthStatus.Ok, $"{kind}, no expiry known{(immutable.UseToken ? " (a session token from the environment)" : "")}");
        }
        catch (Exception e) when (e is AmazonClientException or InvalidOperationException)
        {
            return new HealthCheck("credentials", "sts", HealthStatus.Fail, $"No AWS credentials: {e.Message}")
            {
                ErrorKind = "auth", Runbook = HealthCheck.RunbookFor("credentials"),
            };
        }
    }

    private static async Task<HealthCheck> RunAsync(Probe probe, TimeSpan timeout, CancellationToken ct)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(timeout);
        var timer = Stopwatch.StartNew();
        try
        {
            var date = await probe.Call(limit.Token);
            var latency = timer.Elapsed;
            // The Date header is stamped while the answer is made: about half the round trip before it arrived.
            double? skew = date is { } d ? Math.Round((d - (DateTimeOffset.UtcNow - latency / 2)).TotalSeconds, 1) : null;
            var status = skew is { } s && Math.Abs(s) > SkewFail.TotalSeconds ? HealthStatus.Fail
                : skew is { } w && Math.Abs(w) > SkewWarn.TotalSeconds ? HealthStatus.Warn : HealthStatus.Ok;
            var detail = $"reachable in {latency.TotalMilliseconds:0} ms" + (skew is { } k ? $", clock skew {k:+0.0;-0.0;0} s" : "");
            return new HealthCheck(probe.Name, probe.Service, status, status == HealthStatus.Ok ? detail : detail + " — the local clock is off; SigV4 signatures fail beyond 15 minutes")
            {
                LatencyMs = Math.Round(latency.TotalMilliseconds, 1), ClockSkewSeconds = skew,
                Runbook = status == HealthStatus.Ok ? null : HealthCheck.RunbookFor("clock-skew"),
            };
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            var described = e is OperationCanceledException
                ? new ManimCloudException(ErrorKind.Transient, $"{probe.Name} did not answer within {timeout.TotalSeconds:0} s.",
                    "Check the network, the endpoint (AWS_ENDPOINT_URL_*) and the service's health.")
                : AwsErrors.Describe(e, "Probing", probe.Name);
            return new HealthCheck(probe.Name, probe.Service, HealthStatus.Fail, $"{described.Message} Fix: {described.Hint}")
            {
                LatencyMs = Math.Round(timer.Elapsed.TotalMilliseconds, 1), ErrorKind = ManimCloudMetrics.OutcomeOf(described.Kind),
                Runbook = HealthCheck.RunbookFor(probe.Service),
            };
        }
    }

    private async Task<DateTimeOffset?> KmsAsync(string key, CancellationToken ct)
    {
        using var client = new AmazonKeyManagementServiceClient(aws.Credentials(), aws.Configure(new AmazonKeyManagementServiceConfig()));
        DateTimeOffset? date = null;
        client.AfterResponseEvent += (_, e) => date = DateOf(e);
        var metadata = (await AwsCall.RunAsync(aws.Retry, "Reading", $"KMS key {key}", t => client.DescribeKeyAsync(new DescribeKeyRequest { KeyId = key }, t), ct)).KeyMetadata;
        if (metadata.KeyState?.Value is { } state && state != "Enabled")
            throw new ManimCloudException(ErrorKind.InvalidInput, $"The KMS key {key} is {state}.", "Enable the key (or cancel its deletion), or set MANIMCLOUD_KMS_KEY to an enabled key.");
        return date;
    }

    /// <summary>The Date header of an SDK answer (subscribe an SDK client's AfterResponseEvent with this).</summary>
    public static DateTimeOffset? DateOf(ResponseEventArgs e) =>
        e is WebServiceResponseEventArgs { ResponseHeaders: { } headers } && headers.TryGetValue("Date", out var d) ? ParseDate(d) : null;

    private static DateTimeOffset? ParseDate(string? value) =>
        DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var d) ? d : null;

    private static async Task<DateTimeOffset?> QueryDateAsync(AwsHttpService service, string action, string version, List<KeyValuePair<string, string>> parameters, CancellationToken ct)
    {
        var form = new List<KeyValuePair<string, string>> { new("Action", action), new("Version", version) };
        form.AddRange(parameters);
        var response = await service.SendAsync(() => new HttpRequestMessage(HttpMethod.Post, "") { Content = new FormUrlEncodedContent(form) }, ct, action);
        return response.Headers.Date;
    }

    private static async Task<DateTimeOffset?> RestDateAsync(AwsHttpService service, HttpMethod method, string path, string api, CancellationToken ct)
    {
        var response = await service.SendAsync(() => new HttpRequestMessage(method, path), ct, api);
        return response.Headers.Date;
    }
}
