using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace ManimCloud.Operations;

/// <summary>One priced item of an estimate or a report: how much of what, at what unit price.</summary>
public sealed record CostLine(string Item, decimal Quantity, string Unit, decimal UnitPrice, string PriceKey)
{
    public decimal Cost => Math.Round(Quantity * UnitPrice, 6);

    public JsonObject ToJson() => new()
    {
        ["item"] = Item, ["quantity"] = Math.Round(Quantity, 6), ["unit"] = Unit, ["unit_price"] = UnitPrice,
        ["price_key"] = PriceKey, ["cost"] = Cost,
    };
}

/// <summary>What something will cost (before it is spent) or has cost, line by line, in the price table's currency.</summary>
public sealed record CostEstimate(string What, IReadOnlyList<CostLine> Lines, string Currency)
{
    public decimal Total => Lines.Sum(l => l.Cost);

    /// <summary>Notes a person should read beside the figure (what is not included, what the figure assumes).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    public JsonObject ToJson() => new()
    {
        ["what"] = What,
        ["currency"] = Currency,
        ["total"] = Math.Round(Total, 4),
        ["lines"] = new JsonArray(Lines.Select(l => (JsonNode)l.ToJson()).ToArray()),
        ["notes"] = new JsonArray(Notes.Select(n => (JsonNode)n).ToArray()),
    };

    public string ToText()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"{What}: {Money(Total, Currency)}");
        foreach (var l in Lines)
            sb.AppendLine($"  {l.Item,-48} {l.Quantity.ToString("0.###", CultureInfo.InvariantCulture),12} {l.Unit,-16} x {l.UnitPrice.ToString("0.######", CultureInfo.InvariantCulture),-10} = {Money(l.Cost, Currency)}");
        foreach (var n in Notes) sb.AppendLine("  note: " + n);
        return sb.ToString().TrimEnd();
    }

    public static string Money(decimal amount, string currency) =>
        amount.ToString(amount < 0.01m && amount != 0 ? "0.0000" : "0.00", CultureInfo.InvariantCulture) + " " + currency;
}
