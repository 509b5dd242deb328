using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Local;
using ManimCloud.Videos;

namespace ManimCloud.Streaming.Ffmpeg;

/// <summary>
/// The ladder made on this machine with ffmpeg. Per scene, one ffmpeg run decodes the clip once and feeds every rung,
/// the audio track and the storyboard thumbnails; each track is packaged as CMAF (fMP4) segments that the HLS
/// playlists and the DASH MPD share. A scene whose clip (content hash) and ladder (fingerprint) are unchanged since an
/// earlier version is not encoded: its published segments are pointed at. Every finished scene is recorded (its files
/// durable workspace blobs first), so a run that was killed resumes with the scenes it had not finished.
/// </summary>
public sealed class LocalTranscodeEngine(
    FfmpegTools tools,
    BlobFolder blobs,
    SceneStash stash,
    Func<string, CancellationToken, Task<byte[]?>> readPublished,
    string workRoot) : ITranscodeEngine
{
    public const string EngineName = "local";
    public string Name => EngineName;
    public Storyboard Storyboard { get; init; } = Storyboard.Default;

    public async Task<TranscodeOutcome> TranscodeAsync(TranscodeRequest request, IProgress<TranscodeProgress>? progress, CancellationToken ct)
    {
        var started = DateTimeOffset.UtcNow;
        var ladder = request.Ladder;
        var fingerprint = ladder.Fingerprint;
        if (request.Sources.Count == 0)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"Version {request.Version} of video {request.VideoId} has no stored media to transcode.",
                "Store the scene clips (`video put FILE --video V --scene N`) or the full video (`--full`) first.");
        RemoveStaleWork();

        // Every source is checked before anything is encoded: a bad scene 5 fails the transcode before scene 1 costs anything.
        var probes = new List<(TranscodeSource Source, MediaInfo Info)>();
        foreach (var source in request.Sources)
        {
            var path = source.LocalPath ?? throw new ManimCloudException(ErrorKind.NotFound,
                $"{source.Key} is not on this machine.", "Run `manimcloud sync`, or fetch it with `video get`, then transcode again.");
            probes.Add((source, await MediaValidation.ProbeAsync(path, source.Key, tools.Ffprobe, tools.Ffmpeg, ct)));
        }
        var withAudio = probes.Any(p => p.Info.HasAudio);
        var plans = probes.Select(p => ladder.For(p.Info.Width, p.Info.Height)).ToList();
        // The ladder is what every scene can offer (scenes of different sizes share the rungs they all reach).
        var names = plans[0].Select(r => r.Name).Where(n => plans.All(pl => pl.Any(r => r.Name == n))).ToList();
        if (names.Count == 0)
            throw new ManimCloudException(ErrorKind.InvalidInput,
                $"The scenes of version {request.Version} have sizes with no rung in common ({string.Join(", ", probes.Select(p => $"{p.Info.Width}x{p.Info.Height}"))}).",
                "Render every scene at the same quality (Manim's -q flag).");

        var scenes = new List<SceneIndex>();
        var thumbnails = new List<IReadOnlyList<string>>();
        var objects = new Dictionary<string, RenditionObject>(); // by key: a scene's index may be replaced by one with more tracks
        int encoded = 0, reused = 0, resumed = 0;
        double encodeSeconds = 0;
        for (var i = 0; i < probes.Count; i++)
        {
            var (source, info) = probes[i];
            var done = i;
            var folder = ObjectLayout.SceneSegmentsFolder(request.Project, request.VideoId, request.Version, source.Sha256, fingerprint);
            var report = new Action<string, double, double>((stage, at, speed) =>
                progress?.Report(new TranscodeProgress(source.Scene, done, probes.Count, at, info.DurationSeconds, speed, stage)));
            SceneIndex index;
            IReadOnlyList<string>? thumbs = null;
            if (await FindPublishedAsync(request, source.Sha256, fingerprint, ct) is { } published)
            {
                index = published;
                reused++;
                report("reused", info.DurationSeconds, 0);
            }
            else if (stash.Find(folder) is { } finished && finished.Index.Tracks.All(t => HasBlobs(t)))
            {
                // Finished by an earlier run that did not get to publish (killed, cancelled, or a later scene failed).
                (index, thumbs) = (finished.Index, finished.Thumbnails);
                resumed++;
                Add(objects, SceneObjects(index, folder));
                report("resumed", info.DurationSeconds, 0);
            }
            else
            {
                var t0 = DateTimeOffset.UtcNow;
                var audio = info.HasAudio ? SceneAudio.Source : withAudio ? SceneAudio.Silence : SceneAudio.None;
                (index, thumbs) = await EncodeSceneAsync(request, source, info, plans[i].Where(r => names.Contains(r.Name)).ToList(), audio, folder, report, ct);
                encodeSeconds += (DateTimeOffset.UtcNow - t0).TotalSeconds;
                encoded++;
                Add(objects, SceneObjects(index, folder));
            }

            // The version's audio decides each scene's: a silent scene among scenes with sound gets a silent track.
            if (withAudio && index.Audio is null)
            {
                var t0 = DateTimeOffset.UtcNow;
                // Its own folder: the scene's published folder (maybe an earlier version's) never changes.
                var withSilence = folder.TrimEnd('/') + "-with-audio/";
                index = await AddSilenceAsync(request, index, withSilence, ct);
                encodeSeconds += (DateTimeOffset.UtcNow - t0).TotalSeconds;
                Add(objects, SceneObjects(index, withSilence));
            }
            if (!withAudio && index.Audio is not null) index = index with { Tracks = index.Video.ToList() };
            thumbs ??= stash.ThumbnailsOf(source.Sha256)?.Where(blobs.Contains).ToList() is { Count: > 0 } known ? known
                : await ExtractThumbnailsAsync(source, info, ct);
            scenes.Add(index);
            thumbnails.Add(thumbs);
        }

        progress?.Report(new TranscodeProgress(0, probes.Count, probes.Count, 0, 0, 0, "manifests"));
        var (p, v, n) = (request.Project, request.VideoId, request.Version);
        var manifests = Manifests.Build(p, v, n, scenes, names, withAudio, ladder);
        var manifestHashes = new Dictionary<string, string>();
        foreach (var (key, text) in manifests.Files)
        {
            var o = await AddTextAsync(key, text, RenditionObjectKind.Manifest, ct);
            manifestHashes[key] = o.Sha256;
            objects[key] = o;
        }
        var poster = await PosterAsync(request, probes[0], plans[0].First(r => r.Name == names[0]), ct);
        objects[poster.Key] = poster;
        var storyboard = await StoryboardAsync(request, scenes, thumbnails, ct);
        Add(objects, storyboard);

        var used = scenes.SelectMany(s => s.Tracks).ToList();
        var set = new RenditionSet
        {
            Version = n, Engine = Name, LadderFingerprint = fingerprint, Rungs = manifests.Rungs, Audio = manifests.Audio,
            HlsMasterKey = ObjectLayout.HlsMasterKey(p, v, n), DashManifestKey = ObjectLayout.DashManifestKey(p, v, n),
            Manifests = manifestHashes,
            SegmentCount = used.Sum(t => t.Segments.Count),
            DurationSeconds = scenes.Sum(s => s.DurationSeconds),
            Bytes = used.Sum(t => t.Bytes) + objects.Values.Where(o => o.Kind is RenditionObjectKind.Manifest or RenditionObjectKind.Image or RenditionObjectKind.Storyboard).Sum(o => o.Size),
            StartedAt = started, FinishedAt = DateTimeOffset.UtcNow, EncodeSeconds = Math.Round(encodeSeconds, 3),
            PosterKey = poster.Key, StoryboardKeys = storyboard.Select(o => o.Key).ToList(),
            Scenes = scenes.Select(s => new SceneRendition(s.Scene, s.ClipSha256, s.FolderKey, s.Tracks.Sum(t => t.Segments.Count), s.DurationSeconds,
                s.Tracks.Sum(t => t.Bytes), s.EncodedInVersion)).ToList(),
        };
        return new TranscodeOutcome(set, objects.Values.ToList(), new TranscodeCounts(encoded, reused, resumed));
    }

    private static void Add(Dictionary<string, RenditionObject> objects, IEnumerable<RenditionObject> more)
    {
        foreach (var o in more) objects[o.Key] = o;
    }

    /// <summary>A published scene with this clip and ladder, from the video's earlier sets (or this version's own, transcoded again).</summary>
    private async Task<SceneIndex?> FindPublishedAsync(TranscodeRequest request, string clipSha256, string fingerprint, CancellationToken ct)
    {
        foreach (var scene in request.Earlier.Where(s => s.LadderFingerprint == fingerprint).OrderByDescending(s => s.Version)
                     .SelectMany(s => s.Scenes).Where(s => s.ClipSha256 == clipSha256))
        {
            if (stash.Find(scene.FolderKey)?.Index is { } local) return local;
            if (await readPublished(ObjectLayout.SceneIndexKey(scene.FolderKey), ct) is { } bytes)
                return SceneIndex.FromJson(JsonNode.Parse(bytes)!);
        }
        return null;
    }

    private bool HasBlobs(SceneTrack t) => blobs.Contains(t.InitSha256) && t.Segments.All(s => blobs.Contains(s.Sha256));

    /// <summary>The objects of a scene's folder to publish: its tracks stored there, and its index last.</summary>
    private IEnumerable<RenditionObject> SceneObjects(SceneIndex index, string folder)
    {
        foreach (var t in index.Tracks.Where(t => t.InitKey.StartsWith(folder, StringComparison.Ordinal)))
        {
            yield return new RenditionObject(t.InitKey, t.InitSha256, t.InitSize, RenditionObjectKind.Segment);
            foreach (var s in t.Segments) yield return new RenditionObject(s.Key, s.Sha256, s.Size, RenditionObjectKind.Segment);
        }
        var json = Encoding.UTF8.GetBytes(index.ToJson().ToJsonString());
        yield return new RenditionObject(ObjectLayout.SceneIndexKey(folder), Storage.ContentHash.Sha256Hex(json), json.Length, RenditionObjectKind.SceneIndex);
    }

    private async Task<(SceneIndex, IReadOnlyList<string>)> EncodeSceneAsync(TranscodeRequest request, TranscodeSource source, MediaInfo info,
        IReadOnlyList<PlannedRendition> rungs, SceneAudio audio, string folder, Action<string, double, double> report, CancellationToken ct)
    {
        var work = NewWorkDir(rungs.Select(r => r.Name).Append("audio").Append("thumbs"));
        try
        {
            var args = FfmpegArguments.SceneEncode(request.Ladder, source.LocalPath!, rungs, info.FrameRate, info.DurationSeconds, audio, Storyboard, work);
            await FfmpegProcess.RunAsync(tools.Ffmpeg, args, source.Key, p => report("encoding", p.Seconds, p.Speed), ct);
            var tracks = new List<SceneTrack>();
            foreach (var r in rungs)
                tracks.Add(await CollectTrackAsync(Path.Combine(work, r.Name), folder, r.Name, false, r.Width, r.Height, info.FrameRate, ct));
            if (audio != SceneAudio.None)
                tracks.Add(await CollectTrackAsync(Path.Combine(work, "audio"), folder, "audio", true, 0, 0, 0, ct));
            var thumbs = await AddFilesAsync(Path.Combine(work, "thumbs"), ct);
            var index = new SceneIndex(source.Scene, source.Sha256, request.Ladder.Fingerprint, folder, request.Version, tracks[0].Seconds, tracks);
            await AddIndexBlobAsync(index, ct);
            stash.Add(index, thumbs);
            return (index, thumbs);
        }
        finally
        {
            TryDelete(work);
        }
    }

    private async Task<SceneIndex> AddSilenceAsync(TranscodeRequest request, SceneIndex index, string folder, CancellationToken ct)
    {
        if (stash.Find(folder) is { } done && done.Index.Audio is { } known && HasBlobs(known) && done.Index.ClipSha256 == index.ClipSha256)
            return done.Index;
        var work = NewWorkDir(["audio"]);
        try
        {
            await FfmpegProcess.RunAsync(tools.Ffmpeg, FfmpegArguments.Silence(request.Ladder, index.DurationSeconds, work), $"silence for scene {index.Scene}", null, ct);
            var audio = await CollectTrackAsync(Path.Combine(work, "audio"), folder, "audio", true, 0, 0, 0, ct);
            var withSilence = index.WithTracks([.. index.Video, audio], folder);
            await AddIndexBlobAsync(withSilence, ct);
            stash.Add(withSilence, stash.Find(index.FolderKey)?.Thumbnails ?? []);
            return withSilence;
        }
        finally
        {
            TryDelete(work);
        }
    }

    private async Task AddIndexBlobAsync(SceneIndex index, CancellationToken ct) =>
        await blobs.AddAsync(new MemoryStream(Encoding.UTF8.GetBytes(index.ToJson().ToJsonString())), null, ct);

    /// <summary>Reads a packaged track (init + segments) into the blob folder, with exact timing from the fMP4 boxes.</summary>
    private async Task<SceneTrack> CollectTrackAsync(string dir, string folder, string name, bool isAudio, int width, int height, double fps, CancellationToken ct)
    {
        var initPath = Path.Combine(dir, "init.mp4");
        var init = Fmp4.ReadInit(await File.ReadAllBytesAsync(initPath, ct));
        var (initSha, initSize) = await blobs.AddFileAsync(initPath, ct);
        var segments = new List<TrackSegment>();
        var files = Directory.GetFiles(dir, "seg_*.m4s").Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new ManimCloudException(ErrorKind.Fatal, $"ffmpeg wrote no segments for the {name} track.", "Check the input clip plays; see the runbook.");
        for (var k = 0; k < files.Count; k++)
        {
            var bytes = await File.ReadAllBytesAsync(files[k], ct);
            var fragment = Fmp4.ReadFragment(bytes);
            var (sha, size) = await blobs.AddAsync(new MemoryStream(bytes), null, ct);
            segments.Add(new TrackSegment(ObjectLayout.MediaSegmentKey(folder, name, k + 1), sha, size, fragment.BaseDecodeTime, fragment.Duration));
        }
        return new SceneTrack(name, isAudio, width, height, fps, init.Codecs ?? (isAudio ? Ladder.AudioCodecs : "avc1.640028"), init.Timescale,
            ObjectLayout.InitSegmentKey(folder, name), initSha, initSize, segments);
    }

    private async Task<IReadOnlyList<string>> AddFilesAsync(string dir, CancellationToken ct)
    {
        var shas = new List<string>();
        foreach (var file in Directory.GetFiles(dir).Order(StringComparer.Ordinal))
            shas.Add((await blobs.AddFileAsync(file, ct)).Sha256);
        return shas;
    }

    private async Task<IReadOnlyList<string>> ExtractThumbnailsAsync(TranscodeSource source, MediaInfo info, CancellationToken ct)
    {
        var work = NewWorkDir(["thumbs"]);
        try
        {
            await FfmpegProcess.RunAsync(tools.Ffmpeg, FfmpegArguments.Thumbnails(source.LocalPath!, Storyboard, work), $"thumbnails of {source.Key}", null, ct);
            return await AddFilesAsync(Path.Combine(work, "thumbs"), ct);
        }
        finally
        {
            TryDelete(work);
        }
    }

    private async Task<RenditionObject> PosterAsync(TranscodeRequest request, (TranscodeSource Source, MediaInfo Info) first, PlannedRendition top, CancellationToken ct)
    {
        var work = NewWorkDir([]);
        try
        {
            var output = Path.Combine(work, "poster.jpg");
            // Manim scenes often fade in from black: a frame from the middle of the first scene (at most 3 s in).
            var at = Math.Min(first.Info.DurationSeconds / 2, 3.0);
            await FfmpegProcess.RunAsync(tools.Ffmpeg, FfmpegArguments.Poster(first.Source.LocalPath!, at, top, output), $"the poster of {first.Source.Key}", null, ct);
            var (sha, size) = await blobs.AddFileAsync(output, ct);
            return new RenditionObject(ObjectLayout.PosterKey(request.Project, request.VideoId, request.Version), sha, size, RenditionObjectKind.Image);
        }
        finally
        {
            TryDelete(work);
        }
    }

    private async Task<IReadOnlyList<RenditionObject>> StoryboardAsync(TranscodeRequest request, IReadOnlyList<SceneIndex> scenes,
        IReadOnlyList<IReadOnlyList<string>> thumbnails, CancellationToken ct)
    {
        var (p, v, n) = (request.Project, request.VideoId, request.Version);
        var layout = new List<(double, double, int)>();
        var ordered = new List<string>(); // the thumbnails in cue order (a scene's last one may fall past its end: unused)
        var start = 0.0;
        for (var i = 0; i < scenes.Count; i++)
        {
            var usable = Math.Min(thumbnails[i].Count, Math.Max(1, (int)Math.Ceiling(scenes[i].DurationSeconds / Storyboard.IntervalSeconds - 1e-9)));
            layout.Add((start, scenes[i].DurationSeconds, usable));
            ordered.AddRange(thumbnails[i].Take(usable));
            start += scenes[i].DurationSeconds;
        }
        var cues = Storyboard.Layout(layout);
        var vttKey = ObjectLayout.StoryboardVttKey(p, v, n);
        var result = new List<RenditionObject>
        {
            await AddTextAsync(vttKey, Storyboard.WebVtt(cues, sheet => Manifests.Relative(vttKey, ObjectLayout.StoryboardSpriteKey(p, v, n, sheet))), RenditionObjectKind.Storyboard, ct),
        };
        var work = NewWorkDir([]);
        try
        {
            foreach (var sheet in cues.GroupBy(c => c.Sheet))
            {
                var list = Path.Combine(work, $"sheet_{sheet.Key}.txt");
                await File.WriteAllLinesAsync(list, sheet.Select(c => $"file '{blobs.PathOf(ordered[(c.Sheet - 1) * Storyboard.PerSheet + c.Index])}'"), ct);
                var output = Path.Combine(work, $"sprite_{sheet.Key:D3}.jpg");
                var rows = (int)Math.Ceiling(sheet.Count() / (double)Storyboard.Columns);
                await FfmpegProcess.RunAsync(tools.Ffmpeg, FfmpegArguments.Sprite(list, Storyboard, rows, output), "the storyboard", null, ct);
                var (sha, size) = await blobs.AddFileAsync(output, ct);
                result.Add(new RenditionObject(ObjectLayout.StoryboardSpriteKey(p, v, n, sheet.Key), sha, size, RenditionObjectKind.Storyboard));
            }
        }
        finally
        {
            TryDelete(work);
        }
        return result;
    }

    private async Task<RenditionObject> AddTextAsync(string key, string text, RenditionObjectKind kind, CancellationToken ct)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var (sha, size) = await blobs.AddAsync(new MemoryStream(bytes), null, ct);
        return new RenditionObject(key, sha, size, kind);
    }

    private string NewWorkDir(IEnumerable<string> subfolders)
    {
        var dir = Path.Combine(workRoot, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        foreach (var s in subfolders) Directory.CreateDirectory(Path.Combine(dir, s));
        return dir;
    }

    /// <summary>Work folders a killed run left behind; an hour old is far past any live run's scene.</summary>
    private void RemoveStaleWork()
    {
        if (!Directory.Exists(workRoot)) return;
        foreach (var dir in new DirectoryInfo(workRoot).EnumerateDirectories())
            if (DateTime.UtcNow - dir.LastWriteTimeUtc > TimeSpan.FromHours(1)) TryDelete(dir.FullName);
    }

    private static void TryDelete(string dir)
    {
        try { Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
