using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TransferBench;

/// <summary>
/// A loopback OTLP/HTTP collector stand-in for the "manimcloud-otel" client: reads each export (traces, metrics)
/// and answers 200, as a collector does, so the client pays the whole cost of exporting. Counts what it received.
/// </summary>
public static class OtlpSink
{
    private static readonly Lazy<string> _url = new(Start);
    private static long _requests, _bytes;

    public static string Url => _url.Value;
    public static long Requests => Interlocked.Read(ref _requests);
    public static long Bytes => Interlocked.Read(ref _bytes);

    private static string Start()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        _ = Task.Run(async () =>
        {
            while (true)
            {
                var client = await listener.AcceptTcpClientAsync();
                _ = Task.Run(() => ServeAsync(client));
            }
        });
        return $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
    }

    private static async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        var stream = client.GetStream();
        try
        {
            while (true)
            {
                var length = 0;
                var line = await ReadLineAsync(stream);
                if (line is null) return;
                while ((line = await ReadLineAsync(stream)) is { Length: > 0 })
                    if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)) length = int.Parse(line[15..].Trim());
                var body = new byte[length];
                await stream.ReadExactlyAsync(body);
                Interlocked.Increment(ref _requests);
                Interlocked.Add(ref _bytes, length);
                await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n"u8.ToArray());
            }
        }
        catch (Exception e) when (e is IOException or SocketException) { }
    }

    private static async Task<string?> ReadLineAsync(NetworkStream stream)
    {
        var sb = new StringBuilder();
        var one = new byte[1];
        while (true)
        {
            if (await stream.ReadAsync(one) == 0) return null;
            if (one[0] == '\n') return sb.ToString().TrimEnd('\r');
            sb.Append((char)one[0]);
        }
    }
}
