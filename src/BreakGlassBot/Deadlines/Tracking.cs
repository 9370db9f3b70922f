using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Reviewing;
using Hangfire;
using Microsoft.Extensions.Options;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.Deadlines;

/// <summary>
/// Schedules the tracking job of a change through Hangfire. Also the re-evaluation hook: an approval or a
/// webhook asks for a check now.
/// </summary>
public sealed class ReviewTracker(IBackgroundJobClient jobs, InstanceQueue queue) : IReevaluation
{
    // The change id means a change of this instance's store: the job goes to this instance's queue (see InstanceQueue).
    public void Reevaluate(int changeId)
    {
        if (queue.Name is { } q) jobs.Enqueue<TrackChangeJob>(q, j => j.RunAsync(changeId, null, CancellationToken.None));
        else jobs.Enqueue<TrackChangeJob>(j => j.RunAsync(changeId, null, CancellationToken.None));
    }

    /// <summary>Plans the check of the change's chain at <paramref name="at"/> (the job knows it is that chain's check).</summary>
    public void ScheduleAt(int changeId, DateTimeOffset at)
    {
        if (queue.Name is { } q) jobs.Schedule<TrackChangeJob>(q, j => j.RunAsync(changeId, at, CancellationToken.None), at);
        else jobs.Schedule<TrackChangeJob>(j => j.RunAsync(changeId, at, CancellationToken.None), at);
    }
}

/// <summary>The outbox step that hands a newly declared change to Hangfire (off the request path, durably).</summary>
internal sealed class TrackStep(ReviewTracker tracker) : IStepHandler
{
    public string Kind => StepKinds.Track;

    public Task<StepOutcome> RunAsync(EmergencyChange change, PendingStep step, CancellationToken ct)
    {
        // Scheduling twice (a crash right after this line) is harmless: the job is idempotent.
        tracker.ScheduleAt(change.Id, change.NextCheckAt ?? change.DeclaredAt);
        return Task.FromResult<StepOutcome>(new StepOutcome.Done());
    }
}

