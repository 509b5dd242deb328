using System.Text.Json.Nodes;
using System.Xml.Linq;
using Amazon.S3;
using Amazon.S3.Model;
using ManimCloud.Aws;
using ManimCloud.Delivery.CloudFront;
using ManimCloud.Domain;
using ManimCloud.Provisioning;
using ManimCloud.Resilience;

namespace ManimCloud.Delivery;

/// <summary>
/// Converges the CloudFront side of one environment (SPEC R5), as provisioning steps: the Origin Access Control, the
/// signing key's public key and the key group (a new key is added beside the old one, so links signed before a
/// rotation keep working until the old key is taken out), the cache and response-headers policies, the distribution
/// (<see cref="DistributionDefinition"/>), and the video bucket's statement letting that distribution, and only it,
/// read <c>transcoded/</c>. Every setting is read and compared first; the distribution is updated with If-Match on the
/// ETag it was read with; a distribution without ManimCloud's environment tag is never written.
/// </summary>
internal sealed class DistributionProvisioning(
    ICloudFront cloudFront, IAmazonS3 s3, RetryPipeline retry, string environment, string bucket, string region,
    DeliveryOptions options, PolicyStore policyStore, bool customEndpoint)
{
    public const string CdnReadSid = DistributionDefinition.CdnReadSid;
    private const string New = "(new)";

    private string? _oacId;
    private string? _publicKeyId;
    private string? _keyGroupId;
    private EdgePolicies? _policies;
    private bool _legacyPolicies;
    private CloudFrontDistribution? _distribution;

    private readonly string _deployment = DistributionDefinition.Deployment(environment, bucket);
    public string OacName => $"manimcloud-{_deployment}";
    public string KeyGroupName => $"manimcloud-{_deployment}";

    /// <summary>What the deployment's config should record after an apply: domain, distribution id, key pair id.</summary>
    public IReadOnlyDictionary<string, string> ConfigValues => _distribution is null || _publicKeyId is null ? new Dictionary<string, string>()
        : new Dictionary<string, string> { ["cdn_domain"] = _distribution.DomainName, ["distribution_id"] = _distribution.Id, ["cdn_key_pair_id"] = _publicKeyId };

    /// <summary>The public keys of the key group as CloudFront holds them (id, PEM), for the local service's trusted folder.</summary>
    public List<(string Id, string Pem)> GroupKeys { get; } = [];

    public async Task<List<ProvisionCheck>> InspectAsync(CancellationToken ct)
    {
        if (options.PrivateKeyPath is not { } keyPath)
            throw new ManimCloudException(ErrorKind.InvalidInput, "Delivery is on, but no playback signing key is configured.",
                "Make one (`openssl genrsa -out ~/.manimcloud/cdn-key.pem 2048; chmod 600 ~/.manimcloud/cdn-key.pem`) and set MANIMCLOUD_CDN_PRIVATE_KEY to its path.");
        using var key = PlaybackKey.Load(keyPath, null);
        var pem = key.PublicKeyPem();
        var checks = new List<ProvisionCheck>();

        // Origin Access Control
        var oac = (await Call("Listing the origin access controls of", "CloudFront", t => cloudFront.ListOriginAccessControlsAsync(t), ct))
            .FirstOrDefault(o => o.Name == OacName);
        _oacId = oac?.Id;
        var oacResource = $"cloudfront:origin-access-control/{OacName}";
        checks.Add(oac is null
            ? ProvisionCheck.OnCreate(oacResource, "signing", "sigv4 always s3", async t =>
                _oacId = (await Call("Creating", oacResource, x => cloudFront.CreateOriginAccessControlAsync(OacName, $"ManimCloud {environment}: CloudFront reads the video bucket", x), t)).Id)
            : Compare(oacResource, "signing", $"{oac.SigningProtocol} {oac.SigningBehavior} {oac.OriginType}", "sigv4 always s3", null,
                "An origin access control of this name signs differently; delete it (CloudFront console) or rename it, then provision again."));

        // The public key of the configured signing key
        var keyName = $"manimcloud-{_deployment}-{key.Id}";
        var publicKeys = await Call("Listing the public keys of", "CloudFront", t => cloudFront.ListPublicKeysAsync(t), ct);
        var publicKey = publicKeys.FirstOrDefault(k => SamePem(k.EncodedKey, pem)) ?? publicKeys.FirstOrDefault(k => k.Name == keyName);
        if (publicKey is not null && !SamePem(publicKey.EncodedKey, pem))
            throw new ManimCloudException(ErrorKind.Conflict, $"CloudFront's public key {keyName} is not the public half of {keyPath}.",
                "Public keys cannot be changed: delete that public key in CloudFront (after taking it out of the key group) or use the key it was made from.");
        _publicKeyId = publicKey?.Id;
        var keyResource = $"cloudfront:public-key/{keyName}";
        checks.Add(publicKey is null
            ? ProvisionCheck.OnCreate(keyResource, "public key", $"RSA-2048 of {Path.GetFileName(keyPath)}", async t =>
                _publicKeyId = (await Call("Registering", keyResource, x => cloudFront.CreatePublicKeyAsync(keyName, pem, keyName, "ManimCloud playback signing key", x), t)).Id)
            : new ProvisionCheck(new ProvisionStep(keyResource, "public key", $"registered as {publicKey.Id}", $"registered as {publicKey.Id}", StepAction.Unchanged)));

        // The key group: the signing key joins whatever keys the group already trusts (rotation keeps the old one).
        var groupResource = $"cloudfront:key-group/{KeyGroupName}";
        var group = (await Call("Listing the key groups of", "CloudFront", t => cloudFront.ListKeyGroupsAsync(t), ct)).FirstOrDefault(g => g.Name == KeyGroupName);
        _keyGroupId = group?.Id;
        var currentKeys = group?.PublicKeyIds.Order(StringComparer.Ordinal).ToList() ?? [];
        var desiredKeys = currentKeys.Append(_publicKeyId ?? New).Distinct().Order(StringComparer.Ordinal).ToList();
        foreach (var id in desiredKeys)
            if (publicKeys.FirstOrDefault(k => k.Id == id) is { } k) GroupKeys.Add((k.Id, k.EncodedKey));
            else if (id == New || id == _publicKeyId) GroupKeys.Add((id, pem));
        checks.Add(group is null
            ? ProvisionCheck.OnCreate(groupResource, "keys", string.Join(",", desiredKeys), async t =>
                _keyGroupId = (await Call("Creating", groupResource, x => cloudFront.CreateKeyGroupAsync(KeyGroupName, [_publicKeyId!], "ManimCloud playback: trusted signers", x), t)).Id)
            : ProvisionCheck.Compare(groupResource, "keys", string.Join(",", currentKeys), string.Join(",", desiredKeys), async t =>
            {
                var now = await Call("Reading", groupResource, x => cloudFront.GetKeyGroupAsync(group.Id, x), t)
                    ?? throw new ManimCloudException(ErrorKind.Conflict, $"The key group {KeyGroupName} disappeared while provisioning.", "Run provision again.");
                var keys = now.PublicKeyIds.Append(_publicKeyId!).Distinct().ToList();
                try
                {
                    await Call("Adding the signing key to", groupResource, x => cloudFront.UpdateKeyGroupAsync(group.Id, KeyGroupName, keys, "ManimCloud playback: trusted signers", now.ETag!, x), t);
                }
                catch (ManimCloudException e) when (customEndpoint && e.InnerException is Amazon.Runtime.AmazonServiceException { StatusCode: >= System.Net.HttpStatusCode.InternalServerError })
                {
                    // moto has no UpdateKeyGroup (it answers 500): say so rather than fail the whole run.
                    throw new UnsupportedByStoreException("This CloudFront cannot update a key group (moto answers UpdateKeyGroup with a server error): " +
                        "the new key is registered but not trusted by the group here. On AWS it is added beside the old key.", e);
                }
            }, "The new key is added; the old one stays trusted until you take it out of the group, so links already handed out keep working."));

        // Cache and response-headers policies (absent from moto: legacy TTLs there, said so)
        checks.AddRange(await InspectPoliciesAsync(ct));

        // The distribution
        checks.AddRange(await InspectDistributionAsync(ct));

        // The bucket's statement for this distribution (none for a distribution that is not ours)
        if (!checks.Any(c => c.Step.Action == StepAction.Blocked && c.Step.Setting == "ownership")) checks.Add(await InspectBucketStatementAsync(ct));
        return checks;
    }

    private async Task<List<ProvisionCheck>> InspectPoliciesAsync(CancellationToken ct)
    {
        var checks = new List<ProvisionCheck>();
        IReadOnlyList<CloudFrontPolicy> cache, headers;
        try
        {
            cache = await cloudFront.ListCachePoliciesAsync(ct);
            headers = await cloudFront.ListResponseHeadersPoliciesAsync(ct);
        }
        catch (Exception e) when (customEndpoint && AwsErrors.Classify(e) == ErrorKind.NotFound)
        {
            _legacyPolicies = true;
            checks.Add(new ProvisionCheck(new ProvisionStep("cloudfront:policies", "cache and response headers", "not offered by this CloudFront", "legacy TTLs per behaviour",
                StepAction.Unsupported,
                "This CloudFront has no cache or response-headers policies (moto): every behaviour carries the same TTLs as legacy ForwardedValues " +
                "(a year for segments, up to a minute for manifests), but no security headers or CORS are added at the edge. On AWS the policies are made and used.")));
            return checks;
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            throw AwsErrors.Describe(e, "Listing the cache policies of", "CloudFront");
        }
        string? immutable = null, manifests = null, playback = null;
        checks.Add(PolicyCheck("cache-policy", DistributionDefinition.CachePolicy(DistributionDefinition.ImmutablePolicyName(_deployment), true), cache,
            cloudFront.CreateCachePolicyAsync, id => immutable = id));
        checks.Add(PolicyCheck("cache-policy", DistributionDefinition.CachePolicy(DistributionDefinition.ManifestPolicyName(_deployment), false), cache,
            cloudFront.CreateCachePolicyAsync, id => manifests = id));
        checks.Add(PolicyCheck("response-headers-policy", DistributionDefinition.ResponseHeadersPolicy(DistributionDefinition.HeadersPolicyName(_deployment), options.CorsOrigins), headers,
            cloudFront.CreateResponseHeadersPolicyAsync, id => playback = id));
        _policies = new EdgePolicies(immutable ?? New, manifests ?? New, playback ?? New);
        return checks;

        ProvisionCheck PolicyCheck(string kind, XElement desired, IReadOnlyList<CloudFrontPolicy> existing, Func<XElement, CancellationToken, Task<CloudFrontPolicy>> create, Action<string> found)
        {
            var name = desired.Element("Name")!.Value;
            var resource = $"cloudfront:{kind}/{name}";
            var current = existing.FirstOrDefault(p => p.Name == name);
            var want = DistributionDefinition.Canonical(desired, desired);
            if (current is null)
                return ProvisionCheck.OnCreate(resource, "config", want, async t =>
                {
                    var made = await Call("Creating", resource, x => create(desired, x), t);
                    found(made.Id);
                    _policies = _policies! with
                    {
                        ImmutableCachePolicyId = name == DistributionDefinition.ImmutablePolicyName(_deployment) ? made.Id : _policies.ImmutableCachePolicyId,
                        ManifestCachePolicyId = name == DistributionDefinition.ManifestPolicyName(_deployment) ? made.Id : _policies.ManifestCachePolicyId,
                        ResponseHeadersPolicyId = name == DistributionDefinition.HeadersPolicyName(_deployment) ? made.Id : _policies.ResponseHeadersPolicyId,
                    };
                });
            found(current.Id);
            return Compare(resource, "config", DistributionDefinition.Canonical(desired, current.Config), want, null,
                $"The policy {name} differs from ManimCloud's; it is shared by every behaviour, so it is not rewritten in place: delete it (after provisioning detaches it) or fix it in the CloudFront console.");
        }
    }

    /// <summary>The distribution's settings as steps: by setting, so a dry run shows which differ.</summary>
    private static readonly (string Setting, string Element)[] Settings =
    [
        ("origins", "Origins"), ("default behaviour", "DefaultCacheBehavior"), ("cache behaviours", "CacheBehaviors"),
        ("error responses", "CustomErrorResponses"), ("comment", "Comment"), ("price class", "PriceClass"), ("enabled", "Enabled"),
        ("geo restriction", "Restrictions"), ("http version", "HttpVersion"), ("ipv6", "IsIPV6Enabled"),
    ];

    private DistributionRefs Refs => new(_oacId ?? New, _keyGroupId ?? New, _legacyPolicies ? null : _policies);

    private XElement Desired(string? callerReference) => DistributionDefinition.Config(environment, bucket, region, options, Refs, callerReference);

    private async Task<List<ProvisionCheck>> InspectDistributionAsync(CancellationToken ct)
    {
        var checks = new List<ProvisionCheck>();
        var found = await FindAsync(ct);
        if (found is { Ours: false } foreign)
        {
            checks.Add(ProvisionCheck.Blocked($"cloudfront:distribution/{foreign.Distribution.Id}", "ownership", "not tagged as ManimCloud's",
                $"{DistributionDefinition.EnvironmentTag}={environment} {DistributionDefinition.BucketTag}={bucket}",
                $"MANIMCLOUD_DISTRIBUTION_ID names {foreign.Distribution.Id}, which does not carry the tags {DistributionDefinition.EnvironmentTag}={environment} and {DistributionDefinition.BucketTag}={bucket}: " +
                "ManimCloud never changes a distribution that is not its own. Unset MANIMCLOUD_DISTRIBUTION_ID (provision then makes one) or tag that distribution deliberately."));
            return checks;
        }
        _distribution = found?.Distribution;
        if (_distribution is null)
        {
            var resource = Resource;
            var desired = Desired(null);
            var first = true;
            foreach (var (setting, element) in Settings)
            {
                Func<CancellationToken, Task>? apply = first ? CreateDistributionAsync : null;
                checks.Add(ProvisionCheck.OnCreate(resource, setting, DistributionDefinition.Canonical(desired.Element(element)!, desired.Element(element)), apply));
                first = false;
            }
            return checks;
        }
        var (config, _) = await Call("Reading the config of", Resource, t => cloudFront.GetDistributionConfigAsync(_distribution.Id, t), ct)
            ?? throw new ManimCloudException(ErrorKind.Conflict, $"Distribution {_distribution.Id} disappeared while provisioning.", "Run provision again.");
        var wanted = Desired(config.Element("CallerReference")?.Value);
        foreach (var (setting, element) in Settings)
        {
            var (current, want, notKept) = Texts(wanted.Element(element)!, config.Element(element));
            var note = notKept.Count > 0
                ? $"This CloudFront does not keep {string.Join(", ", notKept)} (moto drops an origin's OAC id): sent, not compared. On AWS they are compared."
                : null;
            checks.Add(current == want
                ? new ProvisionCheck(new ProvisionStep(Resource, setting, current, want, StepAction.Unchanged, note))
                : ProvisionCheck.Compare(Resource, setting, current, want, UpdateDistributionAsync, Difference(current, want)));
        }
        return checks;
    }

    /// <summary>Named by its caller reference, which stays the same from the dry run through creation and later runs (the id is in config.json).</summary>
    private string Resource => $"cloudfront:distribution/{DistributionDefinition.CallerReference(_deployment)}";

    private sealed record Found(CloudFrontDistribution Distribution, bool Ours);

    /// <summary>The configured distribution (whoever's it is), else the one tagged with this environment.</summary>
    private async Task<Found?> FindAsync(CancellationToken ct)
    {
        if (options.DistributionId is { } id)
        {
            var d = await Call("Reading", $"cloudfront:distribution/{id}", t => cloudFront.GetDistributionAsync(id, t), ct);
            if (d is not null) return new Found(d, await IsOursAsync(d.Arn, ct));
        }
        await foreach (var summary in cloudFront.ListDistributionsAsync(ct))
            if (await IsOursAsync(summary.Arn, ct))
                return new Found((await Call("Reading", $"cloudfront:distribution/{summary.Id}", t => cloudFront.GetDistributionAsync(summary.Id, t), ct))!, true);
        return null;
    }

    private async Task<bool> IsOursAsync(string arn, CancellationToken ct)
    {
        var tags = await Call("Reading the tags of", arn, t => cloudFront.ListTagsAsync(arn, t), ct);
        return tags.GetValueOrDefault(DistributionDefinition.EnvironmentTag) == environment && tags.GetValueOrDefault(DistributionDefinition.BucketTag) == bucket;
    }

    private async Task CreateDistributionAsync(CancellationToken ct)
    {
        var tags = new Dictionary<string, string> { [DistributionDefinition.EnvironmentTag] = environment, [DistributionDefinition.BucketTag] = bucket };
        _distribution = await Call("Creating", "cloudfront:distribution", t => cloudFront.CreateDistributionAsync(Desired(null), tags, t), ct);
    }

    /// <summary>One update for every drifted setting: read again, and write only if something still differs, with If-Match.</summary>
    private async Task UpdateDistributionAsync(CancellationToken ct)
    {
        var id = _distribution!.Id;
        var (config, etag) = await Call("Reading the config of", Resource, t => cloudFront.GetDistributionConfigAsync(id, t), ct)
            ?? throw new ManimCloudException(ErrorKind.Conflict, $"Distribution {id} disappeared while provisioning.", "Run provision again.");
        var desired = Desired(config.Element("CallerReference")?.Value);
        if (Settings.All(x => Texts(desired.Element(x.Element)!, config.Element(x.Element)) is var (current, want, _) && current == want)) return;
        try
        {
            _distribution = await Call("Updating", Resource, t => cloudFront.UpdateDistributionAsync(id, desired, etag, t), ct);
        }
        catch (ManimCloudException e) when (SettingRead.ErrorCode(e) == "PreconditionFailed")
        {
            throw new ManimCloudException(ErrorKind.Conflict, $"Distribution {id} was changed by someone else while provisioning read it (its ETag moved).",
                "Run provision again: it reads the new config and converges from there.", e);
        }
    }

    /// <summary>
    /// A setting's current and desired text. Away from AWS, an element CloudFront did not keep at all is left out of
    /// both sides (and named), so an emulator's gaps are reported once rather than "fixed" on every run.
    /// </summary>
    private (string Current, string Desired, List<string> NotKept) Texts(XElement desired, XElement? current)
    {
        if (!customEndpoint) return (DistributionDefinition.Canonical(desired, current), DistributionDefinition.Canonical(desired, desired), []);
        var notKept = new List<string>();
        var now = DistributionDefinition.Canonical(desired, current, notKept);
        notKept = notKept.Distinct().ToList();
        var want = notKept.Count == 0 ? DistributionDefinition.Canonical(desired, desired) : DistributionDefinition.Canonical(desired, Without(desired, notKept), []);
        return (now, want, notKept);
    }

    /// <summary>A copy of <paramref name="desired"/> without the elements at the given paths (relative to its parent).</summary>
    private static XElement Without(XElement desired, List<string> paths)
    {
        var copy = new XElement(desired);
        foreach (var path in paths.Distinct())
        {
            var parts = path.Split('/');
            IEnumerable<XElement> level = [copy];
            for (var i = 1; i < parts.Length; i++) level = level.Elements(parts[i]);
            foreach (var e in level.ToList()) e.Remove();
        }
        return copy;
    }

    private static string Difference(string current, string desired)
    {
        var i = 0;
        while (i < current.Length && i < desired.Length && current[i] == desired[i]) i++;
        var from = Math.Max(0, current.LastIndexOf('<', Math.Min(i, current.Length - 1)));
        string Around(string s) => from >= s.Length ? "" : s.Substring(from, Math.Min(90, s.Length - from));
        return $"first difference: now …{Around(current)}… should be …{Around(desired)}…";
    }

    // ------------------------------------------------------------------ the bucket's statement

    public static JsonObject CdnReadStatement(string bucket, string partition, string distributionArn) => new()
    {
        ["Sid"] = CdnReadSid,
        ["Effect"] = "Allow",
        ["Principal"] = new JsonObject { ["Service"] = "cloudfront.amazonaws.com" },
        ["Action"] = "s3:GetObject",
        ["Resource"] = $"arn:{partition}:s3:::{bucket}/{ObjectLayout.TranscodedPrefix}*",
        ["Condition"] = new JsonObject { ["StringEquals"] = new JsonObject { ["AWS:SourceArn"] = distributionArn } },
    };

    private string BucketResource => $"s3://{bucket} (cloudfront read)";

    private async Task<ProvisionCheck> InspectBucketStatementAsync(CancellationToken ct)
    {
        var current = await ReadPolicyAsync(ct);
        var (desired, leftOut) = DesiredPolicy(current, _distribution?.Arn ?? $"arn:aws:cloudfront::(account):distribution/{New}");
        var now = current is null ? SettingValue.None : PolicyJson.Normalize(current);
        var want = desired is null ? SettingValue.None : PolicyJson.Normalize(desired);
        var note = leftOut.Length > 0 ? string.Join(" ", leftOut.Select(o => $"{o.Statement} is left out: {o.Reason}"))
            : "Grants cloudfront.amazonaws.com s3:GetObject on transcoded/* for this distribution only (AWS:SourceArn); the bucket stays private.";
        return now == want
            ? new ProvisionCheck(new ProvisionStep(BucketResource, "policy", now, want, StepAction.Unchanged, note))
            : ProvisionCheck.Compare(BucketResource, "policy", now, want, async t =>
            {
                // Read again: provision's own bucket step may have written the policy since.
                var (policy, _) = DesiredPolicy(await ReadPolicyAsync(t), _distribution!.Arn);
                await AwsCall.RunAsync(retry, "Setting the bucket policy of", $"s3://{bucket}", async x =>
                {
                    if (policy is null) await s3.DeleteBucketPolicyAsync(new DeleteBucketPolicyRequest { BucketName = bucket }, x);
                    else await s3.PutBucketPolicyAsync(new PutBucketPolicyRequest { BucketName = bucket, Policy = policy.ToJsonString() }, x);
                    return true;
                }, t);
            }, note);
    }

    private (JsonObject? Policy, PolicyOmission[] LeftOut) DesiredPolicy(JsonObject? current, string arn) =>
        BucketPolicy.WithStatements(current, [CdnReadStatement(bucket, AwsPartition.For(region), arn)], $"s3://{bucket}", policyStore);

    private async Task<JsonObject?> ReadPolicyAsync(CancellationToken ct)
    {
        try
        {
            var text = await AwsCall.RunAsync(retry, "Reading the bucket policy of", $"s3://{bucket}", async t =>
            {
                var response = await s3.GetBucketPolicyAsync(new GetBucketPolicyRequest { BucketName = bucket }, t);
                // AWSSDK.S3 does not throw on a 404 here: it returns the error document as the policy text.
                return response.HttpStatusCode == System.Net.HttpStatusCode.NotFound ? null : response.Policy;
            }, ct);
            return PolicyJson.TryParse(text);
        }
        catch (ManimCloudException e) when (SettingRead.ErrorCode(e) is "NoSuchBucketPolicy" or "NoSuchBucket")
        {
            // No policy yet, or the bucket is made by this same provision run (its step comes first).
            return null;
        }
    }

    // ------------------------------------------------------------------ helpers

    private static ProvisionCheck Compare(string resource, string setting, string current, string desired, Func<CancellationToken, Task>? apply, string blockedNote) =>
        current == desired ? new ProvisionCheck(new ProvisionStep(resource, setting, current, desired, StepAction.Unchanged))
        : apply is null ? ProvisionCheck.Blocked(resource, setting, current, desired, blockedNote)
        : ProvisionCheck.Compare(resource, setting, current, desired, apply);

    private static bool SamePem(string a, string b) => Normalize(a) == Normalize(b);
    private static string Normalize(string pem) => new(pem.Where(c => !char.IsWhiteSpace(c)).ToArray());

    /// <summary>A CloudFront call whose failure is described with what was done to what (the client retries already).</summary>
    private static async Task<T> Call<T>(string action, string resource, Func<CancellationToken, Task<T>> call, CancellationToken ct)
    {
        try
        {
            return await call(ct);
        }
        catch (Exception e) when (e is not ManimCloudException && (e is not OperationCanceledException || !ct.IsCancellationRequested))
        {
            throw AwsErrors.Describe(e, action, resource);
        }
    }
}
