using System.Text.RegularExpressions;
using ManimCloud.Domain;
using ManimCloud.Local;
using ManimCloud.Operations.Telemetry;
using ManimCloud.Storage;
using ManimCloud.Streaming.Ffmpeg;
using ManimCloud.Sync;

namespace ManimCloud.Streaming;

/// <summary>What a transcode did: the published set, the manifests a CDN must invalidate, and how much was encoded.</summary>
/// <param name="ChangedManifests">Manifest keys whose content this publish changed (new ones included): what delivery invalidates.</param>
/// <param name="Synced">Whether the set reached the cloud now (false: queued in the outbox, with <paramref name="PendingReason"/>).</param>
public sealed record TranscodeResult(VideoRecord Video, RenditionSet Set, IReadOnlyList<string> ChangedManifests, TranscodeCounts Counts,
    int ObjectsStored, bool Synced, string? PendingReason)
{
    /// <summary>Which clips were probed and how many ffmpeg/ffprobe runs it took (the local engine; MediaConvert: none here).</summary>
    public TranscodeWork Work { get; init; } = TranscodeWork.None;
}

/// <summary>
/// Streaming (SPEC R6): turns a stored version into an adaptive-bitrate ladder with the chosen engine, and publishes it
/// through the outbox like every other write — objects, then manifests, then the record — so it works offline and
/// reaches S3 later. Status goes uploaded → transcoding → ready, or error with the reason.
/// </summary>
public sealed partial class TranscodeService
{
    private readonly ManimCloudClient _client;
    private readonly SceneStash _stash;
    private readonly Dictionary<string, Func<CancellationToken, Task<ITranscodeEngine>>> _engines;

    public Ladder Ladder { get; init; } = Ladder.Default;

    /// <summary>Where the local engine works (removed scene by scene; what a kill leaves is cleared an hour later).</summary>
    public string WorkRoot { get; }

    internal TranscodeService(ManimCloudClient client)
    {
        _client = client;
        _stash = new SceneStash(client.Catalog);
        WorkRoot = Path.Combine(client.Options.Home, "transcode");
        _engines = new Dictionary<string, Func<CancellationToken, Task<ITranscodeEngine>>>(StringComparer.OrdinalIgnoreCase)
        {
            [LocalTranscodeEngine.EngineName] = async ct => new LocalTranscodeEngine(
                await FfmpegLocator.LocateAsync(client.Options.Ffmpeg, null, ct), client.Blobs, _stash, ReadPublishedAsync, WorkRoot),
        };
        foreach (var (name, engine) in TranscodeEngines.Configured(client)) _engines[name] = engine;
    }

    /// <summary>The engines `--engine` accepts here (local always; mediaconvert when configured).</summary>
    public IReadOnlyCollection<string> Engines => _engines.Keys;

    /// <summary>The engine used without `--engine`: MediaConvert when it is configured, else local.</summary>
    public string DefaultEngine => _engines.ContainsKey(TranscodeEngines.MediaConvert) ? TranscodeEngines.MediaConvert : LocalTranscodeEngine.EngineName;

