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
    public static async Task<CodeVersion> ClaimAsync(IMetadataStore store, CodeVersion draft, Func<int, string> keyFor, int? preferred, CancellationToken ct)
    {
        if (preferred is { } exact)
        {
            var claim = draft with { Version = exact, Key = keyFor(exact) };
            if (await store.TryAddCodeVersionAsync(claim, ct)) return claim;
            // The authoritative store numbered it; this copy follows it, replacing a stale local entry.
            await store.UpdateCodeVersionAsync(claim, ct);
            return claim;
        }
        var existing = await store.ListCodeVersionsAsync(draft.Video, ct);
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
