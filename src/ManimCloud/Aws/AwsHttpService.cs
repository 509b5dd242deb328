using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using Amazon.Runtime;
using Amazon.Runtime.Signing;
using ManimCloud.Resilience;

namespace ManimCloud.Aws;

/// <summary>
/// What a thin typed client needs to know about an AWS service: its SigV4 signing name, the service id of its
/// per-service endpoint variable (<c>AWS_ENDPOINT_URL_{Id}</c>), its endpoint on AWS, and for global services the
/// one region they are signed in.
/// </summary>
public sealed record AwsServiceDescription(string SigningName, string EndpointId, Func<string, string> AwsEndpoint, string? GlobalRegion = null)
{
    public static readonly AwsServiceDescription CloudFront = new("cloudfront", "CLOUDFRONT", _ => "https://cloudfront.amazonaws.com", "us-east-1");
    public static readonly AwsServiceDescription MediaConvert = new("mediaconvert", "MEDIACONVERT", r => $"https://mediaconvert.{r}.amazonaws.com");
    public static readonly AwsServiceDescription CloudWatch = new("monitoring", "CLOUDWATCH", r => $"https://monitoring.{r}.amazonaws.com");
    public static readonly AwsServiceDescription CloudWatchLogs = new("logs", "CLOUDWATCH_LOGS", r => $"https://logs.{r}.amazonaws.com");
    public static readonly AwsServiceDescription Iam = new("iam", "IAM", _ => "https://iam.amazonaws.com", "us-east-1");
    public static readonly AwsServiceDescription Budgets = new("budgets", "BUDGETS", _ => "https://budgets.amazonaws.com", "us-east-1");
    public static readonly AwsServiceDescription CostExplorer = new("ce", "COST_EXPLORER", _ => "https://ce.us-east-1.amazonaws.com", "us-east-1");
}

/// <summary>A service's answer: status, headers and the (small, control-plane) body as text.</summary>
public sealed record AwsResponse(HttpStatusCode Status, HttpResponseHeaders Headers, string Body)
{
    public XElement Xml() => XDocument.Parse(Body).Root!;
    public JsonNode? Json() => Body.Length == 0 ? null : JsonNode.Parse(Body);
    public string? Header(string name) => Headers.TryGetValues(name, out var v) ? v.FirstOrDefault() : null;
}

/// <summary>
/// The one way ManimCloud talks to AWS services that have no SDK package in the registry here (CloudFront,
/// MediaConvert, CloudWatch, IAM, Budgets, Cost Explorer): an <see cref="HttpClient"/> whose requests AWSSDK.Core's
/// public <see cref="SigV4SigningHandler"/> signs with the default credential chain, the per-service endpoint
/// (<c>AWS_ENDPOINT_URL_{SERVICE}</c>, then <c>AWS_ENDPOINT_URL</c>, then AWS), and the one retry pipeline around
/// each attempt (outside the signer, so every attempt is signed afresh). A non-2xx answer becomes the SDK's own
/// <see cref="AmazonServiceException"/> with the service's error code, so <see cref="AwsErrors.Classify"/> treats these
/// calls exactly like SDK calls. Typed clients (one per service, behind an interface) build on the protocol helpers:
/// <see cref="QueryAsync"/> (awsquery: CloudWatch, IAM), <see cref="JsonRpcAsync"/> (awsJson: Budgets, Cost Explorer,
/// CloudWatch's JSON mode) and <see cref="SendAsync"/> for REST (CloudFront's REST/XML, MediaConvert's REST/JSON).
/// </summary>
public sealed class AwsHttpService : IDisposable
{
    private readonly HttpClient _http;
    private readonly RetryPipeline _retry;

    public AwsServiceDescription Description { get; }
    public Uri Endpoint { get; }
    public string SigningRegion { get; }

    public AwsHttpService(AwsServiceDescription description, AWSCredentials credentials, string region, string? endpoint, RetryPipeline retry,
        HttpMessageHandler? transport = null, TimeSpan? timeout = null)
    {
        Description = description;
        SigningRegion = description.GlobalRegion ?? region;
        Endpoint = new Uri((endpoint ?? description.AwsEndpoint(region)).TrimEnd('/') + "/");
        _retry = retry;
        // Redirects must come back up to be signed again (see SigV4SigningHandler).
        transport ??= new SocketsHttpHandler { AllowAutoRedirect = false, ConnectTimeout = TimeSpan.FromSeconds(15) };
        _http = new HttpClient(new SigV4SigningHandler(credentials, Amazon.RegionEndpoint.GetBySystemName(SigningRegion), description.SigningName, transport))
        {
            Timeout = timeout ?? TimeSpan.FromSeconds(60),
        };
    }

