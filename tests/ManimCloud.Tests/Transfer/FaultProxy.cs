using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ManimCloud.Tests.Transfer;

/// <summary>
/// How the proxy fails a request. Reset cuts a request with a body half-way through it (the server never sees it),
/// and a request without one half-way through the answer; LostResponse always lets the server do the work and cuts
/// the answer. BadDigest and AccessDenied are answers no retry can change. CorruptBody forwards the request and
/// flips the last byte of the answer's body (a response damaged on the way that no layer below noticed).
/// NoSuchUpload answers S3's 404 for an upload that was aborted or completed meanwhile.
/// </summary>
public enum Fault { None, InternalError, SlowDown, Reset, LostResponse, BadDigest, AccessDenied, CorruptBody, NoSuchUpload }

/// <summary>One request as the proxy saw it.</summary>
public sealed record ProxiedRequest(string Method, string Target, IReadOnlyDictionary<string, string> Headers, long BodyLength)
{
    public string? Query(string name)
    {
        var q = Target.IndexOf('?');
        if (q < 0) return null;
        foreach (var pair in Target[(q + 1)..].Split('&'))
        {
            var eq = pair.IndexOf('=');
            var k = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]);
            if (k == name) return eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..]);
        }
        return null;
    }

    public bool IsUploadPart => Method == "PUT" && Query("partNumber") is not null && Query("uploadId") is not null;
    public int PartNumber => int.Parse(Query("partNumber")!);
    public string? UploadId => Query("uploadId");
}

