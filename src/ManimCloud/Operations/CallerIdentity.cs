using Amazon.SecurityToken;
using Amazon.SecurityToken.Model;
using ManimCloud.Aws;

namespace ManimCloud.Operations;

/// <summary>
/// Who the audit trail says acted: in cloud mode the AWS caller identity (STS GetCallerIdentity: the user or assumed
/// role ARN, never a key), with the OS user beside it; locally the OS user. Asked once per process, on the first
/// entry written, so commands that write nothing never call STS.
/// </summary>
public static class CallerIdentity
{
    public static string Describe(AwsClients? aws)
    {
        var local = Workspace.AuditLog.LocalActor();
        if (aws is null) return local;
        try
        {
            var config = aws.Configure(new AmazonSecurityTokenServiceConfig());
            // One quick attempt: the identity is a label on the entry, not worth holding the command up for.
            config.MaxErrorRetry = 0;
            config.Timeout = TimeSpan.FromSeconds(5);
            using var sts = new AmazonSecurityTokenServiceClient(aws.Credentials(), config);
            var who = sts.GetCallerIdentityAsync(new GetCallerIdentityRequest()).GetAwaiter().GetResult();
            return $"{who.Arn} ({local})";
        }
        catch (Exception e) when (e is Amazon.Runtime.AmazonServiceException or Amazon.Runtime.AmazonClientException or HttpRequestException
            or TaskCanceledException or IOException)
        {
            return $"{local} (AWS identity not known: {AwsErrors.Classify(e)})";
        }
    }
}
