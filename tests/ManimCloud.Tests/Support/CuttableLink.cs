using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace ManimCloud.Tests.Support;

/// <summary>
/// A TCP relay on loopback in front of moto that a test can cut (every open connection is reset and new ones are
/// reset on arrival, as when a network goes away) and restore.
/// </summary>
public sealed class CuttableLink : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Uri _target;
    private readonly ConcurrentDictionary<TcpClient, byte> _open = new();
    private volatile bool _cut;
    private readonly CancellationTokenSource _stop = new();

    public CuttableLink(string targetEndpoint)
    {
        _target = new Uri(targetEndpoint);
        _listener.Start();
        _ = AcceptLoop();
    }

    public string Endpoint => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
    public bool IsCut => _cut;

    public void Cut()
    {
        _cut = true;
        foreach (var c in _open.Keys) Reset(c);
    }

    public void Restore() => _cut = false;

    private static void Reset(TcpClient c)
    {
        try { c.Client.LingerState = new LingerOption(true, 0); c.Close(); } catch { }
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient inbound;
            try { inbound = await _listener.AcceptTcpClientAsync(_stop.Token); } catch { return; }
            if (_cut) { Reset(inbound); continue; }
            _ = Relay(inbound);
        }
    }

    private async Task Relay(TcpClient inbound)
    {
        using var outbound = new TcpClient();
        try
        {
            await outbound.ConnectAsync(_target.Host, _target.Port);
            _open[inbound] = 0;
            _open[outbound] = 0;
            var a = inbound.GetStream().CopyToAsync(outbound.GetStream(), _stop.Token);
            var b = outbound.GetStream().CopyToAsync(inbound.GetStream(), _stop.Token);
            await Task.WhenAny(a, b);
        }
        catch { }
        finally
        {
            _open.TryRemove(inbound, out _);
            _open.TryRemove(outbound, out _);
            Reset(inbound);
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        foreach (var c in _open.Keys) Reset(c);
    }
}
