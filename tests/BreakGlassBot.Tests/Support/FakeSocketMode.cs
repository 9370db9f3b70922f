using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BreakGlassBot.Tests.Support;

/// <summary>
/// Slack's Socket Mode on loopback: <see cref="Attach"/> makes a <see cref="FakeSlack"/> answer apps.connections.open
/// (app-level token only) with a single-use ws:// URL; each socket gets the fixture hello, then whatever the test sends.
/// Sockets go through a TCP relay, so a test can cut one off silently (<see cref="FakeSocket.Blackhole"/>: no pong, no close).
/// </summary>
public sealed class FakeSocketMode : IAsyncDisposable
{
    public const string AppToken = "xapp-1-A0APP-1-test-socket-secret";
    const string Folder = "slack/socket-mode/";

    WebApplication? app;
    TcpRelay? relay;
    int ticketCounter, socketCounter, reusedTickets;
    readonly ConcurrentDictionary<string, bool> tickets = new();
    readonly ConcurrentDictionary<string, TaskCompletionSource<JsonObject>> waiting = new();

    /// <summary>Every socket the bot opened, in order.</summary>
    public ConcurrentQueue<FakeSocket> Sockets { get; } = new();
    /// <summary>Every ack received: envelope id, the ack, and the socket it came on.</summary>
    public ConcurrentQueue<(string EnvelopeId, JsonObject Ack, int Socket)> Acks { get; } = new();
    /// <summary>Handshakes that came with a ticket already used (Slack's URLs are single-use).</summary>
    public int ReusedTickets => reusedTickets;
    /// <summary>The times apps.connections.open was answered with a URL.</summary>
    public ConcurrentQueue<DateTime> Opens { get; } = new();

