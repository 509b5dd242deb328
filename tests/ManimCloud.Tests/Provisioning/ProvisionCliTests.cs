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

        // moto treats policy condition operators it does not implement (Bool, StringNotEquals, Null) as matched, so
        // its view of the conditional Deny statements is "deny everything"; AWS evaluates them as written. The
        // documented workaround for moto: remove the bucket policies. Everything else provisioned stays in force.
        foreach (var bucket in new[] { names.VideoBucket, names.CodeBucket })
            Assert.Equal(0, AwsCli.Run("s3api", "delete-bucket-policy", "--bucket", bucket).ExitCode);

        // The provisioned buckets and table take ManimCloud's own writes (encryption, Object Lock, lifecycle, GSI).
        var demo = CliRunner.Run(env, "demo", "--scenes", "1", "--json");
        Assert.True(demo.ExitCode == 0, demo.Stderr);
        Assert.Equal("aws", (string)demo.Json["mode"]!);
        Assert.All(demo.Json["verified"]!.AsArray(), v => Assert.True((bool)v!["equal"]!));
    }
}
