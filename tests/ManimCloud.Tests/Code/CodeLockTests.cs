using System.Text;
using ManimCloud.Domain;
using ManimCloud.Storage;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Code;

/// <summary>SPEC R2: a locked version cannot be deleted or overwritten until the lock ends, in the cloud and locally.</summary>
public class CodeLockTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public async Task A_version_stored_with_lock_is_held_in_S3_and_refused_deletion_by_S3_itself()
    {
        var cloud = await TestCloud.CreateAsync();
        using var home = new TempDir();
        using var client = ManimCloudClient.Open(cloud.Options(home.Path));
        var video = (await client.CreateVideoAsync(ProjectId.Parse("locks"), "locked", null, null, Ct)).Value;
        var v = (await client.PutCodeAsync(video.Id, Encoding.UTF8.GetBytes("print('keep me')\n"), "me", new CodeLockRequest(LockMode.LegalHold, null), Ct)).Value;

        var hold = AwsCli.Json("s3api", "get-object-legal-hold", "--bucket", cloud.CodeBucket, "--key", v.Key);
        Assert.Equal("ON", (string)hold["LegalHold"]!["Status"]!);
        var history = await client.CodeHistoryAsync(video.Id, Ct);
        Assert.Equal(LockMode.LegalHold, history.Single().Lock);

        // Deleting the exact version through another client: S3 Object Lock refuses it.
        var head = AwsCli.Json("s3api", "head-object", "--bucket", cloud.CodeBucket, "--key", v.Key);
        var delete = AwsCli.Run("s3api", "delete-object", "--bucket", cloud.CodeBucket, "--key", v.Key, "--version-id", (string)head["VersionId"]!);
        Assert.NotEqual(0, delete.ExitCode);
        Assert.Contains("AccessDenied", delete.Stderr);
        // And through ManimCloud, at the key: refused with the Locked class.
        var e = await Assert.ThrowsAnyAsync<ManimCloudException>(() => client.Cloud!.Code.DeleteAsync(v.Key, Ct));
        Assert.Equal(ErrorKind.Locked, e.Kind);
    }

    [Fact]
    public async Task A_locked_version_in_the_local_workspace_is_refused_deletion_and_overwrite()
    {
        using var home = new TempDir();
        using var client = ManimCloudClient.Open(new Workspace.ManimCloudOptions { Home = home.Path });
        var video = (await client.CreateVideoAsync(ProjectId.Parse("locks"), "locked", null, null, Ct)).Value;
        var v = (await client.PutCodeAsync(video.Id, Encoding.UTF8.GetBytes("print('keep me')\n"), "me",
            new CodeLockRequest(LockMode.Governance, DateTimeOffset.UtcNow.AddDays(3)), Ct)).Value;
        var history = await client.CodeHistoryAsync(video.Id, Ct);
        Assert.Equal(LockMode.Governance, history.Single().Lock);
        Assert.Equal(ErrorKind.Locked, (await Assert.ThrowsAnyAsync<ManimCloudException>(() => client.Local.Code.DeleteAsync(v.Key, Ct))).Kind);
        var other = "x"u8.ToArray();
        var overwrite = new ObjectWrite(v.Key, ObjectKind.Code, "text/x-python", new Dictionary<string, string>(), ContentHash.Sha256Hex(other), other.Length);
        Assert.Equal(ErrorKind.Locked, (await Assert.ThrowsAnyAsync<ManimCloudException>(() => client.Local.Code.PutAsync(overwrite, new MemoryStream(other), Ct))).Kind);
        Assert.Equal("print('keep me')\n", Encoding.UTF8.GetString((await client.GetCodeAsync(video.Id, 1, Ct)).Content));
    }
}