    public IReadOnlyList<FakeSocket> Live => [.. Sockets.Where(s => s.IsOpen)];

    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        app = builder.Build();
        app.UseWebSockets();
        app.Map("/link", AcceptAsync);
        await app.StartAsync();
        var url = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        relay = new TcpRelay(url.Port);
    }

    /// <summary>Makes <paramref name="slack"/> answer apps.connections.open as Slack does (the URL shape of the fixture).</summary>
    public void Attach(FakeSlack slack) => slack.ConnectionsOpen = request =>
    {
        if (request.Headers.Authorization.ToString() != "Bearer " + AppToken)
            return Results.Content(Fixtures.Text("slack/error_invalid_auth.json"), "application/json");
        var ticket = $"ticket-{Interlocked.Increment(ref ticketCounter)}-{Guid.NewGuid():N}";
        tickets[ticket] = false;
        Opens.Enqueue(DateTime.UtcNow);
        var answer = Fixtures.Object(Folder + "apps_connections_open_ok.json");
        answer["url"] = $"ws://127.0.0.1:{relay!.Port}/link/?ticket={ticket}&app_id=A0APP";
        return Results.Content(answer.ToJsonString(), "application/json");
    };

    async Task AcceptAsync(HttpContext http)
    {
        var ticket = http.Request.Query["ticket"].ToString();
        if (!http.WebSockets.IsWebSocketRequest || !tickets.TryUpdate(ticket, true, false))
        {
            if (tickets.ContainsKey(ticket)) Interlocked.Increment(ref reusedTickets);
            http.Response.StatusCode = 401;
            return;
        }
        using var ws = await http.WebSockets.AcceptWebSocketAsync();
        var socket = new FakeSocket(this, Interlocked.Increment(ref socketCounter), ws, http, relay!.PipeFor(http.Connection.RemotePort));
        Sockets.Enqueue(socket);
        await socket.SendAsync(Fixtures.Object(Folder + "hello.json"));
        await socket.RunAsync();
    }

    internal void Acked(FakeSocket socket, JsonObject message)
    {
        var id = message["envelope_id"]?.GetValue<string>();
        if (id is null) return;
        Acks.Enqueue((id, message, socket.Id));
        if (waiting.TryGetValue(id, out var w)) w.TrySetResult(message);
    }

    public IReadOnlyList<(string EnvelopeId, JsonObject Ack, int Socket)> AcksOf(string envelopeId) => [.. Acks.Where(a => a.EnvelopeId == envelopeId)];

    /// <summary>Waits until <paramref name="count"/> sockets are open (each has had its hello).</summary>
    public async Task<IReadOnlyList<FakeSocket>> LiveAsync(int count = 1, TimeSpan? timeout = null)
    {
        await Eventually.Until(() => Live.Count >= count, $"{count} live socket(s), have {Live.Count}", timeout);
        return Live;
    }

    /// <summary>Sends <paramref name="envelope"/> on <paramref name="on"/> (else the first live socket) without waiting for its ack.</summary>
    public async Task<FakeSocket> SendAsync(JsonObject envelope, FakeSocket? on = null)
    {
        var id = envelope["envelope_id"]!.GetValue<string>();
        waiting.TryAdd(id, new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously));
        on ??= (await LiveAsync())[0];
        await on.SendAsync(envelope);
        return on;
    }

    /// <summary>Sends <paramref name="envelope"/> and returns its ack (fails after <paramref name="timeout"/>, 10 s by default).</summary>
    public async Task<JsonObject> DeliverAsync(JsonObject envelope, FakeSocket? on = null, TimeSpan? timeout = null)
    {
        await SendAsync(envelope, on);
        return await AckAsync(envelope["envelope_id"]!.GetValue<string>(), timeout);
    }

    public async Task<JsonObject> AckAsync(string envelopeId, TimeSpan? timeout = null)
    {
        var w = waiting.GetOrAdd(envelopeId, _ => new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously));
        try { return await w.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(10)); }
        catch (TimeoutException) { Assert.Fail($"No ack for envelope {envelopeId} within {timeout ?? TimeSpan.FromSeconds(10)}"); throw; }
    }

    // Envelopes: the fixtures' shape (SDK mock servers), with the payload the test needs and a fresh envelope id.

    /// <summary>A slash_commands envelope carrying the fields of <see cref="TestBot.CommandForm"/> as a JSON object.</summary>
    public static JsonObject SlashCommand(string text, string user = TestBot.Declarer)
    {
        var envelope = Fixtures.Object(Folder + "envelope_slash_commands.json");
        var payload = new JsonObject();
        foreach (var (k, v) in new FormReader(TestBot.CommandForm(text, user)).ReadForm()) payload[k] = v.ToString();
        envelope["payload"] = payload;
        envelope["envelope_id"] = Guid.NewGuid().ToString();
        return envelope;
    }

    /// <summary>An interactive envelope around an interaction payload (the HTTP payload, as Slack wraps it).</summary>
    public static JsonObject Interactive(JsonObject payload, bool acceptsResponsePayload = true)
    {
        var envelope = Fixtures.Object(Folder + "envelope_interactive_block_actions.json");
        envelope["payload"] = payload.DeepClone();
        envelope["accepts_response_payload"] = acceptsResponsePayload;
        envelope["envelope_id"] = Guid.NewGuid().ToString();
        return envelope;
    }

    /// <summary>An events_api envelope around an event_callback body; a retry has a new envelope id and the same event_id.</summary>
    public static JsonObject Event(JsonObject eventCallback, int retryAttempt = 0)
    {
        var envelope = Fixtures.Object(Folder + (retryAttempt == 0 ? "envelope_events_api_message.json" : "envelope_events_api_retry_timeout.json"));
        envelope["payload"] = eventCallback.DeepClone();
        envelope["retry_attempt"] = retryAttempt;
        envelope["envelope_id"] = Guid.NewGuid().ToString();
        return envelope;
    }

    public static JsonObject Disconnect(string reason) => Fixtures.Object(Folder + $"disconnect_{reason}.json");

    public async ValueTask DisposeAsync()
    {
        relay?.Dispose();
        if (app is not null) await app.DisposeAsync();
    }

    /// <summary>Forwards TCP between the bot and the WebSocket server; a pipe can go silent both ways without closing.</summary>
    sealed class TcpRelay : IDisposable
    {
        readonly TcpListener listener = new(IPAddress.Loopback, 0);
        readonly int backend;
        readonly ConcurrentDictionary<int, Pipe> byBackendPort = new();
        readonly CancellationTokenSource stop = new();

        public TcpRelay(int backend)
        {
            this.backend = backend;
            listener.Start();
            _ = AcceptLoopAsync();
        }

        public int Port => ((IPEndPoint)listener.LocalEndpoint).Port;
        public Pipe? PipeFor(int backendLocalPort) => byBackendPort.GetValueOrDefault(backendLocalPort);

        async Task AcceptLoopAsync()
        {
            while (!stop.IsCancellationRequested)
            {
                TcpClient client;
                try { client = await listener.AcceptTcpClientAsync(stop.Token); }
                catch (Exception) { return; }
                var server = new TcpClient();
                try { await server.ConnectAsync(IPAddress.Loopback, backend); }
                catch (SocketException) { client.Dispose(); server.Dispose(); continue; }
                var pipe = new Pipe(client, server);
                byBackendPort[((IPEndPoint)server.Client.LocalEndPoint!).Port] = pipe;
                pipe.Start();
            }
        }

        public void Dispose()
        {
            stop.Cancel();
            listener.Stop();
            foreach (var pipe in byBackendPort.Values) pipe.Close();
        }
    }

    internal sealed class Pipe(TcpClient client, TcpClient server)
    {
        volatile bool silent;
        public void Silence() => silent = true;

        public void Start()
        {
            _ = PumpAsync(client.GetStream(), server.GetStream());
            _ = PumpAsync(server.GetStream(), client.GetStream());
        }

        async Task PumpAsync(NetworkStream from, NetworkStream to)
        {
            var buffer = new byte[16 * 1024];
            try
            {
                int read;
                while ((read = await from.ReadAsync(buffer)) > 0)
                    if (!silent) await to.WriteAsync(buffer.AsMemory(0, read)); // silent: read and dropped, as on a dead path
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException) { }
            Close();
        }

        public void Close()
        {
            client.Dispose();
            server.Dispose();
        }
    }
}

