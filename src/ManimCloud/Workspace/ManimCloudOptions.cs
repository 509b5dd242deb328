using System.Text.Json;
using System.Text.Json.Nodes;
using ManimCloud.Domain;

namespace ManimCloud.Workspace;

public enum ConflictPolicy { LatestWins, Manual }

/// <summary>How request checksums are sent to S3: flexible checksums on every request, or only where the API requires one (Ceph RGW and other S3-compatible stores).</summary>
public enum ChecksumMode { WhenSupported, WhenRequired }

/// <summary>
/// ManimCloud's settings (SPEC §3). Sources, weakest first: defaults, the workspace config file
/// ({home}/config.json), environment variables. Credentials are never read from here: only the SDK's default chain.
/// </summary>
public sealed record ManimCloudOptions
{
    public required string Home { get; init; }
    public string? VideoBucket { get; init; }
    public string? CodeBucket { get; init; }
    public string? Table { get; init; }
    public string? KmsKey { get; init; }
    /// <summary>The IAM role MediaConvert jobs run as (MANIMCLOUD_MEDIACONVERT_ROLE); MediaConvert is used only when it is set, in cloud mode.</summary>
    public string? MediaConvertRole { get; init; }
    public string Environment { get; init; } = "dev";
    public string? Region { get; init; }
    public string? EndpointUrl { get; init; }
    /// <summary>Per-service endpoints (the AWS SDKs' AWS_ENDPOINT_URL_S3 / _DYNAMODB): e.g. Ceph RGW for S3 with DynamoDB elsewhere.</summary>
    public string? S3EndpointUrl { get; init; }
    public string? DynamoDbEndpointUrl { get; init; }
    /// <summary>
    /// Endpoints of the other services by the AWS SDKs' service id (<c>AWS_ENDPOINT_URL_CLOUDFRONT</c> → "CLOUDFRONT",
    /// config file <c>cloudfront_endpoint_url</c>): the same convention as the S3 and DynamoDB ones above.
    /// </summary>
    public IReadOnlyDictionary<string, string> ServiceEndpointUrls { get; init; } = new Dictionary<string, string>();
    /// <summary>Where requests to a service go when not to AWS itself: its own endpoint, else AWS_ENDPOINT_URL.</summary>
    public string? EndpointFor(string serviceId) => serviceId switch
    {
        "S3" => S3Endpoint,
        "DYNAMODB" => DynamoDbEndpointUrl ?? EndpointUrl,
        _ => ServiceEndpointUrls.GetValueOrDefault(serviceId) ?? EndpointUrl,
    };
    /// <summary>Where S3 requests go when not to AWS itself.</summary>
    public string? S3Endpoint => S3EndpointUrl ?? EndpointUrl;
    public string? Profile { get; init; }
    public long? CacheLimitBytes { get; init; }
    public ConflictPolicy ConflictPolicy { get; init; } = ConflictPolicy.LatestWins;
    public ChecksumMode ChecksumMode { get; init; } = ChecksumMode.WhenSupported;
    /// <summary>Whether S3 objects get storage classes (Intelligent-Tiering); some S3-compatible stores refuse them.</summary>
    public bool UseStorageClasses { get; init; } = true;
    /// <summary>Send the SSE header on writes (always on AWS). Off for S3-compatible stores without SSE (Ceph RGW answers InvalidRequest); their bucket default applies.</summary>
    public bool RequestEncryption { get; init; } = true;
    /// <summary>Parts, ranges and small objects over the lean HttpClient + SigV4 path (true) or through the AWS SDK (false, a fallback for diagnosing a store).</summary>
    public bool LeanDataPlane { get; init; } = true;
    /// <summary>The ffmpeg executable (MANIMCLOUD_FFMPEG, config "ffmpeg"); null: the one on PATH, installed when missing and allowed.</summary>
    public string? Ffmpeg { get; init; }
    /// <summary>The agent pipeline: queue, renderer, code generator endpoint (MANIMCLOUD_QUEUE, _RENDERER, _MANIM, _LLM_*).</summary>
    public global::ManimCloud.Pipeline.PipelineSettings Pipeline { get; init; } = new();
    /// <summary>How long a command keeps retrying an unreachable or throttling cloud before it queues the work.</summary>
    public TimeSpan RetryBudget { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Fail instead of queueing when the cloud cannot take a write now (the caller demands the upload).</summary>
    public bool RequireCloud { get; init; }

    /// <summary>Whether the S3 store evaluates bucket-policy conditions (MANIMCLOUD_POLICY_CONDITIONS / policy_conditions,
    /// which provision records after finding out; "probe" = Unknown); null: unset. Ignored on AWS, which always does.</summary>
    public Provisioning.PolicyConditionSupport? PolicyConditions { get; init; }
    /// <summary>Delivery (CloudFront) settings: domain, distribution, signing key, public URL, geo and price class (docs/configuration.md).</summary>
    public Delivery.DeliveryOptions Delivery { get; init; } = new();

    /// <summary>These options with the service's public URL (where players and agents reach `serve`) set to <paramref name="url"/>,
    /// for playback links and the pipeline's watch links alike.</summary>
    public ManimCloudOptions WithPublicUrl(string url)
    {
        url = url.TrimEnd('/');
        return this with { Delivery = Delivery with { PublicUrl = url }, Pipeline = Pipeline with { PublicUrl = url } };
    }
    /// <summary>Observability settings: CloudWatch publishing, alarm topic, OTLP endpoint (docs/configuration.md).</summary>
    public Operations.Monitoring.MonitoringOptions Monitoring { get; init; } = new();

    /// <summary>MANIMCLOUD_COST_LIMIT: the most one command may spend without --yes (price table currency); null = no limit.</summary>
    public decimal? CostLimit { get; init; }

    /// <summary>MANIMCLOUD_PRICE_TABLE: a JSON file of prices laid over the built-in table.</summary>
    public string? PriceTablePath { get; init; }

    public bool CloudConfigured => VideoBucket is not null || CodeBucket is not null || Table is not null;

    public string CatalogPath => Path.Combine(Home, "catalog.db");
    public string BlobsPath => Path.Combine(Home, "blobs");
    public string ConfigPath => Path.Combine(Home, "config.json");

    public static readonly string[] Environments = ["dev", "staging", "prod"];

    /// <summary>Default resource names for an environment; used only where a name is not given explicitly.</summary>
    public static (string Videos, string Code, string Table) DefaultNames(string env) =>
        ($"manimcloud-{env}-videos", $"manimcloud-{env}-code", $"manimcloud-{env}-metadata");

    public static string DefaultHome()
    {
        var xdg = System.Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        var data = !string.IsNullOrEmpty(xdg) ? xdg : System.Environment.GetFolderPath(System.Environment.SpecialFolder.LocalApplicationData);
        if (string.IsNullOrEmpty(data)) data = Path.Combine(System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile), ".local", "share");
        return Path.Combine(data, "manimcloud");
    }

