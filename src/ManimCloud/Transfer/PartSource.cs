using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace ManimCloud.Transfer;

/// <summary>Where an upload's bytes come from: read at any offset, from many parts at once.</summary>
internal abstract class PartSource : IDisposable
{
    public abstract long Length { get; }

    /// <summary>The file behind the source, when there is one: only file uploads can be resumed by another process.</summary>
    public virtual FileIdentity? Identity => null;

    /// <summary>Fills <paramref name="into"/> with the bytes at <paramref name="offset"/>.</summary>
    public abstract ValueTask ReadAsync(long offset, Memory<byte> into, CancellationToken ct);

    /// <summary>
    /// One sequential pass: the whole-object CRC32 (base64, as S3 writes it) and, when asked, the SHA-256 (hex), each
    /// byte read once for both.
    /// </summary>
    public async Task<(string Crc32, string? Sha256)> DigestAsync(bool sha256, CancellationToken ct)
    {
        using var hash = sha256 ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;
        var crc = new System.IO.Hashing.Crc32();
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            for (long offset = 0; offset < Length; )
            {
                var n = (int)Math.Min(buffer.Length, Length - offset);
                await ReadAsync(offset, buffer.AsMemory(0, n), ct);
                crc.Append(buffer.AsSpan(0, n));
                hash?.AppendData(buffer, 0, n);
                offset += n;
            }
            return (Crc32Math.ToBase64(crc.GetCurrentHashAsUInt32()), hash is null ? null : Convert.ToHexStringLower(hash.GetHashAndReset()));
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The bytes of one part, read from this source again each time they are sent.</summary>
    public PartBody Part(long offset, int length) => new SourceRange(this, offset, length);

    private sealed class SourceRange(PartSource source, long offset, int length) : PartBody
    {
        public override long Length => length;
        public override Stream OpenRead() => new RangeStream(source, offset, length);
    }

    /// <summary>A read-only, seekable window on the source: what HttpClient's StreamContent and the SDK read a part from.</summary>
    private sealed class RangeStream(PartSource source, long start, int length) : Stream
    {
        private long _position;

        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => length;

        public override long Position
        {
            get => _position;
            set => _position = Math.Clamp(value, 0, length);
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            var n = (int)Math.Min(buffer.Length, length - _position);
            if (n <= 0) return 0;
            await source.ReadAsync(start + _position, buffer[..n], ct);
            _position += n;
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
            ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => length + offset,
        };

        public override void Flush() { }
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    public virtual void Dispose() { }
}

/// <summary>What identifies a file's content cheaply: where it is, how long, when last written.</summary>
public sealed record FileIdentity(string Path, long Size, long ModifiedTicks)
{
    public static FileIdentity Of(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"{path} does not exist.", path);
        return new FileIdentity(info.FullName, info.Length, info.LastWriteTimeUtc.Ticks);
    }
}

/// <summary>A file read with positional reads (pread), so parallel parts never share a file position.</summary>
internal sealed class FileSource : PartSource
{
    private readonly SafeFileHandle _handle;
    private readonly bool _ownsHandle;
    private readonly FileIdentity _identity;

    public FileSource(string path)
    {
        _identity = FileIdentity.Of(path);
        _handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, FileOptions.Asynchronous);
        _ownsHandle = true;
    }

    /// <summary>Reads through a caller's open FileStream without moving its position.</summary>
    public FileSource(FileStream stream)
    {
        _identity = FileIdentity.Of(stream.Name);
        _handle = stream.SafeFileHandle;
        _ownsHandle = false;
    }

    public override long Length => _identity.Size;
    public override FileIdentity Identity => _identity;

    public override async ValueTask ReadAsync(long offset, Memory<byte> into, CancellationToken ct)
    {
        while (into.Length > 0)
        {
            var n = await RandomAccess.ReadAsync(_handle, into, offset, ct);
            if (n == 0)
                throw new Domain.ManimCloudException(Domain.ErrorKind.Conflict,
                    $"{_identity.Path} ended at {offset} bytes while {_identity.Size} were expected: it changed during the upload.",
                    "Wait until nothing writes the file any more, then upload it again.");
            offset += n;
            into = into[n..];
        }
    }

    public override void Dispose()
    {
        if (_ownsHandle) _handle.Dispose();
    }
}

/// <summary>Any seekable stream; reads are serialised because a stream has one position.</summary>
internal sealed class StreamSource(Stream stream) : PartSource
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly long _start = stream.Position;

    public override long Length => stream.Length - _start;

    public override async ValueTask ReadAsync(long offset, Memory<byte> into, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            stream.Position = _start + offset;
            await stream.ReadExactlyAsync(into, ct);
        }
        finally
        {
            _gate.Release();
        }
    }

    public override void Dispose() => _gate.Dispose();
}
