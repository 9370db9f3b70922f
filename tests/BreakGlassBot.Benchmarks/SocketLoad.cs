using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace BreakGlassBot.Benchmarks;

/// <summary>
/// Declarations at a fixed concurrency, closed loop (each worker sends its next when the last one is answered), measured the
/// same way over both transports of the same bot:
///   socket-load URL SECONDS CONNECTIONS [WARMUP]        serves Slack's Web API and Socket Mode at URL; the bot (Slack:SocketMode,
///                                                        Slack:ApiBaseUrl=URL/api/) connects; latency = envelope sent → its ack
///   http-load BOT_URL SECONDS CONNECTIONS [WARMUP]      signed POSTs to BOT_URL/slack/commands ($SLACK_SIGNING_SECRET); latency = request → 200
/// </summary>
public static class SocketLoad
{
    const string Text = "Roll back payments deploy after error spike https://github.com/acme/payments/pull/4242";

    static Dictionary<string, string> Command() => new()
    {
        ["token"] = "bench", ["team_id"] = "T0001", ["team_domain"] = "bench", ["channel_id"] = "C0BENCH", ["channel_name"] = "bench",
        ["user_id"] = "U0BENCH", ["user_name"] = "bench", ["command"] = "/breakglass", ["text"] = Text,
        ["response_url"] = "http://127.0.0.1:1/response/1", ["trigger_id"] = "1.2.bench", ["api_app_id"] = "A0BENCH",
    };

    public static async Task<int> RunSocketAsync(string url, int seconds, int connections, int warmup)
    {
        var sockets = new ConcurrentDictionary<int, (WebSocket Ws, SemaphoreSlim Send)>();
        var acks = new ConcurrentDictionary<string, TaskCompletionSource<JsonObject>>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls(url);
        var app = builder.Build();
        app.UseWebSockets();
        var wsUrl = url.Replace("http://", "ws://") + "/link/?ticket=bench";
        app.MapPost("/api/{method}", (string method) => Results.Text(
            (method == "apps.connections.open" ? new JsonObject { ["ok"] = true, ["url"] = wsUrl } : FakeSlackApi.Answer(method)).ToJsonString(), "application/json"));
        var ids = 0;
        app.Map("/link", async (HttpContext http) =>
        {
            using var ws = await http.WebSockets.AcceptWebSocketAsync();
            var id = Interlocked.Increment(ref ids);
            var send = new SemaphoreSlim(1, 1);
            await ws.SendAsync(Encoding.UTF8.GetBytes("""{"type":"hello","num_connections":1,"debug_info":{"host":"bench"}}"""), WebSocketMessageType.Text, true, default);
            sockets[id] = (ws, send);
            var buffer = new byte[64 * 1024];
            using var message = new MemoryStream();
            try
            {
                while (true)
                {
                    var r = await ws.ReceiveAsync(buffer, http.RequestAborted);
                    if (r.MessageType == WebSocketMessageType.Close) break;
                    message.Write(buffer, 0, r.Count);
                    if (!r.EndOfMessage) continue;
                    var ack = JsonNode.Parse(message.ToArray())!.AsObject();
                    message.SetLength(0);
                    if (acks.TryRemove(ack["envelope_id"]!.GetValue<string>(), out var waiter)) waiter.TrySetResult(ack);
                }
            }
            catch (Exception) { /* the bot went away: the load run reports what it measured */ }
            sockets.TryRemove(id, out _);
        });
        await app.StartAsync();
        Console.Error.WriteLine($"socket-load: waiting for the bot's sockets on {url}");
        while (sockets.Count < 2) await Task.Delay(50);

        var next = 0;
        async Task<bool> OneAsync()
        {
            var envelopeId = Guid.NewGuid().ToString();
            var waiter = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
            acks[envelopeId] = waiter;
            var payload = new JsonObject();
            foreach (var (k, v) in Command()) payload[k] = v;
            var envelope = new JsonObject { ["envelope_id"] = envelopeId, ["payload"] = payload, ["type"] = "slash_commands", ["accepts_response_payload"] = true };
            var live = sockets.Values.ToArray();
            var (ws, send) = live[Interlocked.Increment(ref next) % live.Length];
            await send.WaitAsync();
            try { await ws.SendAsync(Encoding.UTF8.GetBytes(envelope.ToJsonString()), WebSocketMessageType.Text, true, default); }
            finally { send.Release(); }
            var ack = await waiter.Task.WaitAsync(TimeSpan.FromSeconds(10));
            return ack["payload"]?["text"]?.GetValue<string>().Contains("BG-") == true;
        }
        var result = await RunAsync("socket", OneAsync, seconds, connections, warmup);
        await app.StopAsync();
        return result;
    }

    public static async Task<int> RunHttpAsync(string botUrl, int seconds, int connections, int warmup)
    {
        var secret = Environment.GetEnvironmentVariable("SLACK_SIGNING_SECRET") ?? throw new InvalidOperationException("set SLACK_SIGNING_SECRET");
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = connections }) { BaseAddress = new Uri(botUrl) };
        var sent = 0L;
        async Task<bool> OneAsync()
        {
            // Each request its own trigger_id, as each real invocation has: the same signed body twice is a replay, answered once.
            var command = Command();
            command["trigger_id"] = $"1.{Interlocked.Increment(ref sent)}.bench";
            var body = new FormUrlEncodedContent(command).ReadAsStringAsync().Result;
            var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString();
            var signature = "v0=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"v0:{timestamp}:{body}")));
            using var request = new HttpRequestMessage(HttpMethod.Post, "/slack/commands") { Content = new StringContent(body, Encoding.UTF8, "application/x-www-form-urlencoded") };
            request.Headers.Add("X-Slack-Request-Timestamp", timestamp);
            request.Headers.Add("X-Slack-Signature", signature);
            using var response = await http.SendAsync(request);
            return response.IsSuccessStatusCode && (await response.Content.ReadAsStringAsync()).Contains("BG-");
        }
        return await RunAsync("http", OneAsync, seconds, connections, warmup);
    }

    static async Task<int> RunAsync(string name, Func<Task<bool>> one, int seconds, int connections, int warmup)
    {
        var latencies = new ConcurrentBag<double>();
        var failed = 0;
        var recording = false;
        using var stop = new CancellationTokenSource();
        async Task WorkerAsync()
        {
            while (!stop.IsCancellationRequested)
            {
                var clock = Stopwatch.StartNew();
                bool ok;
                try { ok = await one(); } catch (Exception) { ok = false; }
                if (!recording) continue;
                if (ok) latencies.Add(clock.Elapsed.TotalMilliseconds); else Interlocked.Increment(ref failed);
            }
        }
        var workers = Enumerable.Range(0, connections).Select(_ => Task.Run(WorkerAsync)).ToList();
        await Task.Delay(TimeSpan.FromSeconds(warmup));
        recording = true;
        var wall = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(seconds));
        recording = false;
        var elapsed = wall.Elapsed.TotalSeconds;
        await stop.CancelAsync();
        await Task.WhenAll(workers);
        var sorted = latencies.Order().ToArray();
        double P(double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
        Console.WriteLine($"{name} c={connections}: {sorted.Length / elapsed:F0} declarations/s, latency ms p50 {P(0.5):F1} p90 {P(0.9):F1} p99 {P(0.99):F1} max {(sorted.Length == 0 ? double.NaN : sorted[^1]):F1}, failed {failed}");
        return failed == 0 ? 0 : 1;
    }
}
