using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BreakGlassBot.Tests.Support;

/// <summary>What a fake server does instead of answering normally.</summary>
public abstract record Fault
{
    /// <summary>Answer with this status (and body/headers) without doing anything.</summary>
    public sealed record Status(int Code, string? Body = null, IReadOnlyDictionary<string, string>? Headers = null) : Fault;
    /// <summary>Wait, then answer normally (or not at all if the client gave up).</summary>
    public sealed record Delay(TimeSpan By) : Fault;
    /// <summary>Answer 200 with a body that is not JSON.</summary>
    public sealed record Malformed : Fault;
    /// <summary>Drop the connection without an answer.</summary>
    public sealed record Abort : Fault;
    /// <summary>Do the work (e.g. post the message), then answer with this status: the client cannot know it happened.</summary>
    public sealed record AfterWork(int Code) : Fault;
    /// <summary>Do the work, then hold the answer back for <paramref name="By"/> (the caller may crash or give up meanwhile), then answer normally.</summary>
    public sealed record WorkThenHang(TimeSpan By) : Fault;
}

public sealed record RecordedCall(string Key, string Method, string Path, string Query, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public DateTime At { get; init; } = DateTime.UtcNow;
}

/// <summary>
/// A real Kestrel server on 127.0.0.1 with a random port: the bot's real HTTP clients talk to it.
/// Records every call and injects faults per route key and per call count.
/// </summary>
public abstract class FakeServer : IAsyncDisposable
{
    readonly ConcurrentQueue<(string Key, Fault Fault)> faults = new();
    readonly List<(string Key, Fault Fault, int Remaining, Func<RecordedCall, bool>? When)> scripted = [];
    readonly Lock gate = new();
    WebApplication? app;

    public ConcurrentQueue<RecordedCall> Calls { get; } = new();
    /// <summary>The calls that got a fault (or the outage) instead of a normal answer.</summary>
    public ConcurrentQueue<RecordedCall> Faulted { get; } = new();
    public string Url { get; private set; } = "";
    /// <summary>While true every call answers 503 (a whole-service outage).</summary>
    public bool Down { get; set; }

    protected abstract string KeyOf(HttpContext http);
    protected abstract void Map(WebApplication app);

    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        app = builder.Build();
        app.Use(async (http, next) =>
        {
            http.Request.EnableBuffering();
            var body = await new StreamReader(http.Request.Body, Encoding.UTF8).ReadToEndAsync();
            http.Request.Body.Position = 0;
            var key = KeyOf(http);
            var call = new RecordedCall(key, http.Request.Method, http.Request.Path, http.Request.QueryString.Value ?? "",
                http.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase), body);
            Calls.Enqueue(call);
            if (Down) { Faulted.Enqueue(call); http.Response.StatusCode = 503; return; }
            var fault = Take(call);
            if (fault is not null) Faulted.Enqueue(call);
            switch (fault)
            {
                case null: await next(http); return;
                case Fault.Status s:
                    http.Response.StatusCode = s.Code;
                    foreach (var (k, v) in s.Headers ?? new Dictionary<string, string>()) http.Response.Headers[k] = v;
                    if (s.Body is not null) { http.Response.ContentType = "application/json"; await http.Response.WriteAsync(s.Body); }
                    return;
                case Fault.Delay d:
                    // The fault itself: a server slow to answer (a client timeout, a crash mid-request), not a wait in a test.
                    try { await Task.Delay(d.By, http.RequestAborted); } catch (OperationCanceledException) { return; }
                    await next(http);
                    return;
                case Fault.Malformed:
                    http.Response.ContentType = "application/json";
                    await http.Response.WriteAsync("{\"ok\": tru");
                    return;
                case Fault.Abort:
                    http.Abort();
                    return;
                case Fault.WorkThenHang h:
                    var kept = http.Response.Body;
                    var buffer = new MemoryStream();
                    http.Response.Body = buffer;
                    await next(http);
                    http.Response.Body = kept;
                    // The fault itself: the work is done, the answer held back (the caller may crash or give up meanwhile).
                    try { await Task.Delay(h.By, http.RequestAborted); } catch (OperationCanceledException) { return; }
                    buffer.Position = 0;
                    await buffer.CopyToAsync(kept);
                    return;
                case Fault.AfterWork w:
                    var original = http.Response.Body;
                    http.Response.Body = new MemoryStream();
                    await next(http);
                    http.Response.Body = original;
                    http.Response.Headers.ContentLength = null;
                    http.Response.StatusCode = w.Code;
                    return;
            }
        });
        Map(app);
        await app.StartAsync();
        Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
    }

    /// <summary>
    /// The next <paramref name="times"/> calls to <paramref name="key"/> get <paramref name="fault"/>; with <paramref name="when"/>, only
    /// the calls it matches (e.g. chat.postMessage to one channel: one Slack method carries many steps).
    /// </summary>
    public void Fail(string key, Fault fault, int times = 1, Func<RecordedCall, bool>? when = null)
    {
        lock (gate) scripted.Add((key, fault, times, when));
    }

    public void ClearFaults()
    {
        lock (gate) scripted.Clear();
    }

    Fault? Take(RecordedCall call)
    {
        lock (gate)
        {
            for (var i = 0; i < scripted.Count; i++)
            {
                var (k, f, remaining, when) = scripted[i];
                if (k != call.Key || (when is not null && !when(call))) continue;
                if (remaining <= 1) scripted.RemoveAt(i); else scripted[i] = (k, f, remaining - 1, when);
                return f;
            }
            return null;
        }
    }

    public IReadOnlyList<RecordedCall> CallsTo(string key) => Calls.Where(c => c.Key == key).ToList();

    public async ValueTask DisposeAsync()
    {
        if (app is not null) await app.DisposeAsync();
    }
}