    /// <summary>Reads the config file under the home folder and overlays the environment.</summary>
    public static ManimCloudOptions Load(IReadOnlyDictionary<string, string?>? environment = null)
    {
        string? Env(string name)
        {
            var v = environment is null ? System.Environment.GetEnvironmentVariable(name) : environment.GetValueOrDefault(name);
            return string.IsNullOrWhiteSpace(v) ? null : v.Trim();
        }

        var home = Env("MANIMCLOUD_HOME") ?? DefaultHome();
        var file = ReadConfigFile(Path.Combine(home, "config.json"));
        string? Pick(string envName, string fileKey) => Env(envName) ?? (string?)file?[fileKey];

        var env = Pick("MANIMCLOUD_ENV", "env") ?? "dev";
        if (!Environments.Contains(env))
            throw new ManimCloudException(ErrorKind.InvalidInput, $"MANIMCLOUD_ENV is '{env}'.", "Set it to dev, staging or prod.");

        long? cacheLimit = null;
        if (Pick("MANIMCLOUD_CACHE_LIMIT", "cache_limit") is { } limit)
            cacheLimit = long.TryParse(limit, out var l) && l > 0 ? l
                : throw new ManimCloudException(ErrorKind.InvalidInput, $"MANIMCLOUD_CACHE_LIMIT is '{limit}'.", "Give a positive number of bytes, e.g. 10737418240 for 10 GiB.");

        var policy = Pick("MANIMCLOUD_CONFLICT_POLICY", "conflict_policy") switch
        {
            null or "latest-wins" => ConflictPolicy.LatestWins,
            "manual" => ConflictPolicy.Manual,
            var other => throw new ManimCloudException(ErrorKind.InvalidInput, $"MANIMCLOUD_CONFLICT_POLICY is '{other}'.", "Use latest-wins (the default) or manual."),
        };

        var checksums = Pick("MANIMCLOUD_CHECKSUM_MODE", "checksum_mode") switch
        {
            null or "when-supported" => ChecksumMode.WhenSupported,
            "when-required" => ChecksumMode.WhenRequired,
            var other => throw new ManimCloudException(ErrorKind.InvalidInput, $"MANIMCLOUD_CHECKSUM_MODE is '{other}'.",
                "Use when-supported (the default, for AWS) or when-required (for Ceph RGW and other S3-compatible stores)."),
        };

        var requestEncryption = Pick("MANIMCLOUD_REQUEST_ENCRYPTION", "request_encryption") switch
        {
            null or "on" or "true" => true,
            "off" or "false" => false,
            var other => throw new ManimCloudException(ErrorKind.InvalidInput, $"MANIMCLOUD_REQUEST_ENCRYPTION is '{other}'.", "Use on or off."),
        };

        var storageClasses = Pick("MANIMCLOUD_STORAGE_CLASSES", "storage_classes") switch
        {
            null or "on" or "true" => true,
            "off" or "false" => false,
            var other => throw new ManimCloudException(ErrorKind.InvalidInput, $"MANIMCLOUD_STORAGE_CLASSES is '{other}'.", "Use on or off."),
        };

        var leanDataPlane = Pick("MANIMCLOUD_DATA_PLANE", "data_plane") switch
        {
            null or "lean" => true,
            "sdk" => false,
            var other => throw new ManimCloudException(ErrorKind.InvalidInput, $"MANIMCLOUD_DATA_PLANE is '{other}'.", "Use lean (the default) or sdk."),
        };

        var retrySeconds = Pick("MANIMCLOUD_RETRY_SECONDS", "retry_seconds") is { } rs
            ? (double.TryParse(rs, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var secs) && secs > 0 ? secs
                : throw new ManimCloudException(ErrorKind.InvalidInput, $"MANIMCLOUD_RETRY_SECONDS is '{rs}'.", "Give a positive number of seconds, e.g. 10."))
            : 10;
        // Every AWS_ENDPOINT_URL_{SERVICE} (and {service}_endpoint_url in the file) beyond the S3 and DynamoDB ones.
        var serviceEndpoints = new Dictionary<string, string>();
        foreach (var (key, value) in file?.Where(kv => kv.Key.EndsWith("_endpoint_url", StringComparison.Ordinal)) ?? [])
            if (value is JsonValue v && v.TryGetValue<string>(out var url) && url.Length > 0) serviceEndpoints[key[..^"_endpoint_url".Length].ToUpperInvariant()] = url;
        var names = environment?.Keys ?? System.Environment.GetEnvironmentVariables().Keys.Cast<string>();
        foreach (var name in names.Where(n => n.StartsWith("AWS_ENDPOINT_URL_", StringComparison.Ordinal)))
            if (Env(name) is { } url) serviceEndpoints[name["AWS_ENDPOINT_URL_".Length..]] = url;
        serviceEndpoints.Remove("S3");
        serviceEndpoints.Remove("DYNAMODB");

        var requireCloud = Pick("MANIMCLOUD_REQUIRE_CLOUD", "require_cloud") is "1" or "true" or "on";

        return new ManimCloudOptions
        {
            RetryBudget = TimeSpan.FromSeconds(retrySeconds),
            RequireCloud = requireCloud,
            Home = home,
            VideoBucket = Pick("MANIMCLOUD_VIDEO_BUCKET", "video_bucket"),
            CodeBucket = Pick("MANIMCLOUD_CODE_BUCKET", "code_bucket"),
            Table = Pick("MANIMCLOUD_TABLE", "table"),
            KmsKey = Pick("MANIMCLOUD_KMS_KEY", "kms_key"),
            MediaConvertRole = Pick("MANIMCLOUD_MEDIACONVERT_ROLE", "mediaconvert_role"),
            Environment = env,
            Region = Pick("AWS_REGION", "region") ?? Env("AWS_DEFAULT_REGION"),
            EndpointUrl = Pick("AWS_ENDPOINT_URL", "endpoint_url"),
            S3EndpointUrl = Pick("AWS_ENDPOINT_URL_S3", "s3_endpoint_url"),
            DynamoDbEndpointUrl = Pick("AWS_ENDPOINT_URL_DYNAMODB", "dynamodb_endpoint_url"),
            ServiceEndpointUrls = serviceEndpoints,
            Profile = Env("AWS_PROFILE"),
            CacheLimitBytes = cacheLimit,
            ConflictPolicy = policy,
            ChecksumMode = checksums,
            UseStorageClasses = storageClasses,
            RequestEncryption = requestEncryption,
            LeanDataPlane = leanDataPlane,
            CostLimit = Operations.CostLimit.Parse(Pick("MANIMCLOUD_COST_LIMIT", "cost_limit")),
            PriceTablePath = Pick("MANIMCLOUD_PRICE_TABLE", "price_table"),
            PolicyConditions = Pick("MANIMCLOUD_POLICY_CONDITIONS", "policy_conditions") is { } conditions ? Provisioning.PolicyStore.Parse(conditions) : null,
            Delivery = ManimCloud.Delivery.DeliveryOptions.Load(Pick),
            Monitoring = Operations.Monitoring.MonitoringOptions.Load(Pick),
            Ffmpeg = Pick("MANIMCLOUD_FFMPEG", "ffmpeg"),
            Pipeline = global::ManimCloud.Pipeline.PipelineSettings.Load(Pick),
        };
    }

