using System.Text;
using System.Text.Json.Nodes;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Outbox;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Declaring;

/// <summary>How the bypass is granted (GitHub:BypassMode, GitHub:BypassTeam, Policy:BypassDuration), for the confirmation's wording.</summary>
public sealed record BypassSettings(BypassMode Mode, string? Team, TimeSpan Duration);

/// <summary>The buttons an open change's announcement carries (Reviewing's approve, request changes, details).</summary>
public interface IAnnouncementActions
{
    JsonObject Buttons(EmergencyChange change);
}

/// <summary>Pure builders for every message about a change. User text is always escaped.</summary>
public sealed class ChangeMessages(string? jiraBaseUrl, string? announcementChannel, BypassSettings? bypass = null, IAnnouncementActions? actions = null)
{
    public string StatusWord(EmergencyChange c, DateTimeOffset now) => c.Status switch
    {
        ChangeStatus.Open when c.IsOverdue(now) => ":warning: Overdue",
        ChangeStatus.Open => ":hourglass_flowing_sand: Open, awaiting retrospective review",
        ChangeStatus.Reviewed => ":white_check_mark: Reviewed",
        ChangeStatus.Closed when c.Detected?.AbsorbedBy is { } by => $":lock: Closed — declared as {new ChangeId(by)}",
        ChangeStatus.Closed => ":lock: Closed",
        ChangeStatus.Cancelled => ":no_entry_sign: Cancelled",
        _ => c.Status.ToString(),
    };

    public string Links(EmergencyChange c)
    {
        var parts = new List<string>();
        parts.AddRange(c.PullRequests.Select(p => Blocks.Link(p.Ref.Url, p.Ref.ToString())));
        parts.AddRange(c.JiraIssues.Select(j => JiraLink(j.Key)));
        return parts.Count == 0 ? "none" : string.Join(", ", parts);
    }

    public string JiraLink(string key) =>
        string.IsNullOrWhiteSpace(jiraBaseUrl) ? Blocks.Escape(key) : Blocks.Link($"{jiraBaseUrl.TrimEnd('/')}/browse/{key}", key);

    public SlackMessage Announcement(EmergencyChange c, DateTimeOffset now)
    {
        if (IsDetected(c)) return DetectedAnnouncement(c, c.Detected!, now);
        var summary = Blocks.UserText(c.Summary);
        var blocks = Blocks.List(
            Blocks.Header($"🚨 {c.ChangeId} · Emergency change"),
            Blocks.Section($"*{summary}*"),
            Blocks.Fields(
                $"*Declared by*\n{Blocks.Mention(c.DeclaredBy)}",
                $"*Status*\n{StatusWord(c, now)}",
                $"*Review due*\n{Blocks.Date(c.DueAt)}",
                $"*Links*\n{Links(c)}"),
            ApprovedBy(c),
            StillMissing(c),
            c.Cancellation is { } x
                ? CancelledContext(x)
                : Blocks.Context("Review this change retrospectively: details and approvals in this thread."),
            c.Status == ChangeStatus.Open ? actions?.Buttons(c) : null);
        StampRevision(blocks, c.ChangeId.ToString());
        var text = $"🚨 {c.ChangeId} emergency change by {Blocks.Mention(c.DeclaredBy)}: {summary} ({StatusWord(c, now)})";
        return new SlackMessage(text, blocks) { Metadata = ThreadNotes.AnnouncementMetadata(c) };
    }

