using System.Text.Json;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Slack;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Reviewing;

/// <summary>
/// Replies in a change's thread: an eligible reviewer's approval word approves; the same word from someone
/// else gets a note once; ordinary discussion is left alone. The bot's own messages are ignored.
/// </summary>
internal sealed class ThreadReplyApprovals(ChangeStore store, Approvals approvals, BotIdentity bot, IOptions<PolicyOptions> policy) : ISlackEventHandler
{
    public async Task HandleAsync(EventEnvelope envelope, CancellationToken ct)
    {
        if (envelope.Event is not { Type: "message" } e) return;
        // Edits, deletions, joins and bot posts have a subtype; a plain reply has none (a broadcast reply is still a reply).
        if (e.Subtype is not (null or "thread_broadcast") || e.BotId is not null || e.User is null) return;
        if (e.ThreadTs is null || e.ThreadTs == e.Ts || e.Channel is null) return;
        if (!IsApproval(e.Text, policy.Value.EffectiveApprovalWords)) return;
        if (await bot.IsBotAsync(e.User, ct)) return;
        var change = store.ByAnnouncement(e.Channel, e.ThreadTs);
        if (change is null) return;
        var result = await approvals.ApproveAsync(change.ChangeId, e.User, null, "thread-reply", e.Ts, e.Text, ct);
        if (result is ApprovalResult.Refused) approvals.NoteRefusalOnce(change.ChangeId, e.User);
        // No one waits on a thread reply: let the inbox try the event again once the reviewer group can be read.
        if (result is ApprovalResult.Unavailable) throw new ReviewerGroupUnavailableException("Slack:ReviewerUserGroup");
    }

    /// <summary>
    /// The reply is an approval word, alone or followed by more ("LGTM, thanks"). A word later in the text
    /// ("not approved", "who approved this?") is discussion, not an approval.
    /// </summary>
    public static bool IsApproval(string? text, IReadOnlyList<string> words)
    {
        if (string.IsNullOrWhiteSpace(text)) return false;
        var t = text.Trim();
        foreach (var word in words)
        {
            if (!t.StartsWith(word, StringComparison.OrdinalIgnoreCase)) continue;
            if (t.Length == word.Length) return true;
            var next = t[word.Length];
            if (next is '?') continue;
            if (char.IsWhiteSpace(next) || next is ',' or '.' or '!' or ':' or ';' or '-' || char.IsSurrogate(next) || !char.IsLetterOrDigit(next))
                return !t[word.Length..].TrimStart().StartsWith('?');
        }
        return false;
    }
}

/// <summary>The bot's own Slack ids (auth.test), fetched once and cached.</summary>
public sealed class BotIdentity(ISlackApi slack)
{
    (string UserId, string? BotId)? ids;

    public async Task<bool> IsBotAsync(string user, CancellationToken ct)
    {
        if (ids is null)
        {
            try { ids = await slack.AuthTestAsync(ct); }
            catch (SlackApiException) { return false; } // unknown for now; bot posts are caught by bot_id anyway
        }
        return ids.Value.UserId == user;
    }
}

/// <summary>
/// Inbound Slack events, saved before the ack (deduplicated on event_id) and processed here, so an event
/// acknowledged just before a crash is still handled after the restart.
/// </summary>
internal sealed partial class InboxWorker(ChangeStore store, IEnumerable<ISlackEventHandler> handlers, InboxNudge wake, Outbox outbox, IOptions<StorageOptions> storage,
    ILogger<InboxWorker> log)
    : BackgroundService
{
    readonly Dictionary<string, int> failures = [];
    /// <summary>
    /// Events waiting for the reviewer group to be readable again: not failures (an approval must not be dropped because
    /// Slack's usergroups API was down for a minute), so they are retried with the outbox's back-off for as long as it takes.
    /// Due times on the monotonic tick count: this is pacing, not policy time.
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
                    if (waiting.Remove(id)) LogGroupBack(log, id);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { return; }
                catch (ReviewerGroupUnavailableException)
                {
                    var waits = waiting.GetValueOrDefault(id).Waits + 1;
                    if (waits == 1) LogWaitingForGroup(log, id);
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
    [LoggerMessage(EventId = 5203, Level = LogLevel.Warning, Message = "Slack event {EventId} waits for the reviewer user group to be readable; retrying with back-off until it is")]
    static partial void LogWaitingForGroup(ILogger logger, string eventId);
    [LoggerMessage(EventId = 5204, Level = LogLevel.Information, Message = "Slack event {EventId} handled now that the reviewer user group could be read")]
    static partial void LogGroupBack(ILogger logger, string eventId);
}

/// <summary>Wakes the inbox worker (a separate singleton so the endpoint does not depend on the hosted service).</summary>
public sealed class InboxNudge
{
    internal System.Threading.Channels.Channel<bool> Signal { get; } = System.Threading.Channels.Channel.CreateBounded<bool>(
        new System.Threading.Channels.BoundedChannelOptions(1) { FullMode = System.Threading.Channels.BoundedChannelFullMode.DropWrite });

    public void Nudge() => Signal.Writer.TryWrite(true);
}
