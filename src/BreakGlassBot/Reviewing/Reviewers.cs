using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Slack;
using BreakGlassBot.Outbox;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Reviewing;

/// <summary>The reviewer user group could not be read in time and nothing is cached: eligibility is unknown for now.</summary>
public sealed class ReviewerGroupUnavailableException(string group)
    : RetryLaterException("the reviewer user group to be readable", $"reviewer user group {group} could not be read just now");

/// <summary>
/// Who may review a change: Slack:ReviewerUserGroup members (cached briefly) and Slack:Reviewers, never the declarer nor
/// the author of a linked PR under any GitHub login known for the person.
/// </summary>
public sealed partial class Reviewers(ISlackApi slack, IOptions<SlackOptions> options, IOptions<GitHubOptions> github, People people, ChangeStore store,
    TimeProvider time, ILogger<Reviewers> log) : IReviewerRoster
{
    static readonly TimeSpan CacheFor = TimeSpan.FromMinutes(5);
    /// <summary>How long a click waits for usergroups.users.list (Slack wants an answer within 3 s); then the last known members answer.</summary>
    internal static readonly TimeSpan ClickBudget = TimeSpan.FromSeconds(1.5);
    readonly Lock gate = new();
    (DateTimeOffset At, IReadOnlyList<string> Members)? cache;
    Task<IReadOnlyList<string>?>? refreshing;

    /// <summary>Everyone configured as a reviewer, before per-change exclusions; waits for Slack, else the last known members.</summary>
    public async Task<IReadOnlyList<string>> ConfiguredAsync(CancellationToken ct)
    {
        var all = new List<string>(options.Value.Reviewers);
        var group = options.Value.ReviewerUserGroup;
        if (!string.IsNullOrWhiteSpace(group))
            foreach (var m in await GroupMembersAsync(group, budget: null, ct) ?? [])
                if (!all.Contains(m)) all.Add(m);
        return all;
    }

    /// <summary>Whether <paramref name="user"/> is a configured reviewer (for Slack:Readers), within <see cref="ClickBudget"/>; unknown counts as no.</summary>
    public async Task<bool> IsReviewerAsync(string user, CancellationToken ct)
    {
        if (options.Value.Reviewers.Contains(user)) return true;
        var group = options.Value.ReviewerUserGroup;
        return !string.IsNullOrWhiteSpace(group) && (await GroupMembersAsync(group, ClickBudget, ct))?.Contains(user) == true;
    }

    public async Task<IReadOnlyList<string>> ForChangeAsync(EmergencyChange change, CancellationToken ct) =>
        [.. (await ConfiguredAsync(ct)).Where(u => Excluded(change, u) is null)];

    /// <summary>
    /// Why <paramref name="user"/> may not review <paramref name="change"/>, or null. Answers within <see cref="ClickBudget"/>;
    /// throws <see cref="ReviewerGroupUnavailableException"/> when the group is needed and was never read.
    /// </summary>
    public async Task<string?> RefusalAsync(EmergencyChange change, string user, CancellationToken ct)
    {
        if (Excluded(change, user) is { } excluded)
            return excluded.Pr is { } pr ? $"you authored {pr.Ref}; someone else must review it"
                : change.Detected is not null ? "you merged or pushed this bypass, are responsible for it, or have no verified GitHub account that shows you did not "
                    + "(`/breakglass link github`); someone else must review it"
                : "you declared this change; someone else must review it";
        // A PR whose author GitHub has not named yet does not refuse: the approval counts once known (see AuthorUnknown).
        if (options.Value.Reviewers.Contains(user)) return null;
        var group = options.Value.ReviewerUserGroup;
        if (string.IsNullOrWhiteSpace(group)) return "only configured reviewers may approve emergency changes";
        var members = await GroupMembersAsync(group, ClickBudget, ct);
        // A group Slack will never read as configured is refused with the reason now, not left pending "until Slack answers".
        if (members is null && GroupProblem is { } problem) return problem;
        if (members is null) throw new ReviewerGroupUnavailableException(group);
        return members.Contains(user) ? null : "only configured reviewers may approve emergency changes";
    }

    /// <summary>Why an approver who passed <see cref="RefusalAsync"/> may approve, for the approval's audit event.</summary>
    public string EligibleBecause(string user) =>
        options.Value.Reviewers.Contains(user) ? "listed in Slack:Reviewers" : $"member of Slack:ReviewerUserGroup {options.Value.ReviewerUserGroup}";

    /// <summary>The last error reading Slack:ReviewerUserGroup, when it is one only an admin can fix; null while the group reads fine.</summary>
    public string? GroupError => groupError;
    volatile string? groupError;

    /// <summary>What is wrong with Slack:ReviewerUserGroup and what an admin must do, in words; null while it reads fine (or fails for a passing reason).</summary>
    public string? GroupProblem => groupError is { } error ? DescribeGroupProblem(options.Value.ReviewerUserGroup ?? "", error, options.Value.Reviewers.Count > 0) : null;

    public static string DescribeGroupProblem(string group, string error, bool haveReviewers)
    {
        var action = error switch
        {
            "plan_upgrade_required" => "move to a Slack plan with user groups, or unset Slack:ReviewerUserGroup and list the reviewers in Slack:Reviewers",
            "no_such_subteam" => "set Slack:ReviewerUserGroup to the id (S…) of an existing user group",
            "missing_scope" => "reinstall the Slack app from manifest.yml so the bot has the usergroups:read scope",
            _ => SlackErrors.AdminAction(error),
        };
        var meanwhile = haveReviewers
            ? "until then only the people in Slack:Reviewers may approve"
            : "until then nobody can approve in Slack";
        return $"the reviewer group is misconfigured: Slack:ReviewerUserGroup ({group}) cannot be read, Slack says `{error}`. An admin must {action}; {meanwhile}";
    }

    /// <summary>Reads the group once at start-up, so a misconfigured group is in the log before anyone clicks.</summary>
    internal async Task CheckAtStartAsync(CancellationToken ct)
    {
        var group = options.Value.ReviewerUserGroup;
        if (string.IsNullOrWhiteSpace(group)) return;
        // Only the configuration is checked: the members are read when needed, so the cache keeps its one meaning.
        try { await slack.GetUserGroupMembersAsync(group, ct); }
        catch (SlackApiException e) when (SlackErrors.Classify(e) != SlackErrorKind.Transient) { NoteMisconfigured(group, e.Error); }
        catch (SlackApiException e) { LogGroupFailed(log, group, e.Error); }
    }

    void NoteMisconfigured(string group, string error)
    {
        // Said once per distinct error, as an error naming the setting; Slack:Reviewers still serve.
        if (groupError != error) LogGroupMisconfigured(log, group, error, DescribeGroupProblem(group, error, options.Value.Reviewers.Count > 0));
        groupError = error;
    }

    /// <summary>
    /// Whether <paramref name="user"/> is excluded from <paramref name="change"/> whatever the configuration (declarer or PR
    /// author). Also applied when approvals are counted, so an approval made before the author was known stops counting.
    /// </summary>
    public (bool Declarer, LinkedPullRequest? Pr)? Excluded(EmergencyChange change, string user)
    {
        if (user == change.DeclaredBy) return (true, null);
        // A detected case: whoever merged or pushed it skipped the review and may not give it, whoever is named responsible.
        if (change.Detected is { Actor: { Length: > 0 } actor } d
            && (people.IsAuthor(user, actor, d.ActorId) || github.Value.IsConfigured && people.TrustedGitHub(user) is null)) return (true, null);
        return change.PullRequests.FirstOrDefault(p => p.AuthorLogin is { } author && people.IsAuthor(user, author, p.AuthorId)) is { } pr
            ? (false, pr)
            : null;
    }

    /// <summary>Who an excluded approver is when not a PR's author: the declarer, or for a detected case the one who bypassed.</summary>
    public static string Responsible(EmergencyChange change) => change.Detected is null
        ? "the declarer"
        : "who merged or pushed it, is responsible for it, or has no verified GitHub account to tell them apart";

    /// <summary>
    /// A linked PR <paramref name="user"/> may have written, as far as the bot knows: its author is not named yet and the
    /// user has a GitHub login. Null when eligibility does not hang on GitHub.
    /// </summary>
    public LinkedPullRequest? AuthorUnknown(EmergencyChange change, string user) =>
        github.Value.IsConfigured && people.AnyGitHub(user) is not null
            ? change.PullRequests.FirstOrDefault(p => p.AuthorLogin is null && p.Problem is null)
            : null;

    /// <summary>
    /// A linked PR the bot cannot tell <paramref name="user"/> did not write, because it knows no admin-configured or verified
    /// GitHub account of theirs: their approval counts once they link one (and are not its author). Null otherwise.
    /// </summary>
    public LinkedPullRequest? IdentityUnknown(EmergencyChange change, string user) =>
        github.Value.IsConfigured && user != change.DeclaredBy && people.TrustedGitHub(user) is null
            ? change.PullRequests.FirstOrDefault(p => p.Problem is null)
            : null;

    /// <summary>Why an approval that is not excluded does not count yet, in words; null when it counts.</summary>
    public string? Undecided(EmergencyChange change, string user, string name) =>
        IdentityUnknown(change, user) is { } unknown
            ? $"the approval by {name} counts once they link their GitHub account (`/breakglass link github`), unless they wrote {unknown.Ref}"
            : AuthorUnknown(change, user) is { } pr ? $"the approval by {name} counts once GitHub has said who wrote {pr.Ref} (not if they did)" : null;

    /// <summary>
    /// Null when a follow-up vouching for <paramref name="approval"/> outside Slack may act; a retry while the PR's author is
    /// unknown; done without acting, audited, when the approver is excluded (an author must not mark their own work reviewed).
    /// </summary>
    public StepOutcome? FollowUpHold(EmergencyChange change, PendingStep step, Approval approval)
    {
        var why = !approval.Stands ? "the approval no longer counts: " + approval.VoidedBecause
            : Excluded(change, approval.Reviewer) is { } excluded
            ? excluded.Pr is { } authored ? $"author of {authored.Ref}" : Responsible(change)
            : null;
        if (why is null && IdentityUnknown(change, approval.Reviewer) is { } unknown)
        {
            if (change.Status != ChangeStatus.Cancelled)
                return new StepOutcome.Retry($"waiting for {approval.ReviewerName ?? approval.Reviewer} to link their GitHub account: their approval counts only if they did not write {unknown.Ref}");
            why = "the change was cancelled before the approver linked their GitHub account";
        }
        if (why is null && AuthorUnknown(change, approval.Reviewer) is { } pr)
        {
            if (change.Status != ChangeStatus.Cancelled)
                return new StepOutcome.Retry($"waiting for GitHub to name the author of {pr.Ref}: {approval.ReviewerName ?? approval.Reviewer}'s approval counts only if it is not them");
            why = "the change was cancelled before GitHub named the author of " + pr.Ref;
        }
        if (why is null) return null;
        var at = time.GetUtcNow();
        return new StepOutcome.Done(c => [new AuditEvent { ChangeNumber = c.Id, At = at, Actor = "bot", Type = ApprovalAuditTypes.FollowUpSkipped,
            Data = new() { ["step"] = step.Kind, ["target"] = step.Target ?? "", ["reviewer"] = approval.Reviewer, ["reason"] = why } }]);
    }

    /// <summary>True while <see cref="FollowUpHold"/> would make a follow-up of <paramref name="approval"/> wait.</summary>
    public bool FollowUpWaits(EmergencyChange change, Approval approval) =>
        approval.Stands && Excluded(change, approval.Reviewer) is null && change.Status != ChangeStatus.Cancelled
            && (AuthorUnknown(change, approval.Reviewer) is not null || IdentityUnknown(change, approval.Reviewer) is not null);

    /// <summary>
    /// The cache while fresh, else one shared refresh awaited at most <paramref name="budget"/> (null: until it ends);
    /// a slow or failed refresh leaves the last known members, null when there are none.
    /// </summary>
    async Task<IReadOnlyList<string>?> GroupMembersAsync(string group, TimeSpan? budget, CancellationToken ct)
    {
        // A replica that has not read the group yet starts from the last members any replica read: approvals can still be
        // checked while Slack is down, and a fresh reading by another replica spares a Slack call.
        if (cache is null && Stored(group) is { } stored) cache = stored;
        // A reading dated in the future (another replica's clock runs fast) is not fresh: it is read again.
        if (cache is { } c && time.GetUtcNow() - c.At is var age && age >= TimeSpan.Zero && age < CacheFor) return c.Members;
        Task<IReadOnlyList<string>?> task;
        lock (gate) task = refreshing is { IsCompleted: false } running ? running : refreshing = RefreshAsync(group);
        try
        {
            var members = budget is { } b ? await task.WaitAsync(b, ct) : await task.WaitAsync(ct);
            return members ?? cache?.Members;
        }
        catch (TimeoutException)
        {
            LogGroupSlow(log, group, cache is not null);
            return cache?.Members; // the refresh carries on in the background and fills the cache for the next click
        }
    }

    async Task<IReadOnlyList<string>?> RefreshAsync(string group)
    {
        try
        {
            // Not the click's token: a refresh that outlives one click still serves the next.
            var members = await slack.GetUserGroupMembersAsync(group, CancellationToken.None);
            cache = (time.GetUtcNow(), members);
            Store(group, cache.Value.At, members);
            groupError = null;
            return members;
        }
        catch (SlackApiException e) when (SlackErrors.Classify(e) != SlackErrorKind.Transient)
        {
            // A group deleted (or no longer readable) must stop granting: the last members known are no longer reviewers.
            cache = null;
            Forget(group);
            NoteMisconfigured(group, e.Error);
            return null;
        }
        catch (Exception e) // a background refresh: whatever failed, the caller falls back and the next one tries again
        {
            LogGroupFailed(log, group, e is SlackApiException s ? s.Error : e.GetType().Name);
            return null;
        }
    }

    (DateTimeOffset At, IReadOnlyList<string> Members)? Stored(string group)
    {
        try { return store.Document<KnownReviewerGroup>(KnownReviewerGroup.Collection, group) is { } d ? (d.At, d.Members) : null; }
        catch (Exception e) { LogGroupStoreFailed(log, group, e.GetType().Name); return null; }
    }

    void Store(string group, DateTimeOffset at, IReadOnlyList<string> members)
    {
        try { store.SaveDocument<KnownReviewerGroup>(KnownReviewerGroup.Collection, group, _ => new KnownReviewerGroup { Id = group, At = at, Members = [.. members] }); }
        catch (Exception e) { LogGroupStoreFailed(log, group, e.GetType().Name); }
    }

    void Forget(string group)
    {
        try { store.DeleteDocument<KnownReviewerGroup>(KnownReviewerGroup.Collection, group); }
        catch (Exception e) { LogGroupStoreFailed(log, group, e.GetType().Name); }
    }

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "Could not read or store the last known members of reviewer group {Group}: {Error}")]
    static partial void LogGroupStoreFailed(ILogger logger, string group, string error);
    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Could not resolve reviewer user group {Group}: {Error}")]
    static partial void LogGroupFailed(ILogger logger, string group, string error);
    [LoggerMessage(EventId = 3003, Level = LogLevel.Error, Message = "Slack:ReviewerUserGroup ({Group}) cannot be read: Slack says {Error}. {Problem}")]
    static partial void LogGroupMisconfigured(ILogger logger, string group, string error, string problem);
    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Reviewer user group {Group} is slow to answer; answering the click with the last known members: {HaveCache}")]
    static partial void LogGroupSlow(ILogger logger, string group, bool haveCache);
}

