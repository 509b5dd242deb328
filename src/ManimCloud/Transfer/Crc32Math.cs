using System.Buffers.Binary;
using System.IO.Hashing;

namespace ManimCloud.Transfer;

/// <summary>
/// CRC-32 (the ISO-HDLC polynomial S3 calls CRC32) of a whole object from the CRCs of its parts, so a multipart
/// upload or a ranged download knows the full-object checksum without a second pass over the bytes.
/// <see cref="Combine"/> is zlib's crc32_combine: appending <c>len2</c> bytes to a message multiplies its CRC by
/// x^(8·len2) mod P, done as GF(2) matrix squaring in O(log len2).
/// </summary>
public static class Crc32Math
{
    private const uint Polynomial = 0xEDB88320; // reflected

    /// <summary>CRC32 of <paramref name="data"/> (vectorized in System.IO.Hashing).</summary>
    public static uint Of(ReadOnlySpan<byte> data) => Crc32.HashToUInt32(data);

    /// <summary>The CRC32 of A‖B from crc(A), crc(B) and B's length.</summary>
    public static uint Combine(uint crc1, uint crc2, long len2)
    {
        if (len2 <= 0) return crc1;
        Span<uint> even = stackalloc uint[32]; // operator for an even power of two zeros
        Span<uint> odd = stackalloc uint[32];  // operator for an odd power of two zeros

        // The operator for one zero bit.
        odd[0] = Polynomial;
        uint row = 1;
        for (var n = 1; n < 32; n++)
        {
            odd[n] = row;
            row <<= 1;
        }
        Square(even, odd); // two zero bits
        Square(odd, even); // four zero bits

        // Apply len2 zero bytes to crc1 (the first squaring gives one zero byte).
        do
        {
            Square(even, odd);
            if ((len2 & 1) != 0) crc1 = Times(even, crc1);
            len2 >>= 1;
            if (len2 == 0) break;
            Square(odd, even);
            if ((len2 & 1) != 0) crc1 = Times(odd, crc1);
            len2 >>= 1;
        } while (len2 != 0);
        return crc1 ^ crc2;
    }

    /// <summary>Combines the CRCs of consecutive pieces, in order.</summary>
    public static uint Combine(IEnumerable<(uint Crc, long Length)> pieces)
    {
        uint crc = 0;
        foreach (var (c, length) in pieces) crc = Combine(crc, c, length);
        return crc;
    }

    /// <summary>S3's header form: the 4 bytes big-endian, base64.</summary>
    public static string ToBase64(uint crc)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, crc);
        return Convert.ToBase64String(bytes);
    }

    /// <summary>Parses S3's header form; false for anything else (a composite "…-N" value, another algorithm's length).</summary>
    public static bool TryParse(string? base64, out uint crc)
    {
        crc = 0;
        if (string.IsNullOrEmpty(base64) || base64.Length != 8) return false;
        Span<byte> bytes = stackalloc byte[4];
        if (!Convert.TryFromBase64String(base64, bytes, out var written) || written != 4) return false;
        crc = BinaryPrimitives.ReadUInt32BigEndian(bytes);
        return true;
    }

    private static uint Times(ReadOnlySpan<uint> matrix, uint vector)
    {
        uint sum = 0;
        for (var i = 0; vector != 0; i++, vector >>= 1)
            if ((vector & 1) != 0) sum ^= matrix[i];
        return sum;
    }

    private static void Square(Span<uint> square, ReadOnlySpan<uint> matrix)
    {
        for (var n = 0; n < 32; n++) square[n] = Times(matrix, matrix[n]);
    }
}
