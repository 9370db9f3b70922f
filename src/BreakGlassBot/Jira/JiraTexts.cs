using System.Globalization;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Jira;

/// <summary>
/// What the bot writes into Jira. Each comment starts with a marker naming the change ("Emergency change BG-12 declared"):
/// a repeated step looks for it before commenting again. The word after the id keeps BG-1 from matching BG-12.
/// User text is stored as typed (see <see cref="SlackFormatting"/>); ADF text nodes carry it as it is, a Slack mention as "@U…".
/// </summary>
public static class JiraTexts
{
    public const string Label = "break-glass";
    /// <summary>Jira's summary field takes at most 255 characters.</summary>
    const int MaxSummary = 255;

    public static string DeclarationMarker(EmergencyChange c) => $"Emergency change {c.ChangeId} declared";
    public static string ApprovalMarker(EmergencyChange c, Approval a) => $"{c.ChangeId} approved retrospectively by {ReviewerName(a)} in Slack";
    public static string CreatedSummaryPrefix(EmergencyChange c) => $"[{c.ChangeId}] ";

    public static string ReviewerName(Approval a) => string.IsNullOrWhiteSpace(a.ReviewerName) ? a.Reviewer : a.ReviewerName;
    public static string DeclarerName(EmergencyChange c) =>
        string.IsNullOrWhiteSpace(c.DeclaredByName) ? c.DeclaredBy : $"{c.DeclaredByName} (Slack {c.DeclaredBy})";

    public static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);

    static IReadOnlyList<JiraInline> Thread(EmergencyChange c) => c.Announcement?.Permalink is { } link
        ? JiraDocument.Line("Slack thread", link, link)
        : JiraDocument.Line("Slack thread", c.Announcement is { } a ? $"channel {a.Channel}, message {a.Ts}" : "not posted yet");

    public static JiraDocument DeclarationComment(EmergencyChange c) => JiraDocument.Of(
        JiraDocument.Line($"{DeclarationMarker(c)} in Slack (break-glass): it shipped without up-front review and needs a retrospective review."),
        JiraDocument.Line("Summary", SlackFormatting.Plain(c.Summary)),
        JiraDocument.Line("Declared by", DeclarerName(c)),
        JiraDocument.Line("Retrospective review due", Time(c.DueAt)),
        Thread(c));

    public static JiraDocument ApprovalComment(EmergencyChange c, Approval a)
    {
        var lines = new List<IReadOnlyList<JiraInline>> { JiraDocument.Line($"{ApprovalMarker(c, a)} on {Time(a.At)}.") };
        if (!string.IsNullOrWhiteSpace(a.Comment)) lines.Add(JiraDocument.Line("Comment", SlackFormatting.Plain(a.Comment)));
        lines.Add(Thread(c));
        return new JiraDocument(lines);
    }

    public static string CreatedSummary(EmergencyChange c)
    {
        // One line (Jira Cloud answers 400 to a newline), cut on whole characters (half an emoji made a create fail after it took effect).
        return TextCut.Cut(TextCut.OneLine(CreatedSummaryPrefix(c) + SlackFormatting.Plain(c.Summary)), MaxSummary);
    }

    public static JiraDocument CreatedDescription(EmergencyChange c)
    {
        var lines = new List<IReadOnlyList<JiraInline>>
        {
            JiraDocument.Line($"{DeclarationMarker(c)} in Slack by {DeclarerName(c)} on {Time(c.DeclaredAt)} (break-glass). "
                + "It shipped without up-front review; record its retrospective review here."),
            JiraDocument.Line("Summary", SlackFormatting.Plain(c.Summary)),
            JiraDocument.Line("Justification", string.IsNullOrWhiteSpace(c.Justification) ? "none given" : SlackFormatting.Plain(c.Justification)),
        };
        if (!string.IsNullOrWhiteSpace(c.Service)) lines.Add(JiraDocument.Line("Service / impact", SlackFormatting.Plain(c.Service)));
        if (!string.IsNullOrWhiteSpace(c.Severity)) lines.Add(JiraDocument.Line("Severity", SlackFormatting.Plain(c.Severity)));
        foreach (var pr in c.PullRequests) lines.Add(JiraDocument.Line("Pull request", pr.Ref.ToString(), pr.Ref.Url));
        lines.Add(JiraDocument.Line("Retrospective review due", Time(c.DueAt)));
        lines.Add(Thread(c));
        return new JiraDocument(lines);
    }
}
