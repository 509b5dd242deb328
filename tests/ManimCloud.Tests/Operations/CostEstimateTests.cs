using ManimCloud.Domain;
using ManimCloud.Operations;
using ManimCloud.Streaming;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Operations;

/// <summary>SPEC R9 "cost before it surprises": MediaConvert bills every output, and a job above the limit is refused unless confirmed.</summary>
public sealed class CostEstimateTests
{
    [Fact]
    public void A_MediaConvert_transcode_is_billed_per_output_minute_for_every_rung_and_the_audio()
    {
        var estimate = new CostEstimator(PriceTable.BuiltIn).EstimateTranscode("mediaconvert", Ladder.Default, 1920, 1080, 30, 600, hasAudio: true);

        var outputs = estimate.Lines.Where(l => l.Item.StartsWith("MediaConvert output")).ToList();
        Assert.Equal(4, outputs.Count); // 1080p, 720p, 480p and the audio
        Assert.All(outputs, l => Assert.Equal(10m, l.Quantity));
        // 1080p and 720p at the HD rate, 480p at the SD rate, audio on its own: 10 min x (0.015 + 0.015 + 0.0075 + 0.003).
        Assert.Equal(0.405m, outputs.Sum(l => l.Cost));
        Assert.True(estimate.Total > 0.405m); // plus storage and requests
    }

    [Fact]
    public void Above_30_fps_each_output_costs_twice_and_the_local_engine_has_no_service_fee()
    {
        var costs = new CostEstimator(PriceTable.BuiltIn);
        var at30 = costs.EstimateTranscode("mediaconvert", Ladder.Default, 1920, 1080, 30, 60, false).Lines.Where(l => l.PriceKey.StartsWith("mediaconvert")).Sum(l => l.Cost);
        var at60 = costs.EstimateTranscode("mediaconvert", Ladder.Default, 1920, 1080, 60, 60, false).Lines.Where(l => l.PriceKey.StartsWith("mediaconvert")).Sum(l => l.Cost);
        Assert.Equal(at30 * 2, at60);
        Assert.DoesNotContain(costs.EstimateTranscode("local", Ladder.Default, 1920, 1080, 30, 60, true).Lines, l => l.PriceKey.StartsWith("mediaconvert"));
    }

    [Fact]
    public void An_estimate_above_the_limit_is_refused_unless_confirmed()
    {
        var estimate = new CostEstimator(PriceTable.BuiltIn).EstimateTranscode("mediaconvert", Ladder.Default, 1920, 1080, 30, 3600, true);
        var e = Assert.Throws<ManimCloudException>(() => CostLimit.Ensure(estimate, 1m, confirmed: false));
        Assert.Equal(2, e.ExitCode);
        Assert.Contains("--yes", e.Hint);
        CostLimit.Ensure(estimate, 1m, confirmed: true);
        CostLimit.Ensure(estimate, 100m, confirmed: false);
        CostLimit.Ensure(estimate, null, confirmed: false);
    }

    [Fact]
    public void The_price_table_can_be_overridden_and_a_misspelt_key_is_refused()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("prices.json"), """{"mediaconvert.basic.hd.per_output_minute": 0.02}""");
        var table = PriceTable.Load(dir.File("prices.json"));
        Assert.Equal(0.02m, table["mediaconvert.basic.hd.per_output_minute"]);
        Assert.Equal(PriceTable.BuiltIn["s3.storage.gb_month.STANDARD"], table["s3.storage.gb_month.STANDARD"]);

        File.WriteAllText(dir.File("typo.json"), """{"mediaconvert.hd.per_minute": 0.02}""");
        var e = Assert.Throws<ManimCloudException>(() => PriceTable.Load(dir.File("typo.json")));
        Assert.Contains("mediaconvert.hd.per_minute", e.Message);
    }

    [Fact]
    public void Cost_estimate_through_the_CLI_reports_the_limit()
    {
        using var home = new TempDir();
        var env = CliRunner.LocalEnv(home.Path);
        env["MANIMCLOUD_COST_LIMIT"] = "0.10";
        var run = CliRunner.Run(env, "cost", "estimate", "--duration", "10m", "--json");
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.False((bool)run.Json["within_limit"]!);
        Assert.True((decimal)run.Json["total"]! > 0.10m);
    }
}
