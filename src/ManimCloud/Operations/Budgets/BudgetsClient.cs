using System.Globalization;
using System.Text.Json.Nodes;
using Amazon.Runtime;
using ManimCloud.Aws;

namespace ManimCloud.Operations.Budgets;

/// <summary>
/// AWS Budgets over its JSON protocol (awsJson 1.1, target AWSBudgetServiceGateway) on the shared signed
/// <see cref="AwsHttpService"/>: the endpoint, retries and error classification every AWS call has. Budgets is a
/// global service, signed in us-east-1.
/// </summary>
public sealed class BudgetsClient(AwsHttpService service) : IBudgets
{
    private const string Target = "AWSBudgetServiceGateway";

    public AwsHttpService Service => service;

    /// <summary>
    /// Budgets for this deployment's options. At AWS, the shared service (and its retry budget); at a custom endpoint
    /// (an emulator), a short retry budget of its own, because emulators answer operations they lack (moto: UpdateBudget,
    /// DescribeSubscribersForNotification) with a bare 500 that would otherwise be retried as a transient failure.
    /// </summary>
    public static BudgetsClient Create(AwsClients aws)
    {
        var endpoint = aws.Options.EndpointFor(AwsServiceDescription.Budgets.EndpointId);
        if (endpoint is null) return new(aws.Service(AwsServiceDescription.Budgets));
        return new(new AwsHttpService(AwsServiceDescription.Budgets, aws.Credentials(), aws.Region.SystemName, endpoint,
            new Resilience.RetryPipeline(AwsErrors.Classify, TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(100))));
    }

    public async Task<BudgetState?> DescribeBudgetAsync(string accountId, string name, CancellationToken ct)
    {
        JsonNode? answer;
        try
        {
            answer = await Call("DescribeBudget", new JsonObject { ["AccountId"] = accountId, ["BudgetName"] = name }, ct);
        }
        catch (AmazonServiceException e) when (e.ErrorCode == "NotFoundException")
        {
            return null;
        }
        var b = answer?["Budget"] ?? throw new InvalidDataException($"DescribeBudget of {name} answered without a budget.");
        return new BudgetState(
            (string?)b["BudgetName"] ?? name,
            Amount(b["BudgetLimit"]?["Amount"]) ?? 0,
            (string?)b["BudgetLimit"]?["Unit"] ?? "USD",
            (string?)b["TimeUnit"] ?? "",
            (string?)b["BudgetType"] ?? "",
            Amount(b["CalculatedSpend"]?["ActualSpend"]?["Amount"]),
            Amount(b["CalculatedSpend"]?["ForecastedSpend"]?["Amount"]));
    }

    public Task CreateBudgetAsync(string accountId, MonthlyBudget budget, IReadOnlyList<BudgetNotification> notifications, CancellationToken ct) =>
        Call("CreateBudget", new JsonObject
        {
            ["AccountId"] = accountId,
            ["Budget"] = BudgetJson(budget),
            ["NotificationsWithSubscribers"] = new JsonArray(notifications.Select(n => (JsonNode)new JsonObject
            {
                ["Notification"] = NotificationJson(n),
                ["Subscribers"] = SubscribersJson(budget.Subscribers),
            }).ToArray()),
        }, ct);

    public Task UpdateBudgetAsync(string accountId, MonthlyBudget budget, CancellationToken ct) =>
        Call("UpdateBudget", new JsonObject { ["AccountId"] = accountId, ["NewBudget"] = BudgetJson(budget) }, ct);

    public Task DeleteBudgetAsync(string accountId, string name, CancellationToken ct) =>
        Call("DeleteBudget", new JsonObject { ["AccountId"] = accountId, ["BudgetName"] = name }, ct);

    public async Task<IReadOnlyList<BudgetNotification>> DescribeNotificationsAsync(string accountId, string name, CancellationToken ct)
    {
        var list = new List<BudgetNotification>();
        string? next = null;
        do
        {
            var request = new JsonObject { ["AccountId"] = accountId, ["BudgetName"] = name, ["MaxResults"] = 100 };
            if (next is not null) request["NextToken"] = next;
            var answer = await Call("DescribeNotificationsForBudget", request, ct);
            foreach (var n in answer?["Notifications"]?.AsArray() ?? [])
                if (n is not null) list.Add(NotificationFrom(n));
            next = (string?)answer?["NextToken"] is { Length: > 0 } token ? token : null;
        } while (next is not null);
        return list;
    }