/// <summary>The reviewer group's members as last read from Slack by any replica, and when.</summary>
public sealed class KnownReviewerGroup
{
    public const string Collection = "reviewer_group";
    public string Id { get; set; } = "";
    public DateTimeOffset At { get; set; }
    public List<string> Members { get; set; } = [];
}

/// <summary>
/// Reads the reviewer group at start-up, so a misconfiguration is in the log before anyone clicks. Waits at most
/// <see cref="StartBudget"/>: the bot starts whatever Slack answers, and a slow check finishes in the background.
/// </summary>
internal sealed class ReviewerGroupCheck(Reviewers reviewers, TimeProvider time) : IHostedService
{
    internal static readonly TimeSpan StartBudget = TimeSpan.FromSeconds(2);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try { await reviewers.CheckAtStartAsync(CancellationToken.None).WaitAsync(StartBudget, time, cancellationToken); }
        catch (TimeoutException) { }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested) { }
        catch (Exception) { } // a start-up check must never keep the bot from starting (the lookup logs its own failures)
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>
/// The Slack half of the completion rule: enough distinct eligible approvals. Exclusions are checked again, since a PR's
/// author may be named after their approval (they are then told in the thread, once).
/// </summary>
public sealed class SlackApprovalEvidence(IOptions<PolicyOptions> policy, Reviewers reviewers, TimeProvider time) : IEvidenceSource
{
    public EvidenceKind Kind => EvidenceKind.SlackApproval;
    public bool AppliesTo(EmergencyChange change) => true;

