using System.Diagnostics;
using System.Text.Json.Nodes;
using ManimCloud.Streaming;
using ManimCloud.Streaming.MediaConvert;

namespace ManimCloud.Tests.Streaming.MediaConvert;

/// <summary>
/// No local server accepts MediaConvert jobs, so the CreateJob requests ManimCloud builds are checked against
/// botocore's MediaConvert service model on disk: its ParamValidator for the input shape, plus every enum, max and
/// pattern constraint of the model, which ParamValidator does not check (validate_create_job.py).
/// </summary>
public sealed class CreateJobModelTests
{
    private const string Role = "arn:aws:iam::123456789012:role/manimcloud-dev-mediaconvert";
    private const string KmsArn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    private const string Folder = "s3://vid-bucket/transcoded/proj/3f2b8c1e-0000-4000-8000-000000000001/v2/cmaf/0123456789abcdef-a1b2c3d4e5f6/";

    private static SceneJob Job(int width, int height, SceneAudio audio = SceneAudio.FromClip, string? kms = null) => new()
    {
        Input = "s3://vid-bucket/videos/proj/3f2b8c1e-0000-4000-8000-000000000001/v2/scene_001.mp4",
        Destination = Folder,
        Ladder = Ladder.Default,
        Rungs = Ladder.Default.For(width, height),
        Audio = audio,
        SilenceInput = audio == SceneAudio.Silence ? "s3://vid-bucket/videos/_silence/48000hz-2ch-1s.wav" : null,
        KmsKeyArn = kms,
    };

    private static JsonObject Body(SceneJob job) =>
        job.ToRequest(Role, SceneJob.Token(new string('a', 64), SceneJob.Fingerprint(Ladder.Default), job.Destination, 1),
            new Dictionary<string, string> { ["manimcloud-scene"] = "1" }).ToJson();

    private static readonly string[] Ladders = ["1080p with sound", "480p source", "360p source", "silent", "kms", "silent scene among scenes with sound", "square 1080"];

    private static SceneJob Scenario(string name) => name switch
    {
        "1080p with sound" => Job(1920, 1080),
        "480p source" => Job(854, 480),
        "360p source" => Job(640, 360),
        "silent" => Job(1920, 1080, SceneAudio.None),
        "kms" => Job(1920, 1080, kms: KmsArn),
        "silent scene among scenes with sound" => Job(1280, 720, SceneAudio.Silence),
        "square 1080" => Job(1080, 1080),
        _ => throw new ArgumentException(name),
    };

    [Fact]
    public void Every_ladder_the_engine_builds_is_a_valid_CreateJob_request_by_botocores_model()
    {
        var bodies = new JsonArray(Ladders.Select(l => (JsonNode)Body(Scenario(l))).ToArray());
        var (exit, problems) = Validate(bodies);
        Assert.True(exit == 0, "botocore's MediaConvert model refuses the requests:\n" + problems);
    }

    [Fact]
    public void The_validator_catches_what_ParamValidator_alone_would_let_through()
    {
        // Proof that the check is not vacuous: a wrong enum, a value above a maximum, an unknown field and a bad pattern.
        var body = Body(Job(1920, 1080));
        var h264 = body["settings"]!["outputGroups"]![0]!["outputs"]![0]!["videoDescription"]!["codecSettings"]!["h264Settings"]!;
        h264["gopSizeUnits"] = "MINUTES";
        h264["qvbrSettings"]!["qvbrQualityLevel"] = 11;
        body["settings"]!["outputGroups"]![0]!["outputGroupSettings"]!["cmafGroupSettings"]!["destination"] = "/tmp/not-s3";
        body["settings"]!["inputs"]![0]!["sourceFile"] = "s3://x/y.mp4";
        var (exit, problems) = Validate(new JsonArray(body));
        Assert.Equal(1, exit);
        Assert.Contains("MINUTES", problems);
        Assert.Contains("QvbrQualityLevel: 11 is above the maximum 10", problems);
        Assert.Contains("does not match", problems);
        Assert.Contains("sourceFile: not a field of Input", problems);
    }

