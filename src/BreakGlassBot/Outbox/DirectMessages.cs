using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Outbox;

/// <summary>Renders one kind of direct message about a change (by key), at the moment it is sent.</summary>
public interface IDirectMessageSource
{
    SlackMessage? Render(EmergencyChange change, string key, string user, DateTimeOffset now);

    /// <summary>The audit event a sent message is recorded as: an escalation ("escalation…" keys) or a reminder, unless the source says otherwise.</summary>
    string AuditTypeFor(string key) => key.StartsWith("escalation", StringComparison.Ordinal) ? AuditTypes.EscalationSent : AuditTypes.ReminderSent;
}

/// <summary>
/// Sends a direct message owed by a change: target "&lt;user&gt;|&lt;key&gt;". The message is tagged with metadata,
/// and a repeated attempt after an uncertain failure looks in the DM first, so a person gets it once.
/// </summary>
internal sealed class DirectMessageStep(ISlackApi slack, IEnumerable<IDirectMessageSource> sources, TimeProvider time) : IStepHandler
{
    readonly IDirectMessageSource[] sources = [.. sources];
    public string Kind => StepKinds.DirectMessage;

    public static string Target(string user, string key) => $"{user}|{key}";

    /// <summary>Kept in <see cref="EmergencyChange.RefusalsNoted"/> as "dm-undeliverable:&lt;user&gt;:&lt;error&gt;": no more direct messages to that person about the change.</summary>
    public const string UndeliverablePrefix = "dm-undeliverable:";

    /// <summary>Whether Slack said <paramref name="user"/> cannot get direct messages (a bot user, deactivated, unknown).</summary>
    public static bool Undeliverable(EmergencyChange change, string user) =>
        change.RefusalsNoted.Any(k => k.StartsWith(UndeliverablePrefix + user + ":", StringComparison.Ordinal));

    public async Task<StepOutcome> RunAsync(EmergencyChange change, PendingStep step, CancellationToken ct)
    {
        var bar = step.Target?.IndexOf('|') ?? -1;
        if (bar <= 0) return new StepOutcome.GiveUp("malformed direct-message target");
        var user = step.Target![..bar];
        var key = step.Target[(bar + 1)..];
        var now = time.GetUtcNow();
        var (source, message) = sources.Select(s => (Source: s, Message: s.Render(change, key, user, now))).FirstOrDefault(m => m.Message is not null);
        if (source is null || message is null) return new StepOutcome.Done();
        var auditType = source.AuditTypeFor(key);
        message = message with { Metadata = ThreadNotes.NoteMetadata(change, key + ":" + user) };
        try
        {
            var channel = await slack.OpenDirectMessageAsync(user, ct);
            await SlackPosting.PostOnceAsync(slack, new SlackPlace(channel, step.NextAttemptAt.AddDays(-1)), message, SlackPosting.MayHavePosted(step), ct);
            return Sent(auditType, user, key, channel, now);
        }
        catch (SlackApiException e) when (SlackErrors.Classify(e) == SlackErrorKind.Recipient) { return Skipped(user, key, e, now); }
        catch (SlackApiException e) { return SlackPosting.RetryFor(e); }
    }

    /// <summary>This person can never get the message: not retried, noted in the thread once, and no more DMs to them about the change.</summary>
    static StepOutcome Skipped(string user, string key, SlackApiException e, DateTimeOffset at) =>
        new StepOutcome.Done(c =>
        {
            if (!Undeliverable(c, user))
            {
                c.RefusalsNoted.Add($"{UndeliverablePrefix}{user}:{e.Error}");
                OutboxQueue.Enqueue(c, StepKinds.ThreadNote, at, StepNotes.DirectMessageSkipped(user));
            }
            return [new AuditEvent
            {
                ChangeNumber = c.Id, At = at, Actor = "bot", Type = AuditTypes.DirectMessageSkipped,
                Data = new() { ["to"] = user, ["message"] = key, ["error"] = $"slack {e.Method}: {e.Error}" },
            }];
        });

    static StepOutcome Sent(string auditType, string user, string key, string channel, DateTimeOffset at) =>
        new StepOutcome.Done(c => [new AuditEvent
        {
            ChangeNumber = c.Id, At = at, Actor = "bot",
            Type = auditType,
            Data = new() { ["to"] = user, ["message"] = key, ["channel"] = channel },
        }]);
}
