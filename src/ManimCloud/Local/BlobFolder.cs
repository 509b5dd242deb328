using System.Security.Cryptography;
using ManimCloud.Domain;
using ManimCloud.Storage;

namespace ManimCloud.Local;

/// <summary>
/// Content-addressed blobs: blobs/ab/abcdef… named by SHA-256. Written to a temporary file, fsynced,
/// verified, then renamed into place, so a crash leaves either the whole blob or nothing under its name.
/// </summary>
public sealed class BlobFolder
{
    public string Root { get; }
    private string TempDir => System.IO.Path.Combine(Root, "tmp");

    public BlobFolder(string root)
    {
        Root = root;
        Directory.CreateDirectory(TempDir);
        RemoveStaleTemporaryFiles(TimeSpan.FromHours(1));
    }

    /// <summary>A crash mid-write leaves a temporary file behind; one older than <paramref name="age"/> belongs to no live writer.</summary>
    private void RemoveStaleTemporaryFiles(TimeSpan age)
    {
        foreach (var file in new DirectoryInfo(TempDir).EnumerateFiles())
        {
            if (DateTime.UtcNow - file.LastWriteTimeUtc < age) continue;
            try { file.Delete(); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    public string PathOf(string sha256) => System.IO.Path.Combine(Root, sha256[..2], sha256);

    public bool Contains(string sha256) => File.Exists(PathOf(sha256));

    /// <summary>Stores the stream's bytes; when <paramref name="expectedSha256"/> is given, refuses different content.</summary>
    public async Task<(string Sha256, long Size)> AddAsync(Stream content, string? expectedSha256, CancellationToken ct)
    {
        var tmp = System.IO.Path.Combine(TempDir, Guid.NewGuid().ToString("N"));
        try
        {
            string sha;
            long size;
            await using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20, FileOptions.Asynchronous))
            {
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var buffer = new byte[1 << 20];
                int n;
                while ((n = await content.ReadAsync(buffer, ct)) > 0)
                {
                    hash.AppendData(buffer, 0, n);
                    await fs.WriteAsync(buffer.AsMemory(0, n), ct);
                }
                await fs.FlushAsync(ct);
                fs.Flush(flushToDisk: true);
                size = fs.Length;
                sha = Convert.ToHexStringLower(hash.GetHashAndReset());
            }
            if (expectedSha256 is not null && !string.Equals(sha, expectedSha256, StringComparison.OrdinalIgnoreCase))
                throw new ManimCloudException(ErrorKind.Fatal,
                    $"The content changed while it was stored: SHA-256 {sha}, expected {expectedSha256}.",
                    "Make sure no other program is writing the file, then retry.");
            var final = PathOf(sha);
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(final)!);
            if (File.Exists(final)) File.Delete(tmp);
            else File.Move(tmp, final);
            return (sha, size);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    public async Task<(string Sha256, long Size)> AddFileAsync(string path, CancellationToken ct)
    {
        await using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan | FileOptions.Asynchronous);
        return await AddAsync(fs, null, ct);
    }

    /// <summary>The blob's file as a seekable stream (for uploads that may need to re-send it).</summary>
    public FileStream OpenFile(string sha256)
    {
        var path = PathOf(sha256);
        if (!File.Exists(path))
            throw new ManimCloudException(ErrorKind.NotFound, $"Blob {sha256} is missing from the local workspace ({Root}).",
                "Run `manimcloud sync` to fetch it again from the cloud, or restore the workspace from backup.");
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous);
    }

    public Stream OpenRead(string sha256, string? what = null)
    {
        var path = PathOf(sha256);
        if (!File.Exists(path))
            throw new ManimCloudException(ErrorKind.NotFound, $"Blob {sha256} is missing from the local workspace ({Root}).",
                "Run `manimcloud sync` to fetch it again from the cloud, or restore the workspace from backup.");
        return new VerifyingStream(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan | FileOptions.Asynchronous),
            sha256, what ?? $"local blob {sha256}");
    }
}
