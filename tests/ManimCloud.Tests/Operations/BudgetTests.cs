using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Operations;

/// <summary>
/// `budget set|show` on moto's Budgets, read back with the AWS CLI: a monthly cost budget with notifications at 80 %
/// and 100 % of actual spend, set idempotently. moto has no UpdateBudget and no DescribeSubscribersForNotification, so
/// here a new limit replaces the budget (the output says so; on AWS it is updated in place) and subscribers are not read back.
/// </summary>
public sealed class BudgetTests
{
    private static Dictionary<string, string> Env(string home) => new()
    {
        ["MANIMCLOUD_HOME"] = home, ["AWS_ENDPOINT_URL"] = MotoServer.Endpoint, ["AWS_REGION"] = "us-east-1",
        ["AWS_ACCESS_KEY_ID"] = "testing", ["AWS_SECRET_ACCESS_KEY"] = "testing",
    };

    /// <summary>"LIMIT at T1,T2" as the AWS CLI reads the budget and its actual-spend percentage notifications.</summary>
    private static async Task<string> ReadBackAsync(string name)
    {
        var budget = await AwsCli.JsonAsync("budgets", "describe-budget", "--account-id", "123456789012", "--budget-name", name);
        var notifications = await AwsCli.JsonAsync("budgets", "describe-notifications-for-budget", "--account-id", "123456789012", "--budget-name", name);
        Assert.Equal("MONTHLY", (string)budget["Budget"]!["TimeUnit"]!);
        Assert.Equal("COST", (string)budget["Budget"]!["BudgetType"]!);
        var thresholds = notifications["Notifications"]!.AsArray()
            .Where(n => (string)n!["NotificationType"]! == "ACTUAL" && (string)n["ComparisonOperator"]! == "GREATER_THAN" && (string)n["ThresholdType"]! == "PERCENTAGE")
            .Select(n => (double)n!["Threshold"]!).Order().ToArray();
        return $"{(string)budget["Budget"]!["BudgetLimit"]!["Amount"]!} at {string.Join(",", thresholds)}";
    }

    [Fact]
    public async Task Budget_set_creates_a_monthly_budget_with_80_and_100_percent_notifications_and_is_idempotent()
    {
        using var home = new TempDir();
        var env = Env(home.Path);
        var name = Names.Unique("budget");

        var created = CliRunner.Run(env, "budget", "set", "--monthly", "50", "--email", "ops@example.com", "--name", name, "--json");
        Assert.True(created.ExitCode == 0, created.Stderr + created.Stdout);
        Assert.Equal("created", (string)created.Json["action"]!);
        Assert.Equal("50.00 at 80,100", await ReadBackAsync(name));

        var again = CliRunner.Run(env, "budget", "set", "--monthly", "50", "--email", "ops@example.com", "--name", name, "--json");
        Assert.True(again.ExitCode == 0, again.Stderr);
        Assert.Equal(0, (int)again.Json["changes"]!);
        Assert.Equal("unchanged", (string)again.Json["action"]!);

        // A new limit: in place on AWS; moto lacks UpdateBudget, so the budget is replaced, and the output says so.
        var raised = CliRunner.Run(env, "budget", "set", "--monthly", "75.50", "--email", "ops@example.com", "--name", name, "--json");
        Assert.True(raised.ExitCode == 0, raised.Stderr);
        Assert.Equal("replaced", (string)raised.Json["action"]!);
        Assert.Equal(50.00m, (decimal)raised.Json["previous_limit"]!);
        Assert.Contains(raised.Json["notes"]!.AsArray(), n => ((string)n!).Contains("UpdateBudget"));
        Assert.Equal("75.50 at 80,100", await ReadBackAsync(name));

        var shown = CliRunner.Run(env, "budget", "show", "--name", name, "--json");
        Assert.True(shown.ExitCode == 0, shown.Stderr);
        Assert.Equal(75.50m, (decimal)shown.Json["monthly_limit"]!);
        Assert.Equal(2, shown.Json["notifications"]!.AsArray().Count);
    }

    [Fact]
    public async Task A_notification_removed_by_hand_is_put_back_by_the_next_set()
    {
        using var home = new TempDir();
        var env = Env(home.Path);
        var name = Names.Unique("budget");
        Assert.Equal(0, CliRunner.Run(env, "budget", "set", "--monthly", "20", "--email", "ops@example.com", "--name", name).ExitCode);
        await AwsCli.OkAsync("budgets", "delete-notification", "--account-id", "123456789012", "--budget-name", name,
            "--notification", "NotificationType=ACTUAL,ComparisonOperator=GREATER_THAN,Threshold=80,ThresholdType=PERCENTAGE");
        Assert.Equal("20.00 at 100", await ReadBackAsync(name));

        var repaired = CliRunner.Run(env, "budget", "set", "--monthly", "20", "--email", "ops@example.com", "--name", name, "--json");
        Assert.True(repaired.ExitCode == 0, repaired.Stderr);
        Assert.Equal(1, (int)repaired.Json["changes"]!);
        Assert.Contains(repaired.Json["notifications"]!.AsArray(), n => (double)n!["threshold"]! == 80 && (string)n["action"]! == "created");
        Assert.Equal("20.00 at 80,100", await ReadBackAsync(name));
    }

    [Fact]
    public async Task A_new_budget_without_anyone_to_notify_or_with_a_bad_amount_is_refused_and_nothing_is_created()
    {
        using var home = new TempDir();
        var env = Env(home.Path);
        var name = Names.Unique("budget");
        foreach (var args in new[]
        {
            new[] { "budget", "set", "--monthly", "50", "--name", name },
            ["budget", "set", "--monthly", "-5", "--email", "ops@example.com", "--name", name],
            ["budget", "set", "--monthly", "ten", "--email", "ops@example.com", "--name", name],
            ["budget", "set", "--monthly", "50", "--email", "not-an-address", "--name", name],
        })
        {
            var refused = CliRunner.Run(env, [.. args, "--json"]);
            Assert.True(refused.ExitCode == 2, $"{string.Join(' ', args)}: {refused.ExitCode} {refused.Stderr}");
            Assert.False((bool)refused.Json["ok"]!);
        }
        var read = await AwsCli.RunAsync("budgets", "describe-budget", "--account-id", "123456789012", "--budget-name", name);
        Assert.NotEqual(0, read.ExitCode);
        Assert.Contains("NotFound", read.Stderr);

        var missing = CliRunner.Run(env, "budget", "show", "--name", name, "--json");
        Assert.Equal(3, missing.ExitCode);
    }
}
