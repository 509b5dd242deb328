using ManimCloud.Domain;

namespace ManimCloud.Streaming.MediaConvert;

/// <summary>
/// What a failed MediaConvert job's <c>errorCode</c> means in plain words, and what to do about it. The codes and
/// their meanings are MediaConvert's own (its user guide, "Error codes"); the advice names ManimCloud's settings.
/// </summary>
public sealed record JobFailure(int Code, string Title, string Meaning, string Remedy, ErrorKind Kind)
{
    private const string RoleHelp = "`manimcloud iam policy --role mediaconvert` prints the role's trust and permissions policies";

    private static readonly Dictionary<int, JobFailure> Known = new[]
    {
        new JobFailure(1010, "input error", "MediaConvert could not open the clip (a wrong S3 path, no read access, or a file that is not a supported video)",
            $"Check that the clip exists in the video bucket (`manimcloud sync`, `manimcloud status`) and that the MediaConvert role may read videos/… ({RoleHelp}).", ErrorKind.ClientError),
        new JobFailure(1020, "no video", "MediaConvert opened the clip but found no video stream in it",
            "Re-render the scene: the clip must contain a video stream (`video put` checks this for new uploads).", ErrorKind.InvalidInput),
        new JobFailure(1021, "no audio", "the job asked for audio the clip does not have",
            "Transcode again: ManimCloud probes each clip and asks for audio only when it has some; a clip replaced after probing needs a new `video put`.", ErrorKind.InvalidInput),
        new JobFailure(1030, "unsupported codec", "MediaConvert does not support the clip's codec or container",
            "Re-render or re-encode the clip as H.264 in MP4 (what Manim writes by default), then `video put` it again.", ErrorKind.InvalidInput),
        new JobFailure(1040, "settings error", "the job's encoding settings are not supported together, or not with this input",
            "Report it with the job id: the job was built by ManimCloud from the ladder. `video transcode --engine local` works meanwhile.", ErrorKind.ClientError),
        new JobFailure(1050, "disk full", "MediaConvert ran out of working disk for this job",
            "Split the video into shorter scene clips, then transcode again.", ErrorKind.ClientError),
        new JobFailure(1056, "file open error", "MediaConvert could not open an input or output file",
            $"Check the video bucket exists in this region and the role may read videos/… and write transcoded/… ({RoleHelp}).", ErrorKind.ClientError),
        new JobFailure(1075, "demuxer parse error", "MediaConvert could not parse the clip's container",
            "The clip is damaged or unusual: re-render it, `video put` it again, and transcode again.", ErrorKind.InvalidInput),
        new JobFailure(1076, "source read error", "MediaConvert could not read the clip to its end (truncated file?)",
            "Check the clip plays locally (`video get … --out F`), re-upload it with `video put`, and transcode again.", ErrorKind.InvalidInput),
        new JobFailure(1091, "encryption error", "MediaConvert could not encrypt an output",
            "Check the KMS key (MANIMCLOUD_KMS_KEY) exists, is enabled and lets the MediaConvert role use kms:GenerateDataKey.", ErrorKind.Auth),
        new JobFailure(1092, "audio decode error", "MediaConvert cannot decode the clip's audio",
            "Re-encode the clip's audio as AAC (or remove it) and `video put` it again.", ErrorKind.InvalidInput),
        new JobFailure(1401, "access denied", "Amazon S3 denied the MediaConvert role access to the clip, the bucket or the output folder",
            $"Give the role read on videos/… and write on transcoded/… of the video bucket, and kms:Decrypt/GenerateDataKey on the key when SSE-KMS is used ({RoleHelp}); check the bucket policy does not deny it.", ErrorKind.Auth),
        new JobFailure(1404, "not found", "MediaConvert could not find the clip or the bucket",
            "Check the clip is in S3 (`manimcloud sync` uploads queued media) and MANIMCLOUD_VIDEO_BUCKET names a bucket in this region.", ErrorKind.NotFound),
        new JobFailure(1432, "IAM role error", "the MediaConvert role lacks permissions or has another problem",
            $"Check MANIMCLOUD_MEDIACONVERT_ROLE and the role's policies ({RoleHelp}).", ErrorKind.Auth),
        new JobFailure(1433, "IAM role missing", "the role in MANIMCLOUD_MEDIACONVERT_ROLE does not exist",
            $"Create the role ({RoleHelp}) or fix MANIMCLOUD_MEDIACONVERT_ROLE.", ErrorKind.Auth),
        new JobFailure(1434, "IAM role not trusted", "MediaConvert may not assume the role: its trust policy does not name mediaconvert.amazonaws.com",
            $"Set the role's trust policy to allow mediaconvert.amazonaws.com to sts:AssumeRole ({RoleHelp}).", ErrorKind.Auth),
        new JobFailure(1507, "disk full", "MediaConvert ran out of working disk for this job",
            "Split the video into shorter scene clips, then transcode again.", ErrorKind.ClientError),
        new JobFailure(1515, "IAM role error", "the MediaConvert role lacks permissions or is malformed",
            $"Check MANIMCLOUD_MEDIACONVERT_ROLE is a role ARN (arn:aws:iam::ACCOUNT:role/NAME) and its policies ({RoleHelp}).", ErrorKind.Auth),
        new JobFailure(1999, "unknown error", "MediaConvert failed unexpectedly",
            "Transcode again; if it fails again, contact AWS Support with the job id. `video transcode --engine local` works meanwhile.", ErrorKind.Transient),
    }.ToDictionary(f => f.Code);

    /// <summary>The meaning of <paramref name="code"/>, or a general one for a code not in the table.</summary>
    public static JobFailure For(int? code) =>
        code is { } c && Known.TryGetValue(c, out var known) ? known
        : new JobFailure(code ?? 0, "job error", "MediaConvert reported an error ManimCloud does not know",
            "Look the code up in MediaConvert's error code list (its user guide), fix the cause and transcode again.", ErrorKind.ClientError);

    public static IReadOnlyCollection<JobFailure> All => Known.Values;

    /// <summary>The exception a failed (or canceled) job is reported with: job, scene, MediaConvert's words and ours.</summary>
    public static ManimCloudException Describe(MediaConvertJob job, string what)
    {
        if (job.Status == MediaConvertJobStatus.Canceled)
            return new ManimCloudException(ErrorKind.Conflict, $"MediaConvert job {job.Id} ({what}) was canceled.",
                "Someone canceled it (console, CLI or another ManimCloud run): run `video transcode` again to submit a new job.");
        var failure = For(job.ErrorCode);
        return new ManimCloudException(failure.Kind,
            $"MediaConvert job {job.Id} ({what}) failed with error {job.ErrorCode} ({failure.Title}): {failure.Meaning}. MediaConvert said: {job.ErrorMessage ?? "(no message)"}",
            failure.Remedy);
    }
}
