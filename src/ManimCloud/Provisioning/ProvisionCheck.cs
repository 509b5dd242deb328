using Amazon.Runtime;
using ManimCloud.Domain;

namespace ManimCloud.Provisioning;

/// <summary>A planned step and how to carry it out. <see cref="Apply"/> is null when nothing needs writing, or when
/// the resource's creation step already sets it.</summary>
internal sealed record ProvisionCheck(ProvisionStep Step, Func<CancellationToken, Task>? Apply = null)
{
    public static ProvisionCheck Compare(string resource, string setting, string current, string desired, Func<CancellationToken, Task> apply,
        string? note = null)
    {
        if (current == desired) return new(new ProvisionStep(resource, setting, current, desired, StepAction.Unchanged));
        var action = current == SettingValue.Absent ? StepAction.Create : StepAction.Update;
        return new(new ProvisionStep(resource, setting, current, desired, action, note), apply);
    }

    /// <summary>A setting of a resource that does not exist yet: it is written after the resource is created
    /// (<paramref name="apply"/>), or by the creation itself (null).</summary>
    public static ProvisionCheck OnCreate(string resource, string setting, string desired, Func<CancellationToken, Task>? apply, string? note = null) =>
        new(new ProvisionStep(resource, setting, SettingValue.Absent, desired, StepAction.Create, note), apply);

    public static ProvisionCheck Blocked(string resource, string setting, string current, string desired, string note) =>
        new(new ProvisionStep(resource, setting, current, desired, StepAction.Blocked, note));
}

/// <summary>Words for the current value of a setting that has no value.</summary>
internal static class SettingValue
{
    public const string Absent = "absent";
    public const string None = "none";
    /// <summary>The store did not answer the read (for example it does not implement it): treated as "apply".</summary>
    public const string Unknown = "unknown (the store did not report it)";
}

/// <summary>Thrown by a step's apply when the store refuses a change that cannot be made in place; the step becomes blocked.</summary>
internal sealed class CannotFixInPlaceException(string note, Exception inner) : Exception(note, inner);

/// <summary>
/// Thrown by a step's apply when an S3-compatible store refuses the setting as one it does not support; the step
/// becomes <see cref="StepAction.Unsupported"/> (skipped and reported) instead of stopping provisioning.
/// </summary>
internal sealed class UnsupportedByStoreException(string note, Exception inner) : Exception(note, inner);

/// <summary>Helpers for reading settings through <see cref="Aws.AwsCall"/> where "not configured" is an error code.</summary>
internal static class SettingRead
{
    public static string? ErrorCode(ManimCloudException e) => (e.InnerException as AmazonServiceException)?.ErrorCode;

    /// <summary>The store answered that it does not implement this call (S3-compatible stores, local emulators).</summary>
    public static bool IsUnsupported(ManimCloudException e) =>
        e.InnerException is AmazonServiceException s
        && (s.ErrorCode is "NotImplemented" or "UnsupportedOperation" or "MethodNotAllowed"
            || s.StatusCode is System.Net.HttpStatusCode.NotImplemented or System.Net.HttpStatusCode.MethodNotAllowed);

    /// <summary>
    /// A write an S3-compatible store refused as a request it cannot serve, rather than as a fault of ours: Ceph RGW
    /// answers a bare InvalidArgument to bucket default encryption without a KMS backend, and to storage classes it
    /// does not define. Only consulted for custom endpoints; on AWS such an answer stays a failure.
    /// </summary>
    public static bool IsRefusedAsUnsupported(ManimCloudException e) =>
        IsUnsupported(e) || ErrorCode(e) is "InvalidArgument" or "InvalidRequest" or "InvalidStorageClass" or "NotImplemented";
}

/// <summary>ARN partitions by region prefix.</summary>
public static class AwsPartition
{
    public static string For(string? region) => region switch
    {
        null or "*" => "aws",
        _ when region.StartsWith("cn-", StringComparison.Ordinal) => "aws-cn",
        _ when region.StartsWith("us-gov-", StringComparison.Ordinal) => "aws-us-gov",
        _ => "aws",
    };
}
