using System.Security.Cryptography;
using Amazon.S3;
using Amazon.S3.Model;
using ChecksumMode = ManimCloud.Workspace.ChecksumMode;

namespace ManimCloud.Transfer;

/// <summary>The checks of one part: its CRC32 (always, for the journal) and what the server verifies on receipt.</summary>
/// <param name="Crc32">Base64 CRC32 of the part: journaled, re-verified on resume, combined into the FULL_OBJECT CRC32.</param>
/// <param name="Crc32Header">The CRC32 again when it goes as x-amz-checksum-crc32 (WhenSupported), else null.</param>
/// <param name="ContentMd5">Base64 MD5 (WhenRequired, when the payload hash is not signed).</param>
/// <param name="Sha256Hex">The signed payload hash (plain http through the lean data plane).</param>
internal readonly record struct PartChecks(string Crc32, string? Crc32Header, string? ContentMd5, string? Sha256Hex);

/// <summary>
/// The per-part checksums. WhenSupported: CRC32 as an S3 flexible checksum (vectorized, ~10 GB/s), and the upload is a
/// FULL_OBJECT CRC32 one. WhenRequired (Ceph RGW and other stores that refuse AWSSDK 4.x flexible checksums): no
/// flexible checksum; the server checks the signed SHA-256 of the payload (plain http) or Content-MD5. Values are
/// base64 as S3 carries them in headers; SHA-256 is hex, as SigV4 signs it.
/// </summary>
internal static class PartChecksum
{
    /// <summary>
    /// The checks of the part at <paramref name="offset"/>, computed in one pass through <paramref name="buffer"/>: every
    /// byte is read once for all of them, and the part is never whole in memory (it is read again as it is sent).
    /// </summary>
    public static async Task<PartChecks> ComputeAsync(ChecksumMode mode, bool signedPayloadHash, PartSource source, long offset, int length,
        Memory<byte> buffer, CancellationToken ct)
    {
        var crc32 = new System.IO.Hashing.Crc32();
        using var sha = signedPayloadHash ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;
        using var md5 = mode == ChecksumMode.WhenRequired && !signedPayloadHash ? IncrementalHash.CreateHash(HashAlgorithmName.MD5) : null;
        for (var at = 0; at < length; )
        {
            var n = Math.Min(buffer.Length, length - at);
            var piece = buffer[..n];
            await source.ReadAsync(offset + at, piece, ct);
            crc32.Append(piece.Span);
            sha?.AppendData(piece.Span);
            md5?.AppendData(piece.Span);
            at += n;
        }
        var crc = Crc32Math.ToBase64(crc32.GetCurrentHashAsUInt32());
        return new PartChecks(crc, mode == ChecksumMode.WhenRequired ? null : crc,
            md5 is null ? null : Convert.ToBase64String(md5.GetHashAndReset()), sha is null ? null : Convert.ToHexStringLower(sha.GetHashAndReset()));
    }

    /// <summary>The algorithm named at CreateMultipartUpload (with ChecksumType FULL_OBJECT); every part and the completion then carry it.</summary>
    public static ChecksumAlgorithm? Algorithm(ChecksumMode mode) => mode == ChecksumMode.WhenRequired ? null : ChecksumAlgorithm.CRC32;

    public static PartETag ToPartETag(int number, string etag, ChecksumMode mode, string checksum) =>
        mode == ChecksumMode.WhenRequired
            ? new PartETag { PartNumber = number, ETag = etag }
            : new PartETag { PartNumber = number, ETag = etag, ChecksumCRC32 = checksum };
}
