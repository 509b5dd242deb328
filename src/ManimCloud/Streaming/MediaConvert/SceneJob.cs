using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace ManimCloud.Streaming.MediaConvert;

/// <summary>Where a scene's audio comes from in its MediaConvert job.</summary>
public enum SceneAudio
{
    /// <summary>No scene of the version has sound: no audio selector (MediaConvert fails a silent input that has one) and no audio track.</summary>
    None,
    /// <summary>The clip's own audio track.</summary>
    FromClip,
    /// <summary>The clip is silent but other scenes are not: a silent audio file stands in, so every scene has the same tracks.</summary>
    Silence,
}

/// <summary>
/// The CreateJob request that encodes one scene clip into the ladder (SPEC R6), built from the same
/// <see cref="Ladder"/> the local engine uses: one CMAF output group (fragmented-MP4 segments written once, with both
/// an HLS and a DASH manifest), a video output per planned rung (H.264 High, QVBR capped at the rung's peak bitrate,
/// a closed GOP every <see cref="Ladder.KeyframeIntervalSeconds"/> by time, <see cref="Ladder.SegmentSeconds"/>
/// segments), an AAC-LC audio output when the version has sound, and a frame-capture group for the poster.
/// Everything lands in the scene's own folder under <see cref="Destination"/>: MediaConvert names the files after
/// <see cref="BaseName"/> (scene.m3u8, scene.mpd, scene_1080p.m3u8, scene_1080p_000000001.cmfv …).
/// </summary>
public sealed record SceneJob
{
    /// <summary>Raised whenever the job settings change what MediaConvert writes: it is part of the folder names, so a new revision never reuses old segments.</summary>
    public const int SettingsRevision = 1;
    public const string BaseName = "scene";
    public const string PosterBaseName = "poster";
    public const string AudioSelector = "Audio Selector 1";
    public const string AudioTrack = "audio";
    /// <summary>QVBR's quality target: 7 suits Manim's flat shapes and text (MediaConvert suggests 7 for 720p–1080p).</summary>
    public const int QvbrQuality = 7;

    /// <summary>s3:// URI of the clip.</summary>
    public required string Input { get; init; }
    /// <summary>s3:// URI of the scene's folder, ending in '/'.</summary>
    public required string Destination { get; init; }
    public required Ladder Ladder { get; init; }
    public required IReadOnlyList<PlannedRendition> Rungs { get; init; }
    public required SceneAudio Audio { get; init; }
    /// <summary>s3:// URI of a silent audio file, when <see cref="Audio"/> is <see cref="SceneAudio.Silence"/>.</summary>
    public string? SilenceInput { get; init; }
    /// <summary>KMS key ARN for SSE-KMS on every output; null for SSE-S3.</summary>
    public string? KmsKeyArn { get; init; }

