using ManimCloud.Transfer;

namespace ManimCloud.Storage;

/// <summary>
/// Large-object capability (the S3 transfer engine): uploads that report progress and resume after a crash, and
/// parallel ranged downloads straight to a file, verified against the object's SHA-256 before they replace it.
/// </summary>
public interface ITransferringObjectStore
{
    Task<StoredObject> PutAsync(ObjectWrite write, Stream content, IProgress<TransferProgress>? progress, CancellationToken ct);

    Task DownloadToFileAsync(string key, string destination, IProgress<TransferProgress>? progress, CancellationToken ct);
}
