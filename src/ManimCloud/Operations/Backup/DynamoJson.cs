using System.Text;
using System.Text.Json.Nodes;
using Amazon.DynamoDBv2.Model;

namespace ManimCloud.Operations.Backup;

/// <summary>
/// Items in DynamoDB's typed JSON ({"S": "…"}, {"N": "…"}, {"M": {…}} …), the form a table export writes, in one
/// canonical text (keys and set members sorted), so an item read from a table and the same item read from an export
/// compare equal exactly when every attribute is the same.
/// </summary>
public static class DynamoJson
{
    public static string Canonical(Dictionary<string, AttributeValue> item) => Write(Typed(item));

    /// <summary>An exported item (the object under "Item" of an export line), canonicalised.</summary>
    public static string Canonical(JsonObject typedItem) => Write(typedItem);

    public static JsonObject Typed(Dictionary<string, AttributeValue> item)
    {
        var o = new JsonObject();
        foreach (var (k, v) in item) o[k] = Typed(v);
        return o;
    }

    public static JsonObject Typed(AttributeValue v)
    {
        if (v.S is not null) return new() { ["S"] = v.S };
        if (v.N is not null) return new() { ["N"] = v.N };
        if (v.B is not null) return new() { ["B"] = Convert.ToBase64String(v.B.ToArray()) };
        if (v.SS is { Count: > 0 }) return new() { ["SS"] = Strings(v.SS) };
        if (v.NS is { Count: > 0 }) return new() { ["NS"] = Strings(v.NS) };
        if (v.BS is { Count: > 0 }) return new() { ["BS"] = Strings(v.BS.Select(b => Convert.ToBase64String(b.ToArray()))) };
        if (v.IsBOOLSet) return new() { ["BOOL"] = v.BOOL ?? false };
        if (v.NULL == true) return new() { ["NULL"] = true };
        if (v.M is not null && (v.IsMSet || v.M.Count > 0)) return new() { ["M"] = Typed(v.M) };
        if (v.L is not null && (v.IsLSet || v.L.Count > 0)) return new() { ["L"] = new JsonArray(v.L.Select(x => (JsonNode)Typed(x)).ToArray()) };
        if (v.M is not null) return new() { ["M"] = new JsonObject() };
        return new() { ["L"] = new JsonArray() };
    }

    private static JsonArray Strings(IEnumerable<string> values) => new(values.Select(s => (JsonNode)s).ToArray());

    /// <summary>Compact JSON with object keys in ordinal order and the members of string, number and binary sets sorted.</summary>
    private static string Write(JsonNode? node)
    {
        var sb = new StringBuilder();
        Append(sb, node, null);
        return sb.ToString();
    }

    private static void Append(StringBuilder sb, JsonNode? node, string? type)
    {
        switch (node)
        {
            case JsonObject o:
                sb.Append('{');
                var first = true;
                foreach (var (k, v) in o.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    if (!first) sb.Append(',');
                    first = false;
                    sb.Append(JsonValue.Create(k)!.ToJsonString()).Append(':');
                    Append(sb, v, k);
                }
                sb.Append('}');
                break;
            case JsonArray a:
                var items = a.Select(x => x?.ToJsonString() ?? "null");
                if (type is "SS" or "NS" or "BS") items = items.Order(StringComparer.Ordinal);
                else items = a.Select(x => { var inner = new StringBuilder(); Append(inner, x, null); return inner.ToString(); });
                sb.Append('[').AppendJoin(',', items).Append(']');
                break;
            case null:
                sb.Append("null");
                break;
            default:
                sb.Append(node.ToJsonString());
                break;
        }
    }
}
