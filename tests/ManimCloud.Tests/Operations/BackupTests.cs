using ManimCloud.Domain;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Operations;

/// <summary>
/// `backup create|list|restore` beyond the drill (DisasterDrillTests): a restore's verification catches records that
/// differ and counts that differ, and fails the command; a restore never writes into an existing table; the
/// replication rule is written once and read back with the AWS CLI; an unversioned replica bucket is refused.
/// </summary>
public sealed class BackupTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public async Task Verification_against_the_live_table_reports_changed_and_added_records_and_the_restore_exits_1()
    {
        var cloud = await TestCloud.CreateAsync();
        using var home = new TempDir();
        var env = cloud.Environment(home.Path);
        var project = ProjectId.Parse(Names.Unique("bk"));
        VideoId first;
        using (var client = ManimCloudClient.Open(cloud.Options(home.Path)))
            first = (await client.CreateVideoAsync(project, "Before the backup", null, null, Ct)).Value.Id;

        var backup = CliRunner.Run(env, "backup", "create", "--no-export", "--json");
        Assert.True(backup.ExitCode == 0, backup.Stderr);
        Assert.Null(backup.Json["export"]);

        using (var client = ManimCloudClient.Open(cloud.Options(home.Path)))
        {
            await client.UpdateVideoAsync(first, "Changed after the backup", null, null, null, null, Ct);
            await client.CreateVideoAsync(project, "Added after the backup", null, null, Ct);
        }
        // No export: auto verifies against the live table, which has moved on since the backup.
        var restore = CliRunner.Run(env, "backup", "restore", "--to", cloud.Table + "-restored-a", "--json");
        Assert.Equal(1, restore.ExitCode);
        var v = restore.Json["verification"]!;
        Assert.False((bool)v["passed"]!);
        Assert.Contains("live table", (string)v["reference"]!);
        Assert.Equal(2, (long)v["reference_count"]!);
        Assert.Equal(1, (long)v["restored_count"]!);
        Assert.False((bool)v["counts_match"]!);
        var differences = v["differences"]!.AsArray().Select(d => $"{d!["key"]}: {d["problem"]}").ToList();
        Assert.Contains(differences, d => d.Contains($"video#{first}") && d.Contains("title"));
        Assert.Contains(differences, d => d.Contains("missing from the restored table"));
        Assert.Contains("VERIFICATION FAILED", CliRunner.Run(env, "backup", "restore", "--to", cloud.Table + "-restored-a", "--verify-only").Stdout);
    }

    [Fact]
    public async Task A_restore_never_writes_into_an_existing_table()
    {
        var cloud = await TestCloud.CreateAsync();
        using var home = new TempDir();
        var env = cloud.Environment(home.Path);
        Assert.Equal(0, CliRunner.Run(env, "backup", "create", "--no-export").ExitCode);
        var other = await TestCloud.CreateAsync();

        var into = CliRunner.Run(env, "backup", "restore", "--to", cloud.Table, "--json");
        Assert.Equal(2, into.ExitCode);
        var over = CliRunner.Run(env, "backup", "restore", "--to", other.Table, "--json");
        Assert.Equal(4, over.ExitCode);
        Assert.Contains("already exists", (string)over.Json["error"]!["message"]!);
        var none = CliRunner.Run(env, "backup", "restore", "--backup", "no-such-backup", "--json");
        Assert.Equal(3, none.ExitCode);
        var bad = CliRunner.Run(env, "backup", "restore", "--verify-against", "vibes", "--json");
        Assert.Equal(2, bad.ExitCode);
    }

    [Fact]
    public async Task Replication_to_a_second_bucket_is_set_once_and_reads_back_and_an_unversioned_replica_is_refused()
    {
        var cloud = await TestCloud.CreateAsync();
        using var home = new TempDir();
        var env = cloud.Environment(home.Path);
        var replica = Names.Unique("replica");
        var unversioned = Names.Unique("plain");
        await AwsCli.OkAsync("s3api", "create-bucket", "--bucket", replica);
        await AwsCli.OkAsync("s3api", "put-bucket-versioning", "--bucket", replica, "--versioning-configuration", "Status=Enabled");
        await AwsCli.OkAsync("s3api", "create-bucket", "--bucket", unversioned);
        const string Role = "arn:aws:iam::123456789012:role/manimcloud-replication";

        var refused = CliRunner.Run(env, "backup", "create", "--no-export", "--replicate-videos-to", unversioned, "--replication-role", Role, "--json");
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("not versioned", (string)refused.Json["error"]!["message"]!);

        var first = CliRunner.Run(env, "backup", "create", "--no-export", "--replicate-videos-to", replica, "--replication-role", Role, "--json");
        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.Single(first.Json["replication_changed"]!.AsArray());
        var config = (await AwsCli.JsonAsync("s3api", "get-bucket-replication", "--bucket", cloud.VideoBucket))["ReplicationConfiguration"]!;
        Assert.Equal(Role, (string)config["Role"]!);
        var rule = Assert.Single(config["Rules"]!.AsArray())!;
        Assert.Equal("ManimCloudReplication", (string)rule["ID"]!);
        Assert.Equal("Enabled", (string)rule["Status"]!);
        Assert.Equal($"arn:aws:s3:::{replica}", (string)rule["Destination"]!["Bucket"]!);
        Assert.Contains(first.Json["buckets"]!.AsArray(), b => (string)b!["bucket"]! == cloud.VideoBucket && b["replicates_to"]!.AsArray().Any(d => (string)d! == replica));

        var second = CliRunner.Run(env, "backup", "create", "--no-export", "--replicate-videos-to", replica, "--replication-role", Role, "--json");
        Assert.True(second.ExitCode == 0, second.Stderr);
        Assert.Empty(second.Json["replication_changed"]!.AsArray());
        Assert.Equal(2, CliRunner.Run(env, "backup", "list", "--json").Json["backups"]!.AsArray().Count);
    }
}
