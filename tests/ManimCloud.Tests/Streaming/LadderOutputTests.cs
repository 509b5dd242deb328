using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using ManimCloud.Domain;
using ManimCloud.Metadata;
using ManimCloud.Streaming;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Streaming;

/// <summary>
/// SPEC R6 / issue 9, on real ffmpeg output: what the ladder is (probed), what the manifests say (parsed), and that an
/// edit of one scene encodes one scene and points at the other scenes' earlier segments.
/// </summary>
[Collection(StreamingCollection.Name)]
public sealed class LadderOutputTests(StreamingFixture f)
{
    private async Task<SceneIndex> IndexAsync(SceneRendition scene) =>
        SceneIndex.FromJson(JsonNode.Parse(await f.ReadAsync(ObjectLayout.SceneIndexKey(scene.FolderKey)))!);

    private static double Seconds(JsonNode? n) => double.Parse((string)n!, CultureInfo.InvariantCulture);

    [Fact]
    public async Task Every_rung_is_H264_High_yuv420p_with_keyframes_every_two_seconds_and_none_is_upscaled()
    {
        var set = f.A1.Set;
        Assert.Equal(["720p", "480p"], set.Rungs.Select(r => r.Name)); // a 720p source: no 1080p rung
        Assert.Equal([(1280, 720), (854, 480)], set.Rungs.Select(r => (r.Width, r.Height)));
        using var dir = new TempDir();
        var scene1 = await IndexAsync(set.Scenes[0]);
        foreach (var track in scene1.Video)
        {
            var file = await f.TrackFileAsync(dir, track.InitKey, track.Segments.Select(s => s.Key));
            var probe = f.Probe(file, "-select_streams", "v:0", "-show_entries", "stream=codec_name,profile,pix_fmt,width,height:frame=pict_type,key_frame,pts_time");
            var stream = probe["streams"]![0]!;
            Assert.Equal("h264", (string)stream["codec_name"]!);
            Assert.Equal("High", (string)stream["profile"]!);
            Assert.Equal("yuv420p", (string)stream["pix_fmt"]!);
            Assert.True((int)stream["width"]! <= 1280 && (int)stream["height"]! <= 720);
            Assert.StartsWith("avc1.64", track.Codecs);
            var keyframes = probe["frames"]!.AsArray().Where(fr => (int)fr!["key_frame"]! == 1).Select(fr => Seconds(fr!["pts_time"])).ToList();
            var first = keyframes[0];
            // 2.5 s at 30 fps: keyframes at 0 and 2 s (by time), nowhere else.
            Assert.Equal(2, keyframes.Count);
            Assert.Equal(2.0, keyframes[1] - first, 2);
        }
    }

    [Fact]
    public async Task Segments_are_cut_at_six_seconds_on_keyframes_and_aligned_across_renditions()
    {
        var b = f.B1.Set;
        var seven = await IndexAsync(b.Scenes[0]); // 7 s at 60 fps
        var track = seven.Video.Single();
        Assert.Equal([6.0, 1.0], track.Segments.Select(s => Math.Round((double)s.Duration / track.Timescale, 2)));
        using var dir = new TempDir();
        var file = await f.TrackFileAsync(dir, track.InitKey, track.Segments.Select(s => s.Key));
        var probe = f.Probe(file, "-select_streams", "v:0", "-show_entries", "stream=avg_frame_rate,width,height:frame=key_frame,pts_time");
        Assert.Equal("60/1", (string)probe["streams"]![0]!["avg_frame_rate"]!);
        Assert.Equal(4, probe["frames"]!.AsArray().Count(fr => (int)fr!["key_frame"]! == 1)); // 0, 2, 4, 6 s
        // Renditions of one scene share their segment boundaries (players switch rungs at any segment).
        foreach (var scene in f.A1.Set.Scenes)
        {
            var index = await IndexAsync(scene);
            var boundaries = index.Video.Select(t => string.Join(",", t.Segments.Select(s => Math.Round((double)s.Start / t.Timescale, 3) + "+" + Math.Round((double)s.Duration / t.Timescale, 3)))).Distinct();
            Assert.Single(boundaries);
        }
    }

