using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Slack;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.Reviewing;

public static class ApprovalAuditTypes
{
    /// <summary>A follow-up of an approval finished without acting: the approval does not count. Data: step, target, reviewer, reason.</summary>
    public const string FollowUpSkipped = "approval_follow_up_skipped";
}

public abstract record WithdrawalResult
{
    public sealed record Withdrawn(EmergencyChange Change) : WithdrawalResult;
    public sealed record NoApproval(EmergencyChange Change) : WithdrawalResult;
    public sealed record TooLate(EmergencyChange Change) : WithdrawalResult;
    public sealed record NotFound(ChangeId Id) : WithdrawalResult;
}

public abstract record ApprovalResult
{
    public sealed record Approved(EmergencyChange Change, Approval Approval) : ApprovalResult
    {
        /// <summary>A linked PR the approver may have written, for all the bot knows yet: the approval counts once GitHub says they did not.</summary>
        public LinkedPullRequest? AuthorUnknown { get; init; }
        /// <summary>A linked PR the approver may have written: the bot knows no verified GitHub account of theirs yet.</summary>
        public LinkedPullRequest? IdentityUnknown { get; init; }
    }
    public sealed record AlreadyApproved(EmergencyChange Change, Approval Approval) : ApprovalResult;
    public sealed record Closed(EmergencyChange Change) : ApprovalResult;
    public sealed record Refused(EmergencyChange Change, string Reason) : ApprovalResult;
    public sealed record NotFound(ChangeId Id) : ApprovalResult;
    /// <summary>Eligibility could not be checked in time (the reviewer user group did not answer); nothing was recorded.</summary>
    public sealed record Unavailable(ChangeId Id) : ApprovalResult;
}

