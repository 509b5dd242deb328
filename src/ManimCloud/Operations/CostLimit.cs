using System.Globalization;
using ManimCloud.Domain;

namespace ManimCloud.Operations;

/// <summary>
/// MANIMCLOUD_COST_LIMIT: the most a single command may spend without being told to go ahead. A job whose estimate is
/// above it is refused before anything is spent, unless the caller confirmed (`--yes`).
/// </summary>
public static class CostLimit
{
    /// <summary>Throws (InvalidInput, exit 2) when <paramref name="estimate"/> exceeds <paramref name="limit"/> and the caller did not confirm.</summary>
    public static void Ensure(CostEstimate estimate, decimal? limit, bool confirmed)
    {
        if (limit is not { } max || confirmed || estimate.Total <= max) return;
        throw new ManimCloudException(ErrorKind.InvalidInput,
            $"{estimate.What} is estimated at {CostEstimate.Money(estimate.Total, estimate.Currency)}, above MANIMCLOUD_COST_LIMIT "
            + $"({CostEstimate.Money(max, estimate.Currency)}); nothing was started.",
            "Run it again with --yes to accept the cost, raise MANIMCLOUD_COST_LIMIT, or make the job smaller (fewer rungs, shorter video, the local engine).");
    }

    public static decimal? Parse(string? text) => text switch
    {
        null => null,
        _ when decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= 0 => v,
        _ => throw new ManimCloudException(ErrorKind.InvalidInput, $"MANIMCLOUD_COST_LIMIT is '{text}'.",
            "Give an amount in the price table's currency, e.g. 5 or 12.50."),
    };
}
