using Amazon.KeyManagementService;
using Amazon.KeyManagementService.Model;
using ManimCloud.Aws;
using ManimCloud.Domain;
using ManimCloud.Resilience;
using ManimCloud.Workspace;

namespace ManimCloud.Provisioning;

/// <summary>
/// Creates, or brings into line, the AWS resources of one environment: the video bucket, the code bucket (with
/// Object Lock) and the metadata table. Idempotent: every setting is read back and compared, only what differs is
/// written, and a second apply reports every step unchanged. <see cref="PlanAsync"/> only reads (the dry run).
/// </summary>
public sealed class Provisioner : IDisposable
{
    private readonly ManimCloudOptions _options;
    private readonly AwsClients _clients;
    private readonly bool _ownsClients;
    private readonly RetryPipeline _retry;
    private KmsKeyRef? _kms;
    /// <summary>Whether this S3 store evaluates bucket-policy conditions: known on AWS, else configured, remembered from
    /// an earlier apply in this workspace, or found out by this apply's probe write.</summary>
    private PolicyConditionSupport _conditions;
    private QueueProvisioning? _queue;
    private Delivery.DistributionProvisioning? _delivery;

    /// <summary>The entry point for the CLI: clients from the options (default credential chain), disposed with the provisioner.</summary>
    public static Provisioner ForOptions(ManimCloudOptions options, bool includeQueue = false) => new(options, new AwsClients(options), ownsClients: true, includeQueue);

    /// <param name="includeQueue">Also the pipeline's job queue and dead-letter queue (always when MANIMCLOUD_QUEUE is set).</param>
    public Provisioner(ManimCloudOptions options, AwsClients clients, bool includeQueue = false) : this(options, clients, ownsClients: false, includeQueue) { }