/// <summary>
/// An HTTP/1.1 proxy on a free loopback port in front of moto that fails a share of requests the way S3 and
/// networks fail: 500 InternalError, 503 SlowDown (with S3's XML error body), and connections reset in the middle
/// of a request body or of a response body. It records every request it forwarded, so tests can tell which parts
/// actually reached the server.
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly HttpClient _upstream;
    private readonly string _upstreamBase;
    private readonly CancellationTokenSource _stop = new();
    private readonly Random _random;
    private readonly Task _accepting;

    private readonly System.Security.Cryptography.X509Certificates.X509Certificate2? _tls;

    /// <param name="tls">When given, clients talk HTTPS to the proxy with this certificate (moto stays plain HTTP behind it).</param>
    public FaultProxy(string upstream, double faultRate = 0, int seed = 1, System.Security.Cryptography.X509Certificates.X509Certificate2? tls = null)
    {
        _tls = tls;
        _upstreamBase = upstream.TrimEnd('/');
        FaultRate = faultRate;
        _random = new Random(seed);
        _upstream = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false, AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None,
            MaxConnectionsPerServer = 64,
        }) { Timeout = TimeSpan.FromMinutes(5) };
        _listener.Start(256);
        Endpoint = $"{(tls is null ? "http" : "https")}://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
        _accepting = AcceptAsync();
    }

    public string Endpoint { get; }

    /// <summary>Share of requests that fail, split evenly between 500, 503 SlowDown and a reset.</summary>
    public double FaultRate { get; set; }

    /// <summary>Decides a request's fate before the random faults do (return null to leave it to them).</summary>
    public Func<ProxiedRequest, Fault?>? Rule { get; set; }

    /// <summary>Holds a forwarded request's answer back this long: a slower network.</summary>
    public Func<ProxiedRequest, TimeSpan>? Latency { get; set; }

    /// <summary>Requests that reached moto (a reset mid-response counts: moto did the work).</summary>
    public ConcurrentQueue<ProxiedRequest> Forwarded { get; } = new();

    private int _inFlight;

    /// <summary>
    /// Waits until no request is between the client and moto. A client that gave up (cancelled, killed) leaves its
    /// request in the proxy, which still delivers it: tests that look at S3 afterwards wait for that first.
    /// </summary>
    public async Task WaitIdleAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (Volatile.Read(ref _inFlight) > 0)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("the fault proxy still has requests in flight after 30 s");
            await Task.Delay(20);
        }
    }

    private readonly ConcurrentDictionary<Fault, int> _injected = new();
    public int Injected(Fault fault) => _injected.GetValueOrDefault(fault);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptSocketAsync(_stop.Token); }
            catch (Exception) { return; }
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private Fault Decide(ProxiedRequest request)
    {
        if (Rule?.Invoke(request) is { } ruled) return ruled;
        lock (_random)
        {
            if (_random.NextDouble() >= FaultRate) return Fault.None;
            return (Fault)(1 + _random.Next(3));
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        using var _ = socket;
        await using var network = new NetworkStream(socket, ownsSocket: false);
        Stream stream = network;
        if (_tls is not null)
        {
            var ssl = new System.Net.Security.SslStream(network, leaveInnerStreamOpen: true);
            try { await ssl.AuthenticateAsServerAsync(_tls); }
            catch (Exception) { await ssl.DisposeAsync(); return; }
            stream = ssl;
        }
        await using var __ = stream;
        var reader = new HttpReader(stream);
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var head = await reader.ReadHeadAsync(_stop.Token);
                if (head is null) return;
                Interlocked.Increment(ref _inFlight);
                try
                {
                    if (!await ServeOneAsync(socket, stream, reader, head.Value)) return;
                }
                finally
                {
                    Interlocked.Decrement(ref _inFlight);
                }
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested) { }
        catch (IOException) { }
        catch (SocketException) { }
    }

    /// <summary>Answers one request; false when the connection is done (reset, or the client asked to close).</summary>
    private async Task<bool> ServeOneAsync(Socket socket, Stream stream, HttpReader reader,
        (string Method, string Target, Dictionary<string, string> Headers) head)
    {
        var (method, target, headers) = head;
        if (headers.TryGetValue("expect", out var expect) && expect.Equals("100-continue", StringComparison.OrdinalIgnoreCase))
            await stream.WriteAsync("HTTP/1.1 100 Continue\r\n\r\n"u8.ToArray(), _stop.Token);
        var length = headers.TryGetValue("content-length", out var cl) ? long.Parse(cl) : 0;
        var request = new ProxiedRequest(method, target, headers, length);
        var fault = Decide(request);
        _injected.AddOrUpdate(fault, 1, (_, n) => n + 1);

        if (fault == Fault.Reset && length > 0)
        {
            await reader.ReadBodyAsync(length / 2, _stop.Token);
            Reset(socket);
            return false;
        }
        var body = await reader.ReadBodyAsync(length, _stop.Token);
        if (fault is Fault.InternalError or Fault.SlowDown or Fault.BadDigest or Fault.AccessDenied or Fault.NoSuchUpload)
        {
            await WriteErrorAsync(stream, method, fault);
            return true;
        }
        var response = await ForwardAsync(method, target, headers, body);
        Forwarded.Enqueue(request);
        if (Latency?.Invoke(request) is { } latency && latency > TimeSpan.Zero) await Task.Delay(latency, _stop.Token);
        if (fault is Fault.Reset or Fault.LostResponse)
        {
            // The server did the work; the answer is lost half-way.
            await stream.WriteAsync(response.AsMemory(0, response.Length / 2), _stop.Token);
            Reset(socket);
            return false;
        }
        if (fault == Fault.CorruptBody && method != "HEAD" && response.Length > 0 && !response.AsSpan().EndsWith("\r\n\r\n"u8))
            response[^1] ^= 0xFF;
        await stream.WriteAsync(response, _stop.Token);
        return !(headers.TryGetValue("connection", out var conn) && conn.Equals("close", StringComparison.OrdinalIgnoreCase));
    }

    private static void Reset(Socket socket)
    {
        socket.LingerState = new LingerOption(true, 0);
        socket.Close();
    }

    private static async Task WriteErrorAsync(Stream stream, string method, Fault fault)
    {
        var (status, reason, code, message) = fault switch
        {
            Fault.SlowDown => (503, "Slow Down", "SlowDown", "Please reduce your request rate."),
            Fault.BadDigest => (400, "Bad Request", "BadDigest", "The CRC32C you specified did not match the calculated checksum."),
            Fault.AccessDenied => (403, "Forbidden", "AccessDenied", "Access Denied"),
            Fault.NoSuchUpload => (404, "Not Found", "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."),
            _ => (500, "Internal Server Error", "InternalError", "We encountered an internal error. Please try again."),
        };
        var xml = $"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>"
            + $"<RequestId>{Guid.NewGuid():N}</RequestId><HostId>fault-proxy</HostId></Error>";
        var body = method == "HEAD" ? [] : Encoding.UTF8.GetBytes(xml);
        var head = $"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {body.Length}\r\n"
            + $"x-amz-request-id: fault\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        await stream.WriteAsync(body);
    }

    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "connection", "keep-alive", "transfer-encoding", "expect", "content-length", "proxy-connection", "te", "upgrade", "host",
    };

    private async Task<byte[]> ForwardAsync(string method, string target, Dictionary<string, string> headers, byte[] body)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), _upstreamBase + target);
        if (body.Length > 0 || method is "PUT" or "POST") request.Content = new ByteArrayContent(body);
        foreach (var (name, value) in headers)
        {
            if (HopByHop.Contains(name)) continue;
            if (!request.Headers.TryAddWithoutValidation(name, value)) request.Content?.Headers.TryAddWithoutValidation(name, value);
        }
        using var response = await _upstream.SendAsync(request, HttpCompletionOption.ResponseContentRead);
        var content = await response.Content.ReadAsByteArrayAsync();
        var sb = new StringBuilder($"HTTP/1.1 {(int)response.StatusCode} {response.ReasonPhrase}\r\n");
        foreach (var h in response.Headers.Concat(response.Content.Headers))
        {
            if (HopByHop.Contains(h.Key)) continue;
            foreach (var v in h.Value) sb.Append(h.Key).Append(": ").Append(v).Append("\r\n");
        }
        // A HEAD answer announces the object's length but carries no body.
        var announced = method == "HEAD" ? response.Content.Headers.ContentLength ?? 0 : content.Length;
        sb.Append("Content-Length: ").Append(announced).Append("\r\n\r\n");
        var headBytes = Encoding.ASCII.GetBytes(sb.ToString());
        var result = new byte[headBytes.Length + (method == "HEAD" ? 0 : content.Length)];
        headBytes.CopyTo(result, 0);
        if (method != "HEAD") content.CopyTo(result, headBytes.Length);
        return result;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        try { await _accepting; } catch (Exception) { }
        _upstream.Dispose();
    }

    /// <summary>Reads HTTP/1.1 request heads and bodies from a connection, keeping what it read ahead.</summary>
    private sealed class HttpReader(Stream stream)
    {
        private byte[] _buffer = new byte[64 << 10];
        private int _start, _end;

        public async Task<(string Method, string Target, Dictionary<string, string> Headers)?> ReadHeadAsync(CancellationToken ct)
        {
            while (true)
            {
                var span = _buffer.AsSpan(_start, _end - _start);
                var at = span.IndexOf("\r\n\r\n"u8);
                if (at >= 0)
                {
                    var text = Encoding.ASCII.GetString(span[..at]);
                    _start += at + 4;
                    var lines = text.Split("\r\n");
                    var first = lines[0].Split(' ');
                    var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                    foreach (var line in lines.Skip(1))
                    {
                        var colon = line.IndexOf(':');
                        if (colon > 0) headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
                    }
                    if (headers.TryGetValue("transfer-encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
                        throw new NotSupportedException("The fault proxy does not decode chunked request bodies.");
                    return (first[0], first[1], headers);
                }
                if (!await FillAsync(ct)) return null;
            }
        }

        public async Task<byte[]> ReadBodyAsync(long length, CancellationToken ct)
        {
            var body = new byte[length];
            var got = 0;
            while (got < length)
            {
                if (_start == _end && !await FillAsync(ct)) throw new IOException("The client closed the connection mid-body.");
                var n = (int)Math.Min(length - got, _end - _start);
                Array.Copy(_buffer, _start, body, got, n);
                _start += n;
                got += n;
            }
            return body;
        }

        private async Task<bool> FillAsync(CancellationToken ct)
        {
            if (_start > 0)
            {
                Array.Copy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            if (_end == _buffer.Length) Array.Resize(ref _buffer, _buffer.Length * 2);
            var n = await stream.ReadAsync(_buffer.AsMemory(_end), ct);
            _end += n;
            return n > 0;
        }
    }
}
