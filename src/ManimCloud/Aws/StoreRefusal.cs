using Amazon.S3;
using Amazon.S3.Model;
using ManimCloud.Domain;
using ManimCloud.Resilience;

namespace ManimCloud.Aws;

/// <summary>
/// Tells why an S3-compatible store refused a write with a bare <c>InvalidRequest</c> or <c>InvalidArgument</c> (Ceph
/// RGW answers both with an empty message): the server-side-encryption header (RGW without SSE set up) or the storage
/// class (no Intelligent-Tiering there). It asks once, by starting the same multipart upload without the suspect header
/// and aborting it at once (nothing is stored), so the error names the real cause and its fix instead of a guess.
/// Encryption is never dropped by itself: the write fails, and the user decides (SPEC R1: SSE always on where the
/// store has it).
/// </summary>
public sealed class StoreRefusal(IAmazonS3 s3, RetryPipeline retry)
{
    /// <summary>Per bucket, the cause found by the first probe, so later refusals are explained without asking again.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Cause> _known = new();

    private enum Cause { Unknown, Encryption, StorageClass }

    /// <summary>Whether a failed write is worth explaining: the store refused it as a bad request and it carried a header some stores lack.</summary>
    public static bool Suspected(ManimCloudException e, string? sse, string? storageClass) =>
        (sse is not null || storageClass is not null)
        && e.InnerException is AmazonS3Exception { ErrorCode: "InvalidRequest" or "InvalidArgument" or "InvalidStorageClass" or "NotImplemented" };

    /// <summary>
    /// The error to report for <paramref name="refused"/>, a write to <paramref name="bucket"/> that sent
    /// <paramref name="sse"/> (the x-amz-server-side-encryption value, null when none) and <paramref name="storageClass"/>.
    /// </summary>
    public async Task<ManimCloudException> ExplainAsync(ManimCloudException refused, string bucket, string key, string? sse, string? storageClass,
        CancellationToken ct)
    {
        if (!_known.TryGetValue(bucket, out var cause))
        {
            cause = Cause.Unknown;
            if (sse is not null && await AcceptsAsync(bucket, key, null, storageClass, ct)) cause = Cause.Encryption;
            else if (storageClass is not null && await AcceptsAsync(bucket, key, sse, null, ct)) cause = Cause.StorageClass;
            if (cause == Cause.Unknown) return refused;
            _known[bucket] = cause;
        }
        var what = refused.Message.Split(" failed (", 2)[0];
        var code = (refused.InnerException as AmazonS3Exception)?.ErrorCode;
        return cause switch
        {
            Cause.Encryption => new ManimCloudException(ErrorKind.ClientError,
                $"{what} failed: s3://{bucket} refuses server-side encryption (x-amz-server-side-encryption: {sse}, answered {code}); "
                + "the same request without that header is accepted, so the store has no server-side encryption set up. Nothing was stored there.",
                "Set up SSE on the store (Ceph RGW: a KMS backend, then MANIMCLOUD_KMS_KEY for SSE-KMS), or accept that this store keeps "
                + "objects unencrypted and set MANIMCLOUD_REQUEST_ENCRYPTION=off (docs/runbook.md, S3-compatible stores).", refused),
            _ => new ManimCloudException(ErrorKind.ClientError,
                $"{what} failed: s3://{bucket} refuses the storage class {storageClass} (answered {code}); the same request without it is accepted.",
                "Set MANIMCLOUD_STORAGE_CLASSES=off for stores without S3 storage classes (objects then take the bucket's default class).", refused),
        };
    }

    /// <summary>Whether the store accepts starting this upload with these headers; the probe upload is aborted at once.</summary>
    private async Task<bool> AcceptsAsync(string bucket, string key, string? sse, string? storageClass, CancellationToken ct)
    {
        var request = new InitiateMultipartUploadRequest { BucketName = bucket, Key = key };
        if (sse is not null) request.ServerSideEncryptionMethod = ServerSideEncryptionMethod.FindValue(sse);
        if (storageClass is not null) request.StorageClass = S3StorageClass.FindValue(storageClass);
        string uploadId;
        try
        {
            uploadId = (await AwsCall.RunAsync(retry, "Probing", $"s3://{bucket}/{key}", t => s3.InitiateMultipartUploadAsync(request, t), ct)).UploadId;
        }
        catch (ManimCloudException)
        {
            return false;
        }
        try
        {
            await AwsCall.RunAsync(retry, "Aborting probe upload of", $"s3://{bucket}/{key}", t => s3.AbortMultipartUploadAsync(
                new AbortMultipartUploadRequest { BucketName = bucket, Key = key, UploadId = uploadId }, t), ct);
        }
        catch (ManimCloudException)
        {
            // The bucket's lifecycle rule aborts incomplete uploads after 7 days; the answer stands.
        }
        return true;
    }
}
