using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Outbox;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Detection;

/// <summary>
/// The direct messages of a detected case: the person responsible is asked for the summary and justification, and, while
/// nobody is known, each admin is asked to assign someone. Rendered when sent, so a case explained, reassigned or closed
/// in the meantime sends nothing stale.
/// </summary>
internal sealed class DetectionDirectMessages : IDirectMessageSource
{
    /// <summary>Audit types of their own: these are not review reminders, which the evidence counts.</summary>
    public const string ResponsibleAskedType = "detection_responsible_asked";
    public const string AssignAskedType = "detection_assign_asked";

    public const string ExplainButtonText = "Add summary and justification";

    public string AuditTypeFor(string key) => key == DetectionKeys.Assign ? AssignAskedType : ResponsibleAskedType;

    public SlackMessage? Render(EmergencyChange change, string key, string user, DateTimeOffset now)
    {
        if (!ChangeMessages.IsDetected(change) || change.Status != ChangeStatus.Open) return null;
        return key switch
        {
            DetectionKeys.Responsible when change.DeclaredBy == user && change.Detected!.ExplainedAt is null => Responsible(change),
            DetectionKeys.Assign when change.DeclaredBy.Length == 0 => Assign(change),
            _ => null,
        };
    }

    static SlackMessage Responsible(EmergencyChange c)
    {
        var d = c.Detected!;
        var who = d.Actor is { Length: > 0 } login ? $"you (`{Blocks.Escape(login)}`)" : "you";
        var text = $":mag: GitHub shows {ChangeMessages.DetectedWhat(c)} by {who} without a review, and nobody declared it as an emergency change. "
            + $"The bot opened *{c.ChangeId}* for it.\n"
            + $"Please add a summary and a justification (why it could not wait for review). Its retrospective review is due {Blocks.Date(c.DueAt)}."
            + Thread(c);
        return new SlackMessage(Blocks.Truncate(text, 3000), Blocks.List(
            Blocks.Section(text),
            Blocks.Context($"Why it counts: {Blocks.Escape(d.Reason)}"),
            Blocks.Actions("detected_explain", Blocks.Button(ExplainButtonText, DetectionKeys.ExplainAction, c.ChangeId.ToString(), "primary"))));
    }

    static SlackMessage Assign(EmergencyChange c)
    {
        var d = c.Detected!;
        var actor = d.Actor is { Length: > 0 } login ? $"`{Blocks.Escape(login)}`" : "an unknown account";
        var text = $":mag: *{c.ChangeId}*: GitHub shows {ChangeMessages.DetectedWhat(c)} by {actor} without a review, and nobody declared it. "
            + "The bot does not know who that is in Slack, so nobody has been asked to explain it.\n"
            + $"Please assign the person responsible: type `/breakglass assign {c.ChangeId} @person`. They will be asked for the summary and justification; "
            + $"the retrospective review is due {Blocks.Date(c.DueAt)}."
            + Thread(c);
        return new SlackMessage(Blocks.Truncate(text, 3000), Blocks.List(Blocks.Section(text), Blocks.Context($"Why it counts: {Blocks.Escape(d.Reason)}")));
    }

    static string Thread(EmergencyChange c) => c.Announcement?.Permalink is { } link ? $" {Blocks.Link(link, "Open the thread")}." : "";
}

/// <summary>Thread notes of a detected case: explained, and assigned. The argument names who (and, for an assignment, by whom).</summary>
internal sealed class DetectionNotes : IThreadNoteSource
{
    public const string Explained = "detected-explained";
    public const string Assigned = "detected-assigned";

    public IReadOnlyCollection<string> Names => [Explained, Assigned];

    public static string ExplainedKey(string user) => $"{Explained}:{user}";
    public static string AssignedKey(string responsible, string admin) => $"{Assigned}:{responsible}:{admin}";

    public string? Render(EmergencyChange change, string key)
    {
        var note = NoteKey.Parse(key);
        if (!ChangeMessages.IsDetected(change) || note.Argument is not { Length: > 0 } argument) return null;
        if (note.Name == Explained)
            return $":memo: {Blocks.Mention(argument)} gave {change.ChangeId}'s summary and justification.\n*{Blocks.UserText(change.Summary)}*\n"
                + $"> {Blocks.Truncate(Blocks.UserText(change.Justification), 2000).Replace("\n", "\n> ", StringComparison.Ordinal)}";
        if (note.Name == Assigned && argument.Split(':') is [var responsible, var admin])
            return $":bust_in_silhouette: {Blocks.Mention(admin)} assigned {change.ChangeId} to {Blocks.Mention(responsible)}, who is asked for its summary and justification.";
        return null;
    }
}
