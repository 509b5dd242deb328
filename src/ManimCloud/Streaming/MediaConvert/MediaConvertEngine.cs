using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using ManimCloud.Domain;
using ManimCloud.Storage;

namespace ManimCloud.Streaming.MediaConvert;

/// <summary>
/// The transcode engine on AWS Elemental MediaConvert (SPEC R6), used in cloud mode when MANIMCLOUD_MEDIACONVERT_ROLE
/// is set. One job per scene, not one job over all scenes: MediaConvert would concatenate a job's inputs into one
/// encode, so every edit would encode every scene again; a job per scene clip keyed by the clip's hash and the
/// ladder encodes only the scenes that changed and reuses the others' folders, as the local engine does. Each job
/// writes CMAF segments with their HLS and DASH manifests into the scene's folder; this engine then joins the scenes'
/// manifests into the version's (<see cref="SceneJoin"/>) and writes them, after every segment is stored.
/// </summary>
public sealed class MediaConvertEngine : ITranscodeEngine
{
    public const string EngineName = "mediaconvert";

    private readonly IMediaConvertClient _client;
    private readonly IObjectStore _videos;
    private readonly string _bucket;
    private readonly string _role;
    private readonly Func<CancellationToken, Task<string?>> _kmsKeyArn;
    private readonly Func<TranscodeSource, CancellationToken, Task<ClipFacts>> _probe;
    private readonly JobLedger _ledger;

    /// <param name="videos">The video bucket's store: clips are read from it (by MediaConvert), outputs land in it.</param>
    /// <param name="kmsKeyArn">The KMS key ARN outputs are encrypted with (SSE-KMS), or null for SSE-S3.</param>
    /// <param name="probe">Picture size and audio presence of a clip.</param>
    public MediaConvertEngine(IMediaConvertClient client, IObjectStore videos, string bucket, string role,
        Func<CancellationToken, Task<string?>> kmsKeyArn, Func<TranscodeSource, CancellationToken, Task<ClipFacts>> probe, JobLedger ledger)
    {
        _client = client;
        _videos = videos;
        _bucket = bucket;
        _role = role;
        _kmsKeyArn = kmsKeyArn;
        _probe = probe;
        _ledger = ledger;
        Watch = new JobWatch(client);
    }

    public string Name => EngineName;

    /// <summary>
    /// The engine for this configuration, or null when MediaConvert is not to be used: not in cloud mode, or no
    /// MANIMCLOUD_MEDIACONVERT_ROLE. Clips are read from and outputs written to the video bucket.
    /// </summary>
    public static MediaConvertEngine? TryCreate(Workspace.ManimCloudOptions options, Aws.AwsClients? aws, Backend? cloud, Local.Catalog catalog,
        Func<TranscodeSource, CancellationToken, Task<ClipFacts>> probe)
    {
        if (options.MediaConvertRole is not { } role || aws is null || cloud is null || options.VideoBucket is not { } bucket) return null;
        var client = new MediaConvertClient(aws.Service(Aws.AwsServiceDescription.MediaConvert));
        string? resolved = null;
        async Task<string?> KmsKeyArn(CancellationToken ct)
        {
            if (options.KmsKey is not { } key) return null;
            // MediaConvert takes only a key ARN; an id or alias is resolved once (the role's policy names the key too).
            if (key.StartsWith("arn:", StringComparison.Ordinal) && key.Contains(":key/", StringComparison.Ordinal)) return key;
            if (resolved is not null) return resolved;
            using var kms = new Amazon.KeyManagementService.AmazonKeyManagementServiceClient(aws.Credentials(),
                aws.Configure(new Amazon.KeyManagementService.AmazonKeyManagementServiceConfig()));
            var described = await Aws.AwsCall.RunAsync(aws.Retry, "Reading", $"KMS key {key}",
                t => kms.DescribeKeyAsync(new Amazon.KeyManagementService.Model.DescribeKeyRequest { KeyId = key }, t), ct);
            return resolved = described.KeyMetadata.Arn;
        }
        return new MediaConvertEngine(client, cloud.Videos, bucket, role, KmsKeyArn, probe, new JobLedger(catalog));
    }

