using System.Buffers.Binary;
using System.IO.Hashing;
using System.Security.Cryptography;
using Amazon.S3;
using Amazon.S3.Model;
using ManimCloud.Workspace;
using ChecksumMode = ManimCloud.Workspace.ChecksumMode;

namespace ManimCloud.Transfer;

/// <summary>
/// The per-part checksum the server checks on receipt: CRC32C as an S3 flexible checksum (hardware-accelerated,
/// ~10 GB/s), or Content-MD5 for stores that refuse flexible checksums from AWSSDK 4.x (Ceph RGW).
/// Values are base64, as S3 carries them in headers.
/// </summary>
internal static class PartChecksum
{
    public static string Compute(ChecksumMode mode, ReadOnlySpan<byte> data)
    {
        if (mode == ChecksumMode.WhenRequired) return Convert.ToBase64String(MD5.HashData(data));
        Span<byte> crc = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, data));
        return Convert.ToBase64String(crc);
    }

    /// <summary>The algorithm named at CreateMultipartUpload; every part and the completion then carry it.</summary>
    public static ChecksumAlgorithm? Algorithm(ChecksumMode mode) => mode == ChecksumMode.WhenRequired ? null : ChecksumAlgorithm.CRC32C;

    public static void Attach(UploadPartRequest request, ChecksumMode mode, string checksum)
    {
        if (mode == ChecksumMode.WhenRequired) request.MD5Digest = checksum;
        else
        {
            // A value given up front makes the SDK send it as a header instead of hashing the body again.
            request.ChecksumAlgorithm = ChecksumAlgorithm.CRC32C;
            request.ChecksumCRC32C = checksum;
        }
    }

    public static PartETag ToPartETag(int number, string etag, ChecksumMode mode, string checksum) =>
        mode == ChecksumMode.WhenRequired
            ? new PartETag { PartNumber = number, ETag = etag }
            : new PartETag { PartNumber = number, ETag = etag, ChecksumCRC32C = checksum };
}