    public async Task<TranscodeResult> TranscodeAsync(VideoId id, int? version, string? engineName, IProgress<TranscodeProgress>? progress, CancellationToken ct)
    {
        var name = engineName ?? DefaultEngine;
        if (!_engines.TryGetValue(name, out var makeEngine))
            throw name.Equals(TranscodeEngines.MediaConvert, StringComparison.OrdinalIgnoreCase)
                ? new ManimCloudException(ErrorKind.InvalidInput, "The MediaConvert engine is not configured here.",
                    "Configure AWS (MANIMCLOUD_VIDEO_BUCKET, MANIMCLOUD_CODE_BUCKET, MANIMCLOUD_TABLE) and MANIMCLOUD_MEDIACONVERT_ROLE, or use --engine local.")
                : new ManimCloudException(ErrorKind.InvalidInput, $"'{name}' is not a transcode engine.", $"Use one of: {string.Join(", ", _engines.Keys)}.");

        var video = await _client.GetVideoAsync(id, ct);
        var n = version ?? (video.Media.Count > 0 ? video.Media.Values.Max(m => m.Version) : Math.Max(1, video.CurrentVersion));
        var sources = await SourcesAsync(video, n, ct);
        var engine = await makeEngine(ct); // ffmpeg is found (or installed) before the status says anything is happening
        var previous = video.Status;
        await _client.RunAsync(new TranscodeStatus { Id = Operation.NewId(), Video = id, Version = n, Status = VideoStatus.Transcoding }, r => r.Video!, ct);
        TranscodeOutcome outcome;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            var earlier = video.Renditions.Values.ToList();
            outcome = await engine.TranscodeAsync(new TranscodeRequest(video, n, Ladder, sources, earlier), progress, ct);
            ManimCloudMetrics.RecordTranscode(engine.Name, clock.Elapsed.TotalSeconds, outcome.Set.DurationSeconds / 60);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Ctrl-C: the finished scenes are kept for the next run; the video goes back to where it was.
            await _client.RunAsync(new TranscodeStatus
            {
                Id = Operation.NewId(), Video = id, Version = n, Status = previous == VideoStatus.Transcoding ? VideoStatus.Uploaded : previous,
                Reason = previous == VideoStatus.Error ? video.StatusReason : null, Unless = VideoStatus.Ready,
            }, r => r.Video!, CancellationToken.None);
            throw;
        }
        catch (ManimCloudException e)
        {
            ManimCloudMetrics.RecordTranscode(engine.Name, clock.Elapsed.TotalSeconds, 0, ManimCloudMetrics.OutcomeOf(e.Kind));
            await _client.RunAsync(new TranscodeStatus
            {
                Id = Operation.NewId(), Video = id, Version = n, Status = VideoStatus.Error, Reason = $"transcode of v{n} failed: {e.Message}",
            }, r => r.Video!, CancellationToken.None);
            throw;
        }