    /// <summary>How jobs are followed (poll intervals, time limits).</summary>
    public JobWatch Watch { get; init; }

    public async Task<TranscodeOutcome> TranscodeAsync(TranscodeRequest request, IProgress<TranscodeProgress>? progress, CancellationToken ct)
    {
        if (request.Sources.Count == 0)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"Video {request.VideoId} v{request.Version} has no clips to transcode.",
                "Upload the scene clips (`video put FILE --video V --scene N`) or the full video (`--full`) first.");
        var started = DateTimeOffset.UtcNow;
        var fingerprint = SceneJob.Fingerprint(request.Ladder);
        var facts = await Task.WhenAll(request.Sources.Select(s => _probe(s, ct)));
        // The ladder is what every scene can offer (as in the local engine): each scene keeps its own aspect, the rungs
        // are the ones all scenes reach, so every scene has the same tracks to join.
        var plans = facts.Select(f => request.Ladder.For(f.Width, f.Height)).ToList();
        var names = plans[0].Select(r => r.Name).Where(n => plans.All(p => p.Any(r => r.Name == n))).ToList();
        if (names.Count == 0)
            throw new ManimCloudException(ErrorKind.InvalidInput,
                $"The scenes of version {request.Version} have sizes with no rung in common ({string.Join(", ", facts.Select(f => $"{f.Width}x{f.Height}"))}).",
                "Render every scene at the same quality (Manim's -q flag).");
        var withSound = facts.Any(f => f.HasAudio);
        var silence = withSound && facts.Any(f => !f.HasAudio) ? await EnsureSilenceAsync(request.Ladder, ct) : null;
        var kmsKey = await _kmsKeyArn(ct);

        var done = 0;
        var scenes = request.Sources.Select((source, i) => new ScenePlan(source, facts[i],
            ObjectLayout.SceneSegmentsFolder(request.Project, request.VideoId, request.Version, source.Sha256, fingerprint))).ToList();
        var reused = Reusable(request, fingerprint);
        var outputs = new SceneOutput[scenes.Count];
        var jobs = new List<MediaConvertJob>();
        var counts = (Encoded: 0, Reused: 0, Resumed: 0);

        using var failed = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var work = scenes.Select(async (plan, i) =>
        {
            var rungs = plans[i].Where(r => names.Contains(r.Name)).ToList();
            var sceneAudio = !withSound ? SceneAudio.None : plan.Facts.HasAudio ? SceneAudio.FromClip : SceneAudio.Silence;
            var result = await SceneAsync(request, plan, rungs, sceneAudio, silence, kmsKey, reused, progress, () => done, failed.Token);
            lock (outputs)
            {
                outputs[i] = result.Output;
                if (result.Job is { } job) jobs.Add(job);
                switch (result.How)
                {
                    case SceneWork.Encoded: counts.Encoded++; break;
                    case SceneWork.Reused: counts.Reused++; break;
                    default: counts.Resumed++; break;
                }
                done++;
            }
        }).ToList();
        try
        {
            await WhenAllOrFirstFailure(work, failed);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            await CancelUnfinishedAsync(scenes);
            throw;
        }

        var joined = SceneJoin.Join(request.Project, request.VideoId, request.Version, outputs, request.Ladder);
        var manifests = new Dictionary<string, string>(StringComparer.Ordinal);
        long manifestBytes = 0;
        foreach (var output in outputs)
        {
            manifests[output.HlsMasterKey] = Sha256(output.HlsMaster);
            foreach (var (uri, text) in output.MediaPlaylists) manifests[output.FolderKey + uri] = Sha256(text);
            manifests[output.DashManifestKey] = Sha256(output.DashManifest);
        }
        var posterKey = await CopyPosterAsync(request, outputs, ct);
        // Written last, after every scene's segments are in S3: a manifest never names a segment that is not stored.
        foreach (var (key, text) in joined.Manifests.OrderBy(m => m.Key.EndsWith("master.m3u8", StringComparison.Ordinal) ? 1 : 0))
        {
            manifests[key] = await PutTextAsync(request, key, text, ct);
            manifestBytes += Encoding.UTF8.GetByteCount(text);
        }

