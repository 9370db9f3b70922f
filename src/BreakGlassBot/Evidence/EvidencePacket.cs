using BreakGlassBot.EmergencyChanges;

namespace BreakGlassBot.Evidence;

/// <summary>
/// Everything an auditor asks about one emergency change, from the change and its audit trail. Serialised as JSON
/// with snake_case names; every time is UTC.
/// </summary>
public sealed record EvidencePacket(
    string Id,
    string Status,
    DateTimeOffset GeneratedAt,
    DeclarationEvidence Declaration,
    BypassEvidence? Bypass,
    AnnouncementEvidence? Announcement,
    DeadlineEvidence Deadline,
    Verdict Verdict,
    IntegrityEvidence Integrity,
    IReadOnlyList<NotificationEvidence> Reminders,
    IReadOnlyList<ApprovalEvidence> Approvals,
    IReadOnlyList<ChangeRequestEvidence> ChangeRequests,
    IReadOnlyList<RefusalEvidence> RefusedApprovals,
    IReadOnlyList<PullRequestEvidence> PullRequests,
    IReadOnlyList<JiraIssueEvidence> JiraIssues,
    IReadOnlyList<CheckEvidence> EvidenceChecks,
    CancellationEvidence? Cancellation,
    IReadOnlyList<AuditEntry> AuditTrail)
{
    /// <summary>Made in sandbox mode (simulated Slack, GitHub and Jira): not evidence of anything real.</summary>
    public bool Sandbox { get; init; }
    /// <summary>"declared" by a person, or "detected": opened by the bot for a bypass nobody declared (<see cref="Detected"/>).</summary>
    public string Source { get; init; } = "declared";
    public DetectedEvidence? Detected { get; init; }
}

/// <summary>
/// The merge or push a detected case was opened for. <paramref name="Change"/>: owner/repo#n or owner/repo@sha;
/// <paramref name="AbsorbedBy"/>: the declaration (BG-n) that took the case over.
/// </summary>
public sealed record DetectedEvidence(
    string Kind, string Change, string Repository, string? Branch, int? Number, string? Sha, IReadOnlyList<string> Commits, string? Actor, long? ActorId,
    DateTimeOffset? MergedAt, string Reason, IReadOnlyList<string> FoundBy, IReadOnlyList<long> RuleSuites, DateTimeOffset? ExplainedAt,
    string? AbsorbedBy, DateTimeOffset? AbsorbedAt)
{
    public static DetectedEvidence Of(DetectedBypass d) =>
        new(d.Kind, EvidenceExport.DetectedChange(d), d.Repository, d.Branch, d.Number, d.Sha, d.Commits, d.Actor, d.ActorId, d.MergedAt, d.Reason, d.FoundBy,
            d.RuleSuites, d.ExplainedAt, d.AbsorbedBy is { } n ? new ChangeId(n).ToString() : null, d.AbsorbedAt);
}

public sealed record LinkEvidence(string Ref, string? Url);

/// <summary>
/// Whether the record this packet reads agrees with the sealed audit trail. <paramref name="Status"/>: <c>sealed</c> (the record is
/// the state the trail sealed in <paramref name="SealedInEvent"/>), <c>tampered</c> (see <paramref name="Problems"/>; the verdict then
/// says so), or <c>unsealed</c> (declared before the bot sealed states and not written since: only the facts were checked).
/// </summary>
public sealed record IntegrityEvidence(string Status, string Text, long? SealedInEvent, IReadOnlyList<string> Problems)
{
    public static IntegrityEvidence Of(SealReport seal) =>
        seal.Tampered
            ? new("tampered", "TAMPERED: this record says what its audit trail does not; read the problems, and the trail, not the record", seal.SealedAt,
                [.. seal.Problems.Select(p => p.Detail)])
            : seal.Unsealed
            ? new("unsealed", "declared before the bot sealed change records in the audit trail: its reviewed status and approvals match the trail's events", null, [])
            : new("sealed", $"the record is the state sealed in audit event #{seal.SealedAt}"
                + (seal.FirstSealOfOlderChange ? $" (first sealed in #{seal.SealedFrom}: the change predates sealing)" : ""), seal.SealedAt, []);
}

public sealed record DeclarationEvidence(
    string By, string? ByName, DateTimeOffset At, string Summary, string? Justification, string? Service, string? Severity,
    string? Channel, string Source, IReadOnlyList<LinkEvidence> Links);

