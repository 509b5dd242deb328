using System.Text;
using ManimCloud.Domain;
using ManimCloud.Storage;

namespace ManimCloud.Tests.Conformance;

/// <summary>
/// One object-store contract, run unchanged against every backend (rclone's fstests model). Optional capabilities
/// are tested when the store declares them (here: <see cref="IObjectLockStore"/>), never by backend name.
/// </summary>
public abstract class ObjectStoreConformance : IAsyncLifetime
{
    protected IBackendUnderTest Subject = null!;
    protected abstract Task<IBackendUnderTest> CreateAsync();
    private IObjectStore Store => Subject.Backend.Code;
    private static readonly CancellationToken Ct = CancellationToken.None;

    public async Task InitializeAsync() => Subject = await CreateAsync();
    public async Task DisposeAsync() => await Subject.DisposeAsync();

    public static readonly string[] HostileKeys =
    [
        "plain/file.py",
        "unicode/ñandú-数学-🎬.py",
        "quotes/it's \"quoted\".py",
        "punct/a?b+c&d=e#f%g.py",
        "spaces/with  two  spaces .py",
        "deep/a/b/c/d/e/f/g/h.py",
    ];

    private static ObjectWrite Write(string key, byte[] content, IReadOnlyDictionary<string, string>? metadata = null) =>
        new(key, ObjectKind.Code, "text/x-python", metadata ?? new Dictionary<string, string> { ["project"] = "p1" },
            ContentHash.Sha256Hex(content), content.Length);

    private async Task<byte[]> ReadAllAsync(string key, string? versionId = null)
    {
        await using var s = await Store.OpenReadAsync(key, versionId, Ct);
        using var m = new MemoryStream();
        await s.CopyToAsync(m);
        return m.ToArray();
    }

    private async Task<StoredObject> PutAsync(string key, byte[] content, IReadOnlyDictionary<string, string>? metadata = null) =>
        await Store.PutAsync(Write(key, content, metadata), new MemoryStream(content), Ct);

    [Fact]
    public async Task Bytes_that_go_up_come_back_equal_for_hostile_names()
    {
        foreach (var key in HostileKeys)
        {
            var content = Encoding.UTF8.GetBytes($"# {key}\nprint('ok')\n" + new string('x', key.Length * 100));
            await PutAsync(key, content);
            Assert.Equal(content, await ReadAllAsync(key));
            var head = await Store.HeadAsync(key, Ct);
            Assert.NotNull(head);
            Assert.Equal(content.Length, head!.Size);
            Assert.Equal(ContentHash.Sha256Hex(content), head.Sha256);
            Assert.Equal("p1", head.Metadata["project"]);
        }
    }

    [Fact]
    public async Task Empty_and_binary_content_round_trip()
    {
        var binary = new byte[70_000];
        new Random(7).NextBytes(binary);
        await PutAsync("bin/random.bin", binary);
        await PutAsync("bin/empty.bin", []);
        Assert.Equal(binary, await ReadAllAsync("bin/random.bin"));
        Assert.Empty(await ReadAllAsync("bin/empty.bin"));
    }

    [Fact]
    public async Task Overwrite_keeps_the_previous_version_readable()
    {
        var first = await PutAsync("v/code.py", "one"u8.ToArray());
        var second = await PutAsync("v/code.py", "two"u8.ToArray());
        Assert.NotEqual(first.VersionId, second.VersionId);
        Assert.Equal("two"u8.ToArray(), await ReadAllAsync("v/code.py"));
        Assert.Equal("one"u8.ToArray(), await ReadAllAsync("v/code.py", first.VersionId));
    }

    [Fact]
    public async Task Missing_objects_are_not_found()
    {
        Assert.Null(await Store.HeadAsync("nope/missing.py", Ct));
        var e = await Assert.ThrowsAnyAsync<ManimCloudException>(() => Store.OpenReadAsync("nope/missing.py", null, Ct));
        Assert.Equal(ErrorKind.NotFound, e.Kind);
    }

    [Fact]
    public async Task Delete_hides_the_object_and_list_sees_only_current_objects()
    {
        await PutAsync("list/a.py", "a"u8.ToArray());
        await PutAsync("list/b.py", "b"u8.ToArray());
        await PutAsync("other/c.py", "c"u8.ToArray());
        await Store.DeleteAsync("list/a.py", Ct);
        Assert.Null(await Store.HeadAsync("list/a.py", Ct));
        var listed = new List<string>();
        await foreach (var o in Store.ListAsync("list/", Ct)) listed.Add(o.Key);
        Assert.Equal(["list/b.py"], listed);
    }

    [Fact]
    public async Task Damaged_content_is_detected_on_read()
    {
        await PutAsync("tamper/code.py", "print('original')"u8.ToArray());
        await Subject.TamperAsync("tamper/code.py", "print('evil!!!!')"u8.ToArray());
        var e = await Assert.ThrowsAnyAsync<ManimCloudException>(() => ReadAllAsync("tamper/code.py"));
        Assert.Contains("Integrity check failed", e.Message);
        Assert.Contains("tamper/code.py", e.Message);
    }

    [Fact]
    public async Task Metadata_over_the_S3_limit_is_refused_before_writing()
    {
        var big = new Dictionary<string, string> { ["author"] = new string('a', 2100) };
        var e = await Assert.ThrowsAnyAsync<ManimCloudException>(() => PutAsync("meta/too-big.py", "x"u8.ToArray(), big));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Null(await Store.HeadAsync("meta/too-big.py", Ct));
    }

    [Fact]
    public async Task A_locked_version_cannot_be_deleted_or_overwritten()
    {
        if (Store is not IObjectLockStore locks) return; // capability not declared: nothing to check
        await PutAsync("lock/held.py", "held"u8.ToArray());
        await locks.LockAsync("lock/held.py", null, new ObjectLock(LockMode.LegalHold, null), Ct);
        Assert.Equal(LockMode.LegalHold, (await locks.GetLockAsync("lock/held.py", null, Ct)).Mode);

        var delete = await Assert.ThrowsAnyAsync<ManimCloudException>(() => Store.DeleteAsync("lock/held.py", Ct));
        Assert.Equal(ErrorKind.Locked, delete.Kind);
        var overwrite = await Assert.ThrowsAnyAsync<ManimCloudException>(() => PutAsync("lock/held.py", "new"u8.ToArray()));
        Assert.Equal(ErrorKind.Locked, overwrite.Kind);
        Assert.Equal("held"u8.ToArray(), await ReadAllAsync("lock/held.py"));

        await PutAsync("lock/retained.py", "kept"u8.ToArray());
        var until = DateTimeOffset.UtcNow.AddDays(1);
        await locks.LockAsync("lock/retained.py", null, new ObjectLock(LockMode.Governance, until), Ct);
        var retention = await locks.GetLockAsync("lock/retained.py", null, Ct);
        Assert.Equal(LockMode.Governance, retention.Mode);
        Assert.True(retention.IsActive(DateTimeOffset.UtcNow));
        Assert.Equal(ErrorKind.Locked, (await Assert.ThrowsAnyAsync<ManimCloudException>(() => Store.DeleteAsync("lock/retained.py", Ct))).Kind);
    }
}

public sealed class LocalObjectStoreConformance : ObjectStoreConformance
{
    protected override Task<IBackendUnderTest> CreateAsync() => Task.FromResult<IBackendUnderTest>(new LocalBackendUnderTest());
}

public sealed class S3ObjectStoreConformance : ObjectStoreConformance
{
    protected override async Task<IBackendUnderTest> CreateAsync() => await AwsBackendUnderTest.CreateAsync();
}
