using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ManimCloud.Tests.Operations;

/// <summary>
/// A loopback OTLP/HTTP receiver (POST /v1/traces, /v1/metrics, protobuf bodies) that decodes what arrives with
/// the protocol's field numbers (opentelemetry-proto: trace.proto, metrics.proto, common.proto): spans with their
/// attributes and status, and metric names. Answers 200 with an empty export response, as a collector does.
/// </summary>
public sealed class OtlpReceiver : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();

    public ConcurrentQueue<ReceivedSpan> Spans { get; } = new();
    public ConcurrentQueue<string> MetricNames { get; } = new();
    public ConcurrentQueue<string> Paths { get; } = new();
    public string Endpoint { get; }

    public sealed record ReceivedSpan(string Name, int Kind, Dictionary<string, string> Attributes, int StatusCode, string ServiceName);

    public OtlpReceiver()
    {
        _listener.Start();
        Endpoint = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
        _ = AcceptLoopAsync();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) { return; }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        var stream = client.GetStream();
        try
        {
            while (true)
            {
                var head = await ReadHeadAsync(stream);
                if (head is null) return;
                var lines = head.Split("\r\n");
                var path = lines[0].Split(' ')[1];
                var length = lines.Select(l => l.Split(':', 2)).Where(p => p.Length == 2 && p[0].Trim().Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                    .Select(p => int.Parse(p[1].Trim())).FirstOrDefault();
                var body = new byte[length];
                await stream.ReadExactlyAsync(body);
                Paths.Enqueue(path);
                if (path.EndsWith("/v1/traces", StringComparison.Ordinal)) DecodeTraces(body);
                else if (path.EndsWith("/v1/metrics", StringComparison.Ordinal)) DecodeMetrics(body);
                await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n"u8.ToArray());
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException) { }
    }

    private static async Task<string?> ReadHeadAsync(NetworkStream stream)
    {
        var buffer = new List<byte>();
        var one = new byte[1];
        while (true)
        {
            if (await stream.ReadAsync(one) == 0) return null;
            buffer.Add(one[0]);
            var n = buffer.Count;
            if (n >= 4 && buffer[n - 4] == '\r' && buffer[n - 3] == '\n' && buffer[n - 2] == '\r' && buffer[n - 1] == '\n')
                return Encoding.ASCII.GetString(buffer.ToArray());
        }
    }

    // ExportTraceServiceRequest: 1 resource_spans { 1 resource { 1 attributes }, 2 scope_spans { 2 spans } }
    // Span: 5 name, 6 kind, 9 attributes (KeyValue), 15 status { 3 code }
    private void DecodeTraces(byte[] body)
    {
        foreach (var resourceSpans in Proto.Messages(body, 1))
        {
            var service = ResourceService(resourceSpans);
            foreach (var scopeSpans in Proto.Messages(resourceSpans, 2))
                foreach (var span in Proto.Messages(scopeSpans, 2))
                {
                    var fields = Proto.Fields(span).ToList();
                    var name = Encoding.UTF8.GetString(fields.First(f => f.Number == 5).Bytes!);
                    var kind = (int)(fields.FirstOrDefault(f => f.Number == 6)?.Varint ?? 0);
                    var status = fields.FirstOrDefault(f => f.Number == 15) is { Bytes: { } s }
                        ? (int)(Proto.Fields(s).FirstOrDefault(f => f.Number == 3)?.Varint ?? 0) : 0;
                    Spans.Enqueue(new ReceivedSpan(name, kind, KeyValues(fields.Where(f => f.Number == 9).Select(f => f.Bytes!)), status, service));
                }
        }
    }

    // ExportMetricsServiceRequest: 1 resource_metrics { 2 scope_metrics { 2 metrics { 1 name } } }
    private void DecodeMetrics(byte[] body)
    {
        foreach (var resourceMetrics in Proto.Messages(body, 1))
            foreach (var scopeMetrics in Proto.Messages(resourceMetrics, 2))
                foreach (var metric in Proto.Messages(scopeMetrics, 2))
                    MetricNames.Enqueue(Encoding.UTF8.GetString(Proto.Fields(metric).First(f => f.Number == 1).Bytes!));
    }

    private static string ResourceService(byte[] resourceSpans)
    {
        var resource = Proto.Messages(resourceSpans, 1).FirstOrDefault();
        if (resource is null) return "";
        return KeyValues(Proto.Messages(resource, 1)).GetValueOrDefault("service.name", "");
    }

    // KeyValue: 1 key, 2 value AnyValue { 1 string, 2 bool, 3 int, 4 double }
    private static Dictionary<string, string> KeyValues(IEnumerable<byte[]> keyValues)
    {
        var result = new Dictionary<string, string>();
        foreach (var kv in keyValues)
        {
            var fields = Proto.Fields(kv).ToList();
            var key = Encoding.UTF8.GetString(fields.First(f => f.Number == 1).Bytes!);
            var any = fields.FirstOrDefault(f => f.Number == 2)?.Bytes;
            var value = any is null ? "" : Proto.Fields(any).FirstOrDefault() switch
            {
                { Number: 1, Bytes: { } b } => Encoding.UTF8.GetString(b),
                { Number: 2, Varint: var v } => v != 0 ? "true" : "false",
                { Number: 3, Varint: var v } => ((long)v).ToString(),
                { Number: 4, Fixed64: var d } => BitConverter.Int64BitsToDouble((long)d).ToString(System.Globalization.CultureInfo.InvariantCulture),
                _ => "",
            };
            result[key] = value;
        }
        return result;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }

    /// <summary>The protobuf wire format, just enough to walk messages: varints, fixed 64/32, length-delimited.</summary>
    public static class Proto
    {
        public sealed record Field(int Number, int WireType, ulong Varint, ulong Fixed64, byte[]? Bytes);

        public static IEnumerable<Field> Fields(byte[] data)
        {
            var i = 0;
            while (i < data.Length)
            {
                var tag = ReadVarint(data, ref i);
                var number = (int)(tag >> 3);
                var wire = (int)(tag & 7);
                switch (wire)
                {
                    case 0: yield return new Field(number, wire, ReadVarint(data, ref i), 0, null); break;
                    case 1: yield return new Field(number, wire, 0, BitConverter.ToUInt64(data, i), null); i += 8; break;
                    case 2:
                        var length = (int)ReadVarint(data, ref i);
                        yield return new Field(number, wire, 0, 0, data[i..(i + length)]);
                        i += length;
                        break;
                    case 5: yield return new Field(number, wire, BitConverter.ToUInt32(data, i), 0, null); i += 4; break;
                    default: throw new InvalidDataException($"wire type {wire} at {i}");
                }
            }
        }

        public static IEnumerable<byte[]> Messages(byte[] data, int number) =>
            Fields(data).Where(f => f.Number == number && f.Bytes is not null).Select(f => f.Bytes!);

        private static ulong ReadVarint(byte[] data, ref int i)
        {
            ulong result = 0;
            for (var shift = 0; ; shift += 7)
            {
                var b = data[i++];
                result |= (ulong)(b & 0x7f) << shift;
                if ((b & 0x80) == 0) return result;
            }
        }
    }
}
