using Amazon.S3;
using Amazon.S3.Model;
using ManimCloud.Aws;
using ManimCloud.Domain;
using ManimCloud.Resilience;

namespace ManimCloud.Provisioning;

/// <summary>
/// Whether ManimCloud can write to a bucket under the policy it has now: puts a small object under <c>tmp/</c> the
/// way the object store writes (the same encryption header), then deletes that version. Provisioning runs it on
/// endpoints other than AWS, where an emulator may not evaluate policy conditions (moto counts every condition as
/// matched, so a conditional Deny refuses every write) — the only way to tell is to try.
/// </summary>
internal sealed class WriteProbe(IAmazonS3 s3, RetryPipeline retry, string? kmsKeyId, bool requestEncryption)
{
    public const string KeyPrefix = "tmp/manimcloud-provision-probe/";

    /// <summary>True when the write was accepted (and its object removed again); false when the store refused it (403).</summary>
    public async Task<bool> CanWriteAsync(string bucket, CancellationToken ct)
    {
        var request = new PutObjectRequest
        {
            BucketName = bucket,
            Key = KeyPrefix + Guid.NewGuid().ToString("N"),
            ContentBody = "ManimCloud provision checks that it can write here; this object is deleted at once.",
        };
        S3ObjectStore.Encrypt(kmsKeyId, requestEncryption, m => request.ServerSideEncryptionMethod = m, k => request.ServerSideEncryptionKeyManagementServiceKeyId = k);
        PutObjectResponse written;
        try
        {
            written = await AwsCall.RunAsync(retry, "Writing a probe object to", $"s3://{bucket}", t => s3.PutObjectAsync(request, t), ct);
        }
        catch (ManimCloudException e) when (e.Kind == ErrorKind.Auth)
        {
            return false;
        }
        // The object is removed version and all (the buckets are versioned); tmp/ expires after a day should this fail.
        await AwsCall.RunAsync(retry, "Deleting the probe object from", $"s3://{bucket}", t => s3.DeleteObjectAsync(new DeleteObjectRequest
        {
            BucketName = bucket, Key = request.Key, VersionId = string.IsNullOrEmpty(written.VersionId) || written.VersionId == "null" ? null : written.VersionId,
        }, t), ct);
        return true;
    }
}