/// <summary>
/// What GitHub access was granted and when it ended. Never granted: <paramref name="Granted"/> false and
/// <paramref name="NotGrantedReason"/> says why; still running: no <paramref name="EndedAt"/>, <paramref name="ExpiresAt"/> planned.
/// </summary>
public sealed record BypassEvidence(
    string Mode, string? Team, string? Login, bool WasAlreadyMember, string? PullRequest, string? HeadSha, bool Granted,
    DateTimeOffset? GrantedAt, DateTimeOffset? ExpiresAt, DateTimeOffset? RevokedAt, DateTimeOffset? EndedAt, string? Duration, string? Problem,
    string? NotGrantedReason);

public sealed record AnnouncementEvidence(string Channel, string Ts, DateTimeOffset PostedAt, string? Permalink, string? ThreadPermalink);

/// <param name="Policy">How the review window was counted, as recorded when the change was declared.</param>
/// <param name="PolicyRecordedAtDeclaration">False when the declaration event lacks it and the current policy is shown instead.</param>
public sealed record DeadlineEvidence(
    DateTimeOffset DeclaredAt, DateTimeOffset DueAt, string Policy, bool PolicyRecordedAtDeclaration,
    DateTimeOffset? OverdueAt, DateTimeOffset? EscalatedAt, IReadOnlyList<string> EscalatedTo);

/// <param name="Outcome">reviewed_on_time, reviewed_late, open, open_overdue or cancelled.</param>
public sealed record Verdict(string Outcome, string Text, DateTimeOffset? ReviewedAt, long? LateBySeconds, long? TimeToReviewSeconds);

/// <param name="Kind">reminder (a reviewer), declarer (after a change request) or escalation (managers and the declarer).</param>
/// <param name="DecidedAt">When the bot decided to send it; <paramref name="SentAt"/> is when Slack accepted it (null: not delivered).</param>
public sealed record NotificationEvidence(int Number, string Kind, string To, DateTimeOffset DecidedAt, DateTimeOffset? SentAt, string? SentTo);

public sealed record ApprovalEvidence(string Reviewer, string? ReviewerName, DateTimeOffset At, bool WithinWindow, string? Comment, string Source, string? SourceId);

public sealed record ChangeRequestEvidence(string Reviewer, DateTimeOffset At, string Reason);

public sealed record RefusalEvidence(string User, DateTimeOffset At, string Reason);

public sealed record CheckEvidence(string Kind, string? Target, bool Satisfied, string? Missing, DateTimeOffset CheckedAt);

/// <param name="Review">The bot's latest check of this PR's review (an APPROVED review by someone other than the author and the declarer).</param>
/// <param name="ApprovedBy">The approving review that counts: the reviewer's login and id, and when it was submitted.</param>
/// <param name="MergedAt">As GitHub reported it at the latest review check (or webhook), so a merge without a webhook shows too.</param>
public sealed record PullRequestEvidence(
    string Ref, string Url, string? Title, string? Author, string? HeadSha, string? BaseRef, bool Merged, DateTimeOffset? MergedAt,
    string? ApprovedBy, long? ApprovedById, DateTimeOffset? ApprovedAt, DateTimeOffset? ReviewCheckedAt,
    DateTimeOffset? FetchedAt, string? Problem, CheckEvidence? Review);

/// <param name="StatusAtReview">The status read when the issue first counted as reviewed (at <paramref name="StatusAtReviewAsOf"/>).</param>
/// <param name="StatusAsOf">When Jira reported <paramref name="Status"/>, the latest status read; <paramref name="Review"/> is the latest review check.</param>
/// <param name="CommentProblem">Jira refused the bot's comment or label; the issue still counts as evidence.</param>
public sealed record JiraIssueEvidence(
    string Key, string? DeclaredKey, string? Url, string? Summary, string? StatusAtReview, string? StatusCategoryAtReview, DateTimeOffset? StatusAtReviewAsOf,
    string? Status, string? StatusCategory, DateTimeOffset? StatusAsOf, bool CreatedByBot, string? Problem, string? CommentProblem, CheckEvidence? Review);

/// <param name="AfterUse">Withdrawn by an admin after the bypass was used (<paramref name="Used"/>): the change still needed its review.</param>
public sealed record CancellationEvidence(string By, DateTimeOffset At, string Reason, bool AfterUse, string? Used);

public sealed record AuditEntry(long Sequence, DateTimeOffset At, string Actor, string Type, IReadOnlyDictionary<string, string> Data, string? Hash);

