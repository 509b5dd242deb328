using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Xml.Linq;
using Amazon.Runtime;
using Amazon.Runtime.Credentials;
using Amazon.Runtime.Signing;
using Amazon.S3;
using ManimCloud.Transfer;

namespace ManimCloud.Aws;

/// <summary>
/// UploadPart and ranged GetObject on a plain <see cref="HttpClient"/> signed by AWSSDK.Core's public
/// <see cref="SigV4SigningHandler"/> — the same credentials, region and endpoint as the S3 client, without the SDK's
/// per-request pipeline, stream wrapping and chunked payload signing. A part's body is streamed from its source (the
/// file) through a small buffer, and a ranged GET's body is handed on piece by piece as it arrives.
/// <list type="bullet">
/// <item>Payload hash: over https UNSIGNED-PAYLOAD (what the SDK does over TLS too; the part's CRC32 or Content-MD5
/// is the server's check); over plain http the part's SHA-256, computed once by the caller and signed, so a payload is
/// never unsigned on an unencrypted connection.</item>
/// <item>Errors: a non-2xx answer becomes an <see cref="AmazonS3Exception"/> with the S3 error's Code, Message,
/// RequestId and the status, exactly what the SDK would throw, so <see cref="AwsErrors.Classify"/> and the retry
/// pipeline treat both paths alike; resets and timeouts surface as HttpRequestException/IOException.</item>
/// <item>Addressing: path-style on a custom endpoint, virtual-host on AWS. Only plain names
/// ([A-Za-z0-9._/-], which ManimCloud's own layout always uses) go this way; anything else uses the SDK.</item>
/// </list>
/// </summary>
public sealed class HttpS3DataPlane : IS3DataPlane, IDisposable
{
    private const string EmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    private static readonly HttpRequestOptionsKey<bool> SignPayload = new(SigV4SigningHandler.SignPayloadOptionKey);
    private static readonly ConditionalWeakTable<IAmazonS3, HttpS3DataPlane?> PerClient = new();
    private static readonly ConditionalWeakTable<IAmazonS3, Registration> Registered = new();

    private sealed record Registration(AWSCredentials Credentials, string Region, bool Lean);

    private readonly HttpClient _http;
    private readonly string? _endpoint;   // path-style base, e.g. http://127.0.0.1:5000
    private readonly string _region;
    private readonly bool _https;

    public HttpS3DataPlane(AWSCredentials credentials, string region, string? pathStyleEndpoint, int maxConnections = 64,
        TimeSpan? timeout = null)
    {
        _region = region;
        _endpoint = pathStyleEndpoint?.TrimEnd('/');
        _https = _endpoint is null || _endpoint.StartsWith("https:", StringComparison.OrdinalIgnoreCase);
        var transport = new SocketsHttpHandler
        {
            // Redirects must come back up to be signed again (see SigV4SigningHandler); S3 data calls do not redirect.
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            MaxConnectionsPerServer = Math.Max(16, maxConnections),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(50),
            ConnectTimeout = TimeSpan.FromSeconds(30),
        };
        _http = new HttpClient(new SigV4SigningHandler(credentials, Amazon.RegionEndpoint.GetBySystemName(region), "s3", transport))
        {
            Timeout = timeout ?? TimeSpan.FromMinutes(5),
        };
    }

    /// <summary>
    /// The lean plane for an SDK S3 client (one per client, so engines share its connections), or null when the
    /// client's setup is one it does not reproduce (an explicit proxy, a custom endpoint addressed by virtual host,
    /// accelerate/dual-stack/FIPS endpoints, a client registered to stay on the SDK, or a client that is not the SDK's).
    /// </summary>
    public static HttpS3DataPlane? For(IAmazonS3 s3) => PerClient.GetValue(s3, Create);

    /// <summary>
    /// Tells the data plane which credentials and signing region a client was built with (the SDK does not expose
    /// the credentials, and forgets the region once a ServiceURL is set), so it signs with exactly those.
    /// Unregistered clients use the config's default credentials (else the default chain) and its region.
    /// <paramref name="lean"/> false keeps the client's transfers on the SDK (<c>MANIMCLOUD_DATA_PLANE=sdk</c>).
    /// </summary>
    public static void Register(IAmazonS3 s3, AWSCredentials credentials, string region, bool lean = true) =>
        Registered.AddOrUpdate(s3, new(credentials, region, lean));