    /// <summary>
    /// Slack asks for a new block_id on every iteration of an updated message: clients keep what they drew for a
    /// block_id they know, so a refreshed status or a removed button could stay on screen. Handlers go by action_id.
    /// </summary>
    static void StampRevision(JsonArray blocks, string changeId)
    {
        var revision = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4)).ToLowerInvariant();
        for (var i = 0; i < blocks.Count; i++)
            if (blocks[i] is JsonObject block) block["block_id"] = $"{changeId}.{revision}.{i}";
    }

    public SlackMessage Details(EmergencyChange c, string policy)
    {
        var head = IsDetected(c)
            ? $"*Details of {c.ChangeId}*\n• Detected: {Blocks.Date(c.DeclaredAt)} by the bot (found by {FoundBy(c.Detected!)}); nobody declared it\n"
              + $"• What: {DetectedWhat(c)}\n• {DetectedActorLabel(c.Detected!)}: {DetectedResponsible(c)}\n• Why it counts: {Blocks.Escape(c.Detected!.Reason)}\n"
            : $"*Details of {c.ChangeId}*\n• Declared: {Blocks.Date(c.DeclaredAt)} by {Blocks.Mention(c.DeclaredBy)}\n";
        var tail = $"• Pull requests: {(c.PullRequests.Count == 0 ? "none" : string.Join(", ", c.PullRequests.Select(p => Blocks.Link(p.Ref.Url, p.Ref.ToString()))))}\n"
            + $"• Jira: {(c.JiraIssues.Count == 0 ? "none" : string.Join(", ", c.JiraIssues.Select(j => JiraLink(j.Key))))}\n"
            + $"• Retrospective review due {Blocks.Date(c.DueAt)} ({Blocks.Escape(policy)})";
        // What people typed gets what the links and the due date leave of Slack's 3000: a long justification is cut, never them.
        var typed = new StringBuilder();
        if (!string.IsNullOrWhiteSpace(c.Service)) typed.Append($"• Service / impact: {Blocks.Truncate(Blocks.UserText(c.Service), 300)}\n");
        if (!string.IsNullOrWhiteSpace(c.Severity)) typed.Append($"• Severity: {Blocks.Truncate(Blocks.UserText(c.Severity), 100)}\n");
        if (!string.IsNullOrWhiteSpace(c.Justification))
        {
            const string label = "• Justification: ";
            var room = Blocks.SectionTextLimit - head.Length - tail.Length - typed.Length - label.Length - 1;
            if (room > 20) typed.Insert(0, label + Blocks.Truncate(Blocks.UserText(c.Justification), room) + "\n");
        }
        var text = head + typed + tail;
        return new SlackMessage(Blocks.Truncate(text, 3000), Blocks.List(Blocks.Section(text))) { Metadata = ThreadNotes.NoteMetadata(c, "details") };
    }

    public SlackMessage Note(EmergencyChange c, string key, string mrkdwn) => ThreadNotes.Message(c, key, mrkdwn);

    public CommandReply Confirmation(EmergencyChange change)
    {
        var text = $":rotating_light: *{change.ChangeId}* declared: {Blocks.UserText(change.Summary)}\n"
            + $"{BypassLine(change)} Announcing in <#{announcementChannel}>; retrospective review due {Blocks.Date(change.DueAt)}.\n"
            + $"Links: {Links(change)}";
        return new CommandReply(text, Blocks.List(Blocks.Section(text), Blocks.Context($"`/breakglass status {change.ChangeId}` shows where it stands.")));
    }

    /// <summary>What the declarer may do now, by GitHub:BypassMode: only Team and MergeByBot give the bot anything to grant.</summary>
    public string BypassLine(EmergencyChange change) => bypass switch
    {
        { Mode: BypassMode.Team, Team: var team, Duration: var d } =>
            $"Your GitHub account is being added to `{Blocks.Escape(team ?? "")}` for {ReviewPolicy.Format(d)} (the thread says when it is done).",
        { Mode: BypassMode.MergeByBot, Duration: var d } =>
            $"For the next {ReviewPolicy.Format(d)} the bot merges your pull requests: use *Merge now* in the thread or `/breakglass merge {change.ChangeId}`.",
        _ => "The change is recorded; the bot grants no access itself (an admin bypasses the branch rules by hand if needed).",
    };

    public string Line(EmergencyChange c, DateTimeOffset now)
    {
        var due = c.Status == ChangeStatus.Open
            ? c.IsOverdue(now) ? $"overdue by {ReviewPolicy.Format(now - c.DueAt)}" : $"due in {ReviewPolicy.Format(c.DueAt - now)}"
            : c.Status.ToString().ToLowerInvariant();
        var thread = c.Announcement?.Permalink is { } link ? " " + Blocks.Link(link, "thread") : "";
        return $"*{c.ChangeId}* {Blocks.Truncate(Blocks.UserText(c.Summary), 80)} · {Who(c)} · {due}{thread}";
    }

    public JsonArray StatusBlocks(EmergencyChange c, DateTimeOffset now) => Blocks.List(
        Blocks.Section($"*{c.ChangeId}* {Blocks.UserText(c.Summary)}"),
        Blocks.Fields(
            $"*Status*\n{StatusWord(c, now)}",
            IsDetected(c) ? $"*Responsible*\n{Who(c)} (detected {Blocks.Date(c.DeclaredAt)})" : $"*Declared by*\n{Blocks.Mention(c.DeclaredBy)} {Blocks.Date(c.DeclaredAt)}",
            $"*Review due*\n{Blocks.Date(c.DueAt)}",
            $"*Links*\n{Links(c)}"),
        c.Cancellation is { } x ? Blocks.Context($"{(x.AfterUse ? "Withdrawn after use" : "Cancelled")} by {Blocks.Mention(x.By)} {Blocks.Date(x.At)}: {Blocks.UserText(x.Reason)}") : null,
        c.Announcement?.Permalink is { } p ? Blocks.Context(Blocks.Link(p, "Open the thread")) : null);

    static System.Text.Json.Nodes.JsonObject? ApprovedBy(EmergencyChange c) => c.StandingApprovals.Any()
        ? Blocks.Context("Approved by " + string.Join(", ", c.StandingApprovals.Select(a => $"{Blocks.Mention(a.Reviewer)} {Blocks.Date(a.At)}")))
        : null;

    static System.Text.Json.Nodes.JsonObject? StillMissing(EmergencyChange c) => c.Status == ChangeStatus.Open && c.Evidence.Any(e => !e.Satisfied)
        ? Blocks.Context("Still missing: " + string.Join("; ", c.Evidence.Where(e => !e.Satisfied).Select(e => Blocks.Escape(e.Missing ?? e.Kind))))
        : null;

    static System.Text.Json.Nodes.JsonObject CancelledContext(Cancellation x) => Blocks.Context(x.AfterUse
        ? $"Withdrawn after use by {Blocks.Mention(x.By)}: {Blocks.UserText(x.Reason)}. The review is still owed."
        : $"Cancelled by {Blocks.Mention(x.By)}: {Blocks.UserText(x.Reason)}");

    // ---- Detected cases: a merge or push nobody declared, opened by the bot (EmergencyChange.Source "detected") ----------

    public static bool IsDetected(EmergencyChange c) => c.Source == DetectedBypass.SourceName && c.Detected is not null;

    /// <summary>The person responsible, or "nobody known" (a detected case whose GitHub account maps to no one yet).</summary>
    static string Who(EmergencyChange c) => c.DeclaredBy.Length == 0 ? "nobody known" : Blocks.Mention(c.DeclaredBy);

    /// <summary>What reached the branch, as mrkdwn: "&lt;PR link&gt; merged into `main`" or "3 commits (`abc1234`, …) pushed to `main` of acme/api".</summary>
    public static string DetectedWhat(EmergencyChange c)
    {
        var d = c.Detected!;
        var branch = d.Branch is { Length: > 0 } b ? $"`{Blocks.Escape(b)}`" : "a watched branch";
        if (d.Kind == DetectedBypass.PullRequestKind)
        {
            var pr = c.PullRequests.FirstOrDefault() is { } p ? Blocks.Link(p.Ref.Url, p.Ref.ToString()) : Blocks.Escape($"{d.Repository}#{d.Number}");
            return $"{pr} merged into {branch}";
        }
        var count = d.Commits.Count > 0 ? d.Commits.Count : 1;
        var what = count == 1 ? $"commit {DetectedCommits(d)}" : $"{count} commits ({DetectedCommits(d)})";
        return $"{what} pushed straight to {branch} of {Blocks.Escape(d.Repository)}";
    }

    /// <summary>A direct push's commits as short SHAs (the first five).</summary>
    static string DetectedCommits(DetectedBypass d)
    {
        List<string> commits = d.Commits.Count > 0 ? d.Commits : d.Sha is { } sha ? [sha] : [];
        return commits.Count == 0 ? "unknown"
            : string.Join(", ", commits.Take(5).Select(s => $"`{Blocks.Escape(ApprovalCoverage.Short(s))}`")) + (commits.Count > 5 ? ", …" : "");
    }

    static string DetectedActorLabel(DetectedBypass d) => d.Kind == DetectedBypass.PullRequestKind ? "Merged by" : "Pushed by";

    /// <summary>The GitHub account, and the Slack user responsible when known; otherwise how an admin names one.</summary>
    public static string DetectedResponsible(EmergencyChange c)
    {
        var login = c.Detected!.Actor is { Length: > 0 } a ? $"`{Blocks.Escape(a)}` on GitHub" : "an unknown GitHub account";
        return c.DeclaredBy.Length > 0
            ? $"{login} · {Blocks.Mention(c.DeclaredBy)}"
            : $"{login} · nobody known — an admin assigns one with `/breakglass assign {c.ChangeId} @person`";
    }

    static string FoundBy(DetectedBypass d) => d.FoundBy.Count == 0 ? "the bot" : Blocks.Escape(string.Join(", ", d.FoundBy));

    SlackMessage DetectedAnnouncement(EmergencyChange c, DetectedBypass d, DateTimeOffset now)
    {
        var summary = Blocks.UserText(c.Summary);
        var blocks = Blocks.List(
            Blocks.Header($":mag: Undeclared bypass detected: {c.ChangeId}"),
            Blocks.Section($"*{summary}*\n{DetectedWhat(c)} without a review, and nobody declared it."),
            Blocks.Fields(
                $"*Repository*\n{Blocks.Escape(d.Repository)}",
                $"*Branch*\n{(d.Branch is { Length: > 0 } b ? $"`{Blocks.Escape(b)}`" : "unknown")}",
                d.Kind == DetectedBypass.PullRequestKind ? $"*Pull request*\n{Links(c)}" : $"*Commits*\n{DetectedCommits(d)}",
                $"*{DetectedActorLabel(d)}*\n{DetectedResponsible(c)}",
                $"*Status*\n{StatusWord(c, now)}",
                $"*Review due*\n{Blocks.Date(c.DueAt)}"),
            Blocks.Context($"Why it counts: {Blocks.Escape(d.Reason)}. Found by {FoundBy(d)}."),
            d.ExplainedAt is { } explained && !string.IsNullOrWhiteSpace(c.Justification)
                ? Blocks.Context($"Explained {Blocks.Date(explained)}: {Blocks.Truncate(Blocks.UserText(c.Justification), 1500)}")
                : null,
            ApprovedBy(c),
            StillMissing(c),
            c.Cancellation is { } x
                ? CancelledContext(x)
                : d.AbsorbedBy is { } m
                    ? Blocks.Context($"Declared as {new ChangeId(m)}: its review covers this change.")
                    : Blocks.Context("The bot opened this case because nobody declared the change. Review it retrospectively: details and approvals in this thread."),
            c.Status == ChangeStatus.Open ? actions?.Buttons(c) : null);
        StampRevision(blocks, c.ChangeId.ToString());
        var text = $":mag: Undeclared bypass detected: {c.ChangeId}: {summary} ({StatusWord(c, now)})";
        return new SlackMessage(text, blocks) { Metadata = ThreadNotes.AnnouncementMetadata(c) };
    }
}