/// <summary>Builds packets and verdicts: pure functions of the change, its trail and now.</summary>
public static class EvidenceBuilder
{
    public static Verdict VerdictOf(EmergencyChange c, DateTimeOffset now)
    {
        if (c.Status == ChangeStatus.Cancelled)
            return new Verdict("cancelled", c.Cancellation is { } x ? $"cancelled by {x.By} at {Time(x.At)}: {x.Reason}" : "cancelled", null, null, null);
        if (c.ReviewedAt is { } reviewed)
        {
            var toReview = (long)(reviewed - c.DeclaredAt).TotalSeconds;
            return reviewed <= c.DueAt
                ? new Verdict("reviewed_on_time", $"reviewed on time ({ReviewPolicy.Format(c.DueAt - reviewed)} before the deadline)", reviewed, null, toReview)
                : new Verdict("reviewed_late", $"reviewed late by {ReviewPolicy.Format(reviewed - c.DueAt)}", reviewed, (long)(reviewed - c.DueAt).TotalSeconds, toReview);
        }
        return now > c.DueAt
            ? new Verdict("open_overdue", $"still open, overdue by {ReviewPolicy.Format(now - c.DueAt)}", null, (long)(now - c.DueAt).TotalSeconds, null)
            : new Verdict("open", $"still open, due in {ReviewPolicy.Format(c.DueAt - now)}", null, null, null);
    }

    public static EvidencePacket Packet(EmergencyChange c, IReadOnlyList<AuditEvent> trail, string currentPolicy, string? jiraBaseUrl, DateTimeOffset now)
    {
        var declared = trail.FirstOrDefault(e => e.Type == AuditTypes.Declared);
        var recordedPolicy = declared?.Data.GetValueOrDefault("policy");
        var sent = trail.Where(e => e.Type is AuditTypes.ReminderSent or AuditTypes.EscalationSent).ToList();
        var escalated = trail.LastOrDefault(e => e.Type == AuditTypes.Escalated);
        CheckEvidence? CheckFor(string kind, string target) =>
            c.Evidence.Where(e => e.Kind == kind && e.Target == target).Select(Check).FirstOrDefault();
        var integrity = IntegrityEvidence.Of(ChangeSeals.Check(c.Id, c, trail));

        return new EvidencePacket(
            c.ChangeId.ToString(),
            c.Status.ToString().ToLowerInvariant(),
            now,
            new DeclarationEvidence(c.DeclaredBy, c.DeclaredByName, c.DeclaredAt, c.Summary, c.Justification, c.Service, c.Severity,
                c.DeclaredInChannel, c.SourceKey is { } s && s.StartsWith("modal:", StringComparison.Ordinal) ? "modal" : "command",
                [.. c.PullRequests.Select(p => new LinkEvidence(p.Ref.ToString(), p.Ref.Url)), .. c.JiraIssues.Select(j => new LinkEvidence(j.Key, JiraUrl(jiraBaseUrl, j.Key)))]),
            c.Bypass is { } b ? BypassOf(c, b, now) : null,
            c.Announcement is { } a ? new AnnouncementEvidence(a.Channel, a.Ts, a.PostedAt, a.Permalink, ThreadLink(a)) : null,
            new DeadlineEvidence(c.DeclaredAt, c.DueAt, recordedPolicy ?? currentPolicy, recordedPolicy is not null, c.OverdueAt, c.EscalatedAt,
                escalated?.Data.GetValueOrDefault("to")?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? []),
            Sealed(VerdictOf(c, now), integrity),
            integrity,
            [.. c.Reminders.OrderBy(r => r.Number).Select(r =>
            {
                // The direct-message step records "<key>:<number>" and the recipient once Slack accepted the message.
                var delivered = sent.FirstOrDefault(e => e.Data.GetValueOrDefault("to") == r.User && e.Data.GetValueOrDefault("message")?.EndsWith(":" + r.Number, StringComparison.Ordinal) == true);
                return new NotificationEvidence(r.Number, r.Kind, r.User, r.At, delivered?.At, delivered?.Data.GetValueOrDefault("channel"));
            })],
            [.. c.Approvals.Select(x => new ApprovalEvidence(x.Reviewer, x.ReviewerName, x.At, x.At <= c.DueAt, x.Comment is null ? null : BreakGlassBot.Slack.SlackFormatting.Plain(x.Comment), x.Source, x.SourceId))],
            [.. c.ChangeRequests.Select(x => new ChangeRequestEvidence(x.Reviewer, x.At, x.Reason))],
            [.. trail.Where(e => e.Type == AuditTypes.ApprovalRefused).Select(e => new RefusalEvidence(e.Actor, e.At, e.Data.GetValueOrDefault("reason") ?? ""))],
            [.. c.PullRequests.Select(p => new PullRequestEvidence(p.Ref.ToString(), p.Ref.Url, p.Title, p.AuthorLogin, p.HeadSha, p.BaseRef,
                p.Merged || p.MergedAt is not null, p.MergedAt, p.ApprovedBy, p.ApprovedById, p.ApprovedAt, p.ReviewCheckedAt,
                p.FetchedAt, p.Problem, CheckFor("PullRequestApproved", p.Ref.ToString())))],
            [.. c.JiraIssues.Select(j => new JiraIssueEvidence(j.Key, j.DeclaredKey, JiraUrl(jiraBaseUrl, j.Key), j.Summary,
                j.StatusAtReview, j.StatusCategoryAtReview, j.StatusAtReviewAsOf, j.Status, j.StatusCategory, j.FetchedAt,
                j.CreatedByBot, j.Problem, j.CommentProblem, CheckFor("JiraReviewed", j.Key)))],
            [.. c.Evidence.Select(Check)],
            c.Cancellation is { } x ? new CancellationEvidence(x.By, x.At, x.Reason, x.AfterUse, x.Used) : null,
            [.. trail.Select(e => new AuditEntry(e.Sequence, e.At, e.Actor, e.Type, e.Data, e.Hash))])
        {
            Source = EvidenceExport.SourceOf(c),
            Detected = c.Detected is { } d ? DetectedEvidence.Of(d) : null,
        };
    }