/// <summary>
/// One look at one change: mark Reviewed, or remind, mark overdue and escalate. Hangfire may run it twice or late, so
/// everything it sends is decided in one store write and carried out by the outbox.
/// </summary>
public sealed partial class TrackChangeJob(
    ChangeStore store, ReviewPolicy policy, Reviewers reviewers, IEnumerable<IEvidenceSource> sources, OutboxQueue outbox,
    ReviewTracker tracker, IOptions<PolicyOptions> options, IOptions<SlackOptions> slack, IEnumerable<IReviewCompletion> completions, TimeProvider time,
    ILogger<TrackChangeJob> log)
{
    /// <param name="plannedFor">The planned check this run is (null for an extra look: approval, webhook, sweep).</param>
    [AutomaticRetry(Attempts = 5)]
    public async Task RunAsync(int changeId, DateTimeOffset? plannedFor, CancellationToken ct)
    {
        var change = store.Get(changeId);
        if (change is null || change.Status != ChangeStatus.Open) return;
        var now = time.GetUtcNow();

        var (checks, records, complete) = await CheckEvidenceAsync(change, now, ct);
        var eligible = complete ? [] : await reviewers.ForChangeAsync(change, ct);

        var checkedLinks = Links(change);
        var (updated, look) = store.Update(changeId, c => Decide(c, checkedLinks, checks, records, complete, eligible, plannedFor, now));
        if (updated is null || look is null) return;
        if (look.Relinked)
        {
            tracker.Reevaluate(changeId);
            return;
        }
        outbox.Nudge();
        if (look.Next is { } at) tracker.ScheduleAt(changeId, at);
        LogChecked(log, updated.ChangeId.ToString(), updated.Status, look.Next);
    }

    /// <summary>What one look decided: look again at once (links changed meanwhile), or the next planned check, if this look plans one.</summary>
    sealed record Look(bool Relinked, DateTimeOffset? Next);

    /// <summary>The look's one store write: runs again on the change as stored if the write is retried, so it decides from <paramref name="c"/>.</summary>
    Decision<Look> Decide(EmergencyChange c, string checkedLinks, List<EvidenceCheck> checks, List<Action<EmergencyChange>> records, bool complete,
        IReadOnlyList<string> eligible, DateTimeOffset? plannedFor, DateTimeOffset now)
    {
        if (c.Status != ChangeStatus.Open) return Decision<Look>.Only(new Look(false, null));
        // A link added while the sources were asked was not checked: write nothing and look again at once.
        if (Links(c) != checkedLinks) return Decision<Look>.Only(new Look(true, null));
        // The announcement shows what is still missing: refresh it when that changed.
        if (Summary(c.Evidence) != Summary(checks)) OutboxQueue.Enqueue(c, StepKinds.RefreshAnnouncement, now);
        Merge(c, checks);
        foreach (var record in records) record(c);
        // A PR head read just now that the approvals were not given on voids them: nothing is complete, look again.
        if (OutboxQueue.VoidUncoveredApprovals(c, now, "bot") is { Count: > 0 } voided) return new(voided, new Look(true, null));
        if (complete) return new([MarkReviewed(c, now)], new Look(false, null));
        List<AuditEvent> events = [.. Overdue(c, now), .. Escalate(c, now)];
        Remind(c, eligible, now);
        DateTimeOffset? next = NextCheck(c, eligible, now);
        // One chain of planned checks per change. The planned check carries it on; an extra look starts a new
        // chain only when none is pending or it needs an earlier check. A superseded check ends its chain.
        var current = c.NextCheckAt;
        var isChain = plannedFor is { } p && current is { } cur && cur.UtcTicks == p.UtcTicks;
        var chainPending = current is { } pending && pending > now;
        if (isChain || !chainPending || next < current) c.NextCheckAt = next;
        else next = null;
        return new(events, new Look(false, next));
    }

    AuditEvent MarkReviewed(EmergencyChange c, DateTimeOffset now)
    {
        foreach (var completion in completions) completion.Reviewed(c, now);
        c.Status = ChangeStatus.Reviewed;
        c.ReviewedAt = now;
        c.NextCheckAt = null;
        OutboxQueue.Enqueue(c, StepKinds.RefreshAnnouncement, now);
        OutboxQueue.Enqueue(c, StepKinds.ThreadNote, now, DeadlineMessages.ReviewedNote);
        return Audit(c, now, AuditTypes.Reviewed, new()
        {
            ["on_time"] = (now <= c.DueAt).ToString().ToLowerInvariant(),
            ["due_at"] = c.DueAt.ToString("O"),
            ["evidence"] = string.Join("; ", c.Evidence.Select(e => $"{e.Kind} {e.Target}".Trim())),
        });
    }

    /// <summary>
    /// Asks each required source; one that cannot answer now leaves the change incomplete. An explicitly required source
    /// that does not apply is missing evidence, never a pass, and no change is complete without at least one check.
    /// </summary>
    async Task<(List<EvidenceCheck> Checks, List<Action<EmergencyChange>> Records, bool Complete)> CheckEvidenceAsync(EmergencyChange change, DateTimeOffset now, CancellationToken ct)
    {
        var checks = new List<EvidenceCheck>();
        var records = new List<Action<EmergencyChange>>();
        var complete = true;
        var explicitPolicy = options.Value.RequiredEvidence.Count > 0;
        foreach (var kind in RequiredKinds(change))
        {
            var source = sources.FirstOrDefault(s => s.Kind == kind);
            if (source is null || !source.AppliesTo(change))
            {
                if (!explicitPolicy) continue;
                checks.Add(new EvidenceCheck
                {
                    Kind = kind.ToString(), Satisfied = false, CheckedAt = now,
                    Missing = source?.NotApplicable(change) ?? $"policy requires {kind}, but the bot has no way to check it",
                });
                complete = false;
                continue;
            }
            try
            {
                foreach (var r in await source.CheckAsync(change, ct))
                {
                    checks.Add(new EvidenceCheck { Kind = kind.ToString(), Target = r.Target, Satisfied = r.Satisfied, Missing = r.Missing, CheckedAt = now });
                    if (r.Record is { } record) records.Add(record);
                    complete &= r.Satisfied;
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogEvidenceFailed(log, e, change.ChangeId.ToString(), kind);
                var previous = change.Evidence.Where(x => x.Kind == kind.ToString()).ToList();
                checks.AddRange(previous.Count > 0 ? previous : [new EvidenceCheck { Kind = kind.ToString(), Missing = $"{kind}: could not be checked just now", CheckedAt = now }]);
                complete = false;
            }
        }
        return (checks, records, complete && checks.Count > 0);
    }

    /// <summary>Policy:RequiredEvidence, or by default the Slack approval plus whatever is linked and configured.</summary>
    IEnumerable<EvidenceKind> RequiredKinds(EmergencyChange change) =>
        options.Value.RequiredEvidence.Count > 0 ? options.Value.RequiredEvidence.Distinct() : Enum.GetValues<EvidenceKind>();

    static void Merge(EmergencyChange c, List<EvidenceCheck> checks) => c.Evidence = checks;

    /// <summary>The linked PRs and Jira issues, in a stable order: what the evidence sources were asked about.</summary>
    // What a look's answer depends on: the links, and which approvals stand (one withdrawn meanwhile must not complete it).
    static string Links(EmergencyChange c) =>
        string.Join(' ', c.PullRequests.Select(p => p.Ref.ToString().ToLowerInvariant()).Order(StringComparer.Ordinal))
        + "|" + string.Join(' ', c.JiraIssues.Select(i => i.Key).Order(StringComparer.Ordinal))
        + "|" + string.Concat(c.Approvals.Select(a => a.Stands ? '+' : '-'));

    static string Summary(IEnumerable<EvidenceCheck> checks) => string.Join('|', checks.Select(e => $"{e.Kind}/{e.Target}/{e.Satisfied}/{e.Missing}"));

    IEnumerable<AuditEvent> Overdue(EmergencyChange c, DateTimeOffset now)
    {
        if (now < c.DueAt || c.OverdueAt is not null) yield break;
        c.OverdueAt = now;
        OutboxQueue.Enqueue(c, StepKinds.ThreadNote, now, DeadlineMessages.OverdueNote);
        OutboxQueue.Enqueue(c, StepKinds.RefreshAnnouncement, now);
        yield return Audit(c, now, AuditTypes.Overdue, new() { ["due_at"] = c.DueAt.ToString("O"), ["missing"] = DeadlineMessages.Missing(c) });
    }

    IEnumerable<AuditEvent> Escalate(EmergencyChange c, DateTimeOffset now)
    {
        if (now < policy.EscalateAt(c.DueAt) || c.EscalatedAt is not null) yield break;
        c.EscalatedAt = now;
        var to = slack.Value.Managers.Append(c.DeclaredBy).Distinct().ToList();
        foreach (var user in to) Send(c, user, DeadlineMessages.EscalationKey, "escalation", now);
        yield return Audit(c, now, AuditTypes.Escalated, new() { ["to"] = string.Join(' ', to) });
    }

    /// <summary>Reviewers who have not acted get a reminder, at most one per person per interval; during working hours in business mode.</summary>
    void Remind(EmergencyChange c, IReadOnlyList<string> eligible, DateTimeOffset now)
    {
        if (policy.ReminderWindowFrom(now) > now) return;
        var acted = c.ReviewersWhoActed();
        foreach (var user in eligible.Where(u => !acted.Contains(u)))
            if (DueFor(c, user, "reminder") <= now) Send(c, user, DeadlineMessages.ReminderKey, "reminder", now);
        // After a change request, the declarer is reminded until a reviewer approves.
        var lastRequest = c.ChangeRequests.Select(r => (DateTimeOffset?)r.At).Max();
        var lastApproval = c.StandingApprovals.Select(a => (DateTimeOffset?)a.At).Max();
        if (lastRequest is not null && (lastApproval is null || lastApproval < lastRequest) && DueFor(c, c.DeclaredBy, "declarer") <= now)
            Send(c, c.DeclaredBy, DeadlineMessages.DeclarerKey, "declarer", now);
        // Approved in Slack but other evidence is missing: remind the declarer, and the approvers while a PR is unreviewed.
        foreach (var user in StillOwing(c))
            if (DueFor(c, user, "outstanding") <= now) Send(c, user, DeadlineMessages.OutstandingKey, "outstanding", now);
    }

    /// <summary>Who is reminded of the evidence still missing after the Slack approval: the declarer, and the approvers while a PR is unreviewed.</summary>
    static IEnumerable<string> StillOwing(EmergencyChange c)
    {
        var slackApproved = c.StandingApprovals.Any() && c.Evidence.Where(e => e.Kind == nameof(EvidenceKind.SlackApproval)).All(e => e.Satisfied);
        var prMissing = c.Evidence.Any(e => e.Kind == nameof(EvidenceKind.PullRequestApproved) && !e.Satisfied);
        var jiraMissing = c.Evidence.Any(e => e.Kind == nameof(EvidenceKind.JiraReviewed) && !e.Satisfied);
        if (!slackApproved || !(prMissing || jiraMissing)) return [];
        return prMissing ? c.StandingApprovals.Select(a => a.Reviewer).Prepend(c.DeclaredBy).Distinct() : [c.DeclaredBy];
    }

    /// <summary>When <paramref name="user"/> may next get a message of <paramref name="kind"/> about this change.</summary>
    DateTimeOffset DueFor(EmergencyChange c, string user, string kind)
    {
        var last = c.Reminders.Where(r => r.User == user && r.Kind == kind).Select(r => (DateTimeOffset?)r.At).Max();
        // The first reminder of what is still outstanding comes an interval after the (last) Slack approval.
        if (last is null && kind == "outstanding") return policy.NextReminderAt(c.StandingApprovals.Select(a => a.At).DefaultIfEmpty(c.DeclaredAt).Max());
        if (last is null) return kind == "reminder" ? policy.NextReminderAt(c.DeclaredAt) : DateTimeOffset.MinValue;
        return policy.NextReminderAt(last.Value);
    }

    static void Send(EmergencyChange c, string user, string key, string kind, DateTimeOffset now)
    {
        if (DirectMessageStep.Undeliverable(c, user)) return; // Slack said they cannot get DMs: noted in the thread once
        // A DM to them parked until an admin fixes Slack will say what is due when it goes: no pile of reminders to send at once.
        if (c.Steps.Any(s => s.Kind == StepKinds.DirectMessage && s.State == StepState.Pending && s.ParkedOn is not null
            && s.Target?.StartsWith(user + "|", StringComparison.Ordinal) == true)) return;
        var number = c.Reminders.Count + 1;
        c.Reminders.Add(new Reminder { User = user, At = now, Kind = kind, Number = number });
        OutboxQueue.Enqueue(c, StepKinds.DirectMessage, now, DirectMessageStep.Target(user, $"{key}:{number}"));
    }

    DateTimeOffset NextCheck(EmergencyChange c, IReadOnlyList<string> eligible, DateTimeOffset now)
    {
        var candidates = new List<DateTimeOffset> { policy.NextReminderAt(now) };
        var acted = c.ReviewersWhoActed();
        candidates.AddRange(eligible.Where(u => !acted.Contains(u)).Select(u => DueFor(c, u, "reminder")).Where(t => t > now));
        candidates.AddRange(StillOwing(c).Select(u => DueFor(c, u, "outstanding")).Where(t => t > now));
        if (c.OverdueAt is null) candidates.Add(c.DueAt);
        if (c.EscalatedAt is null) candidates.Add(policy.EscalateAt(c.DueAt));
        return candidates.Where(t => t > now).DefaultIfEmpty(policy.NextReminderAt(now)).Min();
    }

    static AuditEvent Audit(EmergencyChange c, DateTimeOffset at, string type, Dictionary<string, string> data) =>
        new() { ChangeNumber = c.Id, At = at, Actor = "bot", Type = type, Data = data };

    [LoggerMessage(EventId = 4001, Level = LogLevel.Debug, Message = "Checked {ChangeId}: {Status}, next check {Next}")]
    static partial void LogChecked(ILogger logger, string changeId, ChangeStatus status, DateTimeOffset? next);
    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "Evidence source {Kind} failed for {ChangeId}")]
    static partial void LogEvidenceFailed(ILogger logger, Exception e, string changeId, EvidenceKind kind);
}

