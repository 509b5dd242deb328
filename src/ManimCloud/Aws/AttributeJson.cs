using System.Text.Json;
using System.Text.Json.Nodes;
using Amazon.DynamoDBv2.Model;

namespace ManimCloud.Aws;

/// <summary>
/// Converts the records' JSON shape to native DynamoDB attributes and back, so items are readable field by field
/// by other tools (`aws dynamodb get-item`), not an opaque blob.
/// </summary>
public static class AttributeJson
{
    public static Dictionary<string, AttributeValue> ToItem(JsonObject o) =>
        o.ToDictionary(kv => kv.Key, kv => ToAttribute(kv.Value));

    public static AttributeValue ToAttribute(JsonNode? node) => node switch
    {
        null => new AttributeValue { NULL = true },
        JsonObject o => new AttributeValue { M = ToItem(o) },
        JsonArray a => new AttributeValue { L = a.Select(ToAttribute).ToList() },
        JsonValue v when v.GetValueKind() == JsonValueKind.String => new AttributeValue { S = v.GetValue<string>() },
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => new AttributeValue { N = v.ToJsonString() },
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => new AttributeValue { BOOL = v.GetValue<bool>() },
        _ => throw new ArgumentException($"Cannot store JSON value {node.ToJsonString()} in DynamoDB."),
    };

    public static JsonObject FromItem(Dictionary<string, AttributeValue> item)
    {
        var o = new JsonObject();
        foreach (var (k, v) in item) o[k] = FromAttribute(v);
        return o;
    }

    public static JsonNode? FromAttribute(AttributeValue v)
    {
        if (v.S is not null) return JsonValue.Create(v.S);
        // Parsed as a JSON number, so readers can take it as int, long or double alike.
        if (v.N is not null) return JsonNode.Parse(v.N);
        if (v.M is not null && (v.IsMSet || v.M.Count > 0)) return FromItem(v.M);
        if (v.L is not null && (v.IsLSet || v.L.Count > 0)) return new JsonArray(v.L.Select(FromAttribute).ToArray());
        if (v.SS is not null && v.SS.Count > 0) return new JsonArray(v.SS.Select(s => (JsonNode)JsonValue.Create(s)!).ToArray());
        if (v.IsBOOLSet) return JsonValue.Create(v.BOOL ?? false);
        if (v.NULL == true) return null;
        if (v.M is not null) return new JsonObject();
        if (v.L is not null) return new JsonArray();
        return null;
    }
}
