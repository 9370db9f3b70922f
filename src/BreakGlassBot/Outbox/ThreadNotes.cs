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

/// <summary>A one-off note in the change's thread, rendered when the step runs from its key and the change as it is then.</summary>
internal sealed class ThreadNoteStep(ISlackApi slack, IEnumerable<IThreadNoteSource> sources) : IStepHandler
{
    // Each note name has one source: a name claimed twice fails at start-up, not as a wrong note in a thread.
    readonly Dictionary<string, IThreadNoteSource> owners = sources.SelectMany(s => s.Names.Select(n => (Name: n, Source: s)))
        .ToDictionary(x => x.Name, x => x.Source, StringComparer.Ordinal);
    public string Kind => StepKinds.ThreadNote;
    public bool NeedsThread => true;

    public async Task<StepOutcome> RunAsync(EmergencyChange change, PendingStep step, CancellationToken ct)
    {
        var key = step.Target ?? "";
        var text = owners.GetValueOrDefault(NoteKey.Parse(key).Name)?.Render(change, key);
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

/// <summary>Renders the thread notes of one feature, by key (e.g. "cancelled", "approved:0").</summary>
public interface IThreadNoteSource
{
    /// <summary>The note names (<see cref="NoteKey.Name"/>) this source renders; no other source may render them.</summary>
    IReadOnlyCollection<string> Names { get; }
    string? Render(EmergencyChange change, string key);
}

/// <summary>
/// A thread note's key as stored in its step's target: a name, which picks the source, and an optional argument after the
/// first colon ("links-added:U1:acme/pay#42" is the note "links-added" with argument "U1:acme/pay#42").
/// </summary>
public readonly record struct NoteKey(string Name, string? Argument = null)
{
    public static NoteKey Parse(string key) => key.IndexOf(':') is var colon and >= 0 ? new(key[..colon], key[(colon + 1)..]) : new(key);

    public override string ToString() => Argument is null ? Name : $"{Name}:{Argument}";
}
