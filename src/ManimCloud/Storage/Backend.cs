using ManimCloud.Metadata;

namespace ManimCloud.Storage;

/// <summary>One complete place ManimCloud can keep things: a video store, a code store and a metadata store.
/// The local workspace is one; an AWS deployment (two buckets and a table) is another.</summary>
public sealed record Backend(string Name, IObjectStore Videos, IObjectStore Code, IMetadataStore Metadata);