    [Fact]
    public async Task The_HLS_master_playlist_describes_every_rung_and_the_shared_audio()
    {
        var set = f.A1.Set;
        var master = await f.TextAsync(set.HlsMasterKey);
        Assert.StartsWith("#EXTM3U\n", master);
        Assert.Contains("#EXT-X-INDEPENDENT-SEGMENTS", master);
        Assert.Matches(@"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=""audio"",[^\n]*URI=""audio\.m3u8""", master);
        var infs = Regex.Matches(master, @"#EXT-X-STREAM-INF:(?<attrs>[^\n]+)\n(?<uri>[^\n]+)").ToList();
        Assert.Equal(set.Rungs.Count, infs.Count);
        for (var i = 0; i < infs.Count; i++)
        {
            var attrs = infs[i].Groups["attrs"].Value;
            var rung = set.Rungs[i];
            long Attr(string name) => long.Parse(Regex.Match(attrs, $@"(?<![A-Z-]){name}=(\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.True(Attr("BANDWIDTH") >= Attr("AVERAGE-BANDWIDTH") && Attr("AVERAGE-BANDWIDTH") > 0, attrs);
            Assert.True(Attr("BANDWIDTH") <= rung.PeakBitrate + 200_000, $"{rung.Name}: {attrs} over the peak cap"); // + audio
            Assert.Contains($"RESOLUTION={rung.Width}x{rung.Height}", attrs);
            Assert.Contains("FRAME-RATE=60.000", attrs); // the 60 fps scene decides
            Assert.Matches(@"CODECS=""avc1\.64[0-9a-f]{4},mp4a\.40\.2""", attrs);
            Assert.Contains("AUDIO=\"audio\"", attrs);
            Assert.Equal($"{rung.Name}.m3u8", infs[i].Groups["uri"].Value);
        }
        Assert.Equal(1280, set.Rungs.Max(r => r.Width));
        Assert.True(set.Rungs[0].PeakBitrate <= 3_500_000 + 500_000, "720p stays near its 3.5 Mb/s cap");
    }

    [Fact]
    public async Task Media_playlists_are_VOD_join_the_scenes_with_discontinuities_and_name_only_stored_objects()
    {
        var set = f.A1.Set;
        foreach (var track in set.Rungs.Select(r => r.Name).Append("audio"))
        {
            var key = ObjectLayout.HlsVariantKey(f.A.Project, f.A.Id, 1, track);
            var playlist = await f.TextAsync(key);
            Assert.Contains("#EXT-X-PLAYLIST-TYPE:VOD\n", playlist);
            Assert.Contains("#EXT-X-INDEPENDENT-SEGMENTS\n", playlist);
            Assert.EndsWith("#EXT-X-ENDLIST\n", playlist);
            Assert.Equal(2, Regex.Matches(playlist, "#EXT-X-DISCONTINUITY\n").Count);
            Assert.Equal(3, Regex.Matches(playlist, "#EXT-X-MAP:URI=").Count);
            var target = int.Parse(Regex.Match(playlist, @"#EXT-X-TARGETDURATION:(\d+)").Groups[1].Value);
            var durations = Regex.Matches(playlist, @"#EXTINF:([0-9.]+),").Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
            Assert.All(durations, d => Assert.True(Math.Round(d) <= target && d <= 6.1, $"{d} s in {key}"));
            var uris = Regex.Matches(playlist, @"URI=""([^""]+)""").Select(m => m.Groups[1].Value)
                .Concat(playlist.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')));
            foreach (var uri in uris) Assert.True(await f.ExistsAsync(Resolve(key, uri)), $"{key} names {uri}, which is not stored");
        }
    }

    /// <summary>A relative URL resolved against the key of the document it is in, as a player resolves it.</summary>
    private static string Resolve(string documentKey, string relative) =>
        new Uri(new Uri("https://cdn.example/" + documentKey), relative).AbsolutePath.TrimStart('/');

    [Fact]
    public async Task The_DASH_manifest_has_a_period_per_scene_with_every_rung_and_the_audio_on_the_same_segments()
    {
        var set = f.A1.Set;
        var mpd = XDocument.Parse(await f.TextAsync(set.DashManifestKey));
        XNamespace ns = "urn:mpeg:dash:schema:mpd:2011";
        Assert.Equal("static", (string?)mpd.Root!.Attribute("type"));
        var periods = mpd.Root.Elements(ns + "Period").ToList();
        Assert.Equal(3, periods.Count);
        var total = System.Xml.XmlConvert.ToTimeSpan((string)mpd.Root.Attribute("mediaPresentationDuration")!).TotalSeconds;
        Assert.Equal(set.DurationSeconds, total, 2);
        for (var i = 0; i < periods.Count; i++)
        {
            var index = await IndexAsync(set.Scenes[i]);
            var sets = periods[i].Elements(ns + "AdaptationSet").ToList();
            Assert.Equal(["video", "audio"], sets.Select(s => (string)s.Attribute("contentType")!));
            var reps = sets.SelectMany(s => s.Elements(ns + "Representation")).ToList();
            Assert.Equal(set.Rungs.Select(r => r.Name).Append("audio"), reps.Select(r => (string)r.Attribute("id")!));
            foreach (var rep in reps)
            {
                var template = rep.Element(ns + "SegmentTemplate")!;
                var timeline = template.Element(ns + "SegmentTimeline")!.Elements(ns + "S").Sum(s => 1 + ((int?)s.Attribute("r") ?? 0));
                var track = index.Tracks.Single(t => t.Name == (string)rep.Attribute("id")!);
                Assert.Equal(track.Segments.Count, timeline);
                Assert.Equal(track.InitKey, Resolve(set.DashManifestKey, (string)template.Attribute("initialization")!));
                var media = (string)template.Attribute("media")!;
                for (var k = 1; k <= timeline; k++)
                    Assert.Equal(track.Segments[k - 1].Key, Resolve(set.DashManifestKey, media.Replace("$Number%05d$", k.ToString("D5"))));
            }
            // HLS names the very same segment objects: one copy serves both formats.
            var hls = await f.TextAsync(ObjectLayout.HlsVariantKey(f.A.Project, f.A.Id, 1, set.Rungs[0].Name));
            Assert.Contains(Manifests.Relative(ObjectLayout.HlsVariantKey(f.A.Project, f.A.Id, 1, set.Rungs[0].Name), index.Video.First().Segments[0].Key), hls);
        }
    }

    [Fact]
    public async Task A_poster_and_a_storyboard_with_sprite_fragments_are_published()
    {
        var set = f.A1.Set;
        var poster = await f.ReadAsync(set.PosterKey!);
        Assert.Equal([0xFF, 0xD8], poster[..2]); // JPEG
        var vtt = await f.TextAsync(set.StoryboardKeys[0]);
        Assert.StartsWith("WEBVTT\n", vtt);
        var cues = Regex.Matches(vtt, @"(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})\n(sprite_\d{3}\.jpg)#xywh=(\d+),(\d+),160,90").ToList();
        Assert.Equal(4, cues.Count); // 2.5 s → 2 thumbnails, 1.5 s → 1, 0.6 s → 1
        Assert.Equal("00:00:00.000", cues[0].Groups[1].Value);
        Assert.Equal(TimeSpan.FromSeconds(set.DurationSeconds).TotalSeconds, TimeSpan.Parse(cues[^1].Groups[2].Value, CultureInfo.InvariantCulture).TotalSeconds, 1);
        var sprite = await f.ReadAsync(set.StoryboardKeys[1]);
        Assert.Equal([0xFF, 0xD8], sprite[..2]);
        using var dir = new TempDir();
        await File.WriteAllBytesAsync(dir.File("s.jpg"), sprite);
        var size = f.Probe(dir.File("s.jpg"), "-show_entries", "stream=width,height")["streams"]![0]!;
        Assert.Equal(1600, (int)size["width"]!);
        Assert.Equal(90, (int)size["height"]!);
    }

    [Fact]
    public async Task An_edit_of_one_scene_encodes_that_scene_only_and_the_others_keep_their_earlier_segments()
    {
        Assert.Equal(new TranscodeCounts(3, 0, 0), f.A1.Counts);
        Assert.Equal(new TranscodeCounts(1, 2, 0), f.A2.Counts);
        var (v1, v2) = (f.A1.Set, f.A2.Set);
        Assert.Equal(v1.Scenes[0].FolderKey, v2.Scenes[0].FolderKey);
        Assert.Equal(v1.Scenes[2].FolderKey, v2.Scenes[2].FolderKey);
        Assert.StartsWith(ObjectLayout.RenditionFolder(f.A.Project, f.A.Id, 1), v2.Scenes[0].FolderKey);
        Assert.StartsWith(ObjectLayout.RenditionFolder(f.A.Project, f.A.Id, 2), v2.Scenes[1].FolderKey);
        Assert.Equal([1, 2, 1], v2.Scenes.Select(s => s.EncodedInVersion));
        // v2's playlists point into v1's folder for the unchanged scenes; v2 stored no segment of them.
        var playlist = await f.TextAsync(ObjectLayout.HlsVariantKey(f.A.Project, f.A.Id, 2, "720p"));
        Assert.Contains("../../v1/cmaf/", playlist);
        var v2Segments = new List<string>();
        await foreach (var o in f.Client.Local.Videos.ListAsync(ObjectLayout.RenditionFolder(f.A.Project, f.A.Id, 2) + "cmaf/", CancellationToken.None)) v2Segments.Add(o.Key);
        Assert.All(v2Segments, k => Assert.StartsWith(v2.Scenes[1].FolderKey, k));
        // A version's first publish: every manifest is new; transcoding it again with nothing changed encodes nothing and changes no manifest.
        Assert.Equal(v2.Manifests.Keys.Order(StringComparer.Ordinal), f.A2.ChangedManifests);
        Assert.Equal(new TranscodeCounts(0, 3, 0), f.A2Again.Counts);
        Assert.Empty(f.A2Again.ChangedManifests);
    }

    [Fact]
    public void An_edit_probes_and_decodes_only_the_changed_clip_and_reuses_the_poster_and_the_other_scenes_storyboards()
    {
        // v1: every clip probed (ffprobe + a first-frame decode each), one ffmpeg per scene, one poster.
        Assert.Equal([1, 2, 3], f.A1.Work.ProbedScenes);
        Assert.Equal(3 * 2 + 3 + 1, f.A1.Work.ToolRuns);
        // v2 changed scene 2: only its clip is probed, it is encoded (its sheets with it); scene 1 (the poster's) did
        // not change, so the poster is reused; the other scenes' facts and sheets come from their encode.
        Assert.Equal([2], f.A2.Work.ProbedScenes);
        Assert.Equal(2 + 1, f.A2.Work.ToolRuns);
        // The same version again: nothing probed, nothing run.
        Assert.Empty(f.A2Again.Work.ProbedScenes);
        Assert.Equal(0, f.A2Again.Work.ToolRuns);
        Assert.Equal(f.A1.Set.PosterKey!.Replace("/v1/", "/v2/"), f.A2.Set.PosterKey);
    }

    [Fact]
    public async Task Each_scene_has_its_own_sheets_and_a_reused_scene_s_sheet_is_the_same_image()
    {
        var (v1, v2) = (f.A1.Set, f.A2.Set);
        Assert.Equal(4, v1.StoryboardKeys.Count); // the VTT and a sheet per scene (2 + 1 + 1 thumbnails)
        Assert.Equal(4, v2.StoryboardKeys.Count);
        var vtt = await f.TextAsync(v2.StoryboardKeys[0]);
        Assert.Equal(["sprite_001.jpg", "sprite_001.jpg", "sprite_002.jpg", "sprite_003.jpg"],
            Regex.Matches(vtt, @"(sprite_\d{3}\.jpg)#xywh=").Select(m => m.Groups[1].Value));
        Assert.Contains("sprite_001.jpg#xywh=160,0,160,90", vtt);
        // Scenes 1 and 3 are unchanged: their sheets in v2 are v1's bytes (not made again: see the ffmpeg runs above).
        Assert.Equal(await f.ReadAsync(v1.StoryboardKeys[1]), await f.ReadAsync(v2.StoryboardKeys[1]));
        Assert.Equal(await f.ReadAsync(v1.StoryboardKeys[3]), await f.ReadAsync(v2.StoryboardKeys[3]));
    }

    [Fact]
    public async Task A_silent_scene_among_scenes_with_sound_gets_a_silent_track_and_a_silent_video_has_no_audio_at_all()
    {
        var scene2 = await IndexAsync(f.A1.Set.Scenes[1]);
        var audio = scene2.Audio!;
        Assert.Equal(scene2.DurationSeconds, audio.Seconds, 1);
        Assert.NotNull(f.A1.Set.Audio);
        var b = f.B1.Set;
        Assert.Null(b.Audio);
        var master = await f.TextAsync(b.HlsMasterKey);
        Assert.DoesNotContain("EXT-X-MEDIA", master);
        Assert.DoesNotContain("mp4a", master);
        Assert.DoesNotContain("audio", await f.TextAsync(b.DashManifestKey));
    }

    [Fact]
    public async Task Four_by_three_square_odd_sized_and_full_only_sources_keep_their_shape()
    {
        var b = f.B1.Set;
        Assert.Equal("480p", Assert.Single(b.Rungs).Name);
        Assert.Equal((640, 480), (b.Rungs[0].Width, b.Rungs[0].Height));
        var square = (await IndexAsync(b.Scenes[1])).Video.Single();
        Assert.Equal((480, 480), (square.Width, square.Height));
        Assert.Equal(60, b.Rungs[0].FrameRate);
        var c = f.C1.Set;
        var whole = Assert.Single(c.Scenes);
        Assert.Equal(0, whole.Scene); // transcoded from its full video
        Assert.Equal((426, 240), (c.Rungs.Single().Width, c.Rungs.Single().Height));
        using var dir = new TempDir();
        var track = (await IndexAsync(whole)).Video.Single();
        var file = await f.TrackFileAsync(dir, track.InitKey, track.Segments.Select(s => s.Key));
        var stream = f.Probe(file, "-show_entries", "stream=pix_fmt,profile")["streams"]![0]!;
        Assert.Equal("yuv420p", (string)stream["pix_fmt"]!);
        Assert.Equal("High", (string)stream["profile"]!);
        Assert.True(c.DurationSeconds < 1.1);
    }

    [Fact]
    public async Task The_video_record_holds_each_version_s_set_and_is_ready()
    {
        var video = await f.Client.GetVideoAsync(f.A.Id, CancellationToken.None);
        Assert.Equal(VideoStatus.Ready, video.Status);
        Assert.Null(video.StatusReason);
        Assert.Equal([1, 2], video.Renditions.Keys.Order());
        var v2 = video.Renditions[2];
        Assert.Equal(f.A2Again.Set.FinishedAt, v2.FinishedAt);
        Assert.Equal("local", v2.Engine);
        Assert.Equal(Ladder.Default.Fingerprint, v2.LadderFingerprint);
        Assert.Equal(RenditionJson.ToJson(v2).ToJsonString(), RenditionJson.ToJson(RenditionJson.FromJson(RenditionJson.ToJson(v2))).ToJsonString());
        Assert.True(v2.SegmentCount >= 9 && v2.Bytes > 0 && v2.DurationSeconds > 4.5);
        foreach (var key in v2.Manifests.Keys.Append(v2.PosterKey!).Concat(v2.StoryboardKeys)) Assert.True(await f.ExistsAsync(key), key);
    }
}
