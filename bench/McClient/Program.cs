using ManimCloud.Aws;
using ManimCloud.Workspace;
using TransferBench.Clients;

// One transfer with ManimCloud, run by TransferBench as its own process so that its wall time, CPU and peak
// memory are measured alone. The client is built exactly as the CLI builds it (AwsClients from options);
// EngineCall.cs holds the only lines that name the transfer code.
//   McClient upload|download --endpoint URL --bucket B --key K --file PATH [--checksum when-required]
var a = ClientArgs.Parse(args);
var home = Directory.CreateTempSubdirectory("mcclient-");
try
{
    using var clients = new AwsClients(new ManimCloudOptions
    {
        Home = home.FullName,
        EndpointUrl = a.Endpoint,
        Region = "us-east-1",
        ChecksumMode = a.WhenRequired ? ChecksumMode.WhenRequired : ChecksumMode.WhenSupported,
    });
    // Telemetry exactly as the CLI starts it: nothing at all unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
    using var telemetry = ManimCloud.Operations.Telemetry.TelemetryHost.Start(ManimCloud.Operations.Telemetry.TelemetrySettings.From(null, null));
    using var command = ManimCloud.Operations.Telemetry.OperationScope.Start(a.Upload ? "bench upload" : "bench download");
    // How this program was compiled: Native AOT has no JIT (bench/run.sh builds it so when it can, as ./manimcloud does).
    var build = System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported ? "JIT/ReadyToRun" : "Native AOT";
    Console.WriteLine($"engine={EngineCall.Name}, {build}");
    if (a.Upload) await EngineCall.UploadAsync(clients.S3, a, CancellationToken.None);
    else await EngineCall.DownloadAsync(clients.S3, a, CancellationToken.None);
    return 0;
}
finally
{
    home.Delete(recursive: true);
}
