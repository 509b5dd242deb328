using System.CommandLine;
using ManimCloud.Domain;
using ManimCloud.Provisioning;

namespace ManimCloud.Cli.Commands;

internal static class ProvisionCommand
{
    public static Command Create()
    {
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the plan (and the IAM policy) without writing anything." };
        var queue = new Option<bool>("--queue") { Description = "Also the pipeline's SQS job queue and its dead-letter queue (manimcloud-{env}-jobs unless MANIMCLOUD_QUEUE names one; always when it is set)." };
        var c = new Command("provision",
            "Create or bring into line the video bucket, code bucket and metadata table for MANIMCLOUD_ENV; idempotent. " +
            "Names come from MANIMCLOUD_VIDEO_BUCKET/CODE_BUCKET/TABLE, else manimcloud-{env}-videos/-code/-metadata.") { dryRun, queue };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var options = ctx.Options;
            if (options.Region is null && options.EndpointUrl is null && options.S3EndpointUrl is null)
                throw new ManimCloudException(ErrorKind.InvalidInput, "No AWS region is set.", "Set AWS_REGION (for example eu-west-1).");
            using var provisioner = Provisioner.ForOptions(options, p.GetValue(queue));
            try
            {
                var plan = p.GetValue(dryRun) ? await provisioner.PlanAsync(ct) : await provisioner.ApplyAsync(ct);
                // What the bucket policies leave out on this store is said plainly, on stderr too when stdout is JSON.
                if (ctx.Json)
                    foreach (var o in plan.LeftOut) ctx.Progress($"note: {o.Resource} does not get {o.Statement}: {o.Reason}");
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
