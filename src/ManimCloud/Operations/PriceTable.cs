using System.Globalization;
using System.Text.Json.Nodes;
using ManimCloud.Domain;

namespace ManimCloud.Operations;

/// <summary>
/// What each billable unit costs (SPEC R9): the table that ships with the tool (prices.json, embedded: approximate AWS
/// list prices for us-east-1), with any keys of the file MANIMCLOUD_PRICE_TABLE names laid over it. Keys name the unit
/// ("s3.storage.gb_month.STANDARD", "mediaconvert.basic.hd.per_output_minute"); an unknown key in an override is refused
/// so a typo does not silently keep the shipped price.
/// </summary>
public sealed class PriceTable
{
    private readonly Dictionary<string, decimal> _prices;

    public string Currency { get; }

    /// <summary>Where the prices came from: "built-in", or "built-in + {path}".</summary>
    public string Source { get; }

    private PriceTable(Dictionary<string, decimal> prices, string currency, string source)
    {
        _prices = prices;
        Currency = currency;
        Source = source;
    }

    public static PriceTable BuiltIn { get; } = Load(null);

    /// <summary>The built-in table, overridden by the JSON file at <paramref name="overridePath"/> when given.</summary>
    public static PriceTable Load(string? overridePath)
    {
        using var stream = typeof(PriceTable).Assembly.GetManifestResourceStream("ManimCloud.prices.json")
            ?? throw new InvalidOperationException("The built-in price table is missing from the assembly.");
        var builtIn = (JsonObject)JsonNode.Parse(stream)!;
        var prices = Read(builtIn, "the built-in price table", null);
        var currency = (string?)builtIn["currency"] ?? "USD";
        if (overridePath is null) return new PriceTable(prices, currency, "built-in");

        JsonObject file;
        try
        {
            file = JsonNode.Parse(File.ReadAllText(overridePath)) as JsonObject ?? throw new System.Text.Json.JsonException("the top level is not an object");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException)
        {
            throw new ManimCloudException(ErrorKind.InvalidInput, $"The price table {overridePath} (MANIMCLOUD_PRICE_TABLE) cannot be read: {e.Message}",
                "Point MANIMCLOUD_PRICE_TABLE at a JSON object of price keys (see docs/cost.md), or unset it for the built-in prices.", e);
        }
        foreach (var (key, value) in Read(file, overridePath, prices.Keys.ToHashSet())) prices[key] = value;
        return new PriceTable(prices, (string?)file["currency"] ?? currency, $"built-in + {overridePath}");
    }

    private static Dictionary<string, decimal> Read(JsonObject json, string source, HashSet<string>? known)
    {
        var prices = new Dictionary<string, decimal>(StringComparer.Ordinal);
        foreach (var (key, value) in json)
        {
            if (key.StartsWith('_') || key == "currency") continue;
            if (known is not null && !known.Contains(key))
                throw new ManimCloudException(ErrorKind.InvalidInput, $"The price table {source} names '{key}', which is not a price ManimCloud uses.",
                    "Use the keys of the built-in table (`manimcloud cost report --json` prints them under prices).");
            if (value is not JsonValue v || !decimal.TryParse(v.ToJsonString().Trim('"'), NumberStyles.Float, CultureInfo.InvariantCulture, out var price) || price < 0)
                throw new ManimCloudException(ErrorKind.InvalidInput, $"The price '{key}' in {source} is not a non-negative number.",
                    "Give prices as numbers in the table's currency, e.g. 0.023.");
            prices[key] = price;
        }
        return prices;
    }

    public decimal this[string key] => _prices.TryGetValue(key, out var p) ? p
        : throw new InvalidOperationException($"The price table has no '{key}'.");

    public bool TryGet(string key, out decimal price) => _prices.TryGetValue(key, out price);

    /// <summary>Storage per GB-month for an S3 storage class (STANDARD for an unknown one).</summary>
    public decimal StoragePerGbMonth(string storageClass) =>
        _prices.TryGetValue("s3.storage.gb_month." + storageClass, out var p) ? p : this["s3.storage.gb_month.STANDARD"];

    public IReadOnlyDictionary<string, decimal> All => _prices;

    public JsonObject ToJson()
    {
        var o = new JsonObject { ["currency"] = Currency, ["source"] = Source };
        foreach (var (k, v) in _prices.OrderBy(p => p.Key, StringComparer.Ordinal)) o[k] = v;
        return o;
    }
}
