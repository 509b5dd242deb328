using System.CommandLine;
using ManimCloud.Cli;
using ManimCloud.Cli.Commands;

var root = new RootCommand("""
    manimcloud — durable, versioned storage for Manim code and rendered videos.
    Local-first: everything lands in the workspace (MANIMCLOUD_HOME); with MANIMCLOUD_VIDEO_BUCKET,
    MANIMCLOUD_CODE_BUCKET and MANIMCLOUD_TABLE set, writes also reach S3 and DynamoDB before they succeed.
    """);
root.Options.Add(CliContext.JsonOption);
root.Options.Add(CliContext.RequireCloudOption);
foreach (var command in new[]
{
    WorkspaceCommands.Init(), WorkspaceCommands.Doctor(), WorkspaceCommands.Config(), ProvisionCommand.Create(),
    VideoCommands.Create(), CodeCommands.Create(), WorkspaceCommands.Sync(), WorkspaceCommands.Status(), WorkspaceCommands.Conflicts(), UploadsCommands.Create(), DemoCommand.Create(),
    AuditCommands.Create(), CostCommands.Create(), IamCommands.Create(),
    PipelineCommands.Render(), PipelineCommands.Pipeline(), PipelineCommands.Worker(), PipelineCommands.Jobs(),
    ServeCommands.Serve(), ServeCommands.Token(), DeliveryCommands.Delivery(),
    MonitoringCommands.Create(),
    BudgetCommands.Create(), BackupCommands.Create(),
})
    root.Subcommands.Add(command);

// On Ctrl-C the command's token is cancelled; give it time to stop cleanly (finish in-flight parts, keep the
// journal and the queued operation) before the process is ended.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(30) });
