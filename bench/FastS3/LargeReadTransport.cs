using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace FastS3;

/// <summary>
/// A Kestrel transport that receives with large reads. Kestrel's own socket transport receives into 4 KiB blocks of
/// its memory pool: an upload of 1 GiB arrived in ~300,000 recv calls (measured with strace), which made FastS3's
/// CPU (~1.4 s per GiB, on the clients' two cores) the largest single cost of every upload. Here each connection
/// reads up to 256 KiB per call into its own pipe; Kestrel's HTTP/1.1 stack (100-continue, keep-alive, TLS, limits)
/// runs on top unchanged. `--transport kestrel` keeps Kestrel's transport.
/// </summary>
public sealed class LargeReadTransportFactory : IConnectionListenerFactory
{
    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(endpoint);
        socket.Listen(512);
        return ValueTask.FromResult<IConnectionListener>(new Listener(socket));
    }

    private sealed class Listener(Socket socket) : IConnectionListener
    {
        public EndPoint EndPoint => socket.LocalEndPoint!;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            try
            {
                var client = await socket.AcceptAsync(cancellationToken);
                client.NoDelay = true;
                return new Connection(client);
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException or OperationCanceledException)
            {
                return null; // unbound
            }
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            socket.Dispose();
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            socket.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    private sealed class Connection : ConnectionContext
    {
        private const int ReadSize = 256 * 1024;
        private readonly Socket _socket;
        private readonly Pipe _input = new(new PipeOptions(pauseWriterThreshold: 4 << 20, resumeWriterThreshold: 2 << 20,
            minimumSegmentSize: ReadSize, useSynchronizationContext: false));
        private readonly Pipe _output = new(new PipeOptions(pauseWriterThreshold: 4 << 20, resumeWriterThreshold: 2 << 20,
            minimumSegmentSize: 64 * 1024, useSynchronizationContext: false));
        private readonly CancellationTokenSource _closed = new();
        private readonly Task _receiving, _sending;

        public Connection(Socket socket)
        {
            _socket = socket;
            Transport = new DuplexPipe(_input.Reader, _output.Writer);
            LocalEndPoint = socket.LocalEndPoint;
            RemoteEndPoint = socket.RemoteEndPoint;
            _receiving = ReceiveAsync();
            _sending = SendAsync();
        }

        public override string ConnectionId { get; set; } = Guid.NewGuid().ToString("N");
        public override IFeatureCollection Features { get; } = new FeatureCollection();
        public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();
        public override IDuplexPipe Transport { get; set; }
        public override CancellationToken ConnectionClosed { get => _closed.Token; set { } }

        private async Task ReceiveAsync()
        {
            Exception? error = null;
            try
            {
                while (true)
                {
                    var memory = _input.Writer.GetMemory(ReadSize);
                    var n = await _socket.ReceiveAsync(memory, SocketFlags.None);
                    if (n == 0) break;
                    _input.Writer.Advance(n);
                    var flushed = await _input.Writer.FlushAsync();
                    if (flushed.IsCompleted || flushed.IsCanceled) break;
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { error = new ConnectionResetException(e.Message, e); }
            await _input.Writer.CompleteAsync(error);
            _closed.Cancel();
        }

        private async Task SendAsync()
        {
            try
            {
                while (true)
                {
                    var result = await _output.Reader.ReadAsync();
                    foreach (var segment in result.Buffer)
                        for (var sent = 0; sent < segment.Length;)
                            sent += await _socket.SendAsync(segment[sent..], SocketFlags.None);
                    _output.Reader.AdvanceTo(result.Buffer.End);
                    if (result.IsCompleted || result.IsCanceled) break;
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
            await _output.Reader.CompleteAsync();
            try { _socket.Shutdown(SocketShutdown.Send); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        }

        public override void Abort(ConnectionAbortedException abortReason)
        {
            try { _socket.Shutdown(SocketShutdown.Both); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
            _output.Reader.CancelPendingRead();
        }

        public override async ValueTask DisposeAsync()
        {
            _output.Writer.Complete();
            await _sending;
            _socket.Dispose();
            await _receiving;
            _closed.Dispose();
        }
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input => input;
        public PipeWriter Output => output;
    }
}
