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
        var runsBefore = Volatile.Read(ref _toolRuns);

        // What each scene is: reused (an earlier set has its clip under this ladder), resumed (finished by a run that did
        // not publish), or to encode. Only a clip to encode is probed and its first frame decoded; a reused or resumed
        // scene's clip is, by its content hash, the one checked when it was encoded, and its index holds what was found.
        // Every clip to encode is checked before anything is encoded: a bad scene 5 fails the transcode before scene 1 costs anything.
        var planned = new List<ScenePlan>();
        var probed = new List<int>();
        foreach (var source in request.Sources)
        {
            var folder = ObjectLayout.SceneSegmentsFolder(request.Project, request.VideoId, request.Version, source.Sha256, fingerprint);
            var published = await FindPublishedAsync(request, source.Sha256, fingerprint, ct);
            var finished = published is null && stash.Find(folder) is { } f && f.Index.Tracks.All(HasBlobs) ? f : null;
            var info = (published ?? finished?.Index)?.Source;
            if (info is null)
            {
                info = await ProbeAsync(source, ct);
                probed.Add(source.Scene);
            }
            planned.Add(new ScenePlan(source, info, folder, published, finished));
        }
        var withAudio = planned.Any(p => p.Info.HasAudio);
        var plans = planned.Select(p => ladder.For(p.Info.Width, p.Info.Height)).ToList();
        // The ladder is what every scene can offer (scenes of different sizes share the rungs they all reach).
        var names = plans[0].Select(r => r.Name).Where(n => plans.All(pl => pl.Any(r => r.Name == n))).ToList();
        if (names.Count == 0)
            throw new ManimCloudException(ErrorKind.InvalidInput,
                $"The scenes of version {request.Version} have sizes with no rung in common ({string.Join(", ", planned.Select(p => $"{p.Info.Width}x{p.Info.Height}"))}).",
                "Render every scene at the same quality (Manim's -q flag).");

        var scenes = new List<SceneIndex>();
        var storyboards = new List<SceneSheets>();
        var objects = new Dictionary<string, RenditionObject>(); // by key: a scene's index may be replaced by one with more tracks
        int encoded = 0, reused = 0, resumed = 0;
        double encodeSeconds = 0;
        for (var i = 0; i < planned.Count; i++)
        {
            var (source, info, folder, published, finished) = planned[i];
            var done = i;
            var report = new Action<string, double, double>((stage, at, speed) =>
                progress?.Report(new TranscodeProgress(source.Scene, done, planned.Count, at, info.DurationSeconds, speed, stage)));
            SceneIndex index;
            SceneSheets? sheets = null;
            if (published is not null)
            {
                index = published;
                reused++;
                report("reused", info.DurationSeconds, 0);
            }
            else if (finished is not null)
            {
                // Finished by an earlier run that did not get to publish (killed, cancelled, or a later scene failed).
                (index, sheets) = (finished.Index, finished.Sheets);
                resumed++;
                Add(objects, SceneObjects(index, folder));
                report("resumed", info.DurationSeconds, 0);
            }
            else
            {
                var t0 = DateTimeOffset.UtcNow;
                var audio = info.HasAudio ? SceneAudio.Source : withAudio ? SceneAudio.Silence : SceneAudio.None;
                (index, sheets) = await EncodeSceneAsync(request, source, info, plans[i].Where(r => names.Contains(r.Name)).ToList(), audio, folder, report, ct);
                encodeSeconds += (DateTimeOffset.UtcNow - t0).TotalSeconds;
                encoded++;
                Add(objects, SceneObjects(index, folder));
            }
            // The scene's storyboard sheets: made with its encode; of a reused scene, the ones made when it was encoded.
            if (sheets is null || !sheets.Sheets.All(blobs.Contains) || sheets.Settings != Storyboard.Settings)
                sheets = stash.SheetsOf(source.Sha256, Storyboard.Settings) is { } known && known.Sheets.All(blobs.Contains) ? known
                    : await ExtractSheetsAsync(source, info, index, ct);

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
            scenes.Add(index);
            storyboards.Add(sheets);
        }

        progress?.Report(new TranscodeProgress(0, planned.Count, planned.Count, 0, 0, 0, "manifests"));
        var (p, v, n) = (request.Project, request.VideoId, request.Version);
        var manifests = Manifests.Build(p, v, n, scenes, names, withAudio, ladder);
        var manifestHashes = new Dictionary<string, string>();
        foreach (var (key, text) in manifests.Files)
        {
            var o = await AddTextAsync(key, text, RenditionObjectKind.Manifest, ct);
            manifestHashes[key] = o.Sha256;
            objects[key] = o;
        }
        var poster = await PosterAsync(request, planned[0].Source, planned[0].Info, plans[0].First(r => r.Name == names[0]), ct);
        objects[poster.Key] = poster;
        var storyboard = await StoryboardAsync(request, scenes, storyboards, ct);
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
        return new TranscodeOutcome(set, objects.Values.ToList(), new TranscodeCounts(encoded, reused, resumed))
        {
            Work = new TranscodeWork(probed, Volatile.Read(ref _toolRuns) - runsBefore),
        };
    }

    /// <summary>One scene of the version: its clip, what the clip is, and an earlier encode of it if there is one.</summary>
    private sealed record ScenePlan(TranscodeSource Source, MediaInfo Info, string Folder, SceneIndex? Published, SceneStash.Entry? Finished);

    /// <summary>ffprobe and ffmpeg runs this engine started (probes count two): what a transcode costs in processes.</summary>
    private int _toolRuns;

    private async Task RunFfmpegAsync(IReadOnlyList<string> args, string what, Action<FfmpegProgress>? progress, CancellationToken ct)
    {
        Interlocked.Increment(ref _toolRuns);
        await FfmpegProcess.RunAsync(tools.Ffmpeg, args, what, progress, ct);
    }

    private async Task<MediaInfo> ProbeAsync(TranscodeSource source, CancellationToken ct)
    {
        var path = source.LocalPath ?? throw NotHere(source);
        Interlocked.Add(ref _toolRuns, 2); // ffprobe, then ffmpeg decoding the first frame
        return await MediaValidation.ProbeAsync(path, source.Key, tools.Ffprobe, tools.Ffmpeg, ct);
    }

    private static ManimCloudException NotHere(TranscodeSource source) => new(ErrorKind.NotFound,
        $"{source.Key} is not on this machine.", "Run `manimcloud sync`, or fetch it with `video get`, then transcode again.");

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

    private async Task<(SceneIndex, SceneSheets)> EncodeSceneAsync(TranscodeRequest request, TranscodeSource source, MediaInfo info,
        IReadOnlyList<PlannedRendition> rungs, SceneAudio audio, string folder, Action<string, double, double> report, CancellationToken ct)
    {
        var work = NewWorkDir(rungs.Select(r => r.Name).Append("audio").Append("thumbs").Append("sheets"));
        try
        {
            var args = FfmpegArguments.SceneEncode(request.Ladder, source.LocalPath ?? throw NotHere(source), rungs, info.FrameRate, info.DurationSeconds, audio, Storyboard, work);
            await RunFfmpegAsync(args, source.Key, p => report("encoding", p.Seconds, p.Speed), ct);
            var tracks = new List<SceneTrack>();
            foreach (var r in rungs)
                tracks.Add(await CollectTrackAsync(Path.Combine(work, r.Name), folder, r.Name, false, r.Width, r.Height, info.FrameRate, ct));
            if (audio != SceneAudio.None)
                tracks.Add(await CollectTrackAsync(Path.Combine(work, "audio"), folder, "audio", true, 0, 0, 0, ct));
            var sheets = await CollectSheetsAsync(work, info, ct);
            var index = new SceneIndex(source.Scene, source.Sha256, request.Ladder.Fingerprint, folder, request.Version, tracks[0].Seconds, tracks, info);
            await AddIndexBlobAsync(index, ct);
            stash.Add(index, sheets);
            return (index, sheets);
        }
        finally
        {
            TryDelete(work);
        }
    }

    /// <summary>The sheets ffmpeg tiled into "sheets" as blobs, and how many thumbnails they hold (the loose ones in "thumbs", not kept).</summary>
    private async Task<SceneSheets> CollectSheetsAsync(string work, MediaInfo info, CancellationToken ct)
    {
        var count = Directory.GetFiles(Path.Combine(work, "thumbs"), "*.jpg").Length;
        var sheets = new List<string>();
        foreach (var file in Directory.GetFiles(Path.Combine(work, "sheets"), "sprite_*.jpg").Order(StringComparer.Ordinal))
            sheets.Add((await blobs.AddFileAsync(file, ct)).Sha256);
        if (count == 0 || sheets.Count == 0)
            throw new ManimCloudException(ErrorKind.Fatal, "ffmpeg wrote no storyboard thumbnails.", "Check the input clip plays; see the runbook.");
        return new SceneSheets(Storyboard.Settings, count, Storyboard.Columns * Storyboard.RowsFor(info.DurationSeconds), sheets);
    }

    private async Task<SceneIndex> AddSilenceAsync(TranscodeRequest request, SceneIndex index, string folder, CancellationToken ct)
    {
        if (stash.Find(folder) is { } done && done.Index.Audio is { } known && HasBlobs(known) && done.Index.ClipSha256 == index.ClipSha256)
            return done.Index;
        var work = NewWorkDir(["audio"]);
        try
        {
            await RunFfmpegAsync(FfmpegArguments.Silence(request.Ladder, index.DurationSeconds, work), $"silence for scene {index.Scene}", null, ct);
            var audio = await CollectTrackAsync(Path.Combine(work, "audio"), folder, "audio", true, 0, 0, 0, ct);
            var withSilence = index.WithTracks([.. index.Video, audio], folder);
            await AddIndexBlobAsync(withSilence, ct);
            stash.Add(withSilence, stash.Find(index.FolderKey)?.Sheets);
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

    /// <summary>
    /// The sheets of a scene whose segments are reused but whose sheets this machine does not have (another machine
    /// encoded it): a decode of the scene, no encode. Recorded with the scene (<paramref name="index"/>: as published),
    /// so the next version finds them.
    /// </summary>
    private async Task<SceneSheets> ExtractSheetsAsync(TranscodeSource source, MediaInfo info, SceneIndex index, CancellationToken ct)
    {
        var work = NewWorkDir(["thumbs", "sheets"]);
        try
        {
            await RunFfmpegAsync(FfmpegArguments.Thumbnails(source.LocalPath ?? throw NotHere(source), Storyboard, info.DurationSeconds, work),
                $"thumbnails of {source.Key}", null, ct);
            var sheets = await CollectSheetsAsync(work, info, ct);
            stash.Add(stash.Find(index.FolderKey)?.Index ?? index, sheets);
            return sheets;
        }
        finally
        {
            TryDelete(work);
        }
    }

    /// <summary>
    /// The poster: a frame from the middle of the first scene (Manim scenes often fade in from black; at most 3 s in),
    /// at the top rung's size. Made once per first clip and size: a version whose first scene did not change reuses it.
    /// </summary>
    private async Task<RenditionObject> PosterAsync(TranscodeRequest request, TranscodeSource first, MediaInfo info, PlannedRendition top, CancellationToken ct)
    {
        var key = ObjectLayout.PosterKey(request.Project, request.VideoId, request.Version);
        var at = Math.Min(info.DurationSeconds / 2, 3.0);
        var still = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"poster/{first.Sha256}/{top.Width}x{top.Height}/{at:R}/{string.Join(' ', FfmpegArguments.Poster("", at, top, ""))}");
        if (stash.FindStill(still) is { } made && blobs.Contains(made.Sha256))
            return new RenditionObject(key, made.Sha256, made.Size, RenditionObjectKind.Image);
        var work = NewWorkDir([]);
        try
        {
            var output = Path.Combine(work, "poster.jpg");
            await RunFfmpegAsync(FfmpegArguments.Poster(first.LocalPath ?? throw NotHere(first), at, top, output), $"the poster of {first.Key}", null, ct);
            var (sha, size) = await blobs.AddFileAsync(output, ct);
            stash.AddStill(still, sha, size);
            return new RenditionObject(key, sha, size, RenditionObjectKind.Image);
        }
        finally
        {
            TryDelete(work);
        }
    }

    /// <summary>
    /// The version's storyboard: the WebVTT over every scene's own sheets (copied under the version's storyboard folder,
    /// the same blobs), so nothing is decoded or tiled here.
    /// </summary>
    private async Task<IReadOnlyList<RenditionObject>> StoryboardAsync(TranscodeRequest request, IReadOnlyList<SceneIndex> scenes,
        IReadOnlyList<SceneSheets> sheets, CancellationToken ct)
    {
        var (p, v, n) = (request.Project, request.VideoId, request.Version);
        var layout = new List<(double, double, int, int, int)>();
        var used = new List<string>(); // the version's sheets in order (a scene's thumbnail past its end is not cued)
        var start = 0.0;
        for (var i = 0; i < scenes.Count; i++)
        {
            var s = sheets[i];
            var usable = Math.Min(s.Thumbnails, Storyboard.ThumbnailsFor(scenes[i].DurationSeconds));
            layout.Add((start, scenes[i].DurationSeconds, usable, used.Count + 1, s.PerSheet));
            used.AddRange(s.Sheets.Take((usable + s.PerSheet - 1) / s.PerSheet));
            start += scenes[i].DurationSeconds;
        }
        var cues = Storyboard.Layout(layout);
        var vttKey = ObjectLayout.StoryboardVttKey(p, v, n);
        var result = new List<RenditionObject>
        {
            await AddTextAsync(vttKey, Storyboard.WebVtt(cues, sheet => Manifests.Relative(vttKey, ObjectLayout.StoryboardSpriteKey(p, v, n, sheet))), RenditionObjectKind.Storyboard, ct),
        };
        for (var k = 0; k < used.Count; k++)
            result.Add(new RenditionObject(ObjectLayout.StoryboardSpriteKey(p, v, n, k + 1), used[k], new FileInfo(blobs.PathOf(used[k])).Length, RenditionObjectKind.Storyboard));
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
