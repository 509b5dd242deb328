using System.Security.Cryptography;
using System.Text;
using ManimCloud.Domain;

namespace ManimCloud.Delivery;

/// <summary>
/// One CloudFront invalidation for one change of one published version: the object keys that may be stale, the paths
/// CloudFront is asked to drop (a folder wildcard where it is cheaper), and a CallerReference derived from all of it,
/// so the same change asked twice (a retry, a replay from the outbox, a second machine) is one invalidation.
/// </summary>
public sealed record InvalidationBatch(string DistributionId, VideoId Video, int Version, IReadOnlyList<string> Keys, IReadOnlyList<string> Paths, string CallerReference)
{
    /// <summary>
    /// A folder wildcard replaces its exact paths from this many on. CloudFront bills a wildcard as one path, but at
    /// most 15 wildcard paths may be in progress per distribution (3,000 exact ones), so two paths stay exact.
    /// </summary>
    public const int WildcardFrom = 3;

    /// <summary>CloudFront's limits on what may be in progress at once per distribution.</summary>
    public const int MaxPathsInProgress = 3000;
    public const int MaxWildcardsInProgress = 15;

    public int WildcardCount => Paths.Count(p => p.EndsWith('*'));

    /// <summary>
    /// The batch for <paramref name="keys"/> of <paramref name="set"/> (published keys under transcoded/). Keys are folded
    /// into <c>/{folder}*</c> only for the folders that hold nothing but rewritable files of this version (its hls/,
    /// dash/ and storyboard/): a wildcard over the version folder itself would also drop its segments, which are
    /// immutable and shared by later versions, and make every viewer of them miss the cache.
    /// </summary>
    public static InvalidationBatch For(string distributionId, VideoRecord video, RenditionSet set, IReadOnlyList<string> keys)
    {
        var sorted = keys.Distinct().Order(StringComparer.Ordinal).ToList();
        if (sorted.Count == 0)
            throw new ArgumentException("An invalidation needs at least one key.", nameof(keys));
        var versionFolder = ObjectLayout.RenditionFolder(video.Project, video.Id, set.Version);
        foreach (var key in sorted.Where(k => !k.StartsWith(versionFolder, StringComparison.Ordinal)))
            throw new ManimCloudException(ErrorKind.InvalidInput, $"{key} is not under {versionFolder}.",
                "Only a version's own manifests, poster and storyboard are rewritten in place, so only they are invalidated.");
        string[] foldable = ["hls/", "dash/", "storyboard/"];
        var paths = new List<string>();
        foreach (var group in sorted.GroupBy(k => foldable.FirstOrDefault(f => k.StartsWith(versionFolder + f, StringComparison.Ordinal))))
        {
            if (group.Key is { } folder && group.Count() >= WildcardFrom) paths.Add("/" + versionFolder + folder + "*");
            else paths.AddRange(group.Select(k => "/" + k));
        }
        paths.Sort(StringComparer.Ordinal);
        return new InvalidationBatch(distributionId, video.Id, set.Version, sorted, paths, Reference(distributionId, video.Id, set, paths));
    }

    /// <summary>
    /// Derived from the distribution, the video, the version, what was published (the manifests' hashes and the publish
    /// time) and the paths: a retry of this change has the same reference, a later re-publish of the same version (same
    /// paths, new content) a new one — otherwise CloudFront would answer it with the old, completed invalidation.
    /// </summary>
    public static string Reference(string distributionId, VideoId video, RenditionSet set, IReadOnlyList<string> paths)
    {
        var text = new StringBuilder().Append(distributionId).Append('\n').Append(video).Append('\n').Append(set.Version).Append('\n')
            .Append(set.FinishedAt.ToUnixTimeMilliseconds()).Append('\n');
        foreach (var (key, sha) in set.Manifests.OrderBy(m => m.Key, StringComparer.Ordinal)) text.Append(key).Append('=').Append(sha).Append('\n');
        foreach (var p in paths.Order(StringComparer.Ordinal)) text.Append(p).Append('\n');
        return $"manimcloud-{video.ToString()[..8]}-v{set.Version}-{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..32]}";
    }
}
