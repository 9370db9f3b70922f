using LiteDB;

namespace BreakGlassBot.EmergencyChanges;

/// <summary>Closed: a detected case that a declaration took over (<see cref="DetectedBypass.AbsorbedBy"/>).</summary>
public enum ChangeStatus { Open, Reviewed, Closed, Cancelled }

/// <summary>
/// The aggregate, stored as one LiteDB document. Mutated only through <see cref="ChangeStore.Update"/>,
/// which serialises writers (LiteDB loses concurrent read-modify-writes otherwise).
/// </summary>
public sealed class EmergencyChange
{
    /// <summary>The n in BG-n; also the document id.</summary>
    public int Id { get; set; }
    [BsonIgnore] public ChangeId ChangeId => new(Id);
    /// <summary>The Slack user who declared it, or who is responsible for a detected case; "" when nobody is known (stored as null by LiteDB).</summary>
    public string DeclaredBy { get; set => field = value ?? ""; } = "";
    public string? DeclaredByName { get; set; }
    public string Summary { get; set; } = "";
    public string? Justification { get; set; }
    public string? Service { get; set; }
    public string? Severity { get; set; }
    public DateTimeOffset DeclaredAt { get; set; }
    /// <summary>Where the declaration came from ("command" or "modal:&lt;view id&gt;"); a modal submitted twice declares once.</summary>
    public string? SourceKey { get; set; }
    public string? DeclaredInChannel { get; set; }

    public List<LinkedPullRequest> PullRequests { get; set; } = [];
    public List<LinkedJiraIssue> JiraIssues { get; set; } = [];

    public Announcement? Announcement { get; set; }
    /// <summary>What was actually granted (GitHub:BypassMode), when, and when it ended.</summary>
    public Bypass? Bypass { get; set; }
    public List<Approval> Approvals { get; set; } = [];
    public List<ChangeRequest> ChangeRequests { get; set; } = [];
    /// <summary>The latest answer of each required evidence source (one per source and target).</summary>
    public List<EvidenceCheck> Evidence { get; set; } = [];
    public DateTimeOffset? ReviewedAt { get; set; }
    /// <summary>When the tracking job should look at this change next; indexed for the reconciliation sweep.</summary>
    public DateTimeOffset? NextCheckAt { get; set; }
    /// <summary>When the bot marked the change overdue (an audit event); Overdue itself is derived from DueAt.</summary>
    public DateTimeOffset? OverdueAt { get; set; }
    public DateTimeOffset? EscalatedAt { get; set; }
    /// <summary>Every reminder and escalation sent (or owed), so no one gets two inside one interval.</summary>
    public List<Reminder> Reminders { get; set; } = [];
    /// <summary>People told in the thread that they may not approve (once per person).</summary>
    public List<string> RefusalsNoted { get; set; } = [];
    public DateTimeOffset DueAt { get; set; }
    public ChangeStatus Status { get; set; } = ChangeStatus.Open;
    /// <summary>DueAt while open, else null. LiteDB stores get-only properties: indexed for the overdue and due-soon lists.</summary>
    public DateTimeOffset? OpenDueAt => Status == ChangeStatus.Open ? DueAt : null;
    public Cancellation? Cancellation { get; set; }
    /// <summary>"detected" for a case the bot opened for a bypass nobody declared (<see cref="Detected"/>); null: declared by a person.</summary>
    public string? Source { get; set; }
    public DetectedBypass? Detected { get; set; }

    /// <summary>Outgoing work not yet done (the outbox): saved with the change, so a crash cannot lose it.</summary>
    public List<PendingStep> Steps { get; set; } = [];
    /// <summary>The earliest time any pending step is due; indexed for the sweep. Null when nothing is pending.</summary>
    public DateTimeOffset? NextStepAt { get; set; }

    public bool IsOverdue(DateTimeOffset now) => Status == ChangeStatus.Open && now > DueAt;

    /// <summary>Cancelled, or withdrawn after use (still open for its review): either way its bypass is over and nothing more is granted or merged.</summary>
    public bool CancelledOrWithdrawn => Status == ChangeStatus.Cancelled || Cancellation is not null;

    /// <summary>The reviewers who have acted on the change: approved it or asked for changes (they are not reminded to review).</summary>
    public HashSet<string> ReviewersWhoActed() => [.. Approvals.Where(a => a.Stands).Select(a => a.Reviewer), .. ChangeRequests.Select(r => r.Reviewer)];

    /// <summary>The approvals that count for something: not withdrawn, and not voided by a link or a head they did not cover.</summary>
    public IEnumerable<Approval> StandingApprovals => Approvals.Where(a => a.Stands);

    public void RecomputeNextStep() =>
        NextStepAt = Steps.Where(s => s.State == StepState.Pending).Select(s => (DateTimeOffset?)s.NextAttemptAt).Min();
}

