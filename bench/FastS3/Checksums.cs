using System.Buffers.Binary;
using System.IO.Hashing;
using System.Security.Cryptography;

namespace FastS3;

/// <summary>The flexible checksums S3 accepts, under their header suffix (x-amz-checksum-crc32 …).</summary>
public enum ChecksumAlgorithm { Crc32, Crc32C, Crc64Nvme, Sha1, Sha256 }

public static class Checksums
{
    public static readonly ChecksumAlgorithm[] All = Enum.GetValues<ChecksumAlgorithm>();

    public static string HeaderName(ChecksumAlgorithm a) => "x-amz-checksum-" + Name(a);

    /// <summary>The lower-case name used in headers and in x-amz-sdk-checksum-algorithm.</summary>
    public static string Name(ChecksumAlgorithm a) => a.ToString().ToLowerInvariant();

    /// <summary>The element name in CompleteMultipartUpload and ListParts XML (ChecksumCRC32 …).</summary>
    public static string XmlName(ChecksumAlgorithm a) => "Checksum" + a switch
    {
        ChecksumAlgorithm.Crc32 => "CRC32",
        ChecksumAlgorithm.Crc32C => "CRC32C",
        ChecksumAlgorithm.Crc64Nvme => "CRC64NVME",
        ChecksumAlgorithm.Sha1 => "SHA1",
        _ => "SHA256",
    };

    public static ChecksumAlgorithm? Parse(string? name) =>
        name is null ? null : All.Where(a => string.Equals(Name(a), name.Trim(), StringComparison.OrdinalIgnoreCase)).Select(a => (ChecksumAlgorithm?)a).FirstOrDefault();

    /// <summary>The algorithm named by a trailer or checksum header name, e.g. "x-amz-checksum-crc32c".</summary>
    public static ChecksumAlgorithm? FromHeaderName(string? header) =>
        header is not null && header.Trim().StartsWith("x-amz-checksum-", StringComparison.OrdinalIgnoreCase)
            ? Parse(header.Trim()["x-amz-checksum-".Length..]) : null;

    public static Hasher Create(ChecksumAlgorithm a) => a switch
    {
        ChecksumAlgorithm.Crc32 => new CrcHasher(new Crc32()),
        ChecksumAlgorithm.Crc32C => new CrcHasher(new Crc32(Crc32ParameterSet.Crc32C)),
        ChecksumAlgorithm.Crc64Nvme => new CrcHasher(new Crc64(Crc64ParameterSet.Nvme)),
        ChecksumAlgorithm.Sha1 => new CryptoHasher(IncrementalHash.CreateHash(HashAlgorithmName.SHA1)),
        _ => new CryptoHasher(IncrementalHash.CreateHash(HashAlgorithmName.SHA256)),
    };

    /// <summary>
    /// S3's COMPOSITE multipart checksum: the algorithm over the concatenated raw part checksums, then "-N".
    /// </summary>
    public static string Composite(ChecksumAlgorithm a, IReadOnlyList<string> partChecksums)
    {
        var h = Create(a);
        foreach (var p in partChecksums) h.Append(Convert.FromBase64String(p));
        return $"{h.FinishBase64()}-{partChecksums.Count}";
    }

    /// <summary>Whether S3 offers FULL_OBJECT multipart checksums for the algorithm (the linear CRCs only).</summary>
    public static bool IsCrc(ChecksumAlgorithm a) => a is ChecksumAlgorithm.Crc32 or ChecksumAlgorithm.Crc32C or ChecksumAlgorithm.Crc64Nvme;

    /// <summary>
    /// S3's FULL_OBJECT multipart checksum: the CRC of the whole object, from the parts' CRCs and lengths alone
    /// (zlib's crc32_combine, generalised to any reflected CRC whose init and final XOR are all ones, as CRC32,
    /// CRC32C and CRC64NVME are): crc(A‖B) = crc(A)·x^(8·|B|) mod P ⊕ crc(B). No byte is read again.
    /// </summary>
    public static string CombineFullObject(ChecksumAlgorithm a, IReadOnlyList<(string Checksum, long Length)> parts)
    {
        var crc = CrcMath.For(a);
        ulong whole = 0;
        var first = true;
        foreach (var (checksum, length) in parts)
        {
            var value = crc.FromBase64(checksum);
            whole = first ? value : crc.Combine(whole, value, length);
            first = false;
        }
        return crc.ToBase64(whole);
    }

