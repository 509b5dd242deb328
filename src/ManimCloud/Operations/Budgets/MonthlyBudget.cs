using System.Globalization;

namespace ManimCloud.Operations.Budgets;

/// <summary>Who a budget notification tells: an e-mail address, or an SNS topic (the alarm path, MANIMCLOUD_ALARM_TOPIC).</summary>
public sealed record BudgetSubscriber(string Type, string Address)
{
    public const string Email = "EMAIL";
    public const string Sns = "SNS";
    public override string ToString() => $"{Type.ToLowerInvariant()}:{Address}";
}

/// <summary>
/// One notification of a budget as AWS Budgets keys it: actual (or forecasted) spend above a percentage of the limit.
/// Budgets identifies a notification by these four fields, so they are also how drift is found.
/// </summary>
public sealed record BudgetNotification(string Type, string Comparison, double Threshold, string ThresholdType = "PERCENTAGE")
{
    public static BudgetNotification ActualAbove(double percent) => new("ACTUAL", "GREATER_THAN", percent);
    public override string ToString() => $"{Type.ToLowerInvariant()} > {Threshold.ToString("0.##", CultureInfo.InvariantCulture)}{(ThresholdType == "PERCENTAGE" ? " %" : "")}";
}

/// <summary>What a budget holds: its limit per month and what spend it has seen (as Budgets last computed it).</summary>
public sealed record BudgetState(string Name, decimal Limit, string Unit, string TimeUnit, string BudgetType, decimal? ActualSpend, decimal? ForecastedSpend);

/// <summary>
/// The budget `budget set` wants: a monthly cost budget of <see cref="Limit"/> with notifications at 80 % and 100 %
/// of it (actual spend), telling <see cref="Subscribers"/>.
/// </summary>
public sealed record MonthlyBudget(string Name, decimal Limit, string Unit, IReadOnlyList<BudgetSubscriber> Subscribers)
{
    public static readonly IReadOnlyList<BudgetNotification> Notifications = [BudgetNotification.ActualAbove(80), BudgetNotification.ActualAbove(100)];

    /// <summary>The default budget name of an environment.</summary>
    public static string DefaultName(string environment) => $"manimcloud-{environment}-monthly";

    /// <summary>Budgets takes the amount as a decimal string; two places are what AWS keeps for USD.</summary>
    public string Amount => Limit.ToString("0.00", CultureInfo.InvariantCulture);
}
