using System.CommandLine;
using System.Globalization;
using ManimCloud.Aws;
using ManimCloud.Domain;
using ManimCloud.Operations.Budgets;

namespace ManimCloud.Cli.Commands;

/// <summary>`budget set|show`: an AWS Budget for the deployment with 80 % and 100 % notifications (SPEC R9).</summary>
internal static class BudgetCommands
{
    public static Command Create()
    {
        var budget = new Command("budget", "A monthly AWS cost budget with notifications at 80 % and 100 % of actual spend.");
        budget.Subcommands.Add(Set());
        budget.Subcommands.Add(Show());
        return budget;
    }

    private static Option<string> NameOption() => new("--name") { Description = "The budget's name (default manimcloud-{env}-monthly)." };

    private static Command Set()
    {
        var monthly = new Option<string>("--monthly") { Description = "The monthly limit, e.g. 50 or 49.99 (in --unit).", Required = true };
        var email = new Option<string[]>("--email") { Description = "An address the 80 % and 100 % notifications e-mail (repeatable).", AllowMultipleArgumentsPerToken = false };
        var unit = new Option<string>("--unit") { Description = "The currency of the limit.", DefaultValueFactory = _ => "USD" };
        var name = NameOption();
        var c = new Command("set",
            "Create the budget, or update its limit in place when it exists (idempotent); adds the 80 % and 100 % notifications and the given "
            + "subscribers where missing (MANIMCLOUD_ALARM_TOPIC, when set, is notified too). Others' notifications and subscribers are left alone.")
        {
            monthly, email, unit, name,
        };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var options = ctx.Options;
            var text = p.GetValue(monthly)!;
            if (!decimal.TryParse(text, NumberStyles.Number, CultureInfo.InvariantCulture, out var amount) || amount <= 0 || decimal.Round(amount, 2) != amount)
                throw new ManimCloudException(ErrorKind.InvalidInput, $"--monthly {text} is not an amount.", "Give a positive amount with at most two decimals, e.g. --monthly 50 or 49.99.");
            var subscribers = (p.GetValue(email) ?? []).Select(e => Email(e)).ToList();
            if (options.Monitoring.AlarmTopic is { } topic) subscribers.Add(new BudgetSubscriber(BudgetSubscriber.Sns, topic));
            var currency = p.GetValue(unit)!.ToUpperInvariant();
            if (currency.Length != 3 || !currency.All(char.IsAsciiLetterUpper))
                throw new ManimCloudException(ErrorKind.InvalidInput, $"--unit {p.GetValue(unit)} is not a currency code.", "Use a three-letter code such as USD.");
            var wanted = new MonthlyBudget(p.GetValue(name) ?? MonthlyBudget.DefaultName(options.Environment), amount, currency, subscribers);
            var outcome = await RunAsync(options, (b, ct2) => b.SetAsync(wanted, ct2), wanted.Name, ct);
            return new CliResult(outcome.ToJson(), outcome.ToText());
        });
        return c;
    }

    private static Command Show()
    {
        var name = NameOption();
        var c = new Command("show", "The budget's limit, this month's actual and forecast spend, and its notifications with whom they tell.") { name };
        CliContext.Bind(c, async (p, ctx, ct) =>
        {
            var budgetName = p.GetValue(name) ?? MonthlyBudget.DefaultName(ctx.Options.Environment);
            var outcome = await RunAsync(ctx.Options, (b, ct2) => b.ShowAsync(budgetName, ct2), budgetName, ct);
            return new CliResult(outcome.ToJson(), outcome.ToText());
        });
        return c;
    }

    private static async Task<BudgetOutcome> RunAsync(Workspace.ManimCloudOptions options, Func<BudgetProvisioner, CancellationToken, Task<BudgetOutcome>> run,
        string budgetName, CancellationToken ct)
    {
        using var aws = new AwsClients(options);
        var account = await AwsAccount.IdAsync(aws, ct);
        var custom = options.EndpointFor(AwsServiceDescription.Budgets.EndpointId) is not null;
        try
        {
            return await run(new BudgetProvisioner(BudgetsClient.Create(aws), account, custom), ct);
        }
        catch (Exception e) when (e is not ManimCloudException and not OperationCanceledException)
        {
            throw AwsErrors.Describe(e, "Setting up", $"budget {budgetName} (AWS Budgets)");
        }
    }

    private static BudgetSubscriber Email(string address)
    {
        var a = address.Trim();
        var at = a.IndexOf('@');
        if (at <= 0 || at != a.LastIndexOf('@') || at == a.Length - 1 || !a[(at + 1)..].Contains('.') || a.Any(char.IsWhiteSpace) || a.Length > 254)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"--email {address} is not an e-mail address.", "Give an address such as ops@example.com.");
        return new BudgetSubscriber(BudgetSubscriber.Email, a);
    }
}