/// <summary>Where a detected case (<see cref="EmergencyChange.Source"/> "detected") came from: the merge or push nobody declared.</summary>
public sealed class DetectedBypass
{
    public const string SourceName = "detected";
    public const string PullRequestKind = "pull_request";
    public const string DirectPushKind = "direct_push";

    /// <summary>The merge record's id ("pr:owner/repo#n" or "push:owner/repo@sha").</summary>
    public string Key { get; set; } = "";
    /// <summary><see cref="PullRequestKind"/> or <see cref="DirectPushKind"/>.</summary>
    public string Kind { get; set; } = "";
    public string Repository { get; set; } = "";
    public string? Branch { get; set; }
    public int? Number { get; set; }
    /// <summary>The merge commit of a PR, or the last commit of a direct push.</summary>
    public string? Sha { get; set; }
    /// <summary>A direct push: every commit it brought (at most the first 20).</summary>
    public List<string> Commits { get; set; } = [];
    /// <summary>Who merged or pushed, on GitHub.</summary>
    public string? Actor { get; set; }
    public long? ActorId { get; set; }
    public DateTimeOffset? MergedAt { get; set; }
    /// <summary>Why it counts as a bypass, in words ("merged without an approving review by someone other than its author").</summary>
    public string Reason { get; set; } = "";
    /// <summary>Which detectors found it: "webhook", "rule_suite", "sweep".</summary>
    public List<string> FoundBy { get; set; } = [];
    /// <summary>GitHub's rule suites that recorded the bypass.</summary>
    public List<long> RuleSuites { get; set; } = [];
    /// <summary>The responsible person gave the summary and justification (the declaration modal).</summary>
    public DateTimeOffset? ExplainedAt { get; set; }
    /// <summary>A declaration that links the same PR took the case over: this one closed as "declared as BG-n".</summary>
    public int? AbsorbedBy { get; set; }
    public DateTimeOffset? AbsorbedAt { get; set; }
}

public sealed class LinkedPullRequest
{
    public string Host { get; set; } = "github.com";
    public string Owner { get; set; } = "";
    public string Repo { get; set; } = "";
    public int Number { get; set; }
    // Filled in from GitHub when the PR is fetched.
    public string? Title { get; set; }
    public string? AuthorLogin { get; set; }
    public long? AuthorId { get; set; }
    public string? HeadSha { get; set; }
    public string? BaseRef { get; set; }
    public bool Merged { get; set; }
    public DateTimeOffset? MergedAt { get; set; }
    public DateTimeOffset? FetchedAt { get; set; }
    /// <summary>The approving review that satisfied the completion rule (latest check): who, and when it was submitted.</summary>
    public string? ApprovedBy { get; set; }
    public long? ApprovedById { get; set; }
    public DateTimeOffset? ApprovedAt { get; set; }
    /// <summary>When the review evidence last read this PR (merge state and reviews).</summary>
    public DateTimeOffset? ReviewCheckedAt { get; set; }
    /// <summary>Set when GitHub will never accept this PR (404, no access): reported once, not retried.</summary>
    public string? Problem { get; set; }
    [BsonIgnore] public PullRequestRef Ref => new(Host, Owner, Repo, Number);
}

public sealed class LinkedJiraIssue
{
    /// <summary>The key Jira answers with (a moved issue answers under its new key).</summary>
    public string Key { get; set; } = "";
    /// <summary>The key as the declarer typed it, when Jira answered with another one.</summary>
    public string? DeclaredKey { get; set; }
    public string? Summary { get; set; }
    public string? Status { get; set; }
    public string? StatusCategory { get; set; }
    /// <summary>True when the bot created this issue (no key was linked and Jira:ProjectKey is set).</summary>
    public bool CreatedByBot { get; set; }
    /// <summary>When Jira last reported <see cref="Status"/> (at linking, and at every review check).</summary>
    public DateTimeOffset? FetchedAt { get; set; }
    /// <summary>The status when the review evidence was first satisfied (the status at review time), and when it was read.</summary>
    public string? StatusAtReview { get; set; }
    public string? StatusCategoryAtReview { get; set; }
    public DateTimeOffset? StatusAtReviewAsOf { get; set; }
    /// <summary>Jira answered 404, or 403 on reading: reported once, not retried, not counted as evidence.</summary>
    public string? Problem { get; set; }
    /// <summary>Jira refused the comment or the label (the issue itself is readable and still counts as evidence).</summary>
    public string? CommentProblem { get; set; }
}

