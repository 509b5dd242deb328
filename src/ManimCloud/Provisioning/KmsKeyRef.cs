namespace ManimCloud.Provisioning;

/// <summary>
/// The configured KMS key (MANIMCLOUD_KMS_KEY: id, ARN, alias name or alias ARN) with the key ARN it resolves to.
/// Stores report the key in different spellings (S3 echoes what was set, DynamoDB reports the ARN); all of them
/// compare equal here.
/// </summary>
public sealed record KmsKeyRef(string Configured, string Arn)
{
    public bool Matches(string? key) =>
        key is not null && (key == Configured || key == Arn || Arn.EndsWith("/" + key, StringComparison.Ordinal));

    /// <summary>The key ARN when <paramref name="key"/> is this key in any spelling; otherwise the key as reported.</summary>
    public string Canonical(string? key) => Matches(key) ? Arn : key ?? "(AWS managed key)";
}
