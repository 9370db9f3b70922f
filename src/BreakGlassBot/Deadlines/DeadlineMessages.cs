using System.Text;
using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Slack;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.Deadlines;

/// <summary>Reminders, escalations and the thread notes of the deadline tracker. Pure: built from the change and now.</summary>
internal sealed class DeadlineMessages(ChangeMessages messages) : IDirectMessageSource, IThreadNoteSource
{
    public const string ReminderKey = "reminder";
    public const string DeclarerKey = "declarer-reminder";
    public const string EscalationKey = "escalation";
    public const string OutstandingKey = "outstanding";
    public const string ReviewedNote = "reviewed";
    public const string OverdueNote = "overdue";
    public IReadOnlyCollection<string> Names => [ReviewedNote, OverdueNote];

    public static string Missing(EmergencyChange c)
    {
        var missing = c.Evidence.Where(e => !e.Satisfied).Select(e => e.Missing ?? e.Kind).ToList();
        return missing.Count == 0 ? "nothing recorded yet" : string.Join("; ", missing.Select(Blocks.Escape));
    }

    static string When(EmergencyChange c, DateTimeOffset now) => c.IsOverdue(now)
        ? $"*overdue by {ReviewPolicy.Format(now - c.DueAt)}* (was due {Blocks.Date(c.DueAt)})"
        : $"due {Blocks.Date(c.DueAt)} (in {ReviewPolicy.Format(c.DueAt - now)})";

    string Thread(EmergencyChange c) => c.Announcement?.Permalink is { } link ? Blocks.Link(link, "the thread") : "the change channel";

    public SlackMessage? Render(EmergencyChange c, string key, string user, DateTimeOffset now)
    {
        var kind = key.Split(':')[0];
        if (c.Status != ChangeStatus.Open) return null; // reviewed or cancelled since it was planned: say nothing
        var head = $"*{c.ChangeId}* {Blocks.UserText(c.Summary)} · declared by {Blocks.Mention(c.DeclaredBy)}";
        switch (kind)
        {
            case ReminderKey:
            {
                var text = $":hourglass: Retrospective review needed: {head}\nReview {When(c, now)}. Still missing: {Missing(c)}.\nLinks: {messages.Links(c)} · {Thread(c)}";
                return new SlackMessage(text, Blocks.List(Blocks.Section(text), ReviewActions.Buttons(c)));
            }
            case DeclarerKey:
            {
                var request = c.ChangeRequests.LastOrDefault();
                var text = $":memo: Changes were requested on {head}"
                    + (request is null ? "" : $" by {Blocks.Mention(request.Reviewer)}: {Blocks.UserText(request.Reason)}")
                    + $"\nAddress them and ask a reviewer to approve in {Thread(c)}. Review {When(c, now)}.";
                return new SlackMessage(text, Blocks.List(Blocks.Section(text)));
            }
            case OutstandingKey:
            {
                var pr = c.Evidence.Any(e => e.Kind == nameof(Hosting.EvidenceKind.PullRequestApproved) && !e.Satisfied);
                var jira = c.Evidence.Any(e => e.Kind == nameof(Hosting.EvidenceKind.JiraReviewed) && !e.Satisfied);
                var ask = user != c.DeclaredBy
                    ? "You approved it in Slack; the pull request still needs an approving review on GitHub by someone other than its author."
                    : string.Join(" ", new[]
                    {
                        pr ? "Get the pull request approved on GitHub by someone other than its author." : null,
                        jira ? "Move the Jira issue to a reviewed status." : null,
                    }.OfType<string>());
                var text = $":hourglass: Approved in Slack, but not yet reviewed: {head}\nStill missing: {Missing(c)}. {ask}\nReview {When(c, now)}.\nLinks: {messages.Links(c)} · {Thread(c)}";
                return new SlackMessage(text, Blocks.List(Blocks.Section(text)));
            }
            case EscalationKey:
            {
                var text = $":rotating_light: Escalation: {head}\nThe retrospective review is {When(c, now)}. Missing: {Missing(c)}.\nLinks: {messages.Links(c)} · {Thread(c)}";
                return new SlackMessage(text, Blocks.List(Blocks.Section(text)));
            }
            default:
                return null;
        }
    }

    public string? Render(EmergencyChange c, string key)
    {
        switch (key)
        {
            case ReviewedNote when c.ReviewedAt is { } at:
                var late = at - c.DueAt;
                var sb = new StringBuilder($":white_check_mark: *{c.ChangeId} is reviewed* ");
                sb.Append(late > TimeSpan.Zero ? $"(late by {ReviewPolicy.Format(late)})." : "within the review window.");
                foreach (var e in c.Evidence) sb.Append($"\n• {Describe(e)}");
                return sb.ToString();
            case OverdueNote:
                return $":warning: *{c.ChangeId} is overdue*: the retrospective review was due {Blocks.Date(c.DueAt)}. Still missing: {Missing(c)}. Reviewers keep being reminded.";
            default:
                return null;
        }
    }

    static string Describe(EvidenceCheck e) => (e.Kind, e.Target) switch
    {
        (nameof(Hosting.EvidenceKind.SlackApproval), _) => "approved in Slack",
        (nameof(Hosting.EvidenceKind.PullRequestApproved), var t) => $"{t}: approved on GitHub",
        (nameof(Hosting.EvidenceKind.JiraReviewed), var t) => $"{t}: reviewed in Jira",
        var (k, t) => $"{k} {t}",
    };
}