/// <summary>One socket the bot opened, seen from Slack's side.</summary>
public sealed class FakeSocket
{
    readonly FakeSocketMode owner;
    readonly WebSocket ws;
    readonly HttpContext http;
    readonly FakeSocketMode.Pipe? pipe;
    readonly SemaphoreSlim sending = new(1, 1);
    readonly TaskCompletionSource<string> closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal FakeSocket(FakeSocketMode owner, int id, WebSocket ws, HttpContext http, FakeSocketMode.Pipe? pipe)
    {
        this.owner = owner;
        Id = id;
        this.ws = ws;
        this.http = http;
        this.pipe = pipe;
    }

    public int Id { get; }
    /// <summary>When the fake accepted it (its hello follows at once).</summary>
    public DateTime OpenedAt { get; } = DateTime.UtcNow;
    /// <summary>When the bot closed or abandoned it; null while open.</summary>
    public DateTime? ClosedAt { get; private set; }
    public bool IsOpen => !closed.Task.IsCompleted && !Silenced;
    public bool Silenced { get; private set; }
    /// <summary>How the bot ended it: "close frame" (a clean close) or "aborted".</summary>
    public Task<string> Closed => closed.Task;

    public async Task SendAsync(JsonNode message)
    {
        await sending.WaitAsync();
        try { await ws.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, CancellationToken.None); }
        finally { sending.Release(); }
    }

    /// <summary>Slack's disconnect message with <paramref name="reason"/> (the fixture); the socket stays open until the bot closes it.</summary>
    public Task DisconnectAsync(string reason) => SendAsync(FakeSocketMode.Disconnect(reason));

    /// <summary>The TCP connection ends without a close frame.</summary>
    public void Drop() => http.Abort();

    /// <summary>Nothing gets through any more, either way, and nothing closes: pings go unanswered.</summary>
    public void Blackhole()
    {
        Silenced = true;
        pipe!.Silence();
    }

    internal async Task RunAsync()
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        try
        {
            while (true)
            {
                var result = await ws.ReceiveAsync(buffer, http.RequestAborted);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    ClosedAt = DateTime.UtcNow;
                    closed.TrySetResult("close frame");
                    try { await ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None); } catch (WebSocketException) { }
                    return;
                }
                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage) continue;
                if (JsonNode.Parse(message.ToArray()) is JsonObject o) owner.Acked(this, o);
                message.SetLength(0);
            }
        }
        catch (Exception) // an aborted connection surfaces as one of several exception types, all meaning the same here
        {
            ClosedAt ??= DateTime.UtcNow;
            closed.TrySetResult("aborted");
        }
    }
}
