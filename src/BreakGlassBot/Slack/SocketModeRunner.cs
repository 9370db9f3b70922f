using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using BreakGlassBot.Hosting;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Slack;

/// <summary>What /healthz says about Socket Mode: live sockets, the last message, and whether Slack switched it off.</summary>
public sealed class SocketModeStatus(TimeProvider time)
{
    internal readonly ConcurrentDictionary<int, SocketModeConnection> Connections = new();
    long lastMessageAt = long.MinValue;

    public int LiveConnections => Connections.Values.Count(c => c.IsLive);
    public DateTimeOffset? LastMessageAt => Interlocked.Read(ref lastMessageAt) is var t && t == long.MinValue ? null : new DateTimeOffset(t, TimeSpan.Zero);
    /// <summary>Set when Slack sent link_disabled: the bot stopped connecting until it is restarted.</summary>
    public string? Disabled { get; private set; }
    /// <summary>Why the last connection attempt failed (an error code, never the URL or a token); null once connected again.</summary>
    public string? LastError { get; internal set; }

    internal void MessageReceived() => Interlocked.Exchange(ref lastMessageAt, time.GetUtcNow().UtcTicks);
    internal void Disable(string why) => Disabled = why;
}

/// <summary>
/// Socket Mode: keeps <see cref="SlackOptions.SocketConnections"/> sockets to Slack, started apart so one is always live,
/// and feeds every envelope to the same dispatch as the /slack/* endpoints. The handler's HTTP body becomes the ack's
/// payload; an event is acknowledged only once it is saved in the inbox.
/// </summary>
internal sealed partial class SocketModeRunner(IOptions<SlackOptions> options, SocketUrlSource urls, SocketModeStatus status, TimeProvider time,
    IServiceProvider services, ILoggerFactory logs, ILogger<SocketModeRunner> log) : BackgroundService
{
    public const string LinkDisabledMessage = "Socket Mode was switched off in the Slack app's settings (disconnect reason link_disabled): "
        + "the bot stopped connecting. Turn Socket Mode on again (app settings → Socket Mode) and restart the bot, or run it over HTTP.";

    readonly SlackOptions slack = options.Value;
    readonly SemaphoreSlim openTurn = new(1, 1);
    readonly ConcurrentDictionary<Task, bool> inFlight = new();
    DateTimeOffset nextOpenAt = DateTimeOffset.MinValue;
    int nextId;
    CancellationTokenSource? disabled;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!slack.SocketMode || !slack.IsConfigured) return; // HTTP mode; or ConfigurationReport already says what to set
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        disabled = linked;
        await Task.WhenAll(Enumerable.Range(0, slack.SocketConnections).Select(slot => RunSlotAsync(slot, linked.Token)));
        // Handlers still running finish their work (and ack if a socket is left) before the host goes on stopping.
        await Task.WhenAll(inFlight.Keys).WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    /// <summary>One slot: connect, run until the socket ends, then replace it the way its end asks for.</summary>
    async Task RunSlotAsync(int slot, CancellationToken ct)
    {
        SocketModeConnection? current = null;
        try
        {
            // Started apart, so Slack's refreshes (hours apart, per socket) do not hit both at once.
            if (slot > 0) await Task.Delay(slack.SocketStagger * slot, time, ct);
            while (!ct.IsCancellationRequested)
            {
                current ??= await ConnectAsync(slot, ct);
                var reason = await current.Ended.WaitAsync(ct);
                switch (reason)
                {
                    case "link_disabled":
                        status.Disable(LinkDisabledMessage);
                        LogLinkDisabled(log, LinkDisabledMessage);
                        await CloseAsync(current);
                        current = null;
                        await disabled!.CancelAsync();
                        return;
                    case "too_many_websockets":
                        // Opening another would make it worse: close this one and wait (sockets leaked elsewhere, or too many replicas).
                        LogTooMany(log, slot, slack.SocketConnections);
                        await CloseAsync(current);
                        current = null;
                        await Task.Delay(Backoff(3), time, ct);
                        break;
                    case SocketModeConnection.Closed or SocketModeConnection.Dropped:
                        LogEnded(log, slot, current.Id, reason);
                        await CloseAsync(current);
                        current = null;
                        break;
                    default:
                        // warning, refresh_requested or a reason new to us: the old socket keeps reading until the new one said hello.
                        LogRefresh(log, slot, current.Id, reason);
                        var next = await ConnectAsync(slot, ct);
                        await CloseAsync(current);
                        current = next;
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
        finally
        {
            if (current is not null) await CloseAsync(current);
        }
    }

    async Task CloseAsync(SocketModeConnection connection)
    {
        await connection.CloseAsync(slack.SocketCloseTimeout);
        status.Connections.TryRemove(connection.Id, out _);
        await connection.DisposeAsync();
    }

    /// <summary>A new socket that said hello; retried with jittered exponential back-off, paced and Retry-After honoured across slots.</summary>
    async Task<SocketModeConnection> ConnectAsync(int slot, CancellationToken ct)
    {
        for (var failures = 0; ; failures++)
        {
            SocketModeConnection? connection = null;
            try
            {
                var url = await OpenPacedAsync(ct); // single-use and carries a ticket: never logged, never reused
                connection = new SocketModeConnection(Interlocked.Increment(ref nextId), slack, OnMessage);
                status.Connections[connection.Id] = connection;
                await connection.ConnectAsync(url, ct);
                var hello = await connection.Hello.WaitAsync(slack.SocketHelloTimeout, time, ct);
                status.LastError = null;
                LogConnected(log, slot, connection.Id, Number(hello, "num_connections"), Text(hello, "debug_info", "host"));
                return connection;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                if (connection is not null) await CloseAsync(connection);
                throw;
            }
            catch (Exception e) when (e is SocketOpenException or System.Net.WebSockets.WebSocketException or TimeoutException
                or OperationCanceledException or HttpRequestException)
            {
                if (connection is not null) await CloseAsync(connection);
                var error = e switch
                {
                    SocketOpenException o => o.Error,
                    TimeoutException => "no hello within Slack:SocketHelloTimeout",
                    _ => "the WebSocket handshake failed: " + e.GetType().Name,
                };
                status.LastError = error;
                var wait = Backoff(failures);
                if (e is SocketOpenException { RetryAfter: { } retryAfter } && retryAfter > wait) wait = retryAfter;
                LogConnectFailed(log, slot, error, failures + 1, wait);
                await Task.Delay(wait, time, ct);
            }
        }
    }

    /// <summary>
    /// Every slot's apps.connections.open goes through here, one at a time and at least Slack:SocketReconnectDelay after the
    /// previous one ended (a 429's Retry-After, if longer, holds every slot): a burst of reconnects cannot hit the rate limit.
    /// </summary>
    async Task<Uri> OpenPacedAsync(CancellationToken ct)
    {
        await openTurn.WaitAsync(ct);
        var pause = slack.SocketReconnectDelay;
        try
        {
            var wait = nextOpenAt - time.GetUtcNow();
            if (wait > TimeSpan.Zero) await Task.Delay(wait, time, ct);
            return await urls.OpenAsync(ct);
        }
        catch (SocketOpenException e) when (e.RetryAfter is { } retryAfter && retryAfter > pause)
        {
            pause = retryAfter;
            throw;
        }
        finally
        {
            nextOpenAt = time.GetUtcNow() + pause;
            openTurn.Release();
        }
    }

    TimeSpan Backoff(int failures)
    {
        var ceiling = Math.Min(slack.SocketMaxReconnectDelay.TotalMilliseconds, slack.SocketReconnectDelay.TotalMilliseconds * Math.Pow(2, Math.Min(failures, 20)));
        return TimeSpan.FromMilliseconds(ceiling * (0.5 + Random.Shared.NextDouble() / 2));
    }

    void OnMessage(SocketModeConnection connection, byte[] message)
    {
        status.MessageReceived();
        JsonDocument doc;
        try { doc = JsonDocument.Parse(message); }
        catch (JsonException) { LogUnreadable(log, connection.Id, message.Length); return; }
        var root = doc.RootElement;
        var type = root.ValueKind == JsonValueKind.Object ? Text(root, "type") : null;
        switch (type)
        {
            case "hello":
                connection.SaidHello(root);
                doc.Dispose();
                return;
            case "disconnect":
                connection.SaidDisconnect(Text(root, "reason") ?? "unknown");
                doc.Dispose();
                return;
            case "events_api" or "slash_commands" or "interactive" when Text(root, "envelope_id") is { Length: > 0 } envelopeId:
                var work = Task.Run(() => HandleEnvelopeAsync(connection, type, envelopeId, doc));
                inFlight[work] = true;
                work.ContinueWith(t => inFlight.TryRemove(t, out _), TaskScheduler.Default);
                return;
            default:
                doc.Dispose();
                return;
        }
    }

    async Task HandleEnvelopeAsync(SocketModeConnection connection, string type, string envelopeId, JsonDocument doc)
    {
        using (doc)
        {
            var root = doc.RootElement;
            var payload = root.TryGetProperty("payload", out var p) ? p : default;
            var accepts = root.TryGetProperty("accepts_response_payload", out var a) && a.ValueKind == JsonValueKind.True;
            if (type == "events_api")
                LogEvent(log, envelopeId, payload.ValueKind == JsonValueKind.Object ? Text(payload, "event_id") : null, Number(root, "retry_attempt"));
            foreach (var listener in services.GetServices<ISlackRequestListener>()) listener.RequestArrived();
            IResult result;
            try
            {
                var path = "socket:" + type;
                result = type switch
                {
                    "slash_commands" => await SlackEndpoints.DispatchCommandAsync(ToForm(payload), services.GetServices<ISlashCommandHandler>(), services.GetRequiredService<ISlackOriginCheck>(), logs,
                        path, envelopeId, CancellationToken.None),
                    "interactive" => await SlackEndpoints.DispatchInteractionAsync("payload=" + Uri.EscapeDataString(RawText(payload)),
                        services.GetServices<IViewSubmissionHandler>(), services.GetServices<IBlockActionHandler>(), services.GetRequiredService<ISlackOriginCheck>(), logs, path, envelopeId, CancellationToken.None),
                    _ => await SlackEndpoints.DispatchEventAsync(new VerifiedSlackRequest(Encoding.UTF8.GetBytes(RawText(payload))), services.GetRequiredService<ISlackEventInbox>(),
                        services.GetRequiredService<ISlackOriginCheck>(), logs, path, CancellationToken.None),
                };
            }
            catch (Exception e)
            {
                // Not acknowledged: Slack redelivers an event (saved before acknowledged, as over HTTP), and shows the user an error otherwise.
                LogHandlerFailed(log, e, type, envelopeId);
                return;
            }
            var (code, body) = await RenderAsync(result);
            var ack = new JsonObject { ["envelope_id"] = envelopeId };
            if (code is >= 200 and < 300 && accepts && body.Length > 0) ack["payload"] = AckPayload(body);
            else if (code is < 200 or >= 300) LogRefused(log, type, envelopeId, code);
            await AckAsync(connection, envelopeId, ack.ToJsonString());
        }
    }

    /// <summary>On the socket the envelope came on while it is open; else on any other live one (Slack takes an ack on any).</summary>
    async Task AckAsync(SocketModeConnection received, string envelopeId, string ack)
    {
        foreach (var connection in status.Connections.Values.OrderBy(c => c == received ? 0 : 1).Where(c => c.CanSend))
        {
            try
            {
                await connection.SendAsync(ack, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(2));
                return;
            }
            catch (Exception e) when (e is System.Net.WebSockets.WebSocketException or ObjectDisposedException or TimeoutException or IOException or OperationCanceledException) { }
        }
        LogAckLost(log, envelopeId);
    }

    /// <summary>The handler's result as the HTTP endpoint would answer it: status and body bytes.</summary>
    async Task<(int Code, byte[] Body)> RenderAsync(IResult result)
    {
        var http = new DefaultHttpContext { RequestServices = services };
        using var body = new MemoryStream();
        http.Response.Body = body;
        await result.ExecuteAsync(http);
        return (http.Response.StatusCode, body.ToArray());
    }

    /// <summary>The HTTP body as the ack's payload: the same JSON; plain text as <c>{"text": …}</c> (as the Bolt SDKs do).</summary>
    static JsonNode AckPayload(byte[] body)
    {
        try { if (JsonNode.Parse(body) is JsonObject o) return o; }
        catch (JsonException) { }
        return new JsonObject { ["text"] = Encoding.UTF8.GetString(body) };
    }

    /// <summary>A slash_commands payload (a JSON object) as the form Slack posts over HTTP, so one parser reads both.</summary>
    static string ToForm(JsonElement payload)
    {
        if (payload.ValueKind != JsonValueKind.Object) return "";
        var fields = payload.EnumerateObject().Select(f => KeyValuePair.Create(f.Name,
            f.Value.ValueKind == JsonValueKind.String ? f.Value.GetString() ?? "" : f.Value.ValueKind is JsonValueKind.Null ? "" : f.Value.GetRawText()));
        return new FormUrlEncodedContent(fields).ReadAsStringAsync().GetAwaiter().GetResult();
    }

    static string RawText(JsonElement e) => e.ValueKind == JsonValueKind.Undefined ? "" : e.GetRawText();

    static string? Text(JsonElement e, params string[] path)
    {
        foreach (var key in path)
            if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(key, out e)) return null;
        return e.ValueKind == JsonValueKind.String ? e.GetString() : null;
    }

    static int? Number(JsonElement e, string key) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(key, out var n) && n.ValueKind == JsonValueKind.Number && n.TryGetInt32(out var i) ? i : null;

    // Logged: ids, counts, reasons and Slack's host name. Never the wss URL (it carries a ticket), a token or a payload.
    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Socket Mode slot {Slot}: socket {Socket} connected (Slack counts {NumConnections} connections; host {Host})")]
    static partial void LogConnected(ILogger logger, int slot, int socket, int? numConnections, string? host);
    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "Socket Mode slot {Slot}: connecting failed ({Error}), attempt {Attempt}; next try in {Wait}")]
    static partial void LogConnectFailed(ILogger logger, int slot, string error, int attempt, TimeSpan wait);
    [LoggerMessage(EventId = 1103, Level = LogLevel.Information, Message = "Socket Mode slot {Slot}: Slack asked socket {Socket} to reconnect ({Reason}); opening its replacement first")]
    static partial void LogRefresh(ILogger logger, int slot, int socket, string reason);
    [LoggerMessage(EventId = 1104, Level = LogLevel.Warning, Message = "Socket Mode slot {Slot}: socket {Socket} {Reason}; reconnecting")]
    static partial void LogEnded(ILogger logger, int slot, int socket, string reason);
    [LoggerMessage(EventId = 1105, Level = LogLevel.Warning, Message = "Socket Mode slot {Slot}: Slack refused a socket (too_many_websockets: at most 10 per app, this bot keeps {Connections} per replica); backing off")]
    static partial void LogTooMany(ILogger logger, int slot, int connections);
    [LoggerMessage(EventId = 1106, Level = LogLevel.Error, Message = "{Message}")]
    static partial void LogLinkDisabled(ILogger logger, string message);
    [LoggerMessage(EventId = 1107, Level = LogLevel.Warning, Message = "Socket Mode: an unreadable message ({Length} bytes) on socket {Socket} was ignored")]
    static partial void LogUnreadable(ILogger logger, int socket, int length);
    [LoggerMessage(EventId = 1108, Level = LogLevel.Error, Message = "Socket Mode: handling {Type} envelope {EnvelopeId} failed; not acknowledged")]
    static partial void LogHandlerFailed(ILogger logger, Exception e, string type, string envelopeId);
    [LoggerMessage(EventId = 1109, Level = LogLevel.Warning, Message = "Socket Mode: {Type} envelope {EnvelopeId} was malformed (HTTP mode would answer {Status}); acknowledged without a payload")]
    static partial void LogRefused(ILogger logger, string type, string envelopeId, int status);
    [LoggerMessage(EventId = 1110, Level = LogLevel.Warning, Message = "Socket Mode: no socket open to acknowledge envelope {EnvelopeId}; Slack may deliver it again (events are deduplicated)")]
    static partial void LogAckLost(ILogger logger, string envelopeId);
    [LoggerMessage(EventId = 1111, Level = LogLevel.Debug, Message = "Socket Mode: event {EventId} in envelope {EnvelopeId} (retry {RetryAttempt})")]
    static partial void LogEvent(ILogger logger, string envelopeId, string? eventId, int? retryAttempt);
}
