using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Slack;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Outbox;

/// <summary>Thrown by an event handler that cannot decide yet (a dependency is down): the inbox retries it with back-off, without limit.</summary>
public class RetryLaterException(string waitingFor, string message) : Exception(message)
{
    /// <summary>What the event waits for, in words for the log ("the reviewer user group to be readable").</summary>
    public string WaitingFor { get; } = waitingFor;
}

/// <summary>The Slack event inbox: the events endpoint saves an event here before it acknowledges it.</summary>
internal sealed class SlackEventInbox(ChangeStore store, InboxNudge nudge, TimeProvider time) : ISlackEventInbox
{
    public void Accept(string eventId, string body)
    {
        if (store.AcceptInbound(eventId, body, time.GetUtcNow())) nudge.Nudge();
    }
}

/// <summary>
/// Inbound Slack events, saved before the ack (deduplicated on event_id) and processed here, so an event
/// acknowledged just before a crash is still handled after the restart.
/// </summary>
internal sealed partial class InboxWorker(ChangeStore store, IEnumerable<ISlackEventHandler> handlers, InboxNudge wake, OutboxQueue outbox, IOptions<StorageOptions> storage,
    ILogger<InboxWorker> log)
    : BackgroundService
{
    readonly Dictionary<string, int> failures = [];
    /// <summary>
    /// Events a handler asked to retry later: retried with back-off for as long as it takes, so an approval is never
    /// dropped because a Slack API was down. Due times on monotonic ticks: this is pacing, not policy time.
    /// </summary>
    readonly Dictionary<string, (int Waits, long DueAt)> waiting = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            foreach (var (id, json) in store.PendingInbound())
            {
                if (!EventEnvelope.TryParse(json, out var envelope)) { store.CompleteInbound(id); continue; }
                if (waiting.TryGetValue(id, out var w) && Environment.TickCount64 < w.DueAt) continue;
                try
                {
                    foreach (var handler in handlers) await handler.HandleAsync(envelope, stoppingToken);
                    store.CompleteInbound(id);
                    failures.Remove(id);
                    if (waiting.Remove(id)) LogWaitOver(log, id);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { return; }
                catch (RetryLaterException later)
                {
                    var waits = waiting.GetValueOrDefault(id).Waits + 1;
                    if (waits == 1) LogWaiting(log, id, later.WaitingFor);
                    waiting[id] = (waits, Environment.TickCount64 + (long)outbox.Backoff(waits).TotalMilliseconds);
                }
                catch (Exception e)
                {
                    var n = failures[id] = failures.GetValueOrDefault(id) + 1;
                    LogFailed(log, e, id, n);
                    if (n >= 5) { store.CompleteInbound(id); failures.Remove(id); LogDropped(log, id, json.Length); }
                }
            }
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            timeout.CancelAfter(storage.Value.PollingInterval * 5);
            try { await wake.Signal.Reader.ReadAsync(timeout.Token); }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested) { }
        }
    }

    [LoggerMessage(EventId = 5201, Level = LogLevel.Error, Message = "Handling Slack event {EventId} failed (attempt {Attempt})")]
    static partial void LogFailed(ILogger logger, Exception e, string eventId, int attempt);
    [LoggerMessage(EventId = 5202, Level = LogLevel.Error, Message = "Gave up on Slack event {EventId} ({Length} bytes) after 5 attempts")]
    static partial void LogDropped(ILogger logger, string eventId, int length);
    [LoggerMessage(EventId = 5203, Level = LogLevel.Warning, Message = "Slack event {EventId} waits for {WaitingFor}; retrying with back-off until it is")]
    static partial void LogWaiting(ILogger logger, string eventId, string waitingFor);
    [LoggerMessage(EventId = 5204, Level = LogLevel.Information, Message = "Slack event {EventId} handled after waiting")]
    static partial void LogWaitOver(ILogger logger, string eventId);
}

/// <summary>Wakes the inbox worker (a separate singleton so the endpoint does not depend on the hosted service).</summary>
public sealed class InboxNudge
{
    internal System.Threading.Channels.Channel<bool> Signal { get; } = System.Threading.Channels.Channel.CreateBounded<bool>(
        new System.Threading.Channels.BoundedChannelOptions(1) { FullMode = System.Threading.Channels.BoundedChannelFullMode.DropWrite });

    public void Nudge() => Signal.Writer.TryWrite(true);
}