    /// <summary>
    /// Sends the request <paramref name="build"/> makes (afresh for every attempt: a sent request cannot be sent
    /// again), retrying transient and throttled failures through the pipeline. Throws AmazonServiceException on an
    /// error answer, after the pipeline gave up on it or at once when retrying cannot help.
    /// </summary>
    public async Task<AwsResponse> SendAsync(Func<HttpRequestMessage> build, CancellationToken ct, string? api = null)
    {
        using var telemetry = Operations.Telemetry.AwsCallScope.Start(Description.EndpointId.ToLowerInvariant(), api ?? "", api ?? "request", Endpoint.Host);
        try
        {
            var response = await Attempts(build, ct);
            telemetry?.Complete(null);
            return response;
        }
        catch (Exception e) when (telemetry is not null && (e is not OperationCanceledException || !ct.IsCancellationRequested))
        {
            telemetry.Complete(AwsErrors.Classify(e), e.Message);
            throw;
        }
    }

    private Task<AwsResponse> Attempts(Func<HttpRequestMessage> build, CancellationToken ct) =>
        _retry.ExecuteAsync(async token =>
        {
            using var request = build();
            // Paths are relative to the service's endpoint (which may carry a path of its own, as a proxy's may).
            request.RequestUri = request.RequestUri is null ? Endpoint
                : request.RequestUri.IsAbsoluteUri ? request.RequestUri : new Uri(Endpoint, request.RequestUri);
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, token);
            var body = await response.Content.ReadAsStringAsync(token);
            if (!response.IsSuccessStatusCode) throw ErrorFrom(response, body);
            return new AwsResponse(response.StatusCode, response.Headers, body);
        }, ct);

    /// <summary>An awsquery call: a form-encoded POST of Action, Version and the parameters; the XML answer's root.</summary>
    public async Task<XElement> QueryAsync(string action, string apiVersion, IEnumerable<KeyValuePair<string, string>> parameters, CancellationToken ct)
    {
        var form = new List<KeyValuePair<string, string>> { new("Action", action), new("Version", apiVersion) };
        form.AddRange(parameters);
        var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Post, "") { Content = new FormUrlEncodedContent(form) }, ct, action);
        return response.Xml();
    }

    /// <summary>An awsJson call: POST with <c>X-Amz-Target: {targetPrefix}.{operation}</c>; the JSON answer.</summary>
    public async Task<JsonNode?> JsonRpcAsync(string targetPrefix, string operation, JsonNode body, CancellationToken ct, string jsonVersion = "1.1")
    {
        var text = body.ToJsonString();
        var response = await SendAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "")
            {
                Content = new StringContent(text, Encoding.UTF8),
            };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue($"application/x-amz-json-{jsonVersion}");
            request.Headers.TryAddWithoutValidation("X-Amz-Target", $"{targetPrefix}.{operation}");
            return request;
        }, ct, operation);
        return response.Json();
    }

    /// <summary>
    /// The SDK's exception for an error answer, with the code from whichever place this protocol puts it:
    /// the <c>x-amzn-ErrorType</c> header (REST/JSON), <c>__type</c> or <c>code</c> in a JSON body (awsJson), or
    /// <c>Error/Code</c> in an XML body (awsquery, REST/XML).
    /// </summary>
    public static AmazonServiceException ErrorFrom(HttpResponseMessage response, string body)
    {
        string? code = null, message = null, requestId = null;
        if (response.Headers.TryGetValues("x-amzn-ErrorType", out var types)) code = types.First().Split(':')[0];
        if (response.Headers.TryGetValues("x-amzn-RequestId", out var ids)) requestId = ids.First();
        var trimmed = body.TrimStart();
        try
        {
            if (trimmed.StartsWith('{'))
            {
                var json = JsonNode.Parse(trimmed);
                code ??= ((string?)json?["__type"])?.Split('#')[^1] ?? (string?)json?["code"] ?? (string?)json?["Code"];
                message = (string?)json?["message"] ?? (string?)json?["Message"];
            }
            else if (trimmed.StartsWith('<'))
            {
                var root = XDocument.Parse(trimmed).Root!;
                var error = root.Descendants().FirstOrDefault(e => e.Name.LocalName == "Error") ?? root;
                code ??= error.Elements().FirstOrDefault(e => e.Name.LocalName == "Code")?.Value;
                message = error.Elements().FirstOrDefault(e => e.Name.LocalName == "Message")?.Value;
                requestId ??= root.Descendants().FirstOrDefault(e => e.Name.LocalName == "RequestId")?.Value;
            }
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or System.Xml.XmlException)
        {
            // Not the service's error format (a proxy's page, say): the status and the text are all there is.
        }
        var status = response.StatusCode;
        message ??= body.Length > 0 ? body[..Math.Min(body.Length, 300)] : $"HTTP {(int)status} {response.ReasonPhrase}";
        var type = (int)status >= 500 ? ErrorType.Receiver : ErrorType.Sender;
        return new AmazonServiceException(message, null, type, code ?? "", requestId ?? "", status);
    }

    public void Dispose() => _http.Dispose();
}
