using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Storage;
using ManimCloud.Workspace;

namespace ManimCloud.Operations;

/// <summary>
/// Ships the workspace's audit trail to S3 (the code bucket, under <c>audit/{workspace}/</c>; versioned, and the
/// bucket has Object Lock, so shipped entries outlive a lost or rewritten workspace). Each shipment is one JSON Lines
/// object of the entries since the last one; its name carries the first and last sequence numbers, and the last
/// entry's hash is the head the local chain must still reach (<see cref="VerifyAgainstShippedAsync"/>).
/// </summary>
public sealed class AuditShipping(AuditLog log, IObjectStore codeBucket)
{
    public const string Prefix = "audit/";

    /// <summary>Ships what is not shipped yet; null when there was nothing to ship.</summary>
    public async Task<JsonObject?> ShipAsync(CancellationToken ct)
    {
        var (entries, _) = log.Unshipped();
        if (entries.Count == 0) return null;
        var body = Encoding.UTF8.GetBytes(string.Concat(entries.Select(e => e.ToJson().ToJsonString() + "\n")));
        var key = $"{Prefix}{log.WorkspaceId}/{entries[0].Seq:D12}-{entries[^1].Seq:D12}.jsonl";
        var write = new ObjectWrite(key, ObjectKind.Code, "application/x-ndjson", new Dictionary<string, string>(),
            Convert.ToHexStringLower(SHA256.HashData(body)), body.Length);
        await codeBucket.PutAsync(write, new MemoryStream(body), ct);
        log.MarkShipped(entries[^1].Seq, key, entries[^1].Hash ?? "");
        return new JsonObject { ["key"] = key, ["store"] = codeBucket.Name, ["entries"] = entries.Count, ["through"] = entries[^1].Seq };
    }

    /// <summary>
    /// Compares the local log with the newest shipped object: the entry it ends with must still be here with the same
    /// hash. Finds a removed tail that the local checks alone cannot (someone who also reset SQLite's counter).
    /// </summary>
    public async Task<string?> VerifyAgainstShippedAsync(CancellationToken ct)
    {
        StoredObject? newest = null;
        await foreach (var o in codeBucket.ListAsync($"{Prefix}{log.WorkspaceId}/", ct))
            if (newest is null || string.CompareOrdinal(o.Key, newest.Key) > 0) newest = o;
        if (newest is null) return null;
        await using var stream = await codeBucket.OpenReadAsync(newest.Key, null, ct);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        string? line, last = null;
        while ((line = await reader.ReadLineAsync(ct)) is not null) if (line.Length > 0) last = line;
        if (last is null || JsonNode.Parse(last) is not JsonObject shipped) return $"The shipped copy {newest.Key} is empty or unreadable.";
        var seq = (long)shipped["seq"]!;
        var local = log.List(afterSeq: seq - 1, limit: 1).FirstOrDefault(e => e.Seq == seq);
        if (local is null) return $"Entry {seq}, shipped to {codeBucket.Name}/{newest.Key}, is missing from the workspace: the end of the log was removed.";
        if (local.Hash != (string?)shipped["hash"]) return $"Entry {seq} differs from the copy shipped to {codeBucket.Name}/{newest.Key}: the log was rewritten.";
        return null;
    }
}
