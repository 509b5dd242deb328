using System.CommandLine;
using ManimCloud.Domain;
using ManimCloud.Provisioning;

namespace ManimCloud.Cli.Commands;

internal static class ProvisionCommand
{
    public static Command Create()
    {
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the plan (and the IAM policy) without writing anything." };
        var c = new Command("provision",
            "Create or bring into line the video bucket, code bucket and metadata table for MANIMCLOUD_ENV; idempotent. " +
            "Names come from MANIMCLOUD_VIDEO_BUCKET/CODE_BUCKET/TABLE, else manimcloud-{env}-videos/-code/-metadata.") { dryRun };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var options = ctx.Options;
            if (options.Region is null && options.EndpointUrl is null && options.S3EndpointUrl is null)
                throw new ManimCloudException(ErrorKind.InvalidInput, "No AWS region is set.", "Set AWS_REGION (for example eu-west-1).");
            if (options.S3Endpoint?.StartsWith("http://", StringComparison.OrdinalIgnoreCase) == true)
                ctx.Progress("note: the endpoint is plain HTTP, so the bucket policies leave out the deny-non-TLS statement " +
                    "(it would lock manimcloud out of its own buckets); over HTTPS, as on AWS, it is included.");
            using var provisioner = Provisioner.ForOptions(options);
            try
            {
                var plan = p.GetValue(dryRun) ? await provisioner.PlanAsync(ct) : await provisioner.ApplyAsync(ct);
                return new CliResult(plan.ToJson(), plan.ToText());
            }
            catch (ProvisioningIncompleteException e)
            {
                // What was done (and what could not be) is printed before the error.
                if (ctx.Json) Console.Error.WriteLine(e.Plan.ToJson().ToJsonString());
                else Console.Error.WriteLine(e.Plan.ToText());
                throw;
            }
        });
        return c;
    }
}