    public Task<IReadOnlyList<EvidenceResult>> CheckAsync(EmergencyChange change, CancellationToken ct)
    {
        var required = policy.Value.RequiredApprovals;
        var byReviewer = change.StandingApprovals.GroupBy(a => a.Reviewer).Select(g => g.First()).ToList();
        var excluded = byReviewer.Select(a => (a, Why: reviewers.Excluded(change, a.Reviewer))).Where(x => x.Why is not null).ToList();
        var notCounted = excluded
            .Select(x => $"the approval by {Name(x.a)} does not count ({(x.Why!.Value.Pr is { } pr ? $"author of {pr.Ref}" : Reviewers.Responsible(change))})")
            .ToList();
        var undecided = byReviewer.Where(a => excluded.All(x => x.a != a))
            .Select(a => reviewers.Undecided(change, a.Reviewer, Name(a))).OfType<string>()
            .ToList();
        var approvers = byReviewer.Count - notCounted.Count - undecided.Count;
        var missing = required == 1 ? "an approval from a reviewer in the Slack thread" : $"{required - approvers} more reviewer approval(s) in Slack ({approvers} of {required})";
        if (notCounted.Count + undecided.Count > 0) missing += "; " + string.Join("; ", notCounted.Concat(undecided));
        var result = approvers >= required ? EvidenceResult.Yes(null) : EvidenceResult.No(null, missing);
        // Changes asked for and not yet answered by the one who asked (approving it afterwards) hold the review back.
        // A request by someone who may not review this change (its PR's author, found out later) holds nothing back.
        if (OpenChangeRequests(change).Where(r => reviewers.Excluded(change, r.Reviewer) is null).ToList() is { Count: > 0 } open)
            result = EvidenceResult.No(null, (result.Satisfied ? "" : missing + "; ")
                + string.Join("; ", open.Select(r => $"changes requested by {r.Reviewer} are open until they approve")));
        // Told in the thread once: the key is kept with the refusal notes.
        var now = time.GetUtcNow();
        var tell = excluded.Where(x => x.Why!.Value.Pr is not null).Select(x => Approvals.NotCountedNotePrefix + x.a.Reviewer).ToList();
        IReadOnlyList<EvidenceResult> results = [tell.Count == 0 ? result : result with
        {
            Record = c =>
            {
                foreach (var key in tell.Where(k => !c.RefusalsNoted.Contains(k)))
                {
                    c.RefusalsNoted.Add(key);
                    OutboxQueue.Enqueue(c, StepKinds.ThreadNote, now, key);
                }
            },
        }];
        return Task.FromResult(results);
    }

    /// <summary>Change requests whose author has not approved since: the change cannot count as reviewed while one is open.</summary>
    public static IReadOnlyList<ChangeRequest> OpenChangeRequests(EmergencyChange change) =>
        [.. change.ChangeRequests.Where(r => !change.Approvals.Any(a => a.Reviewer == r.Reviewer && a.At >= r.At))];

    static string Name(Approval a) => a.ReviewerName ?? a.Reviewer;
}
