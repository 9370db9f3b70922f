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
    Replica replica, TimeProvider time, ILogger<InboxWorker> log)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try { await HandleDueAsync(stoppingToken); }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { return; }
            catch (Exception e) { LogSweepFailed(log, e); } // the store is unreachable: the events wait in it, and the next pass tries again
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            timeout.CancelAfter(storage.Value.PollingInterval * 5);
            try { await wake.Signal.Reader.ReadAsync(timeout.Token); }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested) { }
        }
    }

    /// <summary>
    /// The due events no other replica holds, claimed for this one. Failures and waits are stored with the event, so the
    /// replica that picks it up next carries on the count; an event a handler asked to wait for is retried with back-off
    /// for as long as it takes, so an approval is never dropped because a Slack API was down.
    /// </summary>
    async Task HandleDueAsync(CancellationToken ct)
    {
        // A few at a time, each handled only while its claim is surely this replica's (it is not renewed): what is left when
        // half the lease is gone lapses, and is claimed again (by any replica) on the next pass.
        var lease = storage.Value.ClaimLease;
        var claimedAt = Environment.TickCount64;
        foreach (var e in store.ClaimInbound(time.GetUtcNow(), replica.Id, lease, limit: 10))
        {
            if (Environment.TickCount64 - claimedAt > lease.TotalMilliseconds / 2) break;
            var id = e.EventId;
            if (!EventEnvelope.TryParse(e.Json, out var envelope)) { store.CompleteInbound(id); continue; }
            try
            {
                foreach (var handler in handlers) await handler.HandleAsync(envelope, ct);
                store.CompleteInbound(id);
                if (e.Waits > 0) LogWaitOver(log, id);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { throw; }
            catch (RetryLaterException later)
            {
                var waits = e.Waits + 1;
                if (waits == 1) LogWaiting(log, id, later.WaitingFor);
                store.RetryInbound(id, e.Failures, waits, time.GetUtcNow() + outbox.Backoff(waits));
            }
            catch (Exception failure)
            {
                var n = e.Failures + 1;
                LogFailed(log, failure, id, n);
                if (n >= 5) { store.CompleteInbound(id); LogDropped(log, id, e.Json.Length); }
                else store.RetryInbound(id, n, e.Waits, time.GetUtcNow());
            }
        }
    }

    [LoggerMessage(EventId = 5205, Level = LogLevel.Error, Message = "Reading the Slack event inbox failed")]
    static partial void LogSweepFailed(ILogger logger, Exception e);
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
