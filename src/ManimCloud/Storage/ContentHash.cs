using System.Security.Cryptography;

namespace ManimCloud.Storage;

/// <summary>SHA-256 helpers: the whole-object checksum every store records and every read verifies.</summary>
public static class ContentHash
{
    public static string Sha256Hex(ReadOnlySpan<byte> data) => Convert.ToHexStringLower(SHA256.HashData(data));

    public static async Task<string> Sha256HexAsync(Stream stream, CancellationToken ct) =>
        Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct));

    public static async Task<(string Sha256, long Size)> OfFileAsync(string path, CancellationToken ct)
    {
        await using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan | FileOptions.Asynchronous);
        return (await Sha256HexAsync(fs, ct), fs.Length);
    }

    public static string HexToBase64(string hex) => Convert.ToBase64String(Convert.FromHexString(hex));
}

/// <summary>A read-through stream that hashes what passes and fails at the end when it does not match.</summary>
public sealed class VerifyingStream(Stream inner, string expectedSha256, string what) : Stream
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private bool _checked;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = inner.Read(buffer);
        Account(buffer[..n]);
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        var n = await inner.ReadAsync(buffer, ct);
        Account(buffer.Span[..n]);
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
        ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

    private void Account(ReadOnlySpan<byte> data)
    {
        if (data.Length > 0) { _hash.AppendData(data); return; }
        if (_checked) return;
        _checked = true;
        var actual = Convert.ToHexStringLower(_hash.GetHashAndReset());
        if (!string.Equals(actual, expectedSha256, StringComparison.OrdinalIgnoreCase))
            throw new Domain.ManimCloudException(Domain.ErrorKind.Fatal,
                $"Integrity check failed for {what}: SHA-256 is {actual}, expected {expectedSha256}.",
                "The stored copy is damaged or was replaced outside ManimCloud; restore it from a previous version (bucket versioning) and retry.");
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => inner.Length;
    public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    protected override void Dispose(bool disposing)
    {
        if (disposing) { inner.Dispose(); _hash.Dispose(); }
        base.Dispose(disposing);
    }
}
