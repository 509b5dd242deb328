using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;
using ManimCloud.Domain;

namespace ManimCloud.Aws;

/// <summary>
/// Classifies every failure of an AWS call into an <see cref="ErrorKind"/> (SPEC R7) and turns it into a
/// <see cref="ManimCloudException"/> naming the resource and the fix. The one place that knows AWS error codes.
/// </summary>
public static class AwsErrors
{
    private static readonly HashSet<string> Throttling = new(StringComparer.OrdinalIgnoreCase)
    {
        "SlowDown", "Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded",
        "ProvisionedThroughputExceededException", "RequestThrottled", "TooManyRequestsException",
        "RequestThrottledException", "TransactionInProgressException", "LimitExceededException",
    };

    private static readonly HashSet<string> Transient = new(StringComparer.OrdinalIgnoreCase)
    {
        "InternalError", "InternalFailure", "InternalServerError", "ServiceUnavailable", "RequestTimeout",
        "RequestTimeoutException", "IDPCommunicationError", "PriorRequestNotComplete",
        "IncompleteBody", "RequestExpired",
    };

    /// <summary>
    /// The server computed a different checksum than the one sent: the bytes read locally are not the bytes the
    /// checksum was made from, or the store does not speak flexible checksums. Sending the same again cannot help.
    /// </summary>
    private static readonly HashSet<string> Integrity = new(StringComparer.OrdinalIgnoreCase)
    {
        "BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "InvalidChecksum", "InvalidPart",
    };

    private static readonly HashSet<string> Auth = new(StringComparer.OrdinalIgnoreCase)
    {
        "AccessDenied", "AccessDeniedException", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
        "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException", "UnauthorizedOperation",
        "AllAccessDisabled", "InvalidToken", "MissingAuthenticationToken", "KMS.AccessDeniedException",
    };

    private static readonly HashSet<string> NotFound = new(StringComparer.OrdinalIgnoreCase)
    {
        "NoSuchBucket", "NoSuchKey", "NoSuchUpload", "NotFound", "ResourceNotFoundException", "NoSuchVersion",
        "NoSuchObjectLockConfiguration", "ObjectLockConfigurationNotFoundError", "NoSuchLifecycleConfiguration",
        "ResourceNotFound",
        "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist",
    };

    private static readonly HashSet<string> Conflict = new(StringComparer.OrdinalIgnoreCase)
    {
        "ConditionalCheckFailedException", "TransactionCanceledException", "PreconditionFailed",
        "ConditionalRequestConflict", "OperationAborted", "BucketAlreadyExists",
    };

    public static ErrorKind Classify(Exception e) => e switch
    {
        ManimCloudException m => m.Kind,
        Resilience.RetryPipeline.BudgetExhaustedException b => Classify(b.InnerException!),
        AmazonServiceException s => ClassifyService(s),
        // Signing and credential resolution failures: no credentials anywhere in the chain.
        AmazonClientException c when c.Message.Contains("credential", StringComparison.OrdinalIgnoreCase) => ErrorKind.Auth,
        AmazonClientException c when c.InnerException is not null => Classify(c.InnerException),
        HttpRequestException or SocketException or IOException or TimeoutException => ErrorKind.Transient,
        TaskCanceledException t when t.InnerException is TimeoutException => ErrorKind.Transient,
        _ => ErrorKind.Fatal,
    };

    private static ErrorKind ClassifyService(AmazonServiceException s)
    {
        var code = s.ErrorCode ?? "";
        if (Integrity.Contains(code)) return ErrorKind.ClientError;
        if (Throttling.Contains(code) || s.StatusCode == (HttpStatusCode)429) return ErrorKind.Throttled;
        if (s.StatusCode == HttpStatusCode.ServiceUnavailable && code is "" or "ServiceUnavailable") return ErrorKind.Throttled;
        if (Auth.Contains(code) || s.StatusCode == HttpStatusCode.Forbidden) return ErrorKind.Auth;
        if (NotFound.Contains(code) || s.StatusCode == HttpStatusCode.NotFound) return ErrorKind.NotFound;
        if (Conflict.Contains(code) || s.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.PreconditionFailed) return ErrorKind.Conflict;
        if (Transient.Contains(code) || (int)s.StatusCode >= 500 || s.StatusCode == 0) return ErrorKind.Transient;
        if (s.InnerException is HttpRequestException or SocketException or IOException) return ErrorKind.Transient;
        return ErrorKind.ClientError;
    }

    /// <summary>Wraps an AWS failure with what was being done to which resource, and what to do.</summary>
    public static ManimCloudException Describe(Exception e, string action, string resource)
    {
        if (e is ManimCloudException m) return m;
        if (e is Resilience.RetryPipeline.BudgetExhaustedException b) e = b.InnerException!;
        var kind = Classify(e);
        var code = (e as AmazonServiceException)?.ErrorCode;
        var detail = code is null ? e.Message : $"{code}: {e.Message}";
        var hint = (kind, code) switch
        {
            (ErrorKind.NotFound, "NoSuchBucket") => $"The bucket does not exist: run `manimcloud provision`, or fix the bucket name in the configuration.",
            (ErrorKind.NotFound, "ResourceNotFoundException") => "The DynamoDB table does not exist (or is still being created): run `manimcloud provision`, or fix MANIMCLOUD_TABLE.",
            (ErrorKind.NotFound, _) => "Check the name; `manimcloud doctor` lists what is reachable.",
            (_, "XAmzContentSHA256Mismatch" or "InvalidChecksum") => "The store refused the request checksum; S3-compatible stores such as Ceph RGW do not accept "
                + "AWSSDK 4.x flexible checksums: set MANIMCLOUD_CHECKSUM_MODE=when-required (Content-MD5 per part instead) and retry.",
            (_, "BadDigest" or "InvalidDigest") => "The store received bytes whose checksum differs from the one computed locally: the file may be "
                + "changing while it is read, or memory/network corrupted it. Make sure nothing writes the file, then upload again.",
            (_, "InvalidRequest") => "The store refused a request it does not support. S3-compatible stores may refuse server-side encryption "
                + "headers (unless SSE is configured there), storage classes (MANIMCLOUD_STORAGE_CLASSES=off) or flexible checksums "
                + "(MANIMCLOUD_CHECKSUM_MODE=when-required).",
            (_, "InvalidPart") => "A part listed for completion does not match what the store holds (it expired or was replaced): "
                + "abort the upload (`manimcloud uploads abort ID`) and upload again.",
            (ErrorKind.Auth, _) => "The credentials in use may not do this: check `aws sts get-caller-identity`, the IAM policy from `manimcloud provision --dry-run`, and any KMS key policy.",
            (ErrorKind.Throttled, _) => "AWS is throttling requests; ManimCloud slowed down and retried until its time budget ran out. Try again later or lower concurrency.",
            (ErrorKind.Transient, _) => "AWS could not be reached or failed temporarily; retries ran out. Check the network and AWS_ENDPOINT_URL, then try again.",
            (ErrorKind.Conflict, _) => "Someone else changed it at the same time; read it again and retry.",
            _ => "See the AWS error above; `manimcloud doctor` checks the configuration.",
        };
        return new ManimCloudException(kind, $"{action} {resource} failed ({kind}): {detail}", hint, e);
    }
}
