using System.Globalization;
using System.Security.Cryptography;

namespace TransferBench;

/// <summary>The file every client moves: seeded random bytes (incompressible, reproducible), written in 8 MiB blocks.</summary>
public static class TestFile
{
    public static async Task<string> CreateAsync(string path, long size, int seed)
    {
        var random = new Random(seed);
        var block = new byte[8 << 20];
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await using var f = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20, FileOptions.Asynchronous);
        for (long left = size; left > 0;)
        {
            var n = (int)Math.Min(block.Length, left);
            random.NextBytes(block.AsSpan(0, n));
            sha.AppendData(block, 0, n);
            await f.WriteAsync(block.AsMemory(0, n));
            left -= n;
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}

/// <summary>Sizes as people write them: 256MiB, 1GiB, 64M, 1048576.</summary>
public static class Size
{
    public static long Parse(string text)
    {
        var t = text.Trim();
        var units = new (string Suffix, long Factor)[] { ("GiB", 1L << 30), ("MiB", 1L << 20), ("KiB", 1L << 10), ("G", 1L << 30), ("M", 1L << 20), ("K", 1L << 10), ("B", 1) };
        foreach (var (suffix, factor) in units)
            if (t.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
                return (long)(double.Parse(t[..^suffix.Length], CultureInfo.InvariantCulture) * factor);
        return long.Parse(t, CultureInfo.InvariantCulture);
    }

    public static string Format(long bytes) =>
        bytes >= 1L << 30 && bytes % (1L << 30) == 0 ? $"{bytes >> 30} GiB"
        : bytes >= 1L << 20 && bytes % (1L << 20) == 0 ? $"{bytes >> 20} MiB"
        : $"{bytes} bytes";
}
