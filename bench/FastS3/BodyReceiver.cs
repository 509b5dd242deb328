using System.Buffers;
using System.IO.Hashing;
using System.IO.Pipelines;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace FastS3;

/// <summary>
/// What arrived: decoded length, the ETag's hex digest (MD5 when it was asked for, else XxHash128), MD5 in base64 when
/// computed, the computed flexible checksum, the payload SHA-256 in hex when asked for, and any trailers.
/// </summary>
public sealed record ReceivedBody(long Length, string ETagHex, string? Md5Base64, ChecksumAlgorithm? Algorithm, string? Checksum,
    string? Sha256Hex, IReadOnlyDictionary<string, string> Trailers);

/// <summary>Which digests to compute besides the flexible checksum.</summary>
/// <param name="Md5">MD5 (for Content-MD5 or MD5 ETags); otherwise the ETag is XxHash128, ~10× cheaper.</param>
/// <param name="Sha256">SHA-256 of the payload (to check a hex x-amz-content-sha256).</param>
public readonly record struct Digests(bool Md5, bool Sha256);

/// <summary>
/// Streams a request body to a file: plain bodies as they are, `aws-chunked` bodies (signed or unsigned, with
/// trailers) decoded on the fly. Data is gathered into a large buffer, hashed there and written with one
/// positional write per megabyte, so neither small socket reads nor whole objects ever reach the disk or the heap.
/// </summary>
public static class BodyReceiver
{
    private const int BufferSize = 1 << 20;

