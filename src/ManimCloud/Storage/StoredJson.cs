using System.Text.Json.Serialization;
using ManimCloud.Transfer;

namespace ManimCloud.Storage;

/// <summary>
/// The serializer for the few typed JSON documents ManimCloud writes (object metadata and journaled upload options in
/// the catalog, DynamoDB page tokens), generated at compile time so it works in the Native AOT CLI, where
/// reflection-based serialization is off. Default options on purpose: the bytes are those the reflection serializer
/// wrote before (PascalCase names, nulls written, non-ASCII and HTML-sensitive characters escaped), so rows that
/// existing workspaces hold read back unchanged.
/// </summary>
[JsonSerializable(typeof(IReadOnlyDictionary<string, string>))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(UploadJournal.StoredOptions))]
internal sealed partial class StoredJson : JsonSerializerContext;
