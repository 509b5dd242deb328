using System.Security.Cryptography;
using ManimCloud.Domain;

namespace ManimCloud.Delivery;

/// <summary>
/// The private half of a playback signing key pair and the id it is known by (CloudFront's public key id, the
/// <c>Key-Pair-Id</c> of a signed URL). Read from a PEM file that only its owner may read: the key is never logged,
/// never written to config.json, and a file that group or others can read or write is refused.
/// </summary>
public sealed class PlaybackKey : IDisposable
{
    private PlaybackKey(string id, RSA rsa, string path)
    {
        Id = id;
        Rsa = rsa;
        Path = path;
    }

    /// <summary>The Key-Pair-Id signed URLs carry.</summary>
    public string Id { get; }

    /// <summary>Where the private key was read from (the path only; never the key).</summary>
    public string Path { get; }

    internal RSA Rsa { get; }

    /// <summary>The public half in PEM (SubjectPublicKeyInfo), as CloudFront's CreatePublicKey takes it.</summary>
    public string PublicKeyPem() => Rsa.ExportSubjectPublicKeyInfoPem();

    public RSA PublicKey() => PublicKeyFromPem(PublicKeyPem());

    public byte[] Sign(ReadOnlySpan<byte> data) => Rsa.SignData(data, HashAlgorithmName.SHA1, RSASignaturePadding.Pkcs1);

    /// <summary>A stable id for a public key that CloudFront did not name (the workspace key): "MC" + 12 of its SHA-256 in base32.</summary>
    public static string DerivedId(RSA publicKey)
    {
        var hash = SHA256.HashData(publicKey.ExportSubjectPublicKeyInfo());
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var id = new char[12];
        for (var i = 0; i < id.Length; i++) id[i] = alphabet[hash[i] & 31];
        return "MC" + new string(id);
    }

    /// <summary>Reads the private key at <paramref name="path"/> (PKCS#1 or PKCS#8 PEM), refusing a file others may read.</summary>
    public static PlaybackKey Load(string path, string? id)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full))
            throw new ManimCloudException(ErrorKind.InvalidInput, $"The playback signing key file {full} (MANIMCLOUD_CDN_PRIVATE_KEY) does not exist.",
                "Point MANIMCLOUD_CDN_PRIVATE_KEY at the PEM file of the private key (e.g. made with `openssl genrsa -out key.pem 2048; chmod 600 key.pem`).");
        EnsurePrivate(full);
        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(File.ReadAllText(full));
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            rsa.Dispose();
            // The exception text may quote the file; say only what is wrong with it.
            throw new ManimCloudException(ErrorKind.InvalidInput, $"The playback signing key file {full} does not hold an RSA private key in PEM.",
                "CloudFront signs with RSA (2048-bit): make one with `openssl genrsa -out key.pem 2048`.");
        }
        if (rsa.KeySize < 2048)
        {
            rsa.Dispose();
            throw new ManimCloudException(ErrorKind.InvalidInput, $"The playback signing key in {full} is {rsa.KeySize}-bit.",
                "CloudFront takes 2048-bit RSA public keys: make one with `openssl genrsa -out key.pem 2048`.");
        }
        return new PlaybackKey(id ?? DerivedId(rsa), rsa, full);
    }

    /// <summary>
    /// The workspace's own key pair (local mode, where no CDN key is configured): made on first use, mode 0600, so the
    /// local service verifies the same signed-URL format CloudFront does.
    /// </summary>
    public static PlaybackKey LoadOrCreateWorkspaceKey(string home)
    {
        var folder = System.IO.Path.Combine(home, "keys");
        var path = System.IO.Path.Combine(folder, "playback-signing.pem");
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(folder);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            using var rsa = RSA.Create(2048);
            var tmp = path + $".{Environment.ProcessId}.tmp";
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using (var file = new FileStream(tmp, options))
            using (var writer = new StreamWriter(file))
                writer.Write(rsa.ExportPkcs8PrivateKeyPem());
            // Two first uses at once: one key wins and both use it.
            try { File.Move(tmp, path, overwrite: false); }
            catch (IOException) when (File.Exists(path)) { File.Delete(tmp); }
        }
        return Load(path, null);
    }

    /// <summary>Refuses a key file that group or others may read or write (as ssh does for its keys).</summary>
    public static void EnsurePrivate(string path)
    {
        if (OperatingSystem.IsWindows()) return;
        var mode = File.GetUnixFileMode(path);
        const UnixFileMode open = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;
        if ((mode & open) != 0)
            throw new ManimCloudException(ErrorKind.Auth,
                $"The playback signing key file {path} can be read or written by others (mode {Convert.ToString((int)mode & 0x1FF, 8)}); it was not used.",
                $"Make it private to its owner: `chmod 600 {path}`.");
    }

    public static RSA PublicKeyFromPem(string pem)
    {
        var rsa = RSA.Create();
        rsa.ImportFromPem(pem);
        return rsa;
    }

    public void Dispose() => Rsa.Dispose();
}