    private Provisioner(ManimCloudOptions options, AwsClients clients, bool ownsClients, bool includeQueue = false)
    {
        var defaults = ManimCloudOptions.DefaultNames(options.Environment);
        var queue = options.Pipeline.Queue is { } q ? QueueProvisioning.NameOf(q) : includeQueue ? $"manimcloud-{options.Environment}-jobs" : null;
        Names = new ProvisionNames(options.VideoBucket ?? defaults.Videos, options.CodeBucket ?? defaults.Code, options.Table ?? defaults.Table, queue);
        Region = options.Region ?? "us-east-1";
        // Validate the names actually used (explicit or default) before anything touches AWS.
        (options with { VideoBucket = Names.VideoBucket, CodeBucket = Names.CodeBucket, Table = Names.Table, Region = Region }).EnsureValid();
        if (Names.VideoBucket == Names.CodeBucket)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"The video and code buckets are both named {Names.VideoBucket}.",
                "They need different settings (Object Lock on the code bucket): give MANIMCLOUD_VIDEO_BUCKET and MANIMCLOUD_CODE_BUCKET different names.");
        _options = options;
        _clients = clients;
        _ownsClients = ownsClients;
        _retry = new RetryPipeline(AwsErrors.Classify);
        _conditions = !CustomEndpoint ? PolicyConditionSupport.Evaluated
            : options.PolicyConditions ?? PolicyStore.Parse(ManimCloudOptions.ConfigFileValue(options.Home, PolicyConditionsKey));
    }

    /// <summary>The config.json key under which an apply remembers what it found out about the store's policy evaluation.</summary>
    public const string PolicyConditionsKey = "policy_conditions";

    /// <summary>S3 is reached at an endpoint of the user's (moto, Ceph RGW, MinIO), not at AWS itself.</summary>
    private bool CustomEndpoint => _options.S3Endpoint is not null;

    private PolicyStore PolicyStore => new(_options.S3Endpoint?.StartsWith("http://", StringComparison.OrdinalIgnoreCase) == true, _conditions);

    /// <summary>What bucket policies can hold on the configured S3 store, as far as known without a probe (for commands
    /// that write statements of their own, e.g. delivery's CloudFront read). AWS: everything.</summary>
    public static PolicyStore PolicyStoreFor(ManimCloudOptions options) => options.S3Endpoint is null ? PolicyStore.Aws
        : new(options.S3Endpoint.StartsWith("http://", StringComparison.OrdinalIgnoreCase),
            options.PolicyConditions ?? PolicyStore.Parse(ManimCloudOptions.ConfigFileValue(options.Home, PolicyConditionsKey)));

    /// <summary>The names provisioned: the configured ones exactly, else the environment's defaults.</summary>
    public ProvisionNames Names { get; }

    public string Region { get; }

    /// <summary>Whether a complete apply records the names, region and KMS key in {home}/config.json (default: yes).</summary>
    public bool SaveNamesToConfig { get; init; } = true;

    /// <summary>Only the CloudFront side (`delivery provision`): the distribution, its keys and policies, the bucket's read statement.</summary>
    public bool DeliveryOnly { get; init; }

    /// <summary>Whether this run converges the CloudFront side: `delivery provision`, or `provision` with delivery on.</summary>
    private bool IncludesDelivery => DeliveryOnly || _options.Delivery.IsEnabled;

    /// <summary>How long to wait for the table (and a new index's backfill) to become ACTIVE.</summary>
    public TimeSpan TableWaitTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>Reads the current state and returns every step with what it would do. Writes nothing.</summary>
    public async Task<ProvisionPlan> PlanAsync(CancellationToken ct = default)
    {
        var checks = await InspectAsync(ct);
        return ToPlan(checks.Select(c => c.Step).ToList(), applied: false);
    }

    /// <summary>
    /// Applies the steps that differ, in order, then reads everything back to confirm, and (when complete) records the
    /// names in the workspace config file (<see cref="SaveNamesToConfig"/>). Returns what was done.
    /// Throws <see cref="ProvisioningIncompleteException"/> (carrying the plan) when a step failed, which stops the
    /// rest, or when something cannot be fixed in place, which does not stop the independent steps after it.
    /// </summary>
    public async Task<ProvisionPlan> ApplyAsync(CancellationToken ct = default)
    {
        var checks = await InspectAsync(ct);
        var steps = new List<ProvisionStep>(checks.Count);
        ManimCloudException? failure = null;
        ProvisionStep? failedStep = null;
        foreach (var (step, apply) in checks)
        {
            if (failure is not null || !step.WouldChange)
            {
                steps.Add(step);
                continue;
            }
            try
            {
                if (apply is not null) await apply(ct);
                steps.Add(step with { Applied = true });
            }
            catch (CannotFixInPlaceException e)
            {
                steps.Add(step with { Action = StepAction.Blocked, Note = e.Message });
            }
            catch (UnsupportedByStoreException e)
            {
                steps.Add(step with { Action = StepAction.Unsupported, Note = e.Message });
            }
            catch (ManimCloudException e)
            {
                failure = e;
                failedStep = step with { Error = $"{e.Message} {e.Hint}" };
                steps.Add(failedStep);
            }
        }

        if (failure is null && CustomEndpoint && !DeliveryOnly)
        {
            try
            {
                steps = await EnsureWritableAsync(steps, ct);
            }
            catch (ManimCloudException e)
            {
                failure = e;
                failedStep = steps.LastOrDefault(s => s.Setting == "policy") ?? steps[^1];
            }
        }
        if (failure is null && steps.Any(s => s.Applied)) steps = await ConfirmAsync(steps, ct);
        var complete = failure is null && steps.All(s => s.Action != StepAction.Blocked);
        var plan = ToPlan(steps, applied: true, complete && SaveNamesToConfig ? SaveNames() : null);

        if (failure is not null)
            throw new ProvisioningIncompleteException(failure.Kind,
                $"Provisioning stopped at the {failedStep!.Setting} of {failedStep.Resource}: {failure.Message}", failure.Hint, plan, failure);
        if (plan.Blocked > 0)
        {
            var blocked = plan.Steps.Where(s => s.Action == StepAction.Blocked).ToList();
            throw new ProvisioningIncompleteException(ErrorKind.Conflict,
                $"Provisioning applied {plan.Changed} change(s), but {blocked.Count} setting(s) cannot be fixed in place: "
                + string.Join("; ", blocked.Select(s => $"{s.Setting} of {s.Resource} is {s.Current}, should be {s.Desired}")) + ".",
                string.Join(" ", blocked.Select(s => s.Note)), plan);
        }
        return plan;
    }

    /// <summary>
    /// Provisioning must leave a deployment ManimCloud can write to. Away from AWS a store may not evaluate the bucket
    /// policy's conditions (moto counts them all as matched, so a conditional Deny denies every write): a probe write
    /// to each bucket finds out. When the store refuses a write the policy allows, the conditional statements are left
    /// out (the plan lists them under left_out, with why) and the write is tried again. A refusal that remains comes
    /// from something other than ManimCloud's statements and is reported, naming the bucket.
    /// </summary>
    private async Task<List<ProvisionStep>> EnsureWritableAsync(List<ProvisionStep> steps, CancellationToken ct)
    {
        var probe = new WriteProbe(_clients.S3, _retry, _kms?.Arn ?? _options.KmsKey, _options.RequestEncryption);
        // A bucket blocked (in another region) is not this deployment's yet: leave it alone.
        var buckets = new[] { Names.VideoBucket, Names.CodeBucket }
            .Where(b => !steps.Any(s => s.Resource == $"s3://{b}" && s.Action == StepAction.Blocked)).ToList();
        var refused = new List<string>();
        foreach (var bucket in buckets)
            if (!await probe.CanWriteAsync(bucket, ct)) refused.Add(bucket);
        if (refused.Count == 0)
        {
            if (_conditions == PolicyConditionSupport.Unknown) _conditions = PolicyConditionSupport.Evaluated;
            return steps;
        }
        if (_conditions != PolicyConditionSupport.NotEvaluated)
        {
            _conditions = PolicyConditionSupport.NotEvaluated;
            var again = (await InspectAsync(ct)).Where(c => c.Step.Setting == "policy" && c.Step.WouldChange).ToList();
            foreach (var (step, apply) in again)
            {
                if (apply is not null) await apply(ct);
                var index = steps.FindIndex(s => (s.Resource, s.Setting) == (step.Resource, step.Setting));
                var before = index < 0 ? null : steps[index];
                // Back to what the bucket had before this run (a workspace that had not learnt yet what the store does):
                // report it as unchanged, saying what was tried.
                var merged = before is null ? step with { Applied = true }
                    : before.Current == step.Desired
                        ? before with { Desired = step.Desired, Action = StepAction.Unchanged, Applied = false,
                            Note = "The full policy was tried, and this store then refused ManimCloud's writes: it stays as it was. " + step.Note?.Trim() }
                        : before with { Desired = step.Desired, Action = before.Action == StepAction.Unchanged ? step.Action : before.Action, Applied = true, Note = step.Note };
                if (index < 0) steps.Add(merged); else steps[index] = merged;
            }
            refused = [];
            foreach (var bucket in buckets)
                if (!await probe.CanWriteAsync(bucket, ct)) refused.Add(bucket);
            if (refused.Count == 0) return steps;
        }
        throw new ManimCloudException(ErrorKind.Auth,
            $"ManimCloud cannot write to {string.Join(" and ", refused.Select(b => $"s3://{b}"))}: the store refused a probe write "
            + "even without ManimCloud's conditional policy statements.",
            "A bucket-policy statement that is not ManimCloud's (its Sid does not start with ManimCloud), or the credentials, refuse s3:PutObject: "
            + "check `aws s3api get-bucket-policy` and the identity's permissions. If the store has started evaluating conditions, "
            + $"remove \"{PolicyConditionsKey}\" from {_options.ConfigPath} (or set MANIMCLOUD_POLICY_CONDITIONS=probe) and provision again.");
    }

    /// <summary>Reads the applied settings back. S3 bucket settings are eventually consistent, so a mismatch is re-read a few times.</summary>
    private async Task<List<ProvisionStep>> ConfirmAsync(List<ProvisionStep> steps, CancellationToken ct)
    {
        Dictionary<(string, string), ProvisionStep> now = [];
        for (var attempt = 0; attempt < 4; attempt++)
        {
            if (attempt > 0) await Task.Delay(TimeSpan.FromSeconds(attempt), ct);
            now = (await InspectAsync(ct)).ToDictionary(c => (c.Step.Resource, c.Step.Setting), c => c.Step);
            if (steps.Where(s => s.Applied).All(s => now.TryGetValue((s.Resource, s.Setting), out var r) && r.Action == StepAction.Unchanged)) break;
        }
        return steps.Select(s =>
        {
            if (!s.Applied) return s;
            var read = now.GetValueOrDefault((s.Resource, s.Setting));
            return read?.Action == StepAction.Unchanged
                ? s with { Converged = true }
                : s with { Converged = false, Note = $"Written, but it reads back as: {read?.Current ?? "(not reported)"}." };
        }).ToList();
    }

    private async Task<List<ProvisionCheck>> InspectAsync(CancellationToken ct)
    {
        var kms = await ResolveKmsKeyAsync(ct);
        var customEndpoint = CustomEndpoint;
        var store = PolicyStore;
        // The three resources are independent: read them at the same time (reading is latency-bound), keep the order for applying.
        var inspections = DeliveryOnly ? [] : new List<Task<List<ProvisionCheck>>>
        {
            new BucketProvisioning(_clients.S3, _retry, BucketRole.Videos, Names.VideoBucket, Region, customEndpoint, kms, store, _options.UseStorageClasses).InspectAsync(ct),
            new BucketProvisioning(_clients.S3, _retry, BucketRole.Code, Names.CodeBucket, Region, customEndpoint, kms, store, _options.UseStorageClasses).InspectAsync(ct),
            new TableProvisioning(_clients.DynamoDB, _retry, Names.Table, kms, TableWaitTimeout).InspectAsync(ct),
        };
        if (Names.Queue is { } queue)
        {
            _queue = new QueueProvisioning(_clients.Sqs, _retry, queue, queue + "-dlq");
            inspections.Add(_queue.InspectAsync(ct));
        }
        if (IncludesDelivery)
        {
            _delivery = new Delivery.DistributionProvisioning(Delivery.CloudFront.CloudFrontClient.Create(_clients), _clients.S3, _retry, _options.Environment,
                Names.VideoBucket, Region, _options.Delivery, store, _options.EndpointFor(AwsServiceDescription.CloudFront.EndpointId) is not null);
            inspections.Add(_delivery.InspectAsync(ct));
        }
        var resources = await Task.WhenAll(inspections);
        return resources.SelectMany(r => r).ToList();
    }

    /// <summary>Resolves MANIMCLOUD_KMS_KEY to its key ARN once (a read), so every store's spelling of it compares equal.</summary>
    private async Task<KmsKeyRef?> ResolveKmsKeyAsync(CancellationToken ct)
    {
        if (_options.KmsKey is not { } key) return null;
        if (_kms is not null) return _kms;
        using var client = new AmazonKeyManagementServiceClient(_clients.Credentials(), _clients.Configure(new AmazonKeyManagementServiceConfig()));
        try
        {
            var metadata = (await AwsCall.RunAsync(_retry, "Reading", $"KMS key {key}",
                t => client.DescribeKeyAsync(new DescribeKeyRequest { KeyId = key }, t), ct)).KeyMetadata;
            if (metadata.KeyState?.Value is { } state && state != "Enabled")
                throw new ManimCloudException(ErrorKind.InvalidInput, $"The KMS key {key} is {state}.",
                    "Enable the key (or cancel its deletion) in KMS, or set MANIMCLOUD_KMS_KEY to an enabled key.");
            return _kms = new KmsKeyRef(key, metadata.Arn);
        }
        catch (ManimCloudException e) when (e.Kind == ErrorKind.NotFound || SettingRead.ErrorCode(e) == "NotFoundException")
        {
            throw new ManimCloudException(ErrorKind.InvalidInput, $"The KMS key {key} (MANIMCLOUD_KMS_KEY) does not exist in {Region}.",
                "Set MANIMCLOUD_KMS_KEY to a key id, key ARN or alias (alias/NAME) in this region, or unset it for SSE-S3.", e);
        }
    }

    /// <summary>Records the provisioned names in the workspace config file, so later commands use this deployment
    /// (environment variables still win). Returns the file's path.</summary>
    private string SaveNames()
    {
        var values = new Dictionary<string, string>
        {
            ["video_bucket"] = Names.VideoBucket,
            ["code_bucket"] = Names.CodeBucket,
            ["table"] = Names.Table,
            ["region"] = Region,
        };
        if (_options.KmsKey is { } key) values["kms_key"] = key;
        if (CustomEndpoint && _conditions != PolicyConditionSupport.Unknown) values[PolicyConditionsKey] = PolicyStore.Name(_conditions);
        if (_queue?.WorkQueueUrl is { } queueUrl) values["queue"] = queueUrl;
        if (_delivery is not null)
        {
            foreach (var (name, value) in _delivery.ConfigValues) values[name] = value;
            // The local service trusts what CloudFront's key group trusts, so links verify the same on both.
            var keys = new Delivery.PlaybackKeys(_options.Home, _options.Delivery);
            foreach (var (id, pem) in _delivery.GroupKeys.Where(k => k.Id != "(new)")) keys.Trust(id, pem);
        }
        ManimCloudOptions.SaveToConfigFile(_options.Home, values);
        return _options.ConfigPath;
    }

    private ProvisionPlan ToPlan(List<ProvisionStep> steps, bool applied, string? savedConfig = null) =>
        new(_options.Environment, Region, Names, applied, steps,
            IamPolicy.ForDeployment(Names.VideoBucket, Names.CodeBucket, Names.Table, _kms?.Arn ?? _options.KmsKey, Region))
        {
            SavedConfigPath = savedConfig,
            PolicyConditions = PolicyStore.Name(_conditions),
            LeftOut = new[] { Names.VideoBucket, Names.CodeBucket }
                .SelectMany(b => BucketPolicy.ForStore(b, AwsPartition.For(Region), PolicyStore).LeftOut).ToList(),
        };

    public void Dispose()
    {
        if (_ownsClients) _clients.Dispose();
    }
}
