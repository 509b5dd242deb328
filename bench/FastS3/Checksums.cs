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
