using ManimCloud.Domain;
using ManimCloud.Metadata;

namespace ManimCloud.Code;

/// <summary>
/// Atomic version allocation (SPEC R2): a writer claims number n with a conditional write that fails when n is
/// taken, and moves on to the next number. Racing writers on any backend therefore get distinct numbers.
/// </summary>
public static class CodeVersioning
{
    /// <summary>Claims the lowest free number above the latest one (or exactly <paramref name="preferred"/> when mirroring).</summary>
    /// <param name="known">The video's versions as just read, when the caller has them (saves a query).</param>
    public static async Task<CodeVersion> ClaimAsync(IMetadataStore store, CodeVersion draft, Func<int, string> keyFor, int? preferred, CancellationToken ct,
        IReadOnlyList<CodeVersion>? known = null)
    {
        if (preferred is { } exact)
        {
            var claim = draft with { Version = exact, Key = keyFor(exact) };
            if (await store.TryAddCodeVersionAsync(claim, ct)) return claim;
            // The authoritative store numbered it; this copy follows it, replacing a stale local entry.
            await store.UpdateCodeVersionAsync(claim, ct);
            return claim;
        }
        var existing = known ?? await store.ListCodeVersionsAsync(draft.Video, ct);
        var n = existing.Count == 0 ? 1 : existing.Max(v => v.Version) + 1;
        for (var attempt = 0; attempt < 10_000; attempt++, n++)
        {
            var claim = draft with { Version = n, Key = keyFor(n) };
            if (await store.TryAddCodeVersionAsync(claim, ct)) return claim;
            if (attempt % 8 == 7)
            {
                var latest = await store.ListCodeVersionsAsync(draft.Video, ct);
                n = Math.Max(n, latest.Max(v => v.Version));
            }
        }
        throw new ManimCloudException(ErrorKind.Conflict, $"Could not claim a version number for video {draft.Video}.",
            "Too many writers are racing on this video; retry.");
    }

    /// <summary>
    /// Claims consecutive numbers above the latest for several new versions of one video in one all-or-nothing write
    /// (one round trip instead of one per version); on a lost race, re-reads and tries the numbers above.
    /// </summary>
    public static async Task<IReadOnlyList<CodeVersion>> ClaimManyAsync(IMetadataStore store, IReadOnlyList<CodeVersion> drafts,
        Func<int, string> keyFor, IReadOnlyList<CodeVersion> known, CancellationToken ct)
    {
        if (drafts.Count == 1) return [await ClaimAsync(store, drafts[0], keyFor, null, ct, known)];
        var existing = known;
        for (var attempt = 0; attempt < 1_000; attempt++)
        {
            var first = existing.Count == 0 ? 1 : existing.Max(v => v.Version) + 1;
            var claims = drafts.Select((d, i) => d with { Version = first + i, Key = keyFor(first + i) }).ToList();
            if (await store.TryAddCodeVersionsAsync(claims, ct)) return claims;
            await Task.Delay(Random.Shared.Next(1, 5 + Math.Min(attempt, 20) * 5), ct);
            existing = await store.ListCodeVersionsAsync(drafts[0].Video, ct);
        }
        throw new ManimCloudException(ErrorKind.Conflict, $"Could not claim version numbers for video {drafts[0].Video}.",
            "Too many writers are racing on this video; retry.");
    }

    public static async Task<CodeVersion?> FindByOperationAsync(IMetadataStore store, VideoId video, string operationId, CancellationToken ct) =>
        (await store.ListCodeVersionsAsync(video, ct)).FirstOrDefault(v => v.OperationId == operationId);

    /// <summary>Strict UTF-8 check (SPEC R2: code is stored UTF-8); names the byte offset of the first bad sequence.</summary>
    public static void EnsureUtf8(ReadOnlySpan<byte> content, string what)
    {
        var strict = new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        try
        {
            strict.GetCharCount(content);
        }
        catch (System.Text.DecoderFallbackException e)
        {
            throw new ManimCloudException(ErrorKind.InvalidInput,
                $"{what} is not valid UTF-8 (bad bytes at offset {e.Index}).",
                "Manim code is stored as UTF-8: re-save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`).", e);
        }
    }
}
