using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Domain;

namespace ManimCloud.Operations.Budgets;

/// <summary>What `budget set` found and did for one notification of the budget.</summary>
/// <param name="Action">unchanged, created, subscriber-added, or replaced (with the budget).</param>
/// <param name="Subscribers">Who it tells, as read back; null where the endpoint cannot say (moto has no DescribeSubscribersForNotification).</param>
public sealed record NotificationOutcome(BudgetNotification Notification, string Action, IReadOnlyList<BudgetSubscriber>? Subscribers);

/// <summary>The outcome of `budget set` (or, with every action unchanged, of `budget show`).</summary>
public sealed record BudgetOutcome(string AccountId, string Action, BudgetState? Before, BudgetState After, IReadOnlyList<NotificationOutcome> Notifications, IReadOnlyList<string> Notes)
{
    public int Changes => (Action == "unchanged" ? 0 : 1) + Notifications.Count(n => n.Action is not "unchanged" and not "replaced");

    public JsonObject ToJson() => new()
    {
        ["account"] = AccountId,
        ["budget"] = After.Name,
        ["action"] = Action,
        ["changes"] = Changes,
        ["monthly_limit"] = After.Limit,
        ["unit"] = After.Unit,
        ["time_unit"] = After.TimeUnit,
        ["budget_type"] = After.BudgetType,
        ["previous_limit"] = Before?.Limit,
        ["actual_spend"] = After.ActualSpend,
        ["forecasted_spend"] = After.ForecastedSpend,
        ["notifications"] = new JsonArray(Notifications.Select(n => (JsonNode)new JsonObject
        {
            ["type"] = n.Notification.Type,
            ["comparison"] = n.Notification.Comparison,
            ["threshold"] = n.Notification.Threshold,
            ["threshold_type"] = n.Notification.ThresholdType,
            ["action"] = n.Action,
            ["subscribers"] = n.Subscribers is null ? null : new JsonArray(n.Subscribers.Select(s => (JsonNode)s.ToString()).ToArray()),
        }).ToArray()),
        ["notes"] = new JsonArray(Notes.Select(n => (JsonNode)n).ToArray()),
    };

    public string ToText()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"budget {After.Name} (account {AccountId}): {After.Limit:0.00} {After.Unit} per month [{Action}{(Before is not null && Before.Limit != After.Limit ? $", was {Before.Limit:0.00}" : "")}]");
        if (After.ActualSpend is { } actual)
            sb.AppendLine($"  spent this month: {actual:0.00} {After.Unit}" + (After.ForecastedSpend is { } f ? $", forecast {f:0.00} {After.Unit}" : ""));
        foreach (var n in Notifications)
            sb.AppendLine($"  notification {n.Notification}: {n.Action}; tells {(n.Subscribers is null ? "(not readable at this endpoint)" : n.Subscribers.Count == 0 ? "nobody" : string.Join(", ", n.Subscribers))}");
        foreach (var note in Notes) sb.AppendLine($"note: {note}");
        return sb.ToString().TrimEnd();
    }
}

/// <summary>
/// `budget set` and `budget show`: one monthly cost budget per environment, with notifications at 80 % and 100 % of
/// actual spend. Idempotent: an existing budget has its limit updated in place (its history stays); missing
/// notifications and subscribers are added; notifications and subscribers that are not ManimCloud's are left alone.
/// </summary>
public sealed class BudgetProvisioner(IBudgets budgets, string accountId, bool customEndpoint)
{
    public async Task<BudgetOutcome> SetAsync(MonthlyBudget wanted, CancellationToken ct)
    {
        if (wanted.Limit <= 0)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"A monthly budget of {wanted.Limit} is not a budget.", "Give a positive amount, e.g. --monthly 50.");
        var notes = new List<string>();
        var before = await budgets.DescribeBudgetAsync(accountId, wanted.Name, ct);
        if (before is null)
        {
            if (wanted.Subscribers.Count == 0) throw NobodyToTell(wanted.Name);
            await budgets.CreateBudgetAsync(accountId, wanted, MonthlyBudget.Notifications, ct);
            return await ReadBackAsync(wanted, "created", null, MonthlyBudget.Notifications.ToDictionary(n => n, _ => "created"), notes, ct);
        }
        if (before.BudgetType != "COST" || before.TimeUnit != "MONTHLY")
            throw new ManimCloudException(ErrorKind.Conflict,
                $"Budget {wanted.Name} exists but is a {before.TimeUnit} {before.BudgetType} budget, not a monthly cost budget.",
                "Budgets cannot change the type or period of a budget in place: delete it (`aws budgets delete-budget`) or give --name another name.");

        var action = "unchanged";
        if (before.Limit != wanted.Limit || before.Unit != wanted.Unit)
        {
            try
            {
                await budgets.UpdateBudgetAsync(accountId, wanted, ct);
                action = "updated";
            }
            catch (Exception e) when (customEndpoint && BudgetsClient.IsUnimplemented(e))
            {
                // An emulator without UpdateBudget (moto): the only way to a new limit is a new budget of the same name.
                if (wanted.Subscribers.Count == 0)
                    throw new ManimCloudException(ErrorKind.InvalidInput,
                        $"This Budgets endpoint does not implement UpdateBudget, so budget {wanted.Name} has to be replaced to change its limit, "
                        + "and it cannot say who the notifications tell.",
                        "Give --email ADDR (or set MANIMCLOUD_ALARM_TOPIC) so the replaced budget's notifications tell someone. On AWS the limit is updated in place.", e);
                await budgets.DeleteBudgetAsync(accountId, wanted.Name, ct);
                await budgets.CreateBudgetAsync(accountId, wanted, MonthlyBudget.Notifications, ct);
                notes.Add("This Budgets endpoint does not implement UpdateBudget: the budget was replaced (deleted and created again with the new limit). "
                    + "On AWS the limit is updated in place and the budget's history stays.");
                return await ReadBackAsync(wanted, "replaced", before, MonthlyBudget.Notifications.ToDictionary(n => n, _ => "replaced"), notes, ct);
            }
        }

