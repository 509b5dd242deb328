using System.Text.Json.Nodes;
using ManimCloud.Operations.CloudWatch;

namespace ManimCloud.Operations.Monitoring;

/// <summary>One thing `monitoring provision` found: created, updated (with what differed), deleted or unchanged.</summary>
public sealed record MonitoringChange(string Kind, string Name, string Action, IReadOnlyList<string> Differences)
{
    public bool IsChange => Action != "unchanged";
}

/// <summary>
/// Converges CloudWatch on a <see cref="MonitoringPlan"/>: reads what is stored, compares definitions field by field,
/// and writes only what differs (a second run changes nothing; a dry run reports the drift and writes nothing).
/// Alarms ManimCloud no longer wants (a managed name the plan dropped) are deleted; alarms of other names are never touched.
/// </summary>
public sealed class MonitoringProvisioner(ICloudWatch cloudWatch)
{
    public async Task<IReadOnlyList<MonitoringChange>> ConvergeAsync(MonitoringPlan plan, string environment, bool dryRun, CancellationToken ct)
    {
        var changes = new List<MonitoringChange>();

        var dashboard = await cloudWatch.GetDashboardAsync(plan.Dashboard.Name, ct);
        var dashboardAction = dashboard is null ? "create" : SameJson(dashboard.Body, plan.Dashboard.Body) ? "unchanged" : "update";
        changes.Add(new MonitoringChange("dashboard", plan.Dashboard.Name, dashboardAction, dashboardAction == "update" ? ["widgets"] : []));
        if (!dryRun && dashboardAction != "unchanged")
        {
            var messages = await cloudWatch.PutDashboardAsync(plan.Dashboard, ct);
            if (messages.Count > 0)
                throw new Domain.ManimCloudException(Domain.ErrorKind.ClientError, $"CloudWatch refused dashboard {plan.Dashboard.Name}: {string.Join("; ", messages)}",
                    "This is a bug in the dashboard ManimCloud builds; please report it with the message.");
        }

        var stored = (await cloudWatch.DescribeAlarmsAsync(MonitoringPlan.Prefix(environment), ct)).ToDictionary(a => a.Name);
        foreach (var wanted in plan.Alarms)
        {
            var had = stored.GetValueOrDefault(wanted.Name);
            var differences = had is null ? [] : had.DifferencesFrom(wanted);
            var action = had is null ? "create" : differences.Count == 0 ? "unchanged" : "update";
            changes.Add(new MonitoringChange("alarm", wanted.Name, action, differences));
            if (!dryRun && action != "unchanged") await cloudWatch.PutMetricAlarmAsync(wanted, ct);
        }

        var wantedNames = plan.Alarms.Select(a => a.Name).ToHashSet();
        var obsolete = MonitoringPlan.ManagedSlugs.Select(s => MonitoringPlan.Prefix(environment) + s)
            .Where(n => stored.ContainsKey(n) && !wantedNames.Contains(n)).ToList();
        changes.AddRange(obsolete.Select(n => new MonitoringChange("alarm", n, "delete", [])));
        if (!dryRun && obsolete.Count > 0) await cloudWatch.DeleteAlarmsAsync(obsolete, ct);
        return changes;
    }

    private static bool SameJson(string a, string b)
    {
        try { return JsonNode.DeepEquals(JsonNode.Parse(a), JsonNode.Parse(b)); }
        catch (System.Text.Json.JsonException) { return false; }
    }
}
