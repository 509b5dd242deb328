using ManimCloud.Delivery;
using ManimCloud.Domain;
using ManimCloud.Pipeline;
using ManimCloud.Tests.Pipeline;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Delivery;

/// <summary>
/// SPEC R5 "invalidation of exactly the paths that changed when a video is updated", through the pipeline on moto with
/// delivery provisioned: a new version (a run, an edit) has new paths and invalidates nothing; a published version
/// rendered again makes exactly one invalidation, of what that publish left stale, as the AWS CLI reads it back.
/// </summary>
public sealed class PipelineInvalidationTests
{
    [Fact]
    public async Task A_version_rendered_again_makes_one_invalidation_of_what_it_left_stale_and_new_versions_make_none()
    {
        using var d = await DeliveryDeployment.CreateAsync();
        var options = d.Options() with { Pipeline = new PipelineSettings { Renderer = RendererKind.Test } };
        VideoId video;
        using (var client = ManimCloudClient.Open(options))
        {
            Assert.NotNull(client.Pipeline.Invalidate); // composed because a distribution is provisioned
            var run = await client.Pipeline.CreateAsync(ProjectId.Parse("cdn-pipe"), "Invalidate", "Shapes in two scenes", null, new RunOptions(), null, default);
            Assert.True(run.Finished);
            video = run.Video;
            Assert.False((bool)run.Steps.Single(s => s.Name == "publish").Details["invalidation"]!["needed"]!);
            var edit = await client.Pipeline.EditAsync(video, "scene 1: slow down at the end", new RunOptions(), null, default);
            Assert.Equal(2, edit.Version);
            Assert.False((bool)edit.Steps.Single(s => s.Name == "publish").Details["invalidation"]!["needed"]!);
        }
        Assert.Empty(await d.InvalidationIdsAsync());

        // v1 rendered again by another renderer: new clips, so v1's manifests, poster and storyboard are rewritten in place.
        using var again = ManimCloudClient.Open(options with { Pipeline = new PipelineSettings { Renderer = RendererKind.Manim, ManimCommand = FakeManim.Path } });
        var before = (await again.GetVideoAsync(video, default)).Renditions[1];
        var rerun = await again.Pipeline.RenderAsync(video, 1, new RunOptions(), null, default);
        Assert.True(rerun.Finished);
        var record = await again.GetVideoAsync(video, default);
        var after = record.Renditions[1];
        var stale = RenditionSet.StaleKeys(before, after);
        Assert.Contains(after.HlsMasterKey, stale);
        Assert.Contains(after.PosterKey!, stale);
        Assert.DoesNotContain(stale, k => k.Contains("/cmaf/"));

        var id = Assert.Single(await d.InvalidationIdsAsync());
        var held = (await AwsCli.JsonAsync("cloudfront", "get-invalidation", "--distribution-id", d.DistributionId, "--id", id))["Invalidation"]!["InvalidationBatch"]!;
        var expected = InvalidationBatch.For(d.DistributionId, record, after, stale);
        Assert.Equal(expected.Paths, held["Paths"]!["Items"]!.AsArray().Select(p => (string)p!).Order(StringComparer.Ordinal));
        Assert.Equal(expected.CallerReference, (string)held["CallerReference"]!);
        var publish = rerun.Steps.Single(s => s.Name == "publish").Details["invalidation"]!;
        Assert.True((bool)publish["done"]!);
        Assert.Equal(id, (string)publish["delivery"]!["invalidation_id"]!);
        // v2 was not touched: its paths are not in the invalidation.
        Assert.DoesNotContain(expected.Paths, p => p.Contains("/v2/"));
    }
}