/// <summary>
/// Records approvals and change requests however they arrive. The approval and everything it sets off are saved in one
/// write; the tracker then re-evaluates the change at once.
/// </summary>
public sealed partial class Approvals(ChangeStore store, Reviewers reviewers, OutboxQueue outbox, IReevaluation tracker, IEnumerable<IApprovalFollowUps> followUps,
    TimeProvider time, ILogger<Approvals> log)
{
    public const string ApprovedNotePrefix = "approved:";
    public const string ChangesRequestedNotePrefix = "changes-requested:";
    public const string RefusalNotePrefix = "refused:";
    /// <summary>Thread note: an approval recorded before a linked PR's author was known turned out to be that author's.</summary>
    public const string NotCountedNotePrefix = "not-counted:";

    public async Task<ApprovalResult> ApproveAsync(ChangeId id, string user, string? userName, string source, string? sourceId, string? comment, CancellationToken ct)
    {
        var change = store.Get(id.Number);
        if (change is null) return new ApprovalResult.NotFound(id);
        if (Closed(change) is { } closed) return closed;
        if (Earlier(change, user) is { } mine) return new ApprovalResult.AlreadyApproved(change, mine);
        string? reason;
        try { reason = await reviewers.RefusalAsync(change, user, ct); }
        catch (ReviewerGroupUnavailableException) { return new ApprovalResult.Unavailable(id); }
        if (reason is not null) return Refuse(change, user, reason, "approve", source, sourceId);

        var now = time.GetUtcNow();
        ApprovalResult result = new ApprovalResult.NotFound(id);
        store.Update(id.Number, c =>
        {
            // Re-checked inside the write: a double click, or two replies at once, approve once.
            if (Closed(c) is { } stillClosed) { result = stillClosed; return []; }
            if (Earlier(c, user) is { } existing) { result = new ApprovalResult.AlreadyApproved(c, existing); return []; }
            var approval = new Approval
            {
                Reviewer = user, ReviewerName = userName, At = now, Comment = comment, Source = source, SourceId = sourceId, Covered = ApprovalCoverage.Of(c),
            };
            c.Approvals.Add(approval);
            var index = c.Approvals.Count - 1;
            OutboxQueue.Enqueue(c, StepKinds.ThreadNote, now, ApprovedNotePrefix + index);
            OutboxQueue.Enqueue(c, StepKinds.RefreshAnnouncement, now);
            foreach (var f in followUps) c.Steps.AddRange(f.StepsFor(c, approval, index, now));
            // Counted (or not) once GitHub names the author: PullRequestStep then queues a ReevaluateStep.
            result = new ApprovalResult.Approved(c, approval) { AuthorUnknown = reviewers.AuthorUnknown(c, user), IdentityUnknown = reviewers.IdentityUnknown(c, user) };
            return [new AuditEvent { ChangeNumber = c.Id, At = now, Actor = user, Type = AuditTypes.Approved,
                Data = new() { ["source"] = source, ["source_id"] = sourceId ?? "", ["name"] = userName ?? "", ["comment"] = comment ?? "",
                    ["eligible"] = reviewers.EligibleBecause(user), ["summary"] = c.Summary, ["covered"] = string.Join(' ', approval.Covered) } }];
        });
        if (result is ApprovalResult.Approved)
        {
            outbox.Nudge();
            tracker.Reevaluate(id.Number);
        }
        return result;
    }

    public async Task<ApprovalResult> RequestChangesAsync(ChangeId id, string user, string reason, CancellationToken ct)
    {
        var change = store.Get(id.Number);
        if (change is null) return new ApprovalResult.NotFound(id);
        if (Closed(change) is { } closed) return closed;
        string? refusal;
        try { refusal = await reviewers.RefusalAsync(change, user, ct); }
        catch (ReviewerGroupUnavailableException) { return new ApprovalResult.Unavailable(id); }
        if (refusal is not null) return Refuse(change, user, refusal, "request_changes", "modal", null);
        var now = time.GetUtcNow();
        var updated = store.Update(id.Number, c =>
        {
            c.ChangeRequests.Add(new ChangeRequest { Reviewer = user, At = now, Reason = reason });
            OutboxQueue.Enqueue(c, StepKinds.ThreadNote, now, ChangesRequestedNotePrefix + (c.ChangeRequests.Count - 1));
            return [new AuditEvent { ChangeNumber = c.Id, At = now, Actor = user, Type = AuditTypes.ChangesRequested, Data = new() { ["reason"] = reason } }];
        });
        outbox.Nudge();
        tracker.Reevaluate(id.Number);
        return new ApprovalResult.Approved(updated!, new Approval { Reviewer = user, At = now });
    }

    /// <summary>
    /// The approver takes their approval back while the change is still open: it is kept, voided, in the record and the
    /// thread, and the change needs another.
    /// </summary>
    public WithdrawalResult Withdraw(ChangeId id, string user)
    {
        var now = time.GetUtcNow();
        WithdrawalResult result = new WithdrawalResult.NotFound(id);
        store.Update(id.Number, c =>
        {
            if (c.Status != ChangeStatus.Open) { result = new WithdrawalResult.TooLate(c); return []; }
            var index = c.Approvals.FindLastIndex(a => a.Reviewer == user && a.Stands);
            if (index < 0) { result = new WithdrawalResult.NoApproval(c); return []; }
            var a = c.Approvals[index];
            (a.VoidedAt, a.VoidedBecause) = (now, WithdrawnBecause);
            OutboxQueue.Enqueue(c, StepKinds.ThreadNote, now, ApprovalCoverage.VoidedNotePrefix + index);
            OutboxQueue.Enqueue(c, StepKinds.RefreshAnnouncement, now);
            result = new WithdrawalResult.Withdrawn(c);
            return [new AuditEvent { ChangeNumber = c.Id, At = now, Actor = user, Type = AuditTypes.ApprovalVoided,
                Data = new() { ["reviewer"] = user, ["index"] = index.ToString(System.Globalization.CultureInfo.InvariantCulture), ["because"] = WithdrawnBecause } }];
        });
        if (result is WithdrawalResult.Withdrawn)
        {
            outbox.Nudge();
            tracker.Reevaluate(id.Number);
        }
        return result;
    }

    public const string WithdrawnBecause = "withdrawn by the approver";

    /// <summary>A refused approval or change request is logged and audited, so the record shows every attempt by a non-reviewer.</summary>
    public ApprovalResult.Refused Refuse(EmergencyChange change, string user, string reason, string action, string source, string? sourceId)
    {
        LogRefused(log, change.ChangeId.ToString(), user, reason);
        var now = time.GetUtcNow();
        var refused = store.Update(change.Id, c => [new AuditEvent { ChangeNumber = c.Id, At = now, Actor = user, Type = AuditTypes.ApprovalRefused,
            Data = new() { ["reason"] = reason, ["action"] = action, ["source"] = source, ["source_id"] = sourceId ?? "" } }]);
        return new ApprovalResult.Refused(refused ?? change, reason);
    }

    /// <summary>Tells someone in the thread, once per person and change, that their approval word did not count.</summary>
    public void NoteRefusalOnce(ChangeId id, string user)
    {
        var now = time.GetUtcNow();
        store.Update(id.Number, c =>
        {
            if (c.RefusalsNoted.Contains(user)) return [];
            c.RefusalsNoted.Add(user);
            OutboxQueue.Enqueue(c, StepKinds.ThreadNote, now, RefusalNotePrefix + user);
            return [];
        });
        outbox.Nudge();
    }

    /// <summary>The reviewer's approval that stands; none while they have changes requested since (approving again answers them).</summary>
    static Approval? Earlier(EmergencyChange c, string user) =>
        SlackApprovalEvidence.OpenChangeRequests(c).Any(r => r.Reviewer == user) ? null : c.StandingApprovals.FirstOrDefault(a => a.Reviewer == user);

    static ApprovalResult? Closed(EmergencyChange c) => c.Status is ChangeStatus.Reviewed or ChangeStatus.Closed or ChangeStatus.Cancelled ? new ApprovalResult.Closed(c) : null;

    /// <summary>What to tell the person who tried, in words.</summary>
    public static string Describe(ApprovalResult result) => result switch
    {
        ApprovalResult.Approved(var c, _) approved => $":white_check_mark: You approved {c.ChangeId} retrospectively. It is recorded in the thread and the audit trail."
            + (approved.IdentityUnknown is { } unknown
                ? $" The bot does not know your GitHub account, so it cannot tell whether you wrote {unknown.Ref}: this approval counts once you link it with `/breakglass link github` (not if you wrote it)."
                : approved.AuthorUnknown is { } pr ? $" GitHub has not said yet who wrote {pr.Ref}: if it was you, this approval will not count, and the thread will say so." : ""),
        ApprovalResult.AlreadyApproved(var c, var a) => $"You already approved {c.ChangeId} at {Blocks.Date(a.At)}; it counts once.",
        ApprovalResult.Closed(var c) => c.Status switch
        {
            ChangeStatus.Cancelled => $"{c.ChangeId} was cancelled by {Blocks.Mention(c.Cancellation!.By)}: {Blocks.UserText(c.Cancellation.Reason)}. Nothing to approve.",
            _ when c.StandingApprovals.Any() => $"{c.ChangeId} is already {c.Status.ToString().ToLowerInvariant()}: approved by "
                + string.Join(", ", c.StandingApprovals.Select(a => $"{Blocks.Mention(a.Reviewer)} at {Blocks.Date(a.At)}")) + ".",
            _ => $"{c.ChangeId} is already {c.Status.ToString().ToLowerInvariant()}.",
        },
        ApprovalResult.Refused(var c, var reason) => $":no_entry: You cannot approve {c.ChangeId}: {reason}.",
        ApprovalResult.NotFound(var id) => $":warning: There is no {id}. `/breakglass list` shows the open changes.",
        ApprovalResult.Unavailable(var id) => $":hourglass_flowing_sand: Couldn't check the reviewer group just now, try again in a minute. Nothing was recorded for {id}.",
        _ => "",
    };

    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning, Message = "Approval of {ChangeId} by {User} refused: {Reason}")]
    static partial void LogRefused(ILogger logger, string changeId, string user, string reason);
}