        var finished = DateTimeOffset.UtcNow;
        var set = new RenditionSet
        {
            Version = request.Version,
            Engine = Name,
            LadderFingerprint = fingerprint,
            Rungs = joined.Rungs,
            Audio = joined.Audio,
            HlsMasterKey = ObjectLayout.HlsMasterKey(request.Project, request.VideoId, request.Version),
            DashManifestKey = ObjectLayout.DashManifestKey(request.Project, request.VideoId, request.Version),
            Manifests = manifests,
            SegmentCount = joined.SegmentCount,
            DurationSeconds = joined.DurationSeconds,
            Bytes = outputs.Sum(o => o.Bytes) + manifestBytes,
            JobId = jobs.Count == 0 ? null : string.Join(',', jobs.OrderBy(j => j.Id, StringComparer.Ordinal).Select(j => j.Id)),
            StartedAt = started,
            FinishedAt = finished,
            EncodeSeconds = jobs.Sum(j => j.StartedAt is { } s && j.FinishedAt is { } f ? (f - s).TotalSeconds : 0),
            PosterKey = posterKey,
            Scenes = outputs.Select(o => new SceneRendition(o.Scene, o.ClipSha256, o.FolderKey,
                o.MediaPlaylists.Values.Sum(t => HlsPlaylist.ParseMedia(t).Segments.Count),
                o.MediaPlaylists.Values.Select(t => HlsPlaylist.ParseMedia(t).Segments.Sum(s => s.Duration)).DefaultIfEmpty(0).Max(),
                o.Bytes, o.EncodedInVersion)).ToList(),
        };
        return new TranscodeOutcome(set, [], new TranscodeCounts(counts.Encoded, counts.Reused, counts.Resumed));
    }

    private sealed record ScenePlan(TranscodeSource Source, ClipFacts Facts, string FolderKey);

    private enum SceneWork { Encoded, Reused, Resumed }

    private sealed record SceneResult(SceneOutput Output, SceneWork How, MediaConvertJob? Job);

    /// <summary>Folders of earlier versions' scenes this engine encoded with the same settings, by clip hash.</summary>
    private Dictionary<string, (string Folder, int Version)> Reusable(TranscodeRequest request, string fingerprint)
    {
        var found = new Dictionary<string, (string, int)>(StringComparer.Ordinal);
        foreach (var set in request.Earlier.Where(s => s.Engine == Name && s.LadderFingerprint == fingerprint).OrderBy(s => s.Version))
            foreach (var scene in set.Scenes)
                found.TryAdd(scene.ClipSha256, (scene.FolderKey, scene.EncodedInVersion));
        return found;
    }

    private async Task<SceneResult> SceneAsync(TranscodeRequest request, ScenePlan plan, IReadOnlyList<PlannedRendition> rungs, SceneAudio audio,
        string? silence, string? kmsKey, Dictionary<string, (string Folder, int Version)> reusable, IProgress<TranscodeProgress>? progress,
        Func<int> scenesDone, CancellationToken ct)
    {
        var source = plan.Source;
        void Report(string stage, double fraction) => progress?.Report(new TranscodeProgress(source.Scene, scenesDone(), request.Sources.Count,
            fraction * plan.Facts.DurationSeconds, plan.Facts.DurationSeconds, 0, stage));

        if (reusable.TryGetValue(source.Sha256, out var earlier))
        {
            var output = await ReadOutputAsync(source, earlier.Folder, earlier.Version, null, ct);
            if (output is not null)
            {
                Report($"reusing the segments MediaConvert encoded for v{earlier.Version}", 1);
                return new SceneResult(output, SceneWork.Reused, null);
            }
        }

        var entry = _ledger.Find(plan.FolderKey);
        if (entry is null or { Status: MediaConvertJobStatus.Complete })
        {
            // A job of an earlier run finished but the run did not publish (killed): its outputs are all there.
            var output = await ReadOutputAsync(source, plan.FolderKey, request.Version, null, ct);
            if (output is not null)
            {
                Report("already encoded by MediaConvert (an earlier run)", 1);
                return new SceneResult(output, SceneWork.Resumed, null);
            }
        }

        await EnsureSourceStoredAsync(source, ct);
        MediaConvertJob job;
        var how = SceneWork.Encoded;
        if (entry is { Status: MediaConvertJobStatus.Submitted or MediaConvertJobStatus.Progressing })
        {
            job = await CallAsync("Reading", $"MediaConvert job {entry.JobId}", () => _client.GetJobAsync(entry.JobId, ct), ct);
            how = SceneWork.Resumed;
        }
        else
        {
            var attempt = _ledger.NextAttempt(plan.FolderKey);
            var destination = SceneJob.S3Uri(_bucket, plan.FolderKey);
            var sceneJob = new SceneJob
            {
                Input = SceneJob.S3Uri(_bucket, source.Key),
                Destination = destination,
                Ladder = request.Ladder,
                Rungs = rungs,
                Audio = audio,
                SilenceInput = silence,
                KmsKeyArn = kmsKey,
            };
            var token = SceneJob.Token(source.Sha256, SceneJob.Fingerprint(request.Ladder), destination, attempt);
            var metadata = new Dictionary<string, string>
            {
                ["manimcloud-project"] = request.Project.ToString(),
                ["manimcloud-video"] = request.VideoId.ToString(),
                ["manimcloud-version"] = request.Version.ToString(CultureInfo.InvariantCulture),
                ["manimcloud-scene"] = source.Scene.ToString(CultureInfo.InvariantCulture),
                ["manimcloud-clip-sha256"] = source.Sha256,
            };
            job = await CallAsync("Submitting", $"the MediaConvert job for scene {source.Scene}", () => _client.CreateJobAsync(sceneJob.ToRequest(_role, token, metadata), ct), ct);
            _ledger.Record(plan.FolderKey, attempt, job.Id, job.Status);
        }
        Report($"MediaConvert job {job.Id} {MediaConvertJob.WireName(job.Status)}", 0);

        if (!job.IsFinished)
            job = await CallAsync("Following", $"MediaConvert job {job.Id}", () => Watch.UntilFinishedAsync(job.Id, (seen, note) =>
            {
                var phase = seen.CurrentPhase is { } p ? $" {p}" : "";
                Report($"MediaConvert job {seen.Id} {MediaConvertJob.WireName(seen.Status)}{phase} {seen.PercentComplete ?? 0} %"
                    + (note is null ? "" : $" ({note})"), (seen.PercentComplete ?? 0) / 100.0);
            }, ct), ct);
        _ledger.Record(plan.FolderKey, _ledger.Find(plan.FolderKey)?.Attempt ?? 1, job.Id, job.Status);
        if (job.Status != MediaConvertJobStatus.Complete) throw JobFailure.Describe(job, $"scene {source.Scene} of video {request.VideoId} v{request.Version}");

        var written = await ReadOutputAsync(source, plan.FolderKey, request.Version, job, ct)
            ?? throw new ManimCloudException(ErrorKind.Fatal,
                $"MediaConvert job {job.Id} is COMPLETE but {_videos.Name}/{plan.FolderKey}{SceneJob.BaseName}.m3u8 and .mpd are not both there.",
                "Check the job's outputs in the MediaConvert console and the bucket; run `video transcode` again to submit a new job.");
        return new SceneResult(written, how, job);
    }

    /// <summary>Reads what a scene's job wrote into <paramref name="folder"/>; null when its manifests are not both there (not finished, or never run).</summary>
    private async Task<SceneOutput?> ReadOutputAsync(TranscodeSource source, string folder, int encodedIn, MediaConvertJob? job, CancellationToken ct)
    {
        var objects = new Dictionary<string, long>(StringComparer.Ordinal);
        await foreach (var o in _videos.ListAsync(folder, ct)) objects[o.Key] = o.Size;
        var masterKey = folder + SceneJob.BaseName + ".m3u8";
        var mpdKey = folder + SceneJob.BaseName + ".mpd";
        if (!objects.ContainsKey(masterKey) || !objects.ContainsKey(mpdKey)) return null;
        var master = await ReadTextAsync(masterKey, ct);
        var playlists = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in HlsPlaylist.MasterEntries(master))
            playlists[entry.Uri] = await ReadTextAsync(folder + entry.Uri, ct);
        return new SceneOutput
        {
            Scene = source.Scene,
            ClipSha256 = source.Sha256,
            FolderKey = folder,
            HlsMasterKey = masterKey,
            HlsMaster = master,
            MediaPlaylists = playlists,
            DashManifestKey = mpdKey,
            DashManifest = await ReadTextAsync(mpdKey, ct),
            Objects = objects,
            EncodedInVersion = encodedIn,
            JobId = job?.Id,
            JobStartedAt = job?.StartedAt,
            JobFinishedAt = job?.FinishedAt,
        };
    }

    /// <summary>MediaConvert reads the clip from S3: it must be there (synced) and be the bytes this version names.</summary>
    private async Task EnsureSourceStoredAsync(TranscodeSource source, CancellationToken ct)
    {
        var stored = await _videos.HeadAsync(source.Key, ct)
            ?? throw new ManimCloudException(ErrorKind.NotFound, $"Scene {source.Scene}'s clip {source.Key} is not in {_videos.Name} yet.",
                "MediaConvert reads clips from S3: run `manimcloud sync` (or wait for the queued upload), then transcode again.");
        if (stored.Sha256 is { } sha && !sha.Equals(source.Sha256, StringComparison.OrdinalIgnoreCase))
            throw new ManimCloudException(ErrorKind.Conflict, $"{_videos.Name}/{source.Key} holds other bytes (SHA-256 {sha}) than this version's clip ({source.Sha256}).",
                "Run `manimcloud sync` so S3 holds the version's clip, then transcode again.");
    }

    private async Task<string> EnsureSilenceAsync(Ladder ladder, CancellationToken ct)
    {
        var key = SilentAudio.Key(ladder.AudioSampleRate, ladder.AudioChannels);
        if (await _videos.HeadAsync(key, ct) is null)
        {
            await PutBytesAsync(key, "audio/wav", new Dictionary<string, string>(), SilentAudio.Wav(ladder.AudioSampleRate, ladder.AudioChannels), ct);
        }
        return SceneJob.S3Uri(_bucket, key);
    }

    /// <summary>The first scene's frame capture, stored at the version's poster key (SPEC §3) like the local engine's.</summary>
    private async Task<string?> CopyPosterAsync(TranscodeRequest request, IReadOnlyList<SceneOutput> outputs, CancellationToken ct)
    {
        if (outputs[0].PosterKey is not { } frame) return null;
        var key = ObjectLayout.PosterKey(request.Project, request.VideoId, request.Version);
        using var buffer = new MemoryStream();
        await using (var read = await _videos.OpenReadAsync(frame, null, ct)) await read.CopyToAsync(buffer, ct);
        await PutBytesAsync(key, RenditionObjects.ContentType(RenditionObjectKind.Image, key), Metadata(request), buffer.ToArray(), ct,
            RenditionObjects.CacheControl(RenditionObjectKind.Image));
        return key;
    }

    private Task<string> PutTextAsync(TranscodeRequest request, string key, string text, CancellationToken ct) =>
        PutBytesAsync(key, RenditionObjects.ContentType(RenditionObjectKind.Manifest, key), Metadata(request), Encoding.UTF8.GetBytes(text), ct,
            RenditionObjects.CacheControl(RenditionObjectKind.Manifest));

    /// <summary>
    /// Stores a small object the engine made itself, with the Cache-Control it is served with (the joined manifests
    /// short, the poster immutable, as the local engine's); returns its SHA-256. The segments MediaConvert writes carry
    /// none (its S3 destination settings have no Cache-Control), so the CDN's cache behaviour for segments gives their TTL.
    /// </summary>
    private async Task<string> PutBytesAsync(string key, string contentType, IReadOnlyDictionary<string, string> metadata, byte[] bytes, CancellationToken ct,
        string? cacheControl = null)
    {
        var sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        using var content = new MemoryStream(bytes, writable: false);
        await _videos.PutAsync(new ObjectWrite(key, ObjectKind.Rendition, contentType, metadata, sha, bytes.Length) { CacheControl = cacheControl }, content, ct);
        return sha;
    }

    private static Dictionary<string, string> Metadata(TranscodeRequest request) => new()
    {
        [ObjectMetadataKeys.Project] = request.Project.ToString(),
        [ObjectMetadataKeys.Video] = request.VideoId.ToString(),
        [ObjectMetadataKeys.Version] = request.Version.ToString(CultureInfo.InvariantCulture),
    };

    private async Task<string> ReadTextAsync(string key, CancellationToken ct)
    {
        await using var stream = await _videos.OpenReadAsync(key, null, ct);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return await reader.ReadToEndAsync(ct);
    }

    /// <summary>
    /// Waits for every scene; the first failure stops the waiting (not the other jobs: they go on in AWS, and the
    /// ledger lets the next run pick them up) and is what the caller sees.
    /// </summary>
    private static async Task WhenAllOrFirstFailure(List<Task> work, CancellationTokenSource stopWaiting)
    {
        var pending = new List<Task>(work);
        while (pending.Count > 0)
        {
            var finished = await Task.WhenAny(pending);
            pending.Remove(finished);
            if (finished.IsFaulted || finished.IsCanceled)
            {
                await stopWaiting.CancelAsync();
                await Task.WhenAll(pending.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
                await finished; // rethrows the first failure
            }
        }
    }

    /// <summary>On Ctrl-C: cancel the jobs still working, so nothing goes on that nobody waits for (`video transcode` starts afresh).</summary>
    private async Task CancelUnfinishedAsync(IEnumerable<ScenePlan> scenes)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        foreach (var plan in scenes)
            if (_ledger.Find(plan.FolderKey) is { Status: MediaConvertJobStatus.Submitted or MediaConvertJobStatus.Progressing } entry)
            {
                try
                {
                    await _client.CancelJobAsync(entry.JobId, timeout.Token);
                    _ledger.Record(plan.FolderKey, entry.Attempt, entry.JobId, MediaConvertJobStatus.Canceled);
                }
                catch (Exception e) when (e is not OperationCanceledException || timeout.IsCancellationRequested)
                {
                    // The job may already be finished or unreachable now; the ledger keeps it, and the next run looks again.
                }
            }
    }

    /// <summary>A MediaConvert API failure (after the pipeline's retries) described with what to do about it.</summary>
    private async Task<T> CallAsync<T>(string action, string resource, Func<Task<T>> call, CancellationToken ct)
    {
        try
        {
            return await call();
        }
        catch (Exception e) when (e is not ManimCloudException && (e is not OperationCanceledException || !ct.IsCancellationRequested))
        {
            var described = Aws.AwsErrors.Describe(e, action, resource);
            var code = (e as Amazon.Runtime.AmazonServiceException ?? e.InnerException as Amazon.Runtime.AmazonServiceException)?.ErrorCode;
            var hint = (described.Kind, code) switch
            {
                (ErrorKind.Auth, _) => $"The identity running ManimCloud needs mediaconvert:CreateJob, mediaconvert:GetJob and mediaconvert:CancelJob, and iam:PassRole on {_role} (`manimcloud iam policy`).",
                (_, "BadRequestException") => "MediaConvert refused the job: its message above names the setting; check MANIMCLOUD_MEDIACONVERT_ROLE is a role MediaConvert may assume (`manimcloud iam policy --role mediaconvert`).",
                (ErrorKind.NotFound, _) => "The job is gone (jobs are kept for 90 days) or the endpoint is another region's: check AWS_REGION and AWS_ENDPOINT_URL_MEDIACONVERT.",
                _ => described.Hint,
            };
            throw new ManimCloudException(described.Kind, described.Message, hint, e);
        }
    }

    private static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
