using ManimCloud.Workspace;

namespace ManimCloud.Operations;

/// <summary>
/// Operating a deployment (SPEC R8, R9 and §2's deployment utilities): cost estimates and reports, the audit trail,
/// backups. Composed once by <see cref="ManimCloudClient"/>; each part is also usable on its own.
/// </summary>
public sealed class OperationsService(ManimCloudOptions options)
{
    private CostEstimator? _costs;

    /// <summary>Estimates before spending, priced by the built-in table or MANIMCLOUD_PRICE_TABLE.</summary>
    public CostEstimator Costs => _costs ??= CostEstimatorFor(options);

    /// <summary>MANIMCLOUD_COST_LIMIT (null: no limit).</summary>
    public decimal? CostLimit => options.CostLimit;

    /// <summary>Refuses (exit 2) an estimate above MANIMCLOUD_COST_LIMIT unless <paramref name="confirmed"/> (--yes).</summary>
    public void EnsureWithinCostLimit(CostEstimate estimate, bool confirmed) => Operations.CostLimit.Ensure(estimate, options.CostLimit, confirmed);

    public static CostEstimator CostEstimatorFor(ManimCloudOptions options) => new(PriceTable.Load(options.PriceTablePath));
}
