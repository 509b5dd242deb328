using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Provisioning;

/// <summary>`provision` through the real CLI: idempotent, and what it builds is a deployment ManimCloud can use at once.</summary>
public class ProvisionCliTests
{
    [Fact]
    public void Provisioning_twice_changes_nothing_the_second_time_and_the_demo_then_runs_in_the_cloud()
    {
        using var home = new TempDir();
        var names = TestCloud.CreateAsync(create: false).Result;
        var env = names.Environment(home.Path);

        var dry = CliRunner.Run(env, "provision", "--dry-run", "--json");
        Assert.True(dry.ExitCode == 0, dry.Stderr);
        Assert.True((int)dry.Json["changed"]! > 0);
        Assert.NotEqual(0, AwsCli.Run("s3api", "head-bucket", "--bucket", names.VideoBucket).ExitCode); // dry run wrote nothing

        var first = CliRunner.Run(env, "provision", "--json");
        Assert.True(first.ExitCode == 0, first.Stderr);
        var second = CliRunner.Run(env, "provision", "--json");
        Assert.True(second.ExitCode == 0, second.Stderr);
        Assert.Equal(0, (int)second.Json["changed"]!);

        // moto counts every policy condition as matched, so the conditional Deny statements would refuse every write:
        // provision found that out with a probe write, left them out, and says so (on AWS they stay).
        Assert.Equal("not-evaluated", (string?)first.Json["policy_conditions"]);
        Assert.Contains(first.Json["left_out"]!.AsArray(), o => (string?)o!["statement"] == "ManimCloudDenyUnapprovedEncryption");
        Assert.Contains("Left out of the bucket policies", CliRunner.Run(env, "provision", "--dry-run").Stdout);

        // With no step in between, the provisioned buckets and table take ManimCloud's own writes (encryption, Object Lock, lifecycle, GSI).
        var demo = CliRunner.Run(env, "demo", "--scenes", "1", "--json");
        Assert.True(demo.ExitCode == 0, demo.Stderr);
        Assert.Equal("aws", (string)demo.Json["mode"]!);
        Assert.All(demo.Json["verified"]!.AsArray(), v => Assert.True((bool)v!["equal"]!));
    }
}
