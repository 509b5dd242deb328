using System.Collections.Concurrent;
using Amazon.Runtime;
using Amazon.Runtime.Internal;

namespace SyncBench;

/// <summary>
/// Counts every AWS SDK request made in this process by service and operation (request type), through the SDK's
/// public pipeline-customizer hook. The library turns SDK retries off, so one count is one HTTP request.
/// </summary>
public static class RequestCounter
{
    private static readonly ConcurrentDictionary<string, int> Counts = new();

    public static void Install() => RuntimePipelineCustomizerRegistry.Instance.Register(new Customizer());
    public static void Reset() => Counts.Clear();
    public static Dictionary<string, int> Snapshot() => new(Counts);

    private sealed class Customizer : IRuntimePipelineCustomizer
    {
        public string UniqueName => "syncbench-request-counter";
        public void Customize(Type type, RuntimePipeline pipeline) => pipeline.AddHandlerAfter<Marshaller>(new Handler(type));
    }

    private sealed class Handler(Type client) : PipelineHandler
    {
        private readonly string _service = client.Name.Replace("Amazon", "").Replace("Client", "");

        private void Count(IExecutionContext ctx)
        {
            var name = ctx.RequestContext.OriginalRequest.GetType().Name;
            if (name.EndsWith("Request")) name = name[..^"Request".Length];
            Counts.AddOrUpdate($"{_service} {name}", 1, (_, n) => n + 1);
        }

        public override void InvokeSync(IExecutionContext executionContext)
        {
            Count(executionContext);
            base.InvokeSync(executionContext);
        }

        public override Task<T> InvokeAsync<T>(IExecutionContext executionContext)
        {
            Count(executionContext);
            return base.InvokeAsync<T>(executionContext);
        }
    }
}