    private static HttpS3DataPlane? Create(IAmazonS3 s3)
    {
        if (s3 is not AmazonS3Client client || client.Config is not AmazonS3Config config) return null;
        if (!string.IsNullOrEmpty(config.ProxyHost) || config.UseAccelerateEndpoint || config.UseDualstackEndpoint || config.UseFIPSEndpoint)
            return null;
        string? endpoint = null;
        if (!string.IsNullOrEmpty(config.ServiceURL))
        {
            if (!config.ForcePathStyle) return null;
            endpoint = config.ServiceURL;
        }
        else if (config.UseHttp) return null;
        Registered.TryGetValue(s3, out var known);
        if (known is { Lean: false }) return null;
        var region = known?.Region ?? config.AuthenticationRegion ?? config.RegionEndpoint?.SystemName;
        if (string.IsNullOrEmpty(region)) return null;
        var credentials = known?.Credentials ?? config.DefaultAWSCredentials ?? DefaultAWSCredentialsIdentityResolver.GetCredentials();
        return new HttpS3DataPlane(credentials, region, endpoint, 64, config.Timeout);
    }

    public bool WantsPayloadSha256 => !_https;

    public bool CanAddress(string bucket, string key, string? uploadId = null) =>
        (uploadId is null || PlainToken(uploadId)) && Plain(bucket, allowSlash: false) && Plain(key, allowSlash: true)
        // A dotted bucket breaks the wildcard certificate of virtual-host addressing.
        && (_endpoint is not null || !bucket.Contains('.'))
        // System.Uri would rewrite "." and ".." segments and collapse nothing else: keep those on the SDK.
        && !key.Split('/').Any(s => s is "." or "..") && !key.StartsWith('/');