public sealed class Bypass
{
    public string Mode { get; set; } = "";
    /// <summary>Team mode: the org/team-slug and the GitHub login added to it.</summary>
    public string? Team { get; set; }
    public string? Login { get; set; }
    /// <summary>Team mode: the user was a member before the grant, so revocation leaves them in.</summary>
    public bool WasAlreadyMember { get; set; }
    /// <summary>Team mode: GitHub's answer to the grant, "active" or "pending" (an invitation the user must accept first).</summary>
    public string? MembershipState { get; set; }
    /// <summary>Team mode: the change whose open bypass already had the user in the team when this one was granted.</summary>
    public int? SharedWith { get; set; }
    /// <summary>Team mode: the removal was left to this change, whose bypass for the same user and team was still open.</summary>
    public int? HandedOffTo { get; set; }
    /// <summary>MergeByBot mode: the PR merged and the head SHA it was pinned to.</summary>
    public string? PullRequest { get; set; }
    public string? HeadSha { get; set; }
    /// <summary>Default (0001-01-01) when the grant never happened (it gave up): see <see cref="Granted"/>.</summary>
    public DateTimeOffset GrantedAt { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }
    [BsonIgnore] public bool Granted => GrantedAt != default;
    public DateTimeOffset? RevokedAt { get; set; }
    public string? Problem { get; set; }
}

public sealed class Approval
{
    public string Reviewer { get; set; } = "";
    public string? ReviewerName { get; set; }
    public DateTimeOffset At { get; set; }
    public string? Comment { get; set; }
    /// <summary>"button", "reminder-button", "home-tab-button" or "thread-reply", with the Slack id it came from.</summary>
    public string Source { get; set; } = "";
    public string? SourceId { get; set; }
    /// <summary>What the approver saw (<see cref="ApprovalCoverage"/>); empty for approvals recorded before coverage was kept.</summary>
    public List<string> Covered { get; set; } = [];
    /// <summary>When it stopped counting: withdrawn by the approver, or something it did not cover was linked or pushed.</summary>
    public DateTimeOffset? VoidedAt { get; set; }
    public string? VoidedBecause { get; set; }
    [BsonIgnore] public bool Stands => VoidedAt is null;
}

public sealed class Reminder
{
    public string User { get; set; } = "";
    public DateTimeOffset At { get; set; }
    /// <summary>"reminder" (a reviewer), "declarer" (after a change request), or "escalation" (managers and declarer).</summary>
    public string Kind { get; set; } = "";
    public int Number { get; set; }
}

public sealed class ChangeRequest
{
    public string Reviewer { get; set; } = "";
    public DateTimeOffset At { get; set; }
    public string Reason { get; set; } = "";
}

public sealed class EvidenceCheck
{
    public string Kind { get; set; } = "";
    /// <summary>The PR or Jira key checked; null for the Slack approval.</summary>
    public string? Target { get; set; }
    public bool Satisfied { get; set; }
    /// <summary>What is still missing, in words a reviewer understands.</summary>
    public string? Missing { get; set; }
    public DateTimeOffset CheckedAt { get; set; }
}

public sealed class Announcement
{
    public string Channel { get; set; } = "";
    public string Ts { get; set; } = "";
    public string? Permalink { get; set; }
    public DateTimeOffset PostedAt { get; set; }
}

public sealed class Cancellation
{
    public string By { get; set; } = "";
    public DateTimeOffset At { get; set; }
    public string Reason { get; set; } = "";
    /// <summary>
    /// Withdrawn by an admin after the bypass was used (<see cref="Used"/>): the change stays open and still needs its
    /// retrospective review; only the bypass ended.
    /// </summary>
    public bool AfterUse { get; set; }
    /// <summary>What had been granted and merged when it was cancelled, in words ("; "-separated); null: nothing.</summary>
    public string? Used { get; set; }
}

public enum StepState { Pending, Done, Abandoned }

/// <summary>One unit of outgoing work for a change: retried with back-off until done.</summary>
public sealed class PendingStep
{
    public string Kind { get; set; } = "";
    /// <summary>What the step acts on, when a kind applies to several things (a PR, a Jira key).</summary>
    public string? Target { get; set; }
    public StepState State { get; set; } = StepState.Pending;
    public int Attempts { get; set; }
    public DateTimeOffset NextAttemptAt { get; set; }
    public string? LastError { get; set; }
    /// <summary>
    /// How many attempts, from the first, are known to have done nothing (a clear refusal such as a 429); any later one
    /// may have acted, so a Slack step looks before it posts again.
    /// </summary>
    public int AttemptsKnownUnsent { get; set; }
    public DateTimeOffset? DoneAt { get; set; }
    /// <summary>What the step does, in words, for the thread notes about its failure ("add the label to acme/api#1").</summary>
    public string? Description { get; set; }
    /// <summary>A failure of this step was reported in the thread; its recovery will be too.</summary>
    public bool FailureReported { get; set; }
    /// <summary>The Slack error the step is parked on (retrying will not cure it): re-checked only every Slack:ParkedRetryInterval.</summary>
    public string? ParkedOn { get; set; }
}