    /// <param name="expectedLength">The body's (decoded) length when the request declares it: small bodies get a small buffer.</param>
    public static async Task<ReceivedBody> ReceiveAsync(PipeReader reader, bool awsChunked, string path, ChecksumAlgorithm? algorithm, Digests digests,
        long? expectedLength, CancellationToken ct)
    {
        // A 1 MiB buffer for a 10 KB body is a large-object-heap allocation whenever the pool runs dry (many requests
        // in flight), and those drive gen-2 collections: size it to the body, rounded up so the pool can reuse it.
        var bufferSize = expectedLength is { } n && n < BufferSize ? (int)Math.Max(4096, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(1, n))) : BufferSize;
        await using var sink = new FileSink(path, algorithm, digests, bufferSize);
        var trailers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var decoder = awsChunked ? new ChunkDecoder(trailers) : null;
        var slices = new List<ReadOnlySequence<byte>>();
        while (true)
        {
            var result = await reader.ReadAsync(ct);
            var buffer = result.Buffer;
            SequencePosition consumed;
            if (decoder is null)
            {
                slices.Add(buffer);
                consumed = buffer.End;
            }
            else
            {
                consumed = decoder.Decode(buffer, slices, result.IsCompleted);
            }
            foreach (var slice in slices)
                foreach (var segment in slice)
                    await sink.AppendAsync(segment, ct);
            slices.Clear();
            reader.AdvanceTo(consumed, buffer.End);
            if (result.IsCompleted || decoder?.Done == true) break;
        }
        if (decoder is { Done: false })
            throw new S3Error(400, "IncompleteBody", "The aws-chunked body ended before its final chunk.");
        return await sink.FinishAsync(trailers, ct);
    }

    /// <summary>
    /// Decodes `hex-size[;chunk-signature=…]\r\n data \r\n … 0[;…]\r\n trailer: value\r\n … \r\n`.
    /// Signatures are not checked: this server accepts any SigV4.
    /// </summary>
    private sealed class ChunkDecoder(Dictionary<string, string> trailers)
    {
        private enum State { Header, Data, DataEnd, Trailers }
        private State _state = State.Header;
        private long _remaining;
        public bool Done { get; private set; }

        public SequencePosition Decode(ReadOnlySequence<byte> buffer, List<ReadOnlySequence<byte>> data, bool completed)
        {
            var reader = new SequenceReader<byte>(buffer);
            while (!Done)
            {
                switch (_state)
                {
                    case State.Header:
                        if (!reader.TryReadTo(out ReadOnlySequence<byte> header, (byte)'\n')) return reader.Position;
                        var text = Encoding.ASCII.GetString(header).TrimEnd('\r');
                        var sizeText = text.Split(';', 2)[0].Trim();
                        if (!long.TryParse(sizeText, System.Globalization.NumberStyles.HexNumber, null, out _remaining) || _remaining < 0)
                            throw new S3Error(400, "InvalidRequest", $"Bad aws-chunked chunk header '{Trim(text)}'.");
                        _state = _remaining == 0 ? State.Trailers : State.Data;
                        break;
                    case State.Data:
                        var take = Math.Min(_remaining, reader.Remaining);
                        if (take == 0) return reader.Position;
                        data.Add(buffer.Slice(reader.Position, take));
                        reader.Advance(take);
                        _remaining -= take;
                        if (_remaining == 0) _state = State.DataEnd;
                        break;
                    case State.DataEnd:
                        if (reader.Remaining < 2) return reader.Position;
                        if (!reader.IsNext("\r\n"u8, advancePast: true))
                            throw new S3Error(400, "InvalidRequest", "An aws-chunked chunk is not followed by CRLF.");
                        _state = State.Header;
                        break;
                    case State.Trailers:
                        if (!reader.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\n'))
                        {
                            // Some senders end the body right after the last trailer without a blank line.
                            if (completed && reader.Remaining == 0) Done = true;
                            return reader.Position;
                        }
                        var trailer = Encoding.ASCII.GetString(line).TrimEnd('\r');
                        if (trailer.Length == 0) { Done = true; break; }
                        var colon = trailer.IndexOf(':');
                        if (colon > 0) trailers[trailer[..colon].Trim()] = trailer[(colon + 1)..].Trim();
                        break;
                }
            }
            return reader.Position;
        }

        private static string Trim(string s) => s.Length > 80 ? s[..80] + "…" : s;
    }

    private sealed class FileSink : IAsyncDisposable
    {
        private readonly SafeFileHandle _file;
        private readonly byte[] _buffer;
        // The ETag's digest: MD5 (~0.9 GB/s here) only when asked for, else XxHash128 (far above memory bandwidth).
        private readonly IncrementalHash? _md5;
        private readonly XxHash128? _xx;
        private readonly IncrementalHash? _sha256;
        private readonly ChecksumAlgorithm? _algorithm;
        private readonly Checksums.Hasher? _checksum;
        private int _filled;
        private long _written;

        public FileSink(string path, ChecksumAlgorithm? algorithm, Digests digests, int bufferSize)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
            if (digests.Md5) _md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
            else _xx = new XxHash128();
            if (digests.Sha256) _sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            // OpenOrCreate: the path may hold a deleted object's file to write over (Storage.NewDataPath); cut to length at the end.
            _file = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read, FileOptions.Asynchronous);
            _algorithm = algorithm;
            _checksum = algorithm is { } a ? Checksums.Create(a) : null;
        }

        public async ValueTask AppendAsync(ReadOnlyMemory<byte> data, CancellationToken ct)
        {
            while (!data.IsEmpty)
            {
                var n = Math.Min(data.Length, _buffer.Length - _filled);
                data.Span[..n].CopyTo(_buffer.AsSpan(_filled));
                _filled += n;
                data = data[n..];
                if (_filled == _buffer.Length) await FlushAsync(ct);
            }
        }

        private async ValueTask FlushAsync(CancellationToken ct)
        {
            if (_filled == 0) return;
            var chunk = _buffer.AsMemory(0, _filled);
            _md5?.AppendData(chunk.Span);
            _xx?.Append(chunk.Span);
            _sha256?.AppendData(chunk.Span);
            _checksum?.Append(chunk.Span);
            await RandomAccess.WriteAsync(_file, chunk, _written, ct);
            _written += _filled;
            _filled = 0;
        }

        public async Task<ReceivedBody> FinishAsync(IReadOnlyDictionary<string, string> trailers, CancellationToken ct)
        {
            await FlushAsync(ct);
            if (RandomAccess.GetLength(_file) != _written) RandomAccess.SetLength(_file, _written);
            var md5 = _md5?.GetHashAndReset();
            var etag = md5 ?? _xx!.GetCurrentHash();
            return new ReceivedBody(_written, Convert.ToHexStringLower(etag), md5 is null ? null : Convert.ToBase64String(md5), _algorithm,
                _checksum?.FinishBase64(), _sha256 is null ? null : Convert.ToHexStringLower(_sha256.GetHashAndReset()), trailers);
        }

        public ValueTask DisposeAsync()
        {
            _file.Dispose();
            _md5?.Dispose();
            _sha256?.Dispose();
            ArrayPool<byte>.Shared.Return(_buffer);
            return ValueTask.CompletedTask;
        }
    }
}