    /// <summary>Problems that make the configuration unusable, each with its fix. Empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (CloudConfigured && (VideoBucket is null || CodeBucket is null || Table is null))
            problems.Add("Cloud mode needs all of MANIMCLOUD_VIDEO_BUCKET, MANIMCLOUD_CODE_BUCKET and MANIMCLOUD_TABLE; "
                + "set the missing ones (or run `manimcloud provision`), or unset them all for local-only mode.");
        foreach (var (name, value) in new[] { ("MANIMCLOUD_VIDEO_BUCKET", VideoBucket), ("MANIMCLOUD_CODE_BUCKET", CodeBucket) })
            if (value is not null && !System.Text.RegularExpressions.Regex.IsMatch(value, "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"))
                problems.Add($"{name} '{value}' is not a valid S3 bucket name (3–63 characters of a-z, 0-9, '.', '-').");
        if (Table is not null && !System.Text.RegularExpressions.Regex.IsMatch(Table, "^[A-Za-z0-9_.-]{3,255}$"))
            problems.Add($"MANIMCLOUD_TABLE '{Table}' is not a valid DynamoDB table name (3–255 characters of A-Z a-z 0-9 _ . -).");
        if (MediaConvertRole is not null && !System.Text.RegularExpressions.Regex.IsMatch(MediaConvertRole, @"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$"))
            problems.Add($"MANIMCLOUD_MEDIACONVERT_ROLE '{MediaConvertRole}' is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME); "
                + "`manimcloud iam policy --role mediaconvert` prints the role's policies.");
        if (CloudConfigured && Region is null && EndpointUrl is null && S3EndpointUrl is null && DynamoDbEndpointUrl is null)
            problems.Add("No AWS region: set AWS_REGION (for example eu-west-1).");
        foreach (var (name, value) in new[] { ("AWS_ENDPOINT_URL", EndpointUrl), ("AWS_ENDPOINT_URL_S3", S3EndpointUrl), ("AWS_ENDPOINT_URL_DYNAMODB", DynamoDbEndpointUrl) }
                     .Concat(ServiceEndpointUrls.Select(kv => ($"AWS_ENDPOINT_URL_{kv.Key}", (string?)kv.Value))))
            if (value is not null && !Uri.TryCreate(value, UriKind.Absolute, out _))
                problems.Add($"{name} '{value}' is not an absolute URL.");
        problems.AddRange(Delivery.Validate());
        problems.AddRange(Monitoring.Validate());
        problems.AddRange(Pipeline.Validate(CloudConfigured));
        return problems;
    }

    public void EnsureValid()
    {
        var problems = Validate();
        if (problems.Count > 0)
            throw new ManimCloudException(ErrorKind.InvalidInput, "The configuration is not usable: " + string.Join(" ", problems),
                "Fix the settings named above; `manimcloud config validate` checks them again.");
    }

    /// <summary>One string value of the workspace config file, or null (no file, no such key).</summary>
    public static string? ConfigFileValue(string home, string key) =>
        ReadConfigFile(Path.Combine(home, "config.json"))?[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static JsonObject? ReadConfigFile(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            var node = JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new JsonException("the top level is not an object");
            foreach (var secret in new[] { "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "secret_key", "access_key" })
                if (node.ContainsKey(secret))
                    throw new ManimCloudException(ErrorKind.InvalidInput, $"{path} contains '{secret}'.",
                        "Credentials never go in the config file: remove it and use the AWS credential chain (environment, profile, SSO or role).");
            return node;
        }
        catch (JsonException e)
        {
            throw new ManimCloudException(ErrorKind.InvalidInput, $"The config file {path} is not valid JSON: {e.Message}", "Fix or delete the file.", e);
        }
    }

    /// <summary>Writes settings into the workspace config file (atomically), keeping keys it does not name.</summary>
    public static void SaveToConfigFile(string home, IReadOnlyDictionary<string, string> values)
    {
        var path = Path.Combine(home, "config.json");
        Directory.CreateDirectory(home);
        var node = ReadConfigFile(path) ?? new JsonObject();
        foreach (var (k, v) in values) node[k] = v;
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.Move(tmp, path, overwrite: true);
    }
}
