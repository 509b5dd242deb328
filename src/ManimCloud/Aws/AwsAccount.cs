using Amazon.SecurityToken;
using Amazon.SecurityToken.Model;

namespace ManimCloud.Aws;

/// <summary>The AWS account the credentials belong to (STS GetCallerIdentity), for APIs that take an account id (Budgets).</summary>
public static class AwsAccount
{
    public static async Task<string> IdAsync(AwsClients aws, CancellationToken ct)
    {
        using var sts = new AmazonSecurityTokenServiceClient(aws.Credentials(), aws.Configure(new AmazonSecurityTokenServiceConfig()));
        try
        {
            var who = await aws.Retry.ExecuteAsync(t => sts.GetCallerIdentityAsync(new GetCallerIdentityRequest(), t), ct);
            return who.Account;
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            throw AwsErrors.Describe(e, "Finding the account of", "the credentials (STS GetCallerIdentity)");
        }
    }
}
