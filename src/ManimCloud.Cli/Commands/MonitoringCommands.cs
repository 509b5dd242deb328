using System.CommandLine;
using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Aws;
using ManimCloud.Domain;
using ManimCloud.Operations.CloudWatch;
using ManimCloud.Operations.Monitoring;
using ManimCloud.Workspace;

namespace ManimCloud.Cli.Commands;

internal static class MonitoringCommands
{
    public static Command Create()
    {
        var monitoring = new Command("monitoring", "CloudWatch dashboard and alarms for ManimCloud's metrics.");
        var dryRun = new Option<bool>("--dry-run") { Description = "Report what differs from the wanted dashboard and alarms (drift) without writing anything." };
        var provision = new Command("provision",
            "Create or bring into line the CloudWatch dashboard manimcloud-{env} and its alarms (failed uploads, throttling, transcode failures, " +
            "sync backlog age, 5xx of the service, CloudFront error rate); idempotent. Turns on metric publishing (cloudwatch_metrics=on in config.json).") { dryRun };
        CliContext.Bind(provision, async (p, ctx, ct) =>
        {
            var options = ctx.Options;
            if (options.Region is null && options.EndpointFor(AwsServiceDescription.CloudWatch.EndpointId) is null)
                throw new ManimCloudException(ErrorKind.InvalidInput, "No AWS region is set.", "Set AWS_REGION (for example eu-west-1).");
            var dry = p.GetValue(dryRun);
            using var aws = new AwsClients(options);
            var plan = MonitoringPlan.For(options);
            IReadOnlyList<MonitoringChange> changes;
            try
            {
                changes = await new MonitoringProvisioner(CloudWatchClient.Create(aws)).ConvergeAsync(plan, options.Environment, dry, ct);
            }
            catch (Exception e) when (e is not ManimCloudException and not OperationCanceledException)
            {
                throw AwsErrors.Describe(e, "Provisioning monitoring in", "CloudWatch");
            }
            var publishing = options.Monitoring.CloudWatchMetrics;
            if (!dry && !publishing && System.Environment.GetEnvironmentVariable("MANIMCLOUD_CLOUDWATCH_METRICS") is null)
            {
                ManimCloudOptions.SaveToConfigFile(options.Home, new Dictionary<string, string> { ["cloudwatch_metrics"] = "on" });
                publishing = true;
            }
            var emulated = options.EndpointFor(AwsServiceDescription.CloudWatch.EndpointId) is not null;
            var json = new JsonObject
            {
                ["dry_run"] = dry, ["environment"] = options.Environment, ["namespace"] = options.Monitoring.Namespace,
                ["changes"] = changes.Count(c => c.IsChange), ["metrics_publishing"] = publishing,
                ["alarm_topic"] = options.Monitoring.AlarmTopic,
                ["dashboard"] = ChangeJson(changes.First(c => c.Kind == "dashboard")),
                ["alarms"] = new JsonArray(changes.Where(c => c.Kind == "alarm").Select(c => (JsonNode)ChangeJson(c)).ToArray()),
            };
            var notes = new JsonArray();
            if (options.Monitoring.AlarmTopic is null) notes.Add((JsonNode)"No MANIMCLOUD_ALARM_TOPIC: alarms change state but notify nobody.");
            if (options.Delivery.DistributionId is null) notes.Add((JsonNode)"No MANIMCLOUD_DISTRIBUTION_ID: no CloudFront error-rate alarm (run `manimcloud delivery provision` first).");
            if (emulated) notes.Add((JsonNode)"A custom CloudWatch endpoint: emulators such as moto store alarms and dashboards but never evaluate alarms.");
            json["notes"] = notes;

            var text = new StringBuilder();
            text.AppendLine(dry ? "monitoring plan (dry run, nothing written):" : "monitoring provisioned:");
            foreach (var c in changes)
            {
                text.AppendLine($"  {c.Action,-9} {c.Kind,-9} {c.Name}");
                foreach (var d in c.Differences) text.AppendLine($"              {d}");
            }
            text.Append($"{changes.Count(c => c.IsChange)} change(s){(dry ? " would be made" : "")}; metric publishing {(publishing ? "on" : "off")}");
            foreach (var n in notes) text.Append($"\nnote: {n}");
            return new CliResult(json, text.ToString());
        });
        monitoring.Subcommands.Add(provision);
        return monitoring;
    }

    private static JsonObject ChangeJson(MonitoringChange c) => new()
    {
        ["name"] = c.Name, ["action"] = c.Action,
        ["differences"] = new JsonArray(c.Differences.Select(d => (JsonNode)JsonValue.Create(d)!).ToArray()),
    };
}