        // The blobs stay in the workspace (never evicted) until the cloud has them.
        foreach (var o in outcome.Objects) _client.Cache.Touch(o.Sha256, o.Size, synced: false);
        video.Renditions.TryGetValue(n, out var before);
        var written = await _client.RunAsync(new PublishRenditions { Id = Operation.NewId(), Video = id, Set = outcome.Set, Objects = outcome.Objects },
            r => r.Video!, ct);
        return new TranscodeResult(written.Value, outcome.Set, RenditionSet.ChangedManifests(before, outcome.Set), outcome.Counts,
            outcome.Objects.Count, written.Synced, written.PendingReason) { Work = outcome.Work };
    }

    /// <summary>
    /// What <see cref="TranscodeAsync"/> with the same arguments will cost, before anything is started (SPEC R9): the
    /// version's clips probed (size, frame rate, length, sound), the scenes whose segments an earlier version encoded
    /// with this ladder left out (they are reused, not billed), priced per output minute. Reads only.
    /// </summary>
    public async Task<Operations.CostEstimate> EstimateAsync(VideoId id, int? version, string? engineName, Operations.CostEstimator costs, CancellationToken ct)
    {
        var name = engineName ?? DefaultEngine;
        if (!_engines.ContainsKey(name))
            throw new ManimCloudException(ErrorKind.InvalidInput, $"'{name}' is not a transcode engine here.", $"Use one of: {string.Join(", ", _engines.Keys)}.");
        var video = await _client.GetVideoAsync(id, ct);
        var n = version ?? (video.Media.Count > 0 ? video.Media.Values.Max(m => m.Version) : Math.Max(1, video.CurrentVersion));
        var sources = await SourcesAsync(video, n, ct);
        var fingerprint = name.Equals(TranscodeEngines.MediaConvert, StringComparison.OrdinalIgnoreCase)
            ? MediaConvert.SceneJob.Fingerprint(Ladder) : Ladder.Fingerprint;
        var encodedBefore = video.Renditions.Values.Where(s => s.Engine.Equals(name, StringComparison.OrdinalIgnoreCase) && s.LadderFingerprint == fingerprint)
            .SelectMany(s => s.Scenes).Select(s => s.ClipSha256).ToHashSet(StringComparer.Ordinal);
        var clips = new List<Operations.ClipToEncode>();
        foreach (var source in sources)
        {
            var info = await TranscodeEngines.ProbeAsync(_client, source, ct);
            clips.Add(new Operations.ClipToEncode(source.Scene, info.Width, info.Height, info.FrameRate, info.DurationSeconds, info.HasAudio,
                encodedBefore.Contains(source.Sha256)));
        }
        return costs.EstimateTranscode(name.ToLowerInvariant(), Ladder, clips,
            $"Transcode ({name.ToLowerInvariant()}) of video {id} v{n}: {clips.Count(c => !c.Reused)} of {clips.Count} clip(s), {clips.Where(c => !c.Reused).Sum(c => c.DurationSeconds) / 60:0.##} min to encode");
    }

    /// <summary>A video's published sets (one version, or all, newest first).</summary>
    public async Task<(VideoRecord Video, IReadOnlyList<RenditionSet> Sets)> RenditionsAsync(VideoId id, int? version, CancellationToken ct)
    {
        var video = await _client.GetVideoAsync(id, ct);
        if (version is { } n)
            return video.Renditions.TryGetValue(n, out var set)
                ? (video, [set])
                : throw new ManimCloudException(ErrorKind.NotFound, $"Version {n} of video {id} has no renditions.",
                    video.Renditions.Count == 0 ? $"Transcode it: `manimcloud video transcode {id} --version {n}`."
                        : $"Versions with renditions: {string.Join(", ", video.Renditions.Keys.Order())}; or transcode this one.");
        return (video, video.Renditions.Values.OrderByDescending(s => s.Version).ToList());
    }

    /// <summary>The version's stored media: its scene clips in order, or its full video alone.</summary>
    private async Task<IReadOnlyList<TranscodeSource>> SourcesAsync(VideoRecord video, int version, CancellationToken ct)
    {
        var prefix = $"{ObjectLayout.VideosPrefix}{video.Project}/{video.Id}/v{version}/";
        var stored = await ListAsync(_client.Local.Videos, prefix, ct);
        // The media the record names for this version (its latest clip per scene and the full video, by key).
        var recorded = video.Media.Values.Where(m => m.Version == version).Select(m => m.Key).ToHashSet(StringComparer.Ordinal);
        var complete = recorded.Count > 0 && recorded.IsSubsetOf(stored.Select(o => o.Key));
        if (!complete && _client.Cloud is { } cloud && !_client.Health.IsDown(out _))
        {
            // The cloud's listing too: on a pipeline worker the workspace holds only the clips this machine rendered,
            // the other workers' clips are in S3. What the workspace has and the cloud does not yet (queued) is kept.
            // Not needed when the workspace holds every clip the record names (one machine did the whole run).
            try
            {
                var local = stored.Select(o => o.Key).ToHashSet(StringComparer.Ordinal);
                stored = [.. stored, .. (await ListAsync(cloud.Videos, prefix, ct)).Where(o => !local.Contains(o.Key))];
            }
            catch (ManimCloudException e) when (e.IsRetryable) { _client.Health.MarkDown(); }
        }
        var scenes = stored.Select(o => (Object: o, Match: SceneFile().Match(o.Key[prefix.Length..]))).Where(x => x.Match.Success)
            .Select(x => (Scene: int.Parse(x.Match.Groups[1].Value), x.Object)).OrderBy(x => x.Scene).ToList();
        var chosen = scenes.Count > 0 ? scenes
            : stored.Where(o => o.Key == ObjectLayout.FullVideoKey(video.Project, video.Id, version)).Select(o => (Scene: 0, Object: o)).ToList();
        if (chosen.Count == 0)
            throw new ManimCloudException(ErrorKind.NotFound, $"Version {version} of video {video.Id} has no stored clips or full video to transcode.",
                $"Store them first (`manimcloud video put FILE --video {video.Id} --scene N` or `--full`), or pick another --version.");
        var sources = new List<TranscodeSource>();
        foreach (var (scene, o) in chosen)
        {
            var (path, sha) = await LocalCopyAsync(video, scene, version, o, ct);
            sources.Add(new TranscodeSource(scene, o.Key, sha, o.Size, path));
        }
        return sources;
    }

    [GeneratedRegex(@"^scene_(\d{3})\.mp4$")]
    private static partial Regex SceneFile();

    private static async Task<List<StoredObject>> ListAsync(IObjectStore store, string prefix, CancellationToken ct)
    {
        var list = new List<StoredObject>();
        await foreach (var o in store.ListAsync(prefix, ct)) list.Add(o);
        return list;
    }

    /// <summary>
    /// The clip's bytes on this machine and their SHA-256: the workspace blob, or fetched from the cloud (verified) when
    /// it was evicted or another machine stored it (an S3 listing carries no SHA-256; the fetch establishes it).
    /// </summary>
    private async Task<(string Path, string Sha256)> LocalCopyAsync(VideoRecord video, int scene, int version, StoredObject o, CancellationToken ct)
    {
        if (o.Sha256 is { } sha && _client.Blobs.Contains(sha)) return (_client.Blobs.PathOf(sha), sha);
        Directory.CreateDirectory(WorkRoot);
        var tmp = Path.Combine(WorkRoot, $"fetch-{Guid.NewGuid():N}.mp4");
        try
        {
            var slot = scene == 0 ? MediaSlot.Full : MediaSlot.ForScene(scene);
            await _client.GetMediaAsync(video.Id, slot, version, tmp, ct);
            var (fetched, size) = await _client.Blobs.AddFileAsync(tmp, ct);
            _client.Cache.Touch(fetched, size, synced: true);
            return (_client.Blobs.PathOf(fetched), fetched);
        }
        finally
        {
            File.Delete(tmp);
        }
    }

    /// <summary>A published object's bytes (a scene index): from the workspace when it has them, else from the cloud.</summary>
    private async Task<byte[]?> ReadPublishedAsync(string key, CancellationToken ct)
    {
        foreach (var store in new[] { _client.Local.Videos, _client.Cloud?.Videos })
        {
            if (store is null) continue;
            try
            {
                var head = await store.HeadAsync(key, ct);
                if (head is null || (store is LocalObjectStore && head.Sha256 is { } sha && !_client.Blobs.Contains(sha))) continue;
                await using var s = await store.OpenReadAsync(key, null, ct);
                using var buffer = new MemoryStream();
                await s.CopyToAsync(buffer, ct);
                return buffer.ToArray();
            }
            catch (ManimCloudException e) when (e.IsRetryable || e.Kind == ErrorKind.NotFound)
            {
                // Not readable here: the scene is encoded again, which is always correct.
            }
        }
        return null;
    }
}