    /// <summary>
    /// The name of the settings that shape MediaConvert's output: the ladder's fingerprint and this builder's revision.
    /// Different from the local engine's (another encoder makes other bytes), so their folders never mix.
    /// </summary>
    public static string Fingerprint(Ladder ladder) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"mediaconvert/{SettingsRevision};{ladder.Fingerprint}")))[..12];

    /// <summary>
    /// The idempotency token: the same clip, ladder, destination and attempt give the same token, so a submit retried
    /// after a lost answer is answered with the first job. A new attempt (after a failed job) is a new token.
    /// </summary>
    public static string Token(string clipSha256, string fingerprint, string destination, int attempt) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{clipSha256};{fingerprint};{destination};{attempt}")));

    public CreateJobRequest ToRequest(string role, string token, IReadOnlyDictionary<string, string> userMetadata) =>
        new(role, Settings(), token) { UserMetadata = userMetadata };

    /// <summary>The job's <c>settings</c> (wire names of the 2017-08-29 API).</summary>
    public JsonObject Settings()
    {
        if (!Destination.EndsWith('/')) throw new ArgumentException("The destination must be a folder (end in '/').", nameof(Destination));
        if (Rungs.Count == 0) throw new ArgumentException("At least one rung is needed.", nameof(Rungs));
        if (Audio == SceneAudio.Silence && SilenceInput is null) throw new ArgumentException("A silent scene in a version with sound needs the silence input.", nameof(SilenceInput));

        var input = new JsonObject
        {
            ["fileInput"] = Input,
            // Clips start at zero whatever timecode they carry, so segment times line up scene by scene.
            ["timecodeSource"] = "ZEROBASED",
            ["videoSelector"] = new JsonObject(),
        };
        if (Audio != SceneAudio.None)
        {
            var selector = new JsonObject { ["defaultSelection"] = "DEFAULT" };
            if (Audio == SceneAudio.Silence) selector["externalAudioFileInput"] = SilenceInput;
            input["audioSelectors"] = new JsonObject { [AudioSelector] = selector };
        }

        var outputs = new JsonArray();
        foreach (var rung in Rungs) outputs.Add((JsonNode)VideoOutput(rung));
        if (Audio != SceneAudio.None) outputs.Add((JsonNode)AudioOutput());

        return new JsonObject
        {
            ["timecodeConfig"] = new JsonObject { ["source"] = "ZEROBASED" },
            ["inputs"] = new JsonArray(input),
            ["outputGroups"] = new JsonArray(CmafGroup(outputs), PosterGroup()),
        };
    }

    private JsonObject CmafGroup(JsonArray outputs) => new()
    {
        ["name"] = "CMAF",
        ["outputGroupSettings"] = new JsonObject
        {
            ["type"] = "CMAF_GROUP_SETTINGS",
            ["cmafGroupSettings"] = new JsonObject
            {
                ["destination"] = Destination + BaseName,
                ["destinationSettings"] = DestinationSettings(),
                ["writeHlsManifest"] = "ENABLED",
                ["writeDashManifest"] = "ENABLED",
                ["segmentControl"] = "SEGMENTED_FILES",
                ["segmentLength"] = Seconds(Ladder.SegmentSeconds),
                // Segments cut exactly every SegmentSeconds: the GOP divides it, so each segment starts on a closed GOP.
                ["segmentLengthControl"] = "EXACT",
                ["fragmentLength"] = Seconds(Ladder.KeyframeIntervalSeconds),
                ["minFinalSegmentLength"] = 0,
                ["manifestDurationFormat"] = "FLOATING_POINT",
                ["streamInfResolution"] = "INCLUDE",
                ["codecSpecification"] = "RFC_6381",
                ["mpdProfile"] = "MAIN_PROFILE",
                ["writeSegmentTimelineInRepresentation"] = "ENABLED",
                ["clientCache"] = "ENABLED",
                ["manifestCompression"] = "NONE",
            },
        },
        ["outputs"] = outputs,
    };

    private JsonObject VideoOutput(PlannedRendition rung) => new()
    {
        ["nameModifier"] = "_" + rung.Name,
        ["containerSettings"] = new JsonObject { ["container"] = "CMFC" },
        ["videoDescription"] = new JsonObject
        {
            ["width"] = rung.Width,
            ["height"] = rung.Height,
            ["scalingBehavior"] = "DEFAULT",
            ["antiAlias"] = "ENABLED",
            ["sharpness"] = 50,
            ["codecSettings"] = new JsonObject
            {
                ["codec"] = "H_264",
                ["h264Settings"] = new JsonObject
                {
                    ["codecProfile"] = Ladder.VideoProfile.ToUpperInvariant(),
                    ["codecLevel"] = "AUTO",
                    // Quality-defined VBR: flat Manim frames take few bits, the rung's peak caps the busy ones.
                    ["rateControlMode"] = "QVBR",
                    ["qvbrSettings"] = new JsonObject { ["qvbrQualityLevel"] = QvbrQuality },
                    ["maxBitrate"] = rung.PeakBitrate,
                    ["qualityTuningLevel"] = "SINGLE_PASS_HQ",
                    // A keyframe every KeyframeIntervalSeconds by time whatever the frame rate (Manim: 15, 30 or 60 fps),
                    // closed (no frame refers across it) and the same on every rung, so renditions switch at any segment.
                    ["gopSize"] = Ladder.KeyframeIntervalSeconds,
                    ["gopSizeUnits"] = "SECONDS",
                    ["gopClosedCadence"] = 1,
                    ["minIInterval"] = 0,
                    ["sceneChangeDetect"] = "TRANSITION_DETECTION",
                    ["numberBFramesBetweenReferenceFrames"] = 2,
                    ["gopBReference"] = "ENABLED",
                    ["framerateControl"] = "INITIALIZE_FROM_SOURCE",
                    ["parControl"] = "SPECIFIED",
                    ["parNumerator"] = 1,
                    ["parDenominator"] = 1,
                    ["interlaceMode"] = "PROGRESSIVE",
                    ["syntax"] = "DEFAULT",
                },
            },
        },
    };

    private JsonObject AudioOutput() => new()
    {
        ["nameModifier"] = "_" + AudioTrack,
        ["containerSettings"] = new JsonObject
        {
            ["container"] = "CMFC",
            // Audio padded or trimmed to the video's length: scene boundaries stay aligned in the joined manifests.
            ["cmfcSettings"] = new JsonObject { ["audioDuration"] = "MATCH_VIDEO_DURATION" },
        },
        ["audioDescriptions"] = new JsonArray(new JsonObject
        {
            ["audioSourceName"] = AudioSelector,
            ["codecSettings"] = new JsonObject
            {
                ["codec"] = "AAC",
                ["aacSettings"] = new JsonObject
                {
                    ["codecProfile"] = "LC",
                    ["bitrate"] = Ladder.AudioBitrate,
                    ["sampleRate"] = Ladder.AudioSampleRate,
                    ["codingMode"] = Ladder.AudioChannels == 1 ? "CODING_MODE_1_0" : "CODING_MODE_2_0",
                    ["rateControlMode"] = "CBR",
                },
            },
        }),
    };

    /// <summary>Frame captures at 0 s and 1 s: Manim scenes often open on an empty frame, so the poster is the later one when the clip has it.</summary>
    private JsonObject PosterGroup()
    {
        var top = Rungs[0];
        return new JsonObject
        {
            ["name"] = "Poster",
            ["outputGroupSettings"] = new JsonObject
            {
                ["type"] = "FILE_GROUP_SETTINGS",
                ["fileGroupSettings"] = new JsonObject
                {
                    ["destination"] = Destination + PosterBaseName,
                    ["destinationSettings"] = DestinationSettings(),
                },
            },
            ["outputs"] = new JsonArray(new JsonObject
            {
                ["containerSettings"] = new JsonObject { ["container"] = "RAW" },
                ["extension"] = "jpg",
                ["videoDescription"] = new JsonObject
                {
                    ["width"] = top.Width,
                    ["height"] = top.Height,
                    ["codecSettings"] = new JsonObject
                    {
                        ["codec"] = "FRAME_CAPTURE",
                        ["frameCaptureSettings"] = new JsonObject
                        {
                            ["framerateNumerator"] = 1,
                            ["framerateDenominator"] = 1,
                            ["maxCaptures"] = 2,
                            ["quality"] = 80,
                        },
                    },
                },
            }),
        };
    }

    /// <summary>Server-side encryption on every object MediaConvert writes (SPEC R1: always on; SSE-KMS when a key is configured).</summary>
    private JsonObject DestinationSettings() => new()
    {
        ["s3Settings"] = new JsonObject
        {
            ["encryption"] = KmsKeyArn is null
                ? new JsonObject { ["encryptionType"] = "SERVER_SIDE_ENCRYPTION_S3" }
                : new JsonObject { ["encryptionType"] = "SERVER_SIDE_ENCRYPTION_KMS", ["kmsKeyArn"] = KmsKeyArn },
        },
    };

    /// <summary>Whole seconds for the API's integer fields (the ladder's 2 s and 6 s are whole).</summary>
    private static int Seconds(double seconds) => (int)Math.Max(1, Math.Round(seconds, MidpointRounding.AwayFromZero));

    public static string S3Uri(string bucket, string key) => string.Create(CultureInfo.InvariantCulture, $"s3://{bucket}/{key}");
}