/// <summary>The thread notes of approvals, change requests and refusals.</summary>
internal sealed class ApprovalNotes(Reviewers reviewers) : IThreadNoteSource
{
    public IReadOnlyCollection<string> Names => [.. new[] { Approvals.ApprovedNotePrefix, Approvals.ChangesRequestedNotePrefix, Approvals.RefusalNotePrefix, Approvals.NotCountedNotePrefix, ApprovalCoverage.VoidedNotePrefix }.Select(p => p.TrimEnd(':'))];

    public string? Render(EmergencyChange c, string key)
    {
        if (key.StartsWith(ApprovalCoverage.VoidedNotePrefix, StringComparison.Ordinal)
            && int.TryParse(key.AsSpan(ApprovalCoverage.VoidedNotePrefix.Length), out var v) && v < c.Approvals.Count && c.Approvals[v] is { Stands: false } voided)
        {
            return voided.VoidedBecause == Approvals.WithdrawnBecause
                ? $":leftwards_arrow_with_hook: {Blocks.Mention(voided.Reviewer)} withdrew their approval of {c.ChangeId}; it no longer counts."
                    + (c.Status == ChangeStatus.Open ? " The change needs another approval." : "")
                : $":warning: {Blocks.Mention(voided.Reviewer)}'s approval of {c.ChangeId} no longer counts: {Blocks.Escape(voided.VoidedBecause ?? "")}, which was linked or pushed after it. "
                    + $"Please look at the change again and approve it if it is right.";
        }
        if (key.StartsWith(Approvals.ApprovedNotePrefix, StringComparison.Ordinal)
            && int.TryParse(key.AsSpan(Approvals.ApprovedNotePrefix.Length), out var i) && i < c.Approvals.Count)
        {
            var a = c.Approvals[i];
            if (!a.Stands) return $"{Blocks.Mention(a.Reviewer)} approved {c.ChangeId} retrospectively (since voided: {Blocks.Escape(a.VoidedBecause ?? "")}).";
            if (reviewers.Excluded(c, a.Reviewer) is { Pr: { } authored })
                return $"{Blocks.Mention(a.Reviewer)}'s approval of {c.ChangeId} is recorded but does not count: they wrote {authored.Ref}; someone else must review it.";
            return $":white_check_mark: {c.ChangeId} approved retrospectively by {Blocks.Mention(a.Reviewer)}"
                + (a.Comment is { Length: > 0 } comment ? $": {Blocks.UserTextWithMentions(comment)}" : ".")
                + (reviewers.IdentityUnknown(c, a.Reviewer) is { } unknown
                    ? $" It counts once {Blocks.Mention(a.Reviewer)} links their GitHub account with `/breakglass link github`, unless they wrote {unknown.Ref}."
                    : reviewers.AuthorUnknown(c, a.Reviewer) is { } pr ? $" It counts once GitHub has said who wrote {pr.Ref} (not if they did)." : "");
        }
        if (key.StartsWith(Approvals.NotCountedNotePrefix, StringComparison.Ordinal))
        {
            var user = key[Approvals.NotCountedNotePrefix.Length..];
            return reviewers.Excluded(c, user) is { Pr: { } pr }
                ? $"{Blocks.Mention(user)}: your approval of {c.ChangeId} does not count after all: GitHub says you wrote {pr.Ref}. Someone else must approve."
                : null;
        }
        if (key.StartsWith(Approvals.ChangesRequestedNotePrefix, StringComparison.Ordinal)
            && int.TryParse(key.AsSpan(Approvals.ChangesRequestedNotePrefix.Length), out var j) && j < c.ChangeRequests.Count)
        {
            var r = c.ChangeRequests[j];
            return $":memo: {Blocks.Mention(c.DeclaredBy)}, {Blocks.Mention(r.Reviewer)} requested changes on {c.ChangeId}: {Blocks.UserText(r.Reason)}\n"
                + "The change stays open; you will be reminded until a reviewer approves.";
        }
        if (key.StartsWith(Approvals.RefusalNotePrefix, StringComparison.Ordinal))
        {
            var user = key[Approvals.RefusalNotePrefix.Length..];
            var why = user == c.DeclaredBy && c.Detected is null ? "the declarer cannot approve their own change"
                : c.Detected is not null && reviewers.Excluded(c, user) is { Declarer: true } ? "whoever merged or pushed a detected bypass, is responsible for it, or has no verified GitHub account to tell them apart cannot review it"
                : reviewers.Excluded(c, user) is { Pr: { } pr } ? $"the author of {pr.Ref} cannot approve it"
                : reviewers.GroupProblem ?? "only the configured reviewers can approve";
            return $"{Blocks.Mention(user)}: that does not count as an approval of {c.ChangeId}: {why}.";
        }
        return null;
    }
}

/// <summary>
/// Asks the tracker to look at the change again. Queued in the write that saved what the rule depends on, since a step
/// runs after that write, whereas asking from inside a step could be answered before its result is saved.
/// </summary>
internal sealed class ReevaluateStep(IReevaluation tracker) : IStepHandler
{
    public const string StepKind = StepKinds.Reevaluate;
    public string Kind => StepKind;

    public Task<StepOutcome> RunAsync(EmergencyChange change, PendingStep step, CancellationToken ct)
    {
        if (change.Status == ChangeStatus.Open) tracker.Reevaluate(change.Id);
        return Task.FromResult<StepOutcome>(new StepOutcome.Done());
    }
}