    [Fact]
    public void The_ladder_becomes_one_CMAF_group_with_HLS_and_DASH_manifests_and_a_QVBR_output_per_rung()
    {
        var settings = Body(Job(1920, 1080))["settings"]!;
        var cmaf = settings["outputGroups"]![0]!;
        var group = cmaf["outputGroupSettings"]!["cmafGroupSettings"]!;
        Assert.Equal("ENABLED", (string?)group["writeHlsManifest"]);
        Assert.Equal("ENABLED", (string?)group["writeDashManifest"]);
        Assert.Equal(Folder + "scene", (string?)group["destination"]);
        Assert.Equal(6, (int)group["segmentLength"]!);
        var videos = cmaf["outputs"]!.AsArray().Where(o => o!["videoDescription"] is not null).ToList();
        Assert.Equal(["_1080p", "_720p", "_480p"], videos.Select(v => (string)v!["nameModifier"]!));
        foreach (var (output, rung) in videos.Zip(Ladder.Default.For(1920, 1080)))
        {
            var h264 = output!["videoDescription"]!["codecSettings"]!["h264Settings"]!;
            Assert.Equal("QVBR", (string?)h264["rateControlMode"]);
            Assert.Equal(rung.PeakBitrate, (int)h264["maxBitrate"]!);
            Assert.Equal(2.0, (double)h264["gopSize"]!);
            Assert.Equal("SECONDS", (string?)h264["gopSizeUnits"]);
            Assert.Equal(1, (int)h264["gopClosedCadence"]!);
            Assert.Equal("HIGH", (string?)h264["codecProfile"]);
        }
        var audio = cmaf["outputs"]!.AsArray().Single(o => o!["audioDescriptions"] is not null)!;
        var aac = audio["audioDescriptions"]![0]!["codecSettings"]!["aacSettings"]!;
        Assert.Equal(128000, (int)aac["bitrate"]!);
        Assert.Equal(48000, (int)aac["sampleRate"]!);
        Assert.Equal("FRAME_CAPTURE", (string?)settings["outputGroups"]![1]!["outputs"]![0]!["videoDescription"]!["codecSettings"]!["codec"]);
        Assert.Equal("SERVER_SIDE_ENCRYPTION_S3", (string?)group["destinationSettings"]!["s3Settings"]!["encryption"]!["encryptionType"]);
    }

    [Fact]
    public void A_480p_source_gets_one_rendition_and_a_silent_clip_no_audio_selector_nor_audio_track()
    {
        var small = Body(Job(854, 480))["settings"]!["outputGroups"]![0]!["outputs"]!.AsArray();
        Assert.Single(small, o => o!["videoDescription"] is not null);
        var silent = Body(Job(1920, 1080, SceneAudio.None))["settings"]!;
        Assert.Null(silent["inputs"]![0]!["audioSelectors"]);
        Assert.DoesNotContain(silent["outputGroups"]![0]!["outputs"]!.AsArray(), o => o!["audioDescriptions"] is not null);
        var standIn = Body(Job(1280, 720, SceneAudio.Silence))["settings"]!["inputs"]![0]!["audioSelectors"]![SceneJob.AudioSelector]!;
        Assert.EndsWith(".wav", (string?)standIn["externalAudioFileInput"]);
    }

    [Fact]
    public void With_a_KMS_key_every_output_group_is_written_with_SSE_KMS_under_that_key()
    {
        var groups = Body(Job(1920, 1080, kms: KmsArn))["settings"]!["outputGroups"]!.AsArray();
        Assert.Equal(2, groups.Count);
        foreach (var group in groups)
        {
            var settings = group!["outputGroupSettings"]!;
            var destination = (settings["cmafGroupSettings"] ?? settings["fileGroupSettings"])!["destinationSettings"]!["s3Settings"]!["encryption"]!;
            Assert.Equal("SERVER_SIDE_ENCRYPTION_KMS", (string?)destination["encryptionType"]);
            Assert.Equal(KmsArn, (string?)destination["kmsKeyArn"]);
        }
    }

    [Fact]
    public void The_idempotency_token_follows_the_content_and_changes_with_a_new_attempt()
    {
        var fp = SceneJob.Fingerprint(Ladder.Default);
        var a = SceneJob.Token(new string('a', 64), fp, Folder, 1);
        Assert.Equal(a, SceneJob.Token(new string('a', 64), fp, Folder, 1));
        Assert.NotEqual(a, SceneJob.Token(new string('b', 64), fp, Folder, 1));
        Assert.NotEqual(a, SceneJob.Token(new string('a', 64), SceneJob.Fingerprint(Ladder.Default with { SegmentSeconds = 4 }), Folder, 1));
        Assert.NotEqual(a, SceneJob.Token(new string('a', 64), fp, Folder, 2));
        Assert.True(a.Length <= 64);
        Assert.NotEqual(Ladder.Default.Fingerprint, fp); // MediaConvert's folders never collide with the local engine's
    }

    private static (int Exit, string Output) Validate(JsonArray bodies)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "Streaming", "MediaConvert", "validate_create_job.py");
        var psi = new ProcessStartInfo("python3", [script]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardInput.Write(bodies.ToJsonString());
        p.StandardInput.Close();
        Assert.True(p.WaitForExit(120_000), "the validator did not finish");
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
