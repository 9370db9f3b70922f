using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Slack;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Outbox;

/// <summary>
/// Slack steps parked on an error only a person can fix (<see cref="SlackErrors"/>): who is told, how the note reads, and
/// how they are released (at start-up, when a step of their kind goes through, or at Slack:ParkedRetryInterval).
/// </summary>
public static class ParkedSteps
{
    /// <summary>Steps that post into a change's thread: their order is the thread's, and when one of them fails the thread is what fails.</summary>
    public static readonly IReadOnlySet<string> ThreadPosts = new HashSet<string> { StepKinds.ThreadDetails, StepKinds.ThreadNote };

    /// <summary>Errors about one message's content: another message going through says nothing about this one.</summary>
    public static bool MessageSpecific(string error) =>
        error is "invalid_blocks" or "invalid_blocks_format" or "invalid_arguments" or "msg_too_long" or "metadata_too_large"
            or "invalid_metadata_format" or "invalid_metadata_schema" or "no_text" or "too_many_attachments";

    /// <summary>The bot token itself is refused: any Slack call that works again proves it fixed.</summary>
    public static bool IsTokenError(string error) => error is "invalid_auth" or "not_authed" or "account_inactive" or "token_revoked" or "token_expired";

    /// <summary>Steps that call Slack.</summary>
    public static bool IsSlackKind(string kind) =>
        ThreadPosts.Contains(kind) || kind is StepKinds.DirectMessage or StepKinds.Announce or StepKinds.RefreshAnnouncement;

    /// <summary>Whether any step (other than <paramref name="except"/>) is parked on <paramref name="error"/>.</summary>
    public static bool AnyParkedOn(ChangeStore store, string error, (int Change, int Index) except) =>
        store.WithDueSteps(DateTimeOffset.MaxValue, limit: 1000).Any(c => c.Steps.Where((s, i) => s.State == StepState.Pending && s.ParkedOn == error
            && (c.Id, i) != except).Any());

    /// <summary>Every pending step parked on an error that <paramref name="which"/> accepts is due now; returns how many.</summary>
    public static async Task<int> ReleaseAsync(ChangeStore store, DateTimeOffset now, Func<PendingStep, bool> which, int? except = null)
    {
        var released = 0;
        foreach (var change in store.WithDueSteps(DateTimeOffset.MaxValue, limit: 1000))
        {
            if (change.Id == except || !change.Steps.Any(s => Waiting(s) && which(s))) continue;
            var (_, count) = await store.UpdateAsync(change.Id, c =>
            {
                var n = 0;
                foreach (var s in c.Steps.Where(s => Waiting(s) && which(s))) { s.NextAttemptAt = now; n++; }
                return Decision<int>.Only(n);
            });
            released += count;
        }
        return released;
    }

    static bool Waiting(PendingStep s) => s.State == StepState.Pending && s.ParkedOn is not null;

    /// <summary>A notice about a notice is not sent: one that cannot be posted is parked like any step, without another.</summary>
    static bool IsNotice(PendingStep s) => s.Target?.Contains("step-parked:", StringComparison.Ordinal) == true;

    /// <summary>
    /// Enqueues the one notice about step <paramref name="index"/> being parked: a note in the thread, or direct messages to
    /// the admins when the thread itself is what fails (or there is none yet). Returns who was told.
    /// </summary>
    public static string Tell(EmergencyChange c, int index, IReadOnlyList<string> admins, DateTimeOffset now)
    {
        var s = c.Steps[index];
        if (IsNotice(s)) return "nobody (a notice itself)";
        var threadFails = ThreadPosts.Contains(s.Kind) || s.Kind is StepKinds.Announce or StepKinds.RefreshAnnouncement || c.Announcement is null;
        if (!threadFails)
        {
            OutboxQueue.Enqueue(c, StepKinds.ThreadNote, now, StepNotes.Parked(index));
            return "thread";
        }
        foreach (var admin in admins.Distinct()) OutboxQueue.Enqueue(c, StepKinds.DirectMessage, now, DirectMessageStep.Target(admin, StepNotes.Parked(index)));
        return admins.Count == 0 ? "nobody (no Slack:Admins)" : string.Join(' ', admins.Distinct());
    }

    /// <summary>What the parked step was doing, in words.</summary>
    public static string What(PendingStep s) => s.Kind switch
    {
        StepKinds.DirectMessage when s.Target?.IndexOf('|') is > 0 and var bar => $"send {Blocks.Mention(s.Target[..bar])} a direct message",
        StepKinds.ThreadNote => "post a note in the change's thread",
        StepKinds.ThreadDetails => "post the change's details in its thread",
        StepKinds.RefreshAnnouncement => "update the change's announcement",
        StepKinds.Announce => "post the change's announcement",
        _ => Blocks.Escape(s.Description ?? s.Kind),
    };

    /// <summary>The text of a parked notice ("step-parked:i") while the step is still parked, or of its release ("step-unparked:i").</summary>
    public static string? RenderNote(EmergencyChange change, string key, TimeSpan? interval = null, bool direct = false)
    {
        var parsed = NoteKey.Parse(key);
        if (!int.TryParse(parsed.Argument, out var index) || index < 0 || index >= change.Steps.Count) return null;
        var s = change.Steps[index];
        if (parsed.Name == "step-unparked") return $":white_check_mark: Slack accepts it again: done after all, {What(s)}.";
        if (parsed.Name != "step-parked" || s.ParkedOn is not { } error) return null; // fixed meanwhile: nothing to say
        var where = direct ? $"*{change.ChangeId}*: " : "";
        var wide = SlackErrors.Classify(error) == SlackErrorKind.Workspace
            ? " This blocks the same for every change until it is fixed; this is the only notice." : "";
        var when = interval is { } i && s.Kind != StepKinds.Announce ? $"every {Describe(i)}" : "shortly";
        return $":no_entry: {where}Slack refuses to let the bot {What(s)}: `{Blocks.Escape(error)}`. Retrying will not help: an admin must "
            + $"{SlackErrors.AdminAction(error)}.{wide} The bot tries again {when} (and at once after a restart), and nothing is lost meanwhile.";
    }

    static string Describe(TimeSpan t) => t >= TimeSpan.FromHours(1) ? $"{t.TotalHours:0.#} h" : t >= TimeSpan.FromMinutes(1) ? $"{t.TotalMinutes:0.#} min" : $"{t.TotalSeconds:0.#} s";
}

/// <summary>The direct message to an admin about a step parked where the change's thread cannot be used.</summary>
internal sealed class ParkedNotice(IOptions<SlackOptions> slack) : IDirectMessageSource
{
    public string AuditTypeFor(string key) => AuditTypes.ParkedNoticeSent;

    public SlackMessage? Render(EmergencyChange change, string key, string user, DateTimeOffset now)
    {
        if (!key.StartsWith("step-parked:", StringComparison.Ordinal)) return null;
        var text = ParkedSteps.RenderNote(change, key, slack.Value.ParkedRetryInterval, direct: true);
        return text is null ? null : new SlackMessage(Blocks.Truncate(text, 3000), Blocks.List(Blocks.Section(text)));
    }
}