    /// <summary>Polynomial arithmetic mod P for a reflected CRC of width 32 or 64 (bit 0 holds the highest power).</summary>
    private sealed class CrcMath
    {
        private static readonly CrcMath C32 = new(32, 0xEDB88320UL), C32C = new(32, 0x82F63B78UL), C64 = new(64, 0x9A6C9329AC4BC9B5UL);
        private readonly int _width;
        private readonly ulong _poly, _top;
        private readonly ulong[] _x2n = new ulong[64]; // x^(2^n) mod P

        public static CrcMath For(ChecksumAlgorithm a) => a switch
        {
            ChecksumAlgorithm.Crc32 => C32,
            ChecksumAlgorithm.Crc32C => C32C,
            ChecksumAlgorithm.Crc64Nvme => C64,
            _ => throw new ArgumentException($"{a} is not a CRC; it has no FULL_OBJECT combination."),
        };

        private CrcMath(int width, ulong poly)
        {
            (_width, _poly, _top) = (width, poly, 1UL << (width - 1));
            var p = _top >> 1; // x^1
            _x2n[0] = p;
            for (var n = 1; n < 64; n++) _x2n[n] = p = Multiply(p, p);
        }

        /// <summary>a·b mod P.</summary>
        private ulong Multiply(ulong a, ulong b)
        {
            ulong m = _top, p = 0;
            while (true)
            {
                if ((a & m) != 0)
                {
                    p ^= b;
                    if ((a & (m - 1)) == 0) return p;
                }
                m >>= 1;
                b = (b & 1) != 0 ? (b >> 1) ^ _poly : b >> 1;
            }
        }

        /// <summary>x^(8·bytes) mod P.</summary>
        private ulong ShiftBytes(long bytes)
        {
            ulong p = _top; // x^0
            var k = 3;      // 8 = 2^3
            for (var n = (ulong)bytes; n != 0; n >>= 1, k++)
                if ((n & 1) != 0) p = Multiply(_x2n[k & 63], p);
            return p;
        }

        public ulong Combine(ulong crcA, ulong crcB, long lengthB) => lengthB == 0 ? crcA : Multiply(ShiftBytes(lengthB), crcA) ^ crcB;

        public ulong FromBase64(string value)
        {
            var bytes = Convert.FromBase64String(value);
            return _width == 32 ? BinaryPrimitives.ReadUInt32BigEndian(bytes) : BinaryPrimitives.ReadUInt64BigEndian(bytes);
        }

        public string ToBase64(ulong value)
        {
            Span<byte> be = stackalloc byte[8];
            if (_width == 32) { BinaryPrimitives.WriteUInt32BigEndian(be, (uint)value); return Convert.ToBase64String(be[..4]); }
            BinaryPrimitives.WriteUInt64BigEndian(be, value);
            return Convert.ToBase64String(be);
        }
    }

    public abstract class Hasher
    {
        public abstract void Append(ReadOnlySpan<byte> data);
        /// <summary>The value as S3 carries it: base64 of the big-endian digest.</summary>
        public abstract string FinishBase64();
    }

    private sealed class CrcHasher(NonCryptographicHashAlgorithm crc) : Hasher
    {
        public override void Append(ReadOnlySpan<byte> data) => crc.Append(data);

        public override string FinishBase64()
        {
            Span<byte> be = stackalloc byte[8];
            switch (crc)
            {
                case Crc32 c32: BinaryPrimitives.WriteUInt32BigEndian(be, c32.GetCurrentHashAsUInt32()); return Convert.ToBase64String(be[..4]);
                case Crc64 c64: BinaryPrimitives.WriteUInt64BigEndian(be, c64.GetCurrentHashAsUInt64()); return Convert.ToBase64String(be);
                default: throw new InvalidOperationException(crc.GetType().Name);
            }
        }
    }

    private sealed class CryptoHasher(IncrementalHash hash) : Hasher
    {
        public override void Append(ReadOnlySpan<byte> data) => hash.AppendData(data);
        public override string FinishBase64() => Convert.ToBase64String(hash.GetHashAndReset());
    }
}
