namespace ManimCloud.Operations.Budgets;

/// <summary>
/// The AWS Budgets operations ManimCloud uses. A thin typed client (<see cref="BudgetsClient"/>) implements it over
/// the JSON protocol, since the registry here has no AWSSDK.Budgets package.
/// </summary>
public interface IBudgets
{
    /// <summary>The budget of this name in the account, or null when there is none.</summary>
    Task<BudgetState?> DescribeBudgetAsync(string accountId, string name, CancellationToken ct);

    /// <summary>Creates a monthly cost budget with its notifications (each telling the budget's subscribers).</summary>
    Task CreateBudgetAsync(string accountId, MonthlyBudget budget, IReadOnlyList<BudgetNotification> notifications, CancellationToken ct);

    /// <summary>Changes the limit of an existing budget (UpdateBudget); its notifications and history stay.</summary>
    Task UpdateBudgetAsync(string accountId, MonthlyBudget budget, CancellationToken ct);

    Task DeleteBudgetAsync(string accountId, string name, CancellationToken ct);

    Task<IReadOnlyList<BudgetNotification>> DescribeNotificationsAsync(string accountId, string name, CancellationToken ct);

    Task CreateNotificationAsync(string accountId, string name, BudgetNotification notification, IReadOnlyList<BudgetSubscriber> subscribers, CancellationToken ct);

    /// <summary>Who a notification tells (DescribeSubscribersForNotification).</summary>
    Task<IReadOnlyList<BudgetSubscriber>> DescribeSubscribersAsync(string accountId, string name, BudgetNotification notification, CancellationToken ct);

    Task CreateSubscriberAsync(string accountId, string name, BudgetNotification notification, BudgetSubscriber subscriber, CancellationToken ct);
}
