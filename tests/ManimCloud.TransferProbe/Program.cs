// A separate process for the crash/resume test: it uploads one file through the transfer engine with the
// workspace journal, and the test kills it with SIGKILL part-way through.
using ManimCloud.Aws;
using ManimCloud.Local;
using ManimCloud.Resilience;
using ManimCloud.Transfer;
using ManimCloud.Workspace;

if (args.Length != 7)
{
    Console.Error.WriteLine("usage: ManimCloud.TransferProbe ENDPOINT CATALOG BUCKET KEY FILE PART_SIZE CONCURRENCY");
    return 2;
}
var (endpoint, catalogPath, bucket, key, file) = (args[0], args[1], args[2], args[3], args[4]);
var options = new ManimCloudOptions { Home = Path.GetDirectoryName(catalogPath)!, EndpointUrl = endpoint, Region = "us-east-1" };
using var clients = new AwsClients(options);
var retry = new RetryPipeline(AwsErrors.Classify);
var engine = new TransferEngine(clients.S3, retry, new UploadJournal(new Catalog(catalogPath)));
var result = await engine.UploadFileAsync(bucket, key, file,
    new UploadOptions { PartSize = long.Parse(args[5]), Concurrency = int.Parse(args[6]) },
    new SynchronousProgress(p => Console.WriteLine($"{p.PartsDone}/{p.PartsTotal} parts")), CancellationToken.None);
Console.WriteLine($"done {result.VersionId} {result.Sha256}");
return 0;

sealed class SynchronousProgress(Action<TransferProgress> report) : IProgress<TransferProgress>
{
    public void Report(TransferProgress value) => report(value);
}