/// <summary>
/// The engines beyond the local one, by `--engine` name, when configured. The MediaConvert engine
/// (Streaming/MediaConvert/) registers itself here when MANIMCLOUD_MEDIACONVERT_ROLE and the cloud are configured.
/// </summary>
public static class TranscodeEngines
{
    public const string MediaConvert = "mediaconvert";

    internal static IEnumerable<(string Name, Func<CancellationToken, Task<ITranscodeEngine>> Engine)> Configured(ManimCloudClient client)
    {
        // MediaConvert is told each clip's size and sound, probed here with the same checks as the local engine's, so
        // a bad clip is refused before a job is submitted.
        var mediaConvert = global::ManimCloud.Streaming.MediaConvert.MediaConvertEngine.TryCreate(client.Options, client.Aws, client.Cloud, client.Catalog, async (source, ct) =>
        {
            var info = await ProbeAsync(client, source, ct);
            return new global::ManimCloud.Streaming.MediaConvert.ClipFacts(info.Width, info.Height, info.HasAudio, info.DurationSeconds);
        });
        if (mediaConvert is not null) yield return (MediaConvert, _ => Task.FromResult<ITranscodeEngine>(mediaConvert));
    }

    /// <summary>A clip's picture, frame rate, length and sound (ffprobe), with the local engine's checks: what a job is planned and priced from.</summary>
    internal static async Task<Videos.MediaInfo> ProbeAsync(ManimCloudClient client, TranscodeSource source, CancellationToken ct)
    {
        var tools = await FfmpegLocator.LocateAsync(client.Options.Ffmpeg, null, ct);
        return await Videos.MediaValidation.ProbeAsync(source.LocalPath ?? throw new ManimCloudException(ErrorKind.NotFound,
                $"{source.Key} is not on this machine.", "Run `manimcloud sync`, or fetch it with `video get`, then transcode again."),
            source.Key, tools.Ffprobe, tools.Ffmpeg, ct);
    }
}
