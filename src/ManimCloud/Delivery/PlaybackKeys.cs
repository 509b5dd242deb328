using ManimCloud.Domain;

namespace ManimCloud.Delivery;

/// <summary>
/// Which key signs playback grants and which public keys are trusted to have signed them.
/// Signing: the CDN key (MANIMCLOUD_CDN_PRIVATE_KEY, known to CloudFront as MANIMCLOUD_CDN_KEY_PAIR_ID) when one is
/// configured, else the workspace's own key pair (made on first use, 0600), so one link format works in local mode too.
/// Trusted (the local service's key group, mirroring CloudFront's): the signing key, plus every public key provisioning
/// registered, kept as {home}/keys/trusted/{id}.pem — so links signed before a rotation keep working until that key
/// is removed from the group.
/// </summary>
public sealed class PlaybackKeys(string home, DeliveryOptions options)
{
    private readonly Lazy<PlaybackKey> _signing = new(() => LoadSigningKey(home, options), LazyThreadSafetyMode.ExecutionAndPublication);

    public string TrustedFolder => Path.Combine(home, "keys", "trusted");

    public PlaybackKey SigningKey => _signing.Value;

    private static PlaybackKey LoadSigningKey(string home, DeliveryOptions options)
    {
        if (options.PrivateKeyPath is { } path)
        {
            if (options.UsesCdn && options.KeyPairId is null)
                throw new ManimCloudException(ErrorKind.InvalidInput, "MANIMCLOUD_CDN_KEY_PAIR_ID is not set, so CloudFront would not know which key signed the link.",
                    "Run `manimcloud delivery provision`: it registers the public key and records its id.");
            return PlaybackKey.Load(path, options.KeyPairId);
        }
        if (options.UsesCdn)
            throw new ManimCloudException(ErrorKind.InvalidInput, "Playback goes through CloudFront, but no signing key is configured.",
                "Set MANIMCLOUD_CDN_PRIVATE_KEY to the PEM file of the private key (chmod 600) and run `manimcloud delivery provision`.");
        return PlaybackKey.LoadOrCreateWorkspaceKey(home);
    }

    /// <summary>The key group: the signing key and the registered public keys.</summary>
    public PlaybackKeyGroup TrustedKeys()
    {
        var group = new PlaybackKeyGroup().Add(SigningKey);
        if (Directory.Exists(TrustedFolder))
            foreach (var file in Directory.EnumerateFiles(TrustedFolder, "*.pem"))
            {
                var id = Path.GetFileNameWithoutExtension(file);
                if (id != SigningKey.Id) group.Add(id, PlaybackKey.PublicKeyFromPem(File.ReadAllText(file)));
            }
        return group;
    }

    /// <summary>Records a public key as trusted (after registering it in CloudFront's key group).</summary>
    public void Trust(string id, string publicKeyPem)
    {
        Directory.CreateDirectory(TrustedFolder);
        var path = Path.Combine(TrustedFolder, id + ".pem");
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, publicKeyPem);
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Removes a public key from the local key group (after removing it from CloudFront's).</summary>
    public void Distrust(string id)
    {
        var path = Path.Combine(TrustedFolder, id + ".pem");
        if (File.Exists(path)) File.Delete(path);
    }
}