    /// <summary>Upload ids are opaque; only ones that need no escaping are sent this way (AWS's and moto's do not).</summary>
    public static bool PlainToken(string value) => value.Length > 0 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or '~');

    private static bool Plain(string name, bool allowSlash) =>
        name.Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' || (allowSlash && c == '/'));

    private Uri Url(string bucket, string key, string? query)
    {
        var path = string.Join('/', key.Split('/').Select(Uri.EscapeDataString));
        var url = _endpoint is not null ? $"{_endpoint}/{bucket}/{path}" : $"https://{bucket}.s3.{_region}.amazonaws.com/{path}";
        return new Uri(query is null ? url : $"{url}?{query}");
    }

    public async Task<string> UploadPartAsync(PartUpload part, CancellationToken ct)
    {
        Operations.Telemetry.AwsCallScope.DataCall("UploadPart", part.Body.Length, upload: true);
        if (!PlainToken(part.UploadId)) throw new ArgumentException($"Upload id '{part.UploadId}' needs escaping; use the SDK data plane.");
        using var request = new HttpRequestMessage(HttpMethod.Put,
            Url(part.Bucket, part.Key, $"partNumber={part.Number}&uploadId={part.UploadId}"));
        // Streamed from the part's source in 256 KiB writes: the part is never whole in memory.
        var content = new StreamContent(part.Body.OpenRead(), BodyBuffer);
        content.Headers.ContentLength = part.Body.Length;
        if (part.ContentMd5 is not null) content.Headers.ContentMD5 = Convert.FromBase64String(part.ContentMd5);
        request.Content = content;
        if (part.Crc32 is not null) request.Headers.TryAddWithoutValidation("x-amz-checksum-crc32", part.Crc32);
        if (_https) request.Options.Set(SignPayload, false);
        else
        {
            // Plain http: the payload stays signed, with the hash the caller already has (the handler then does not read the body).
            request.Headers.TryAddWithoutValidation("x-amz-content-sha256",
                part.Sha256Hex ?? throw new ArgumentException("Over plain http a part needs its SHA-256.", nameof(part)));
        }
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        if (!response.IsSuccessStatusCode) throw await ErrorAsync(response, ct);
        return response.Headers.TryGetValues("ETag", out var etags) ? etags.First()
            : throw new AmazonS3Exception("UploadPart answered without an ETag.", null, ErrorType.Receiver, "InternalError", null, response.StatusCode);
    }

    /// <summary>The copy buffer of a part's body on its way out.</summary>
    private const int BodyBuffer = 256 << 10;

    public async Task ReadRangeAsync(RangeRead range, Memory<byte> buffer, RangeSink sink, CancellationToken ct)
    {
        Operations.Telemetry.AwsCallScope.DataCall("GetObject", range.Length, upload: false);
        var query = range.VersionId is null ? null : $"versionId={Uri.EscapeDataString(range.VersionId)}";
        using var request = new HttpRequestMessage(HttpMethod.Get, Url(range.Bucket, range.Key, query));
        request.Headers.Range = new RangeHeaderValue(range.Offset, range.Offset + range.Length - 1);
        if (range.IfMatch is not null) request.Headers.TryAddWithoutValidation("If-Match", range.IfMatch);
        request.Headers.TryAddWithoutValidation("x-amz-content-sha256", EmptySha256);
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        if (!response.IsSuccessStatusCode) throw await ErrorAsync(response, ct);
        var whole = response.StatusCode == HttpStatusCode.OK && range.Offset == 0;
        if (response.StatusCode != HttpStatusCode.PartialContent && !whole || response.Content.Headers.ContentLength is { } n && n != range.Length)
            throw new IOException($"Asked for bytes {range.Offset}-{range.Offset + range.Length - 1} and got status {(int)response.StatusCode} "
                + $"with {response.Content.Headers.ContentLength?.ToString() ?? "unknown"} bytes.");
        await using var body = await response.Content.ReadAsStreamAsync(ct);
        await RangeCopy.CopyAsync(body, range.Length, buffer, sink, ct);
    }

    public async Task<string?> PutObjectAsync(ObjectPut put, CancellationToken ct)
    {
        Operations.Telemetry.AwsCallScope.DataCall("PutObject", put.Body.Length, upload: true);
        using var request = new HttpRequestMessage(HttpMethod.Put, Url(put.Bucket, put.Key, null));
        var content = new ReadOnlyMemoryContent(put.Body);
        content.Headers.ContentLength = put.Body.Length;
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(put.ContentType);
        request.Content = content;
        foreach (var (k, v) in put.Metadata) request.Headers.TryAddWithoutValidation($"x-amz-meta-{k}", v);
        if (put.ServerSideEncryption is { } sse) request.Headers.TryAddWithoutValidation("x-amz-server-side-encryption", sse);
        if (put.KmsKeyId is { } kms) request.Headers.TryAddWithoutValidation("x-amz-server-side-encryption-aws-kms-key-id", kms);
        if (put.StorageClass is { } sc) request.Headers.TryAddWithoutValidation("x-amz-storage-class", sc);
        if (put.CreateOnly) request.Headers.TryAddWithoutValidation("If-None-Match", "*");
        if (put.CacheControl is { } cacheControl) request.Headers.TryAddWithoutValidation("Cache-Control", cacheControl);
        if (put.ChecksumSha256)
        {
            // As the SDKs send it: the algorithm named too (S3-compatible stores such as moto look for it).
            request.Headers.TryAddWithoutValidation("x-amz-sdk-checksum-algorithm", "SHA256");
            request.Headers.TryAddWithoutValidation("x-amz-checksum-sha256", Convert.ToBase64String(Convert.FromHexString(put.Sha256Hex)));
        }
        // The body's SHA-256 is known: signed as the payload hash on any connection, and the handler does not read the body.
        request.Headers.TryAddWithoutValidation("x-amz-content-sha256", put.Sha256Hex);
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        if (!response.IsSuccessStatusCode) throw await ErrorAsync(response, ct);
        return response.Headers.TryGetValues("x-amz-version-id", out var versions) ? versions.First() : null;
    }

    /// <summary>S3's XML error (Code, Message, RequestId) as the exception the SDK would have thrown.</summary>
    internal static async Task<AmazonS3Exception> ErrorAsync(HttpResponseMessage response, CancellationToken ct)
    {
        string? code = null, message = null, requestId = null, hostId = null;
        try
        {
            var text = await response.Content.ReadAsStringAsync(ct);
            if (text.Length > 0)
            {
                var error = XDocument.Parse(text).Root;
                string? Field(string name) => error?.Elements().FirstOrDefault(e => e.Name.LocalName == name)?.Value;
                (code, message, requestId, hostId) = (Field("Code"), Field("Message"), Field("RequestId"), Field("HostId"));
            }
        }
        catch (System.Xml.XmlException) { }
        requestId ??= response.Headers.TryGetValues("x-amz-request-id", out var ids) ? ids.First() : null;
        hostId ??= response.Headers.TryGetValues("x-amz-id-2", out var hosts) ? hosts.First() : null;
        var status = response.StatusCode;
        code ??= status switch
        {
            HttpStatusCode.NotFound => "NotFound",
            HttpStatusCode.Forbidden => "Forbidden",
            HttpStatusCode.PreconditionFailed => "PreconditionFailed",
            _ => null,
        };
        message ??= $"{(int)status} {response.ReasonPhrase}";
        var type = (int)status >= 500 ? ErrorType.Receiver : ErrorType.Sender;
        return new AmazonS3Exception(message, null, type, code, requestId, status, hostId);
    }

    public void Dispose() => _http.Dispose();
}
