using ManimCloud.Aws;
using ManimCloud.Delivery.CloudFront;
using ManimCloud.Domain;
using ManimCloud.Local;
using ManimCloud.Workspace;

namespace ManimCloud.Delivery;

/// <summary>
/// Delivery (SPEC R5): signed playback links and their verification (the same format on CloudFront and on the local
/// service), the CloudFront distribution, invalidation of exactly what changed, and distribution statistics.
/// </summary>
public sealed class DeliveryService
{
    private readonly ManimCloudOptions _options;
    private readonly Lazy<PlaybackSigner> _signer;

    public DeliveryService(ManimCloudOptions options, AwsClients? aws, Catalog catalog)
    {
        _options = options;
        Aws = aws;
        Catalog = catalog;
        Keys = new PlaybackKeys(options.Home, options.Delivery);
        _signer = new(() => new PlaybackSigner(Keys.SigningKey), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    internal DeliveryService(ManimCloudClient client) : this(client.Options, client.Aws, client.Catalog)
    {
        Invalidations = new CdnInvalidations(client, this);
    }

    /// <summary>CloudFront invalidations of what a change left stale (null when built without a client).</summary>
    public CdnInvalidations? Invalidations { get; }

    /// <summary>Whether a CloudFront distribution is provisioned here (delivery on, its id known, the cloud configured).</summary>
    public bool IsProvisioned => Options.IsEnabled && Options.DistributionId is not null && Aws is not null;

    /// <summary>The distribution's id, or the error that says why there is none and what to do.</summary>
    public string RequireDistribution() => IsProvisioned ? Options.DistributionId! : throw NotProvisioned();

    internal ManimCloudException NotProvisioned()
    {
        var why = Aws is null ? "this workspace has no cloud configured (local-only mode)"
            : Options.Enabled == false ? "delivery is off (MANIMCLOUD_CDN=off)"
            : "no CloudFront distribution is configured (MANIMCLOUD_DISTRIBUTION_ID, or distribution_id in config.json)";
        return new ManimCloudException(ErrorKind.InvalidInput, $"Delivery is not provisioned: {why}.",
            Aws is null
                ? "Without a CDN the local service (`manimcloud serve`) serves playback and there is no edge cache to invalidate or measure; configure buckets and a table, then `manimcloud delivery provision`."
                : "Run `manimcloud delivery provision` (with MANIMCLOUD_CDN_PRIVATE_KEY set): it makes the distribution and records distribution_id.");
    }

    /// <summary>Statistics of the distribution from CloudWatch (AWS/CloudFront, us-east-1) and its invalidations of the period.</summary>
    public Task<DistributionStatistics> StatisticsAsync(DateTimeOffset start, DateTimeOffset end, CancellationToken ct)
    {
        var id = RequireDistribution();
        var cloudFront = Invalidations?.CloudFront ?? CloudFrontClient.Create(Aws!);
        return DistributionStatistics.ReadAsync(Operations.CloudWatch.CloudWatchClient.CreateForCloudFront(Aws!), cloudFront, id, Options.Domain, start, end, ct);
    }

    /// <summary>The published set of a version (the latest transcoded one when none is named), or what to do.</summary>
    public static RenditionSet PublishedSet(VideoRecord video, int? version)
    {
        if (video.Renditions.Count == 0)
            throw new ManimCloudException(ErrorKind.NotFound, $"Video {video.Id} has no published renditions yet.",
                "Transcode it first: `manimcloud video transcode VIDEO --wait`.");
        var n = version ?? video.Renditions.Keys.Max();
        if (!video.Renditions.TryGetValue(n, out var set))
            throw new ManimCloudException(ErrorKind.NotFound, $"Version {n} of video {video.Id} has no published renditions.",
                $"Transcoded versions: {string.Join(", ", video.Renditions.Keys.Order())}; or transcode it: `manimcloud video transcode VIDEO --version {n} --wait`.");
        return set;
    }

    internal AwsClients? Aws { get; }
    internal Catalog Catalog { get; }

    public DeliveryOptions Options => _options.Delivery;

    public PlaybackKeys Keys { get; }

    /// <summary>The signer (thread-safe; the key is read once, on first use).</summary>
    public PlaybackSigner Signer => _signer.Value;

    /// <summary>A verifier trusting this workspace's key group. Build it once and share it (it caches verified grants).</summary>
    public PlaybackVerifier CreateVerifier() => new(Keys.TrustedKeys());

    /// <summary>Where players fetch renditions: the CDN's domain over HTTPS, else the local service (MANIMCLOUD_PUBLIC_URL).</summary>
    public string PlaybackBaseUrl => Options.UsesCdn ? $"https://{Options.Domain}" : Options.PublicUrl;

    /// <summary>The base URL a rendition set's keys are relative to (its <see cref="RenditionSet.PlaybackBaseUrl"/>).</summary>
    public string KeyBaseUrl => PlaybackBaseUrl + "/";

    /// <summary>The set with its playback base URL filled in (the publish path records it in the video record).</summary>
    public RenditionSet WithPlaybackBase(RenditionSet set) => set.PlaybackBaseUrl == KeyBaseUrl ? set : set with { PlaybackBaseUrl = KeyBaseUrl };

    /// <summary>
    /// A signed link to a version's manifest, from the video's record: the latest transcoded version unless one is named.
    /// Its grant covers the video's folder and lasts the version's duration (plus a margin) beyond <paramref name="startBy"/>.
    /// </summary>
    public PlaybackLink Link(VideoRecord video, int? version, StreamFormat format, DateTimeOffset startBy, string? sourceIp = null)
    {
        return Link(video.Project, video.Id, PublishedSet(video, version), format, startBy, sourceIp);
    }

    /// <summary>A signed link to one rendition set's manifest (see <see cref="Link(VideoRecord, int?, StreamFormat, DateTimeOffset, string?)"/>).</summary>
    public PlaybackLink Link(ProjectId project, VideoId video, RenditionSet set, StreamFormat format, DateTimeOffset startBy, string? sourceIp = null)
    {
        if (sourceIp is not null && !PlaybackPolicy.TryParseCidr(sourceIp, out _, out _))
            throw new ManimCloudException(ErrorKind.InvalidInput, $"'{sourceIp}' is not an IP address or CIDR range.", "Give e.g. 203.0.113.7 or 203.0.113.0/24.");
        var folder = KeyBaseUrl + ObjectLayout.TranscodedFolder(project, video);
        var manifest = KeyBaseUrl + (format == StreamFormat.Hls ? set.HlsMasterKey : set.DashManifestKey);
        // Whole seconds, as the policy holds it, so what is reported is what is signed.
        var expires = DateTimeOffset.FromUnixTimeSeconds((startBy + TimeSpan.FromSeconds(Math.Ceiling(set.DurationSeconds)) + PlaybackLink.Margin).ToUnixTimeSeconds());
        var grant = Signer.Sign(PlaybackSigner.FolderPolicy(folder, expires, sourceIp));
        var watch = $"{Options.PublicUrl}/watch/{video}?v={set.Version}&{grant.Query}";
        return new PlaybackLink(grant.Apply(manifest), manifest, folder, grant, startBy, expires, format, set.Version, watch);
    }
}