    /// <summary>A tampered record's verdict is no verdict: it says what the record claims, and that it cannot be relied on.</summary>
    public static Verdict Sealed(Verdict verdict, IntegrityEvidence integrity) =>
        integrity.Status == "tampered" ? new Verdict("tampered", $"TAMPERED: the record claims \"{verdict.Text}\", but it disagrees with the sealed audit trail", null, null, null) : verdict;

    static BypassEvidence BypassOf(EmergencyChange c, Bypass b, DateTimeOffset now)
    {
        if (!b.Granted)
            return new BypassEvidence(b.Mode, b.Team, b.Login, b.WasAlreadyMember, b.PullRequest, b.HeadSha, false, null, null, null, null, null, b.Problem,
                NotGrantedReason(c, b));
        var ended = EndOf(b, now);
        return new BypassEvidence(b.Mode, b.Team, b.Login, b.WasAlreadyMember, b.PullRequest, b.HeadSha, true, b.GrantedAt, b.ExpiresAt, b.RevokedAt, ended,
            ended is { } e ? ReviewPolicy.Format(e - b.GrantedAt) : null, b.Problem, null);
    }

    /// <summary>
    /// When a granted bypass ended: its revocation; in the modes where nothing is removed (RecordOnly), its expiry once
    /// past. Null while it runs, and in Team mode until the membership was actually removed.
    /// </summary>
    public static DateTimeOffset? EndOf(Bypass b, DateTimeOffset now) =>
        !b.Granted ? null
        : b.RevokedAt is { } r ? r
        : b.Mode != "Team" && now >= b.ExpiresAt ? b.ExpiresAt
        : null;

    /// <summary>Why a bypass was never granted: its problem, or the grant step's last error (given up or still retrying).</summary>
    public static string NotGrantedReason(EmergencyChange c, Bypass b)
    {
        var step = c.Steps.LastOrDefault(s => s.Kind == BreakGlassBot.GitHub.GitHubStepKinds.BypassGrant);
        var error = step?.LastError;
        return step?.State switch
        {
            StepState.Abandoned => "not granted: " + (error ?? b.Problem ?? "the grant gave up"),
            StepState.Pending => "not granted yet" + (error is null ? "" : ": " + error),
            _ => "not granted" + (b.Problem is null ? "" : ": " + b.Problem),
        };
    }

    static CheckEvidence Check(EvidenceCheck e) => new(e.Kind, e.Target, e.Satisfied, e.Missing, e.CheckedAt);

    public static string? JiraUrl(string? baseUrl, string key) =>
        string.IsNullOrWhiteSpace(baseUrl) ? null : $"{baseUrl.TrimEnd('/')}/browse/{Uri.EscapeDataString(key)}";

    /// <summary>Slack's link into a thread: the parent's permalink with thread_ts and cid.</summary>
    static string? ThreadLink(Announcement a) =>
        a.Permalink is null ? null : $"{a.Permalink}{(a.Permalink.Contains('?') ? '&' : '?')}thread_ts={a.Ts}&cid={a.Channel}";

    public static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", System.Globalization.CultureInfo.InvariantCulture);
}
