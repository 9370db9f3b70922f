using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using BreakGlassBot.Hosting;

namespace BreakGlassBot.Slack;

/// <summary>apps.connections.open refused or failed; <see cref="RetryAfter"/> is Slack's Retry-After on a 429.</summary>
public sealed class SocketOpenException(string error, TimeSpan? retryAfter = null, Exception? inner = null)
    : Exception($"Slack apps.connections.open failed: {error}", inner)
{
    public string Error { get; } = error;
    public TimeSpan? RetryAfter { get; } = retryAfter;
}

/// <summary>apps.connections.open with the app-level token: a fresh single-use wss URL for each connection.</summary>
internal sealed class SocketUrlSource(IHttpClientFactory clients, Microsoft.Extensions.Options.IOptions<SlackOptions> options)
{
    public const string ClientName = "slack-socket-mode";

    public async Task<Uri> OpenAsync(CancellationToken ct)
    {
        var http = clients.CreateClient(ClientName);
        using var request = new HttpRequestMessage(HttpMethod.Post, "apps.connections.open")
        {
            // Slack refuses the app token as a form parameter: it goes in the Authorization header only.
            Content = new FormUrlEncodedContent([]),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.Value.AppToken);
        HttpResponseMessage response;
        try { response = await http.SendAsync(request, ct); }
        catch (HttpRequestException e) { throw new SocketOpenException("unreachable", inner: e); }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested) { throw new SocketOpenException("timeout", inner: e); }
        using (response)
        {
            if ((int)response.StatusCode == 429) throw new SocketOpenException("ratelimited", SlackApiClient.RetryAfterOf(response));
            if (!response.IsSuccessStatusCode) throw new SocketOpenException($"http_{(int)response.StatusCode}");
            try
            {
                using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
                var root = doc.RootElement;
                if (root.TryGetProperty("ok", out var ok) && ok.ValueKind == JsonValueKind.True
                    && root.TryGetProperty("url", out var url) && Uri.TryCreate(url.GetString(), UriKind.Absolute, out var uri))
                    return uri;
                var error = root.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString()! : "invalid_response";
                throw new SocketOpenException(error, error == "ratelimited" ? SlackApiClient.RetryAfterOf(response) : null);
            }
            catch (JsonException) { throw new SocketOpenException("unreadable_json"); }
        }
    }
}

/// <summary>
/// One Socket Mode WebSocket: a receive loop that assembles frames until EndOfMessage and hands each message on without
/// waiting (ClientWebSocket answers pings only while a receive is pending), and one serialised sender.
/// </summary>
internal sealed class SocketModeConnection : IAsyncDisposable
{
    public const string Closed = "closed";
    public const string Dropped = "dropped";

    readonly ClientWebSocket socket = new();
    readonly SemaphoreSlim sending = new(1, 1);
    readonly TaskCompletionSource<JsonElement> hello = new(TaskCreationOptions.RunContinuationsAsynchronously);
    readonly TaskCompletionSource<string> ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    readonly Action<SocketModeConnection, byte[]> onMessage;
    readonly int maxMessageBytes;
    Task receiving = Task.CompletedTask;
    int disposed;

    public SocketModeConnection(int id, SlackOptions options, Action<SocketModeConnection, byte[]> onMessage)
    {
        Id = id;
        this.onMessage = onMessage;
        maxMessageBytes = options.MaxRequestBytes;
        // PING/PONG keep-alive (.NET 9+): a peer that stops answering aborts the socket, and the slot replaces it.
        socket.Options.KeepAliveInterval = options.SocketKeepAliveInterval;
        socket.Options.KeepAliveTimeout = options.SocketKeepAliveTimeout;
    }

    public int Id { get; }
    /// <summary>Completes with the disconnect reason Slack sent, or <see cref="Closed"/> / <see cref="Dropped"/>.</summary>
    public Task<string> Ended => ended.Task;
    public Task<JsonElement> Hello => hello.Task;
    public bool IsLive => hello.Task.IsCompleted && !ended.Task.IsCompleted && socket.State == WebSocketState.Open;
    public bool CanSend => socket.State == WebSocketState.Open;

    public async Task ConnectAsync(Uri url, CancellationToken ct)
    {
        await socket.ConnectAsync(url, ct);
        receiving = Task.Run(ReceiveLoopAsync, CancellationToken.None);
    }

    internal void SaidHello(JsonElement message) => hello.TrySetResult(message.Clone());
    internal void SaidDisconnect(string reason) => ended.TrySetResult(reason);

    async Task ReceiveLoopAsync()
    {
        var buffer = new byte[16 * 1024];
        using var message = new MemoryStream();
        var tooLarge = false;
        try
        {
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close) { ended.TrySetResult(Closed); return; }
                if (message.Length + result.Count > maxMessageBytes) tooLarge = true;
                else message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage) continue;
                // Slack sends JSON in text frames only; a binary or oversized message cannot be one of its envelopes.
                if (result.MessageType == WebSocketMessageType.Text && !tooLarge) onMessage(this, message.ToArray());
                message.SetLength(0);
                tooLarge = false;
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            ended.TrySetResult(Dropped);
        }
        finally { hello.TrySetCanceled(); }
    }

    /// <summary>Sends one JSON message; one send at a time per socket, as ClientWebSocket requires.</summary>
    public async Task SendAsync(string json, CancellationToken ct)
    {
        await sending.WaitAsync(ct);
        try { await socket.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, endOfMessage: true, ct); }
        finally { sending.Release(); }
    }

    /// <summary>A bounded close: a close frame, a short wait for Slack's (it does not always send one), then abort.</summary>
    public async Task CloseAsync(TimeSpan timeout)
    {
        if (socket.State == WebSocketState.Open)
        {
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                await sending.WaitAsync(cts.Token);
                try { await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", cts.Token); }
                finally { sending.Release(); }
                await receiving.WaitAsync(cts.Token);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException) { }
        }
        ended.TrySetResult(Closed);
        socket.Abort();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1) return;
        ended.TrySetResult(Closed);
        socket.Abort();
        try { await receiving; } catch (Exception) { /* the loop ends on the abort */ }
        socket.Dispose();
        sending.Dispose();
    }
}
