using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Outbox;

/// <summary>Thread notes and direct messages carry metadata naming the change and the note, so a repeated post finds the first.</summary>
public static class ThreadNotes
{
    public const string AnnouncementEventType = "breakglass_announcement";
    public const string NoteEventType = "breakglass_note";

    public static MessageMetadata AnnouncementMetadata(EmergencyChange c) =>
        new(AnnouncementEventType, new Dictionary<string, string> { ["change_id"] = c.ChangeId.ToString() });

    public static MessageMetadata NoteMetadata(EmergencyChange c, string key) =>
        new(NoteEventType, new Dictionary<string, string> { ["change_id"] = c.ChangeId.ToString(), ["note"] = key });

    public static SlackMessage Message(EmergencyChange c, string key, string mrkdwn) =>
        new(Blocks.Truncate(mrkdwn, 3000), Blocks.List(Blocks.Section(mrkdwn))) { Metadata = NoteMetadata(c, key) };
}

/// <summary>
/// A one-off note in the change's thread. The text is built when the step runs, from the step's target
/// (the note's key) and the change as it is then.
/// </summary>
internal sealed class ThreadNoteStep(ISlackApi slack, IEnumerable<IThreadNoteSource> sources) : IStepHandler
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
            await SlackPosting.PostThreadReplyOnceAsync(slack, a, ThreadNotes.Message(change, key, text), step, ct);
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
