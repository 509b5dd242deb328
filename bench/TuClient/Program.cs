using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Transfer;
using TransferBench.Clients;

// One transfer with the AWS SDK's TransferUtility, run by TransferBench as its own process so that its wall
// time, CPU and peak memory are measured alone.
//   TuClient upload|download --endpoint URL --bucket B --key K --file PATH [--tuned] [--checksum when-required]
// Default: TransferUtility exactly as constructed, as most callers use it. Tuned: 8 concurrent requests and
// 16 MiB parts both ways, the settings a careful caller would pick for a large file on a fast link.
var a = ClientArgs.Parse(args);
var config = new AmazonS3Config
{
    ServiceURL = a.Endpoint,
    ForcePathStyle = true,
    AuthenticationRegion = "us-east-1",
};
if (a.WhenRequired)
{
    config.RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED;
    config.ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED;
}
using var s3 = new AmazonS3Client(config);
using var transfer = a.Tuned
    ? new TransferUtility(s3, new TransferUtilityConfig { ConcurrentServiceRequests = Tuned.Concurrency })
    : new TransferUtility(s3);

if (a.Upload)
{
    var request = new TransferUtilityUploadRequest { BucketName = a.Bucket, Key = a.Key, FilePath = a.File };
    if (a.Sse) request.ServerSideEncryptionMethod = ServerSideEncryptionMethod.AES256;
    if (a.Tuned) request.PartSize = Tuned.PartSize;
    await transfer.UploadAsync(request);
}
else
{
    var request = new TransferUtilityDownloadRequest { BucketName = a.Bucket, Key = a.Key, FilePath = a.File };
    if (a.Tuned) request.PartSize = Tuned.PartSize;
    await transfer.DownloadWithResponseAsync(request);
}
return 0;

static class Tuned
{
    public const int Concurrency = 8;
    public const long PartSize = 16L << 20;
}
