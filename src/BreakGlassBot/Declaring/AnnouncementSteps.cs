using BreakGlassBot.Deadlines;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Slack;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Declaring;

/// <summary>Posts the announcement to the change channel exactly once; its ts becomes the change's thread.</summary>
internal sealed class AnnounceStep(ISlackApi slack, IOptions<SlackOptions> options, ChangeMessages messages, TimeProvider time) : IStepHandler
{
    public string Kind => StepKinds.Announce;

    public async Task<StepOutcome> RunAsync(EmergencyChange change, PendingStep step, CancellationToken ct)
    {
        if (change.Announcement is not null) return new StepOutcome.Done();
        var channel = options.Value.AnnouncementChannel!;
        var message = messages.Announcement(change, time.GetUtcNow());
        try
        {
            PostedMessage? posted = null;
            if (SlackPosting.MayHavePosted(step))
            {
                // A previous attempt may have reached Slack before the bot crashed or the call timed out.
                var history = await slack.GetHistoryAsync(channel, change.DeclaredAt.AddMinutes(-1), ct);
                var found = history.FirstOrDefault(m => SlackPosting.Matches(m.Metadata, message.Metadata!));
                if (found is not null) posted = new PostedMessage(channel, found.Ts);
            }
            posted ??= await slack.PostMessageAsync(channel, message, ct);
            string? permalink = null;
            try { permalink = await slack.GetPermalinkAsync(posted.Channel, posted.Ts, ct); }
            catch (SlackApiException) { } // a link is a convenience; the thread ts is what matters
            var at = time.GetUtcNow();
            return new StepOutcome.Done(c =>
            {
                c.Announcement = new Announcement { Channel = posted.Channel, Ts = posted.Ts, Permalink = permalink, PostedAt = at };
                return [new AuditEvent { ChangeNumber = c.Id, At = at, Actor = "bot", Type = AuditTypes.Announced,
                    Data = new() { ["channel"] = posted.Channel, ["ts"] = posted.Ts, ["permalink"] = permalink ?? "" } }];
            });
        }
        catch (SlackApiException e) { return SlackPosting.RetryFor(e); }
    }
}

/// <summary>The details of the change, as the first reply in its thread.</summary>
internal sealed class ThreadDetailsStep(ISlackApi slack, ChangeMessages messages, ReviewPolicy policy) : IStepHandler
{
    public string Kind => StepKinds.ThreadDetails;
    public bool NeedsThread => true;

    public async Task<StepOutcome> RunAsync(EmergencyChange change, PendingStep step, CancellationToken ct)
    {
        try
        {
            var a = change.Announcement!;
            await SlackPosting.PostThreadReplyOnceAsync(slack, a.Channel, a.Ts, messages.Details(change, policy.Describe()), step, ct);
            return new StepOutcome.Done();
        }
        catch (SlackApiException e) { return SlackPosting.RetryFor(e); }
    }
}

/// <summary>Re-renders the announcement after the change's state changed (chat.update is idempotent).</summary>
internal sealed class RefreshAnnouncementStep(ISlackApi slack, ChangeMessages messages, TimeProvider time) : IStepHandler
{
    public string Kind => StepKinds.RefreshAnnouncement;
    public bool NeedsThread => true;

    public async Task<StepOutcome> RunAsync(EmergencyChange change, PendingStep step, CancellationToken ct)
    {
        try
        {
            var a = change.Announcement!;
            await slack.UpdateMessageAsync(a.Channel, a.Ts, messages.Announcement(change, time.GetUtcNow()), ct);
            return new StepOutcome.Done();
        }
        catch (SlackApiException e) { return SlackPosting.RetryFor(e); }
    }
}

/// <summary>
/// A one-off note in the change's thread. The text is built when the step runs, from the step's target
/// (the note's key) and the change as it is then.
/// </summary>
internal sealed class ThreadNoteStep(ISlackApi slack, ChangeMessages messages, IEnumerable<IThreadNoteSource> sources) : IStepHandler
{
    readonly IThreadNoteSource[] sources = [.. sources];
    public string Kind => StepKinds.ThreadNote;
    public bool NeedsThread => true;

    public async Task<StepOutcome> RunAsync(EmergencyChange change, PendingStep step, CancellationToken ct)
    {
        var key = step.Target ?? "";
        var text = sources.Select(s => s.Render(change, key)).FirstOrDefault(t => t is not null);
        if (text is null) return new StepOutcome.Done(); // nothing to say for an unknown key: do not retry forever
        try
        {
            var a = change.Announcement!;
            await SlackPosting.PostThreadReplyOnceAsync(slack, a.Channel, a.Ts, messages.Note(change, key, text), step, ct);
            return new StepOutcome.Done();
        }
        catch (SlackApiException e) { return SlackPosting.RetryFor(e); }
    }
}

/// <summary>Renders the thread notes of one feature, by key (e.g. "cancelled").</summary>
public interface IThreadNoteSource
{
    string? Render(EmergencyChange change, string key);
}
