namespace ManimCloud.Operations;

/// <summary>One stored object version as a listing shows it (ListObjectVersions): the raw material of the storage figures.</summary>
/// <param name="NoncurrentSince">When a newer version replaced it (the newer version's time); null for the current version.</param>
public sealed record StoredVersion(string Bucket, string Key, long Size, string StorageClass, DateTimeOffset LastModified, DateTimeOffset? NoncurrentSince);

/// <summary>An incomplete multipart upload (ListMultipartUploads) and the bytes of its parts (ListParts): billed as storage until aborted.</summary>
public sealed record IncompleteUpload(string Bucket, string Key, DateTimeOffset Initiated, long Bytes);

/// <summary>
/// What a deployment used, gathered from S3 listings, CloudWatch and the video records (<see cref="UsageSurvey"/>), before
/// any price is applied. Null metric figures: CloudWatch had no datapoints (say so rather than print 0 as a fact).
/// </summary>
public sealed record DeploymentUsage
{
    public required DateTimeOffset Start { get; init; }
    public required DateTimeOffset End { get; init; }
    public required string VideoBucket { get; init; }
    public required string CodeBucket { get; init; }
    public IReadOnlyList<StoredVersion> Versions { get; init; } = [];
    public IReadOnlyList<IncompleteUpload> Uploads { get; init; } = [];
    public double? S3GetRequests { get; init; }
    public double? S3PutRequests { get; init; }
    public double? S3BytesDownloaded { get; init; }
    public double? CloudFrontBytesDownloaded { get; init; }
    public double? CloudFrontRequests { get; init; }
    public double? DynamoReadUnits { get; init; }
    public double? DynamoWriteUnits { get; init; }
    public long? TableSizeBytes { get; init; }
    /// <summary>MediaConvert output minutes in the window, by price key (tier), from the records' rendition sets.</summary>
    public IReadOnlyDictionary<string, decimal> MediaConvertMinutes { get; init; } = new Dictionary<string, decimal>();
    /// <summary>Days after which each bucket's lifecycle already expires non-current versions (absent: no such rule).</summary>
    public IReadOnlyDictionary<string, int> NoncurrentExpirationDays { get; init; } = new Dictionary<string, int>();
    /// <summary>Playback requests per video (its transcoded/ folder) in the window from access logs; null: no logs were read.</summary>
    public IReadOnlyDictionary<string, int>? ViewsByVideoFolder { get; init; }
    public IReadOnlyList<string> Notes { get; init; } = [];
}