        var existing = await budgets.DescribeNotificationsAsync(accountId, wanted.Name, ct);
        var actions = new Dictionary<BudgetNotification, string>();
        foreach (var n in MonthlyBudget.Notifications)
        {
            if (!existing.Contains(n))
            {
                var tell = wanted.Subscribers.Count > 0 ? wanted.Subscribers : await SubscribersOfAnyAsync(wanted.Name, existing, ct);
                if (tell.Count == 0) throw NobodyToTell(wanted.Name);
                await budgets.CreateNotificationAsync(accountId, wanted.Name, n, tell, ct);
                actions[n] = "created";
                continue;
            }
            actions[n] = "unchanged";
            if (wanted.Subscribers.Count == 0) continue;
            var current = await TrySubscribersAsync(wanted.Name, n, ct);
            if (current is null) continue;
            foreach (var s in wanted.Subscribers.Where(s => !current.Contains(s)))
            {
                await budgets.CreateSubscriberAsync(accountId, wanted.Name, n, s, ct);
                actions[n] = "subscriber-added";
            }
        }
        return await ReadBackAsync(wanted, action, before, actions, notes, ct);
    }

    /// <summary>The budget as it is, with its notifications and (where the endpoint tells) their subscribers.</summary>
    public async Task<BudgetOutcome> ShowAsync(string name, CancellationToken ct)
    {
        var state = await budgets.DescribeBudgetAsync(accountId, name, ct)
            ?? throw new ManimCloudException(ErrorKind.NotFound, $"There is no budget named {name} in account {accountId}.",
                "Create it with `manimcloud budget set --monthly AMOUNT --email ADDR` (or give --name of an existing one).");
        var notes = new List<string>();
        var notifications = new List<NotificationOutcome>();
        foreach (var n in await budgets.DescribeNotificationsAsync(accountId, name, ct))
            notifications.Add(new NotificationOutcome(n, "unchanged", await TrySubscribersAsync(name, n, ct)));
        foreach (var missing in MonthlyBudget.Notifications.Where(w => notifications.All(n => n.Notification != w)))
            notes.Add($"The {missing} notification is missing: `manimcloud budget set --monthly {state.Limit:0.00}` adds it.");
        if (notifications.Any(n => n.Subscribers is null)) notes.Add(SubscribersUnreadable);
        return new BudgetOutcome(accountId, "unchanged", state, state, notifications, notes);
    }

    private async Task<BudgetOutcome> ReadBackAsync(MonthlyBudget wanted, string action, BudgetState? before,
        Dictionary<BudgetNotification, string> actions, List<string> notes, CancellationToken ct)
    {
        var after = await budgets.DescribeBudgetAsync(accountId, wanted.Name, ct)
            ?? throw new ManimCloudException(ErrorKind.Transient, $"Budget {wanted.Name} was written but does not read back.", "Run `manimcloud budget show` in a minute.");
        if (after.Limit != wanted.Limit)
            throw new ManimCloudException(ErrorKind.Transient, $"Budget {wanted.Name} reads back with a limit of {after.Limit}, not {wanted.Limit}.",
                "Budgets may not have caught up yet: run `manimcloud budget show` in a minute, then `budget set` again.");
        var stored = await budgets.DescribeNotificationsAsync(accountId, wanted.Name, ct);
        var outcomes = new List<NotificationOutcome>();
        foreach (var n in MonthlyBudget.Notifications)
        {
            if (!stored.Contains(n))
                throw new ManimCloudException(ErrorKind.Transient, $"The {n} notification of budget {wanted.Name} was written but does not read back.",
                    "Run `manimcloud budget set` again.");
            outcomes.Add(new NotificationOutcome(n, actions.GetValueOrDefault(n, "unchanged"), await TrySubscribersAsync(wanted.Name, n, ct)));
        }
        if (outcomes.Any(o => o.Subscribers is null)) notes.Add(SubscribersUnreadable);
        return new BudgetOutcome(accountId, action, before, after, outcomes, notes);
    }

    private const string SubscribersUnreadable = "This Budgets endpoint does not implement DescribeSubscribersForNotification: who the notifications tell is not read back here.";

    private async Task<IReadOnlyList<BudgetSubscriber>?> TrySubscribersAsync(string name, BudgetNotification n, CancellationToken ct)
    {
        try
        {
            return await budgets.DescribeSubscribersAsync(accountId, name, n, ct);
        }
        catch (Exception e) when (customEndpoint && BudgetsClient.IsUnimplemented(e))
        {
            return null;
        }
    }

    private async Task<IReadOnlyList<BudgetSubscriber>> SubscribersOfAnyAsync(string name, IReadOnlyList<BudgetNotification> existing, CancellationToken ct)
    {
        foreach (var n in existing)
            if (await TrySubscribersAsync(name, n, ct) is { Count: > 0 } found) return found;
        return [];
    }

    private static ManimCloudException NobodyToTell(string name) => new(ErrorKind.InvalidInput,
        $"Budget {name} needs someone to notify at 80 % and 100 % of the limit, and none is given.",
        "Give --email ADDR, or set MANIMCLOUD_ALARM_TOPIC to the SNS topic the alarms use (its access policy must let budgets.amazonaws.com publish).");
}