    public Task CreateNotificationAsync(string accountId, string name, BudgetNotification notification, IReadOnlyList<BudgetSubscriber> subscribers, CancellationToken ct) =>
        Call("CreateNotification", new JsonObject
        {
            ["AccountId"] = accountId, ["BudgetName"] = name,
            ["Notification"] = NotificationJson(notification), ["Subscribers"] = SubscribersJson(subscribers),
        }, ct);

    public async Task<IReadOnlyList<BudgetSubscriber>> DescribeSubscribersAsync(string accountId, string name, BudgetNotification notification, CancellationToken ct)
    {
        var list = new List<BudgetSubscriber>();
        string? next = null;
        do
        {
            var request = new JsonObject
            {
                ["AccountId"] = accountId, ["BudgetName"] = name, ["Notification"] = NotificationJson(notification), ["MaxResults"] = 100,
            };
            if (next is not null) request["NextToken"] = next;
            var answer = await Call("DescribeSubscribersForNotification", request, ct);
            foreach (var s in answer?["Subscribers"]?.AsArray() ?? [])
                if (s is not null) list.Add(new BudgetSubscriber((string?)s["SubscriptionType"] ?? "", (string?)s["Address"] ?? ""));
            next = (string?)answer?["NextToken"] is { Length: > 0 } token ? token : null;
        } while (next is not null);
        return list;
    }

    public Task CreateSubscriberAsync(string accountId, string name, BudgetNotification notification, BudgetSubscriber subscriber, CancellationToken ct) =>
        Call("CreateSubscriber", new JsonObject
        {
            ["AccountId"] = accountId, ["BudgetName"] = name,
            ["Notification"] = NotificationJson(notification), ["Subscriber"] = SubscriberJson(subscriber),
        }, ct);

    private Task<JsonNode?> Call(string operation, JsonObject body, CancellationToken ct) => service.JsonRpcAsync(Target, operation, body, ct);

    /// <summary>
    /// The endpoint does not implement the operation: an emulator's bare 500 (no error code, an HTML page: moto), or a
    /// 501/NotImplemented. Only ever consulted away from AWS, where every Budgets operation exists.
    /// </summary>
    public static bool IsUnimplemented(Exception e)
    {
        if (e is Resilience.RetryPipeline.BudgetExhaustedException b) e = b.InnerException!;
        return e is AmazonServiceException s
            && (s.StatusCode == System.Net.HttpStatusCode.NotImplemented || s.ErrorCode is "NotImplemented" or "NotImplementedException"
                || ((int)s.StatusCode >= 500 && string.IsNullOrEmpty(s.ErrorCode)));
    }

    private static JsonObject BudgetJson(MonthlyBudget budget) => new()
    {
        ["BudgetName"] = budget.Name,
        ["BudgetLimit"] = new JsonObject { ["Amount"] = budget.Amount, ["Unit"] = budget.Unit },
        ["TimeUnit"] = "MONTHLY",
        ["BudgetType"] = "COST",
    };

    private static JsonObject NotificationJson(BudgetNotification n) => new()
    {
        ["NotificationType"] = n.Type,
        ["ComparisonOperator"] = n.Comparison,
        ["Threshold"] = n.Threshold,
        ["ThresholdType"] = n.ThresholdType,
    };

    private static BudgetNotification NotificationFrom(JsonNode n) => new(
        (string?)n["NotificationType"] ?? "", (string?)n["ComparisonOperator"] ?? "",
        n["Threshold"] is JsonValue v && v.TryGetValue<double>(out var d) ? d : double.Parse((string?)n["Threshold"] ?? "0", CultureInfo.InvariantCulture),
        (string?)n["ThresholdType"] ?? "PERCENTAGE");

    private static JsonObject SubscriberJson(BudgetSubscriber s) => new() { ["SubscriptionType"] = s.Type, ["Address"] = s.Address };

    private static JsonArray SubscribersJson(IReadOnlyList<BudgetSubscriber> subscribers) =>
        new(subscribers.Select(s => (JsonNode)SubscriberJson(s)).ToArray());

    private static decimal? Amount(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => decimal.TryParse(s, NumberStyles.Number, CultureInfo.InvariantCulture, out var d) ? d : null,
        JsonValue v when v.TryGetValue<double>(out var x) => (decimal)x,
        _ => null,
    };
}
