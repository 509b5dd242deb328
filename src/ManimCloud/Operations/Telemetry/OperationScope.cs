using System.Diagnostics;
using ManimCloud.Domain;

namespace ManimCloud.Operations.Telemetry;

/// <summary>
/// One ManimCloud operation (a CLI command, an upload or download, an outbox operation, a pipeline step): a span,
/// and when it ends the <c>manimcloud.operations</c> count by outcome and its duration. Null (and free) when nothing
/// listens.
/// </summary>
public sealed class OperationScope : IDisposable
{
    private readonly long _started = Stopwatch.GetTimestamp();
    private bool _completed;

    public string Operation { get; }
    public Activity? Activity { get; }

    private OperationScope(string operation, Activity? activity)
    {
        Operation = operation;
        Activity = activity;
    }

    public static bool Listening => ManimCloudTelemetry.Source.HasListeners() || ManimCloudMetrics.Operations.Enabled;

    /// <summary>Opens an operation; <paramref name="spanName"/> defaults to the operation's name.</summary>
    public static OperationScope? Start(string operation, string? resource = null, string? spanName = null, ActivityKind kind = ActivityKind.Internal)
    {
        if (!Listening) return null;
        var activity = ManimCloudTelemetry.Source.StartActivity(spanName ?? operation, kind);
        if (activity is not null && resource is not null) activity.SetTag(ManimCloudTelemetry.Attributes.Resource, resource);
        return new OperationScope(operation, activity);
    }

    /// <summary>The outcome tag of a failure: the error class of a ManimCloud error, cancelled, or fatal.</summary>
    public static string OutcomeOf(Exception e) => e switch
    {
        ManimCloudException m => ManimCloudMetrics.OutcomeOf(m.Kind),
        OperationCanceledException => "cancelled",
        _ => ManimCloudMetrics.OutcomeOf(ErrorKind.Fatal),
    };

    /// <summary>Ends the operation with an outcome: ok, or a failure's class.</summary>
    public void Complete(string outcome, string? message = null)
    {
        if (_completed) return;
        _completed = true;
        if (outcome != ManimCloudMetrics.Ok) ManimCloudTelemetry.Fail(Activity, outcome, message ?? outcome);
        ManimCloudMetrics.RecordOperation(Operation, outcome, Stopwatch.GetElapsedTime(_started));
    }

    public void Complete(Exception? failure)
    {
        if (failure is null) Complete(ManimCloudMetrics.Ok);
        else Complete(OutcomeOf(failure), failure.Message);
    }

    /// <summary>Runs <paramref name="body"/> as the operation <paramref name="operation"/>.</summary>
    public static async Task<T> RunAsync<T>(string operation, string? resource, Func<Task<T>> body)
    {
        using var scope = Start(operation, resource);
        if (scope is null) return await body();
        try
        {
            var result = await body();
            scope.Complete((Exception?)null);
            return result;
        }
        catch (Exception e)
        {
            scope.Complete(e);
            throw;
        }
    }

    public void Dispose() => Activity?.Dispose();
}
