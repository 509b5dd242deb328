using Amazon;
using Amazon.DynamoDBv2;
using Amazon.Runtime;
using Amazon.Runtime.Credentials;
using Amazon.S3;
using Amazon.SQS;
using ManimCloud.Workspace;

namespace ManimCloud.Aws;

/// <summary>
/// Builds SDK clients from the options: default credential chain only, AWS_ENDPOINT_URL honoured,
/// and the SDK's own retries turned off because <see cref="Resilience.RetryPipeline"/> is the one place that retries.
/// </summary>
public sealed class AwsClients : IDisposable
{
    private readonly ManimCloudOptions _options;
    private readonly Lazy<IAmazonS3> _s3;
    private readonly Lazy<IAmazonDynamoDB> _dynamo;
    private readonly Lazy<IAmazonSQS> _sqs;
    private readonly Dictionary<AwsServiceDescription, AwsHttpService> _services = [];

    public AwsClients(ManimCloudOptions options)
    {
        _options = options;
        CredentialDependencies.EnsureRegistered();
        _s3 = new(CreateS3);
        _dynamo = new(CreateDynamo);
        _sqs = new(() => new AmazonSQSClient(Credentials(), Configure(new AmazonSQSConfig())));
        Retry = new Resilience.RetryPipeline(AwsErrors.Classify, options.RetryBudget);
    }

    public ManimCloudOptions Options => _options;

    /// <summary>The one retry pipeline every AWS call of this client set goes through (SPEC R7).</summary>
    public Resilience.RetryPipeline Retry { get; }

    public IAmazonS3 S3 => _s3.Value;
    public IAmazonDynamoDB DynamoDB => _dynamo.Value;
    /// <summary>The pipeline's job queue (MANIMCLOUD_QUEUE), at AWS_ENDPOINT_URL_SQS when set.</summary>
    public IAmazonSQS Sqs => _sqs.Value;
    public RegionEndpoint Region => RegionEndpoint.GetBySystemName(_options.Region ?? "us-east-1");

    /// <summary>The SDK's default chain (env, profile, SSO, container/instance role). Never a key from our config.</summary>
    public AWSCredentials Credentials() => DefaultAWSCredentialsIdentityResolver.GetCredentials();

    /// <summary>The endpoint for one service: its own setting (AWS_ENDPOINT_URL_S3 …) over the shared AWS_ENDPOINT_URL.</summary>
    public string? EndpointFor<T>() where T : ClientConfig =>
        (typeof(T) == typeof(AmazonS3Config) ? _options.S3EndpointUrl
            : typeof(T) == typeof(AmazonDynamoDBConfig) ? _options.DynamoDbEndpointUrl
            : typeof(T) == typeof(AmazonSQSConfig) ? _options.EndpointFor("SQS") : null) ?? _options.EndpointUrl;

    /// <summary>
    /// The signed HTTP client of a service without an SDK package here (CloudFront, MediaConvert, CloudWatch, …),
    /// one per service, at <c>AWS_ENDPOINT_URL_{SERVICE}</c>, else <c>AWS_ENDPOINT_URL</c>, else AWS's endpoint.
    /// </summary>
    public AwsHttpService Service(AwsServiceDescription service)
    {
        lock (_services)
        {
            if (!_services.TryGetValue(service, out var client))
                _services[service] = client = new AwsHttpService(service, Credentials(), Region.SystemName, _options.EndpointFor(service.EndpointId), Retry);
            return client;
        }
    }

    public T Configure<T>(T config) where T : ClientConfig
    {
        config.RegionEndpoint = Region;
        if (EndpointFor<T>() is { } endpoint) config.ServiceURL = endpoint;
        config.MaxErrorRetry = 0;
        // The SDK also resends on connection resets by itself, up to 10 times, outside MaxErrorRetry: that would
        // hide retries from the pipeline's budget and make a lost answer look like one attempt.
        config.MaxStaleConnectionRetries = 0;
        config.Timeout = TimeSpan.FromMinutes(5);
        config.RequestChecksumCalculation = _options.ChecksumMode == Workspace.ChecksumMode.WhenRequired
            ? RequestChecksumCalculation.WHEN_REQUIRED : RequestChecksumCalculation.WHEN_SUPPORTED;
        config.ResponseChecksumValidation = _options.ChecksumMode == Workspace.ChecksumMode.WhenRequired
            ? ResponseChecksumValidation.WHEN_REQUIRED : ResponseChecksumValidation.WHEN_SUPPORTED;
        return config;
    }

    private IAmazonS3 CreateS3()
    {
        var config = Configure(new AmazonS3Config());
        // Custom endpoints (moto, Ceph RGW, MinIO) address buckets by path; AWS itself by virtual host.
        if (EndpointFor<AmazonS3Config>() is not null) config.ForcePathStyle = true;
        var credentials = Credentials();
        var client = new AmazonS3Client(credentials, config);
        client.BeforeRequestEvent += Operations.Telemetry.AwsCallScope.OnSdkRequest;
        // The transfer engine's lean data plane signs its UploadPart/GetObject requests with the same credentials.
        HttpS3DataPlane.Register(client, credentials, Region.SystemName, _options.LeanDataPlane);
        return client;
    }

    private IAmazonDynamoDB CreateDynamo()
    {
        var client = new AmazonDynamoDBClient(Credentials(), Configure(new AmazonDynamoDBConfig()));
        client.BeforeRequestEvent += Operations.Telemetry.AwsCallScope.OnSdkRequest;
        return client;
    }

    public void Dispose()
    {
        if (_s3.IsValueCreated) _s3.Value.Dispose();
        if (_dynamo.IsValueCreated) _dynamo.Value.Dispose();
        if (_sqs.IsValueCreated) _sqs.Value.Dispose();
        lock (_services)
        {
            foreach (var service in _services.Values) service.Dispose();
            _services.Clear();
        }
    }
}
