using System.CommandLine;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ManimCloud.Aws;
using ManimCloud.Domain;
using ManimCloud.Operations.Iam;
using ManimCloud.Provisioning;
using ManimCloud.Workspace;

namespace ManimCloud.Cli.Commands;

/// <summary>`iam policy --role R`: least-privilege documents for the deployment (SPEC R8), optionally attached.</summary>
internal static class IamCommands
{
    public static Command Create()
    {
        var iam = new Command("iam", "Least-privilege IAM policy documents for this deployment.");
        var role = new Option<string>("--role") { Description = "worker, viewer, admin, mediaconvert or cdn.", Required = true };
        var account = new Option<string?>("--account") { Description = "AWS account id for ARNs (default: the caller's, from STS, else *)." };
        var user = new Option<string?>("--attach-to-user") { Description = "Also put the policy on this IAM user (inline policy manimcloud-{env}-{role})." };
        var roleName = new Option<string?>("--attach-to-role") { Description = "Also put the policy on this IAM role (inline policy manimcloud-{env}-{role})." };
        var policy = new Command("policy", "Print the policy documents a role needs, scoped to the deployment's buckets, prefixes, table, queue and key.")
        {
            role, account, user, roleName,
        };
        CliContext.Bind(policy, async (p, ctx, ct) =>
        {
            var options = ctx.Options;
            var which = IamRoles.Parse(p.GetValue(role));
            var resources = ResourcesFor(options, p.GetValue(account) ?? await AccountAsync(options, ct));
            var documents = IamRoles.For(which, resources);
            var json = documents.ToJson();
            var name = $"manimcloud-{options.Environment}-{which.ToString().ToLowerInvariant()}";
            if (p.GetValue(user) is not null || p.GetValue(roleName) is not null)
            {
                using var aws = new AwsClients(options);
                var client = IamClient.Create(aws);
                if (p.GetValue(user) is { } userName) await client.PutUserPolicyAsync(userName, name, documents.Policy, ct);
                if (p.GetValue(roleName) is { } r) await client.PutRolePolicyAsync(r, name, documents.Policy, ct);
                json["attached_as"] = name;
                ctx.Client.Audit.Record("iam.attach", p.GetValue(user) ?? p.GetValue(roleName)!, "ok", name);
            }
            var indented = new JsonSerializerOptions { WriteIndented = true };
            var text = new StringBuilder($"# {which} policy for {resources.VideoBucket}, {resources.CodeBucket}, {resources.Table}\n");
            text.AppendLine(documents.Policy.ToJsonString(indented));
            if (documents.TrustPolicy is not null) text.AppendLine("# trust policy").AppendLine(documents.TrustPolicy.ToJsonString(indented));
            if (documents.BucketPolicyStatements is not null)
                text.AppendLine("# bucket policy statements (video bucket)").AppendLine(documents.BucketPolicyStatements.ToJsonString(indented));
            foreach (var n in documents.Notes) text.AppendLine("# " + n);
            return new CliResult(json, text.ToString().TrimEnd());
        });
        iam.Subcommands.Add(policy);
        return iam;
    }

    /// <summary>The deployment's resources: the configured names, else the environment's defaults (as provision uses).</summary>
    public static DeploymentResources ResourcesFor(ManimCloudOptions options, string account)
    {
        var defaults = ManimCloudOptions.DefaultNames(options.Environment);
        var region = options.Region ?? "us-east-1";
        return new DeploymentResources(options.VideoBucket ?? defaults.Videos, options.CodeBucket ?? defaults.Code, options.Table ?? defaults.Table)
        {
            KmsKey = options.KmsKey,
            Region = region,
            Account = account,
            QueueArn = DeploymentResources.QueueArnFromUrl(Environment.GetEnvironmentVariable("MANIMCLOUD_QUEUE"), region),
            MediaConvertRoleArn = options.MediaConvertRole,
            DistributionId = Environment.GetEnvironmentVariable("MANIMCLOUD_DISTRIBUTION_ID") is { Length: > 0 } d ? d : null,
            Environment = options.Environment,
            LogBucket = options.VideoBucket is null ? $"manimcloud-{options.Environment}-logs" : null,
        };
    }

    /// <summary>The caller's account from STS when credentials are there; "*" otherwise (the policy still works within the account).</summary>
    private static Task<string> AccountAsync(ManimCloudOptions options, CancellationToken ct)
    {
        if (!options.CloudConfigured) return Task.FromResult("*");
        using var aws = new AwsClients(options);
        var arn = ManimCloud.Operations.CallerIdentity.Describe(aws);
        var parts = arn.Split(':');
        return Task.FromResult(parts.Length > 4 && parts[0] == "arn" && parts[4].Length == 12 ? parts[4] : "*");
    }
}