/// <summary>
/// At start-up: warn when Policy:RequiredEvidence names an unconfigured source, since no change can then become Reviewed.
/// </summary>
internal sealed partial class RequiredEvidenceCheck(IEnumerable<IEvidenceSource> sources, IOptions<PolicyOptions> options, ILogger<RequiredEvidenceCheck> log) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var unavailable = options.Value.RequiredEvidence.Distinct()
            .Where(k => sources.FirstOrDefault(s => s.Kind == k) is not { IsConfigured: true }).ToList();
        if (unavailable.Count > 0) LogUnavailable(log, string.Join(", ", unavailable));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning,
        Message = "Policy:RequiredEvidence requires {Kinds}, but that integration is not configured: no change can become Reviewed until it is (or the policy changes)")]
    static partial void LogUnavailable(ILogger logger, string kinds);
}

/// <summary>
/// The safety net: every open change whose check is overdue (its job lost with a job store, or never
/// scheduled because of a crash) gets a check now. Runs at start-up and then periodically.
/// </summary>
public sealed class TrackingSweepJob(ChangeStore store, ReviewTracker tracker, IOptions<StorageOptions> storage, TimeProvider time)
{
    public const string RecurringId = "tracking-sweep";

    public int Run()
    {
        var grace = storage.Value.PollingInterval * 5 + TimeSpan.FromSeconds(1);
        var lost = store.UntrackedOpenChanges(time.GetUtcNow() - grace);
        foreach (var change in lost) tracker.Reevaluate(change.Id);
        return lost.Count;
    }
}
