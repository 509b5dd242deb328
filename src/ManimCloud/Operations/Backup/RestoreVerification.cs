using System.Text;
using System.Text.Json.Nodes;
using Amazon.DynamoDBv2.Model;

namespace ManimCloud.Operations.Backup;

/// <summary>One sampled record that differs between the reference and the restored table.</summary>
public sealed record RecordDifference(string Key, string Problem);

/// <summary>
/// What `backup restore` checked: the restored table's item count against the reference's (the export taken with the
/// backup, or the live source table), and a random sample of the reference's records read back from the restored
/// table and compared attribute by attribute.
/// </summary>
public sealed record RestoreVerification(string Reference, long ReferenceCount, long RestoredCount, int Sampled, IReadOnlyList<RecordDifference> Differences,
    IReadOnlyList<string> SampledKeys)
{
    public bool CountsMatch => ReferenceCount == RestoredCount;
    public bool Passed => CountsMatch && Differences.Count == 0;

    public JsonObject ToJson() => new()
    {
        ["reference"] = Reference,
        ["reference_count"] = ReferenceCount,
        ["restored_count"] = RestoredCount,
        ["counts_match"] = CountsMatch,
        ["sampled"] = Sampled,
        ["sample_matched"] = Sampled - Differences.Count,
        ["sampled_keys"] = new JsonArray(SampledKeys.Select(k => (JsonNode)k).ToArray()),
        ["differences"] = new JsonArray(Differences.Select(d => (JsonNode)new JsonObject { ["key"] = d.Key, ["problem"] = d.Problem }).ToArray()),
        ["passed"] = Passed,
    };

    public string ToText()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"verified against {Reference}: {ReferenceCount} record(s) there, {RestoredCount} restored — {(CountsMatch ? "counts match" : "COUNTS DIFFER")}");
        sb.AppendLine($"sample: {Sampled - Differences.Count} of {Sampled} record(s) equal, attribute by attribute");
        foreach (var k in SampledKeys.Take(10)) sb.AppendLine($"  {(Differences.Any(d => d.Key == k) ? "DIFFERS" : "equal  ")} {k}");
        if (SampledKeys.Count > 10) sb.AppendLine($"  … and {SampledKeys.Count - 10} more (see --json)");
        foreach (var d in Differences) sb.AppendLine($"  {d.Key}: {d.Problem}");
        sb.Append(Passed ? "verification passed" : "VERIFICATION FAILED");
        return sb.ToString();
    }

    /// <summary>
    /// Compares the restored table with <paramref name="reference"/> (typed items): counts every reference item, keeps a
    /// uniform random sample of <paramref name="sampleSize"/> (reservoir sampling, so the reference is read once and never
    /// held whole), and reads each sampled record from the restored table by its key.
    /// </summary>
    public static async Task<RestoreVerification> RunAsync(string referenceName, IAsyncEnumerable<JsonObject> reference, IReadOnlyList<string> keyAttributes,
        Func<Dictionary<string, AttributeValue>, CancellationToken, Task<Dictionary<string, AttributeValue>?>> readRestored,
        Func<CancellationToken, Task<long>> countRestored, int sampleSize, CancellationToken ct, Random? random = null)
    {
        random ??= Random.Shared;
        var sample = new List<JsonObject>(sampleSize);
        long count = 0;
        await foreach (var item in reference.WithCancellation(ct))
        {
            count++;
            if (sample.Count < sampleSize) sample.Add(item);
            else if (sampleSize > 0 && random.NextInt64(count) is var j && j < sampleSize) sample[(int)j] = item;
        }
        var differences = new List<RecordDifference>();
        var keys = new List<string>();
        foreach (var item in sample)
        {
            var key = KeyOf(item, keyAttributes);
            var label = string.Join(" ", keyAttributes.Select(a => $"{a}={Scalar(item[a])}"));
            keys.Add(label);
            var restored = await readRestored(key, ct);
            if (restored is null) differences.Add(new RecordDifference(label, "missing from the restored table"));
            else if (DynamoJson.Canonical(restored) != DynamoJson.Canonical(item))
            {
                var typed = DynamoJson.Typed(restored);
                var attributes = item.Select(kv => kv.Key).Union(typed.Select(kv => kv.Key))
                    .Where(a => (item[a] is null ? null : DynamoJson.Canonical(new JsonObject { [a] = item[a]!.DeepClone() }))
                        != (typed[a] is null ? null : DynamoJson.Canonical(new JsonObject { [a] = typed[a]!.DeepClone() })))
                    .Order(StringComparer.Ordinal);
                differences.Add(new RecordDifference(label, "attributes differ: " + string.Join(", ", attributes)));
            }
        }
        return new RestoreVerification(referenceName, count, await countRestored(ct), sample.Count, differences, keys);
    }

    private static Dictionary<string, AttributeValue> KeyOf(JsonObject item, IReadOnlyList<string> keyAttributes) =>
        keyAttributes.ToDictionary(a => a, a => item[a] is JsonObject typed ? FromTyped(typed)
            : throw new InvalidDataException($"A reference record has no key attribute {a}."));

    /// <summary>Key attributes are scalars: S, N or B.</summary>
    private static AttributeValue FromTyped(JsonObject typed) =>
        typed["S"] is { } s ? new AttributeValue { S = (string)s! }
        : typed["N"] is { } n ? new AttributeValue { N = (string)n! }
        : typed["B"] is { } b ? new AttributeValue { B = new MemoryStream(Convert.FromBase64String((string)b!)) }
        : throw new InvalidDataException("A key attribute is not a string, number or binary.");

    private static string Scalar(JsonNode? typed) => typed is JsonObject o && o.FirstOrDefault() is var (_, v) && v is not null ? (string?)v ?? "" : "?";
}
