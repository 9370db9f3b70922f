using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Hosting;
using BreakGlassBot.Outbox;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Detection;

/// <summary>A merge or push one source reported: what it knows, the rest is read from GitHub when the record is checked.</summary>
public sealed record MergeObservation(string Kind, string Repository, string FoundBy)
{
    public string? Branch { get; init; }
    public int? Number { get; init; }
    public string? Title { get; init; }
    public string? Sha { get; init; }
    public IReadOnlyList<string> Commits { get; init; } = [];
    public string? Actor { get; init; }
    public long? ActorId { get; init; }
    public string? AuthorLogin { get; init; }
    public long? AuthorId { get; init; }
    public DateTimeOffset? MergedAt { get; init; }
    public long? RuleSuite { get; init; }
    public bool Forced { get; init; }
    /// <summary>The actor was read from a commit (the sweep), not from GitHub's own account of who pushed.</summary>
    public bool ActorFromCommit { get; init; }

    public string Id => Kind == DetectedBypass.PullRequestKind ? MergeRecord.PullRequestId(Repository, Number ?? 0) : MergeRecord.PushId(Repository, Sha ?? "");
}

/// <summary>
/// The engine: every merge or push found (<see cref="Observe"/>) becomes one <see cref="MergeRecord"/>, is checked against
/// GitHub (reviews before the merge; a PR behind a pushed commit), and, when it skipped review and nobody declared it within
/// Detection:GracePeriod of the merge, becomes a detected case: an emergency change with the same deadline, reminders,
/// approvals and evidence as a declaration. A declaration that links it, before or after, takes the case over.
/// </summary>
public sealed partial class Detector(MergeRecords records, ChangeStore store, IGitHubGateway gateway, WatchedScope scope, Declarations declarations,
    ResponsiblePeople people, IOptions<SlackOptions> slack, IOptions<GitHubOptions> github, DetectionNudge nudge, AdminNotices notices, TimeProvider time,
    ILogger<Detector> log)
{
    /// <summary>Records still to check or to decide (feature collection): what the worker looks at, not every record ever seen.</summary>
    public const string WorkCollection = "detection_work";
    public const int MaxCommits = 20;
    /// <summary>Failed checks before the admins are told (the check goes on being retried).</summary>
    const int ReportAfterAttempts = 3;
    static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(30);

    DetectionOptions Options => scope.Options;

    /// <summary>Keeps what a source reported; the first report creates the record and queues its check. Idempotent.</summary>
    public MergeRecord Observe(MergeObservation o)
    {
        var now = time.GetUtcNow();
        var record = records.Save(o.Id, existing =>
        {
            var r = existing ?? new MergeRecord
            {
                Id = o.Id, Kind = o.Kind, Repository = o.Repository, FirstSeenAt = now, Verdict = Verdicts.Pending,
                NextAttemptAt = o.Kind == DetectedBypass.DirectPushKind ? (o.MergedAt ?? now) + Options.GracePeriod : now,
            };
            r.Branch ??= o.Branch;
            r.Number ??= o.Number;
            r.Title ??= o.Title;
            r.Sha ??= o.Sha?.ToLowerInvariant();
            // GitHub's account of who pushed (webhook, rule suite) replaces what a commit says.
            if (r.Actor is null || r.ActorFromCommit && !o.ActorFromCommit && o.Actor is not null)
                (r.Actor, r.ActorId, r.ActorFromCommit) = (o.Actor, o.ActorId, o.ActorFromCommit);
            r.AuthorLogin ??= o.AuthorLogin;
            r.AuthorId ??= o.AuthorId;
            r.MergedAt ??= o.MergedAt;
            r.Forced |= o.Forced;
            foreach (var c in o.Commits.Select(c => c.ToLowerInvariant()))
                if (r.Commits.Count < MaxCommits && !r.Commits.Contains(c)) r.Commits.Add(c);
            if (!r.FoundBy.Contains(o.FoundBy)) r.FoundBy.Add(o.FoundBy);
            if (o.RuleSuite is { } suite && !r.RuleSuites.Contains(suite))
            {
                r.RuleSuites.Add(suite);
                // GitHub recorded a bypass: a change judged reviewed is judged again (a recorded bypass is one, review or not).
                if (r.Verdict == Verdicts.ReviewedBeforeMerge && r.CaseId is null && r.DeclaredAs is null)
                    (r.Verdict, r.NextAttemptAt) = (Verdicts.Pending, now);
            }
            return r;
        });
        if (!Settled(record)) QueueWork(record);
        nudge.Wake();
        return record;
    }

    /// <summary>Settled: nothing more to check or decide (reviewed, automation, declared, or its case is open).</summary>
    static bool Settled(MergeRecord r) =>
        r.CaseId is not null || r.DeclaredAs is not null || r.Verdict is Verdicts.ReviewedBeforeMerge or Verdicts.Ignored;

    void QueueWork(MergeRecord r) => store.SaveDocument<DetectionWork>(WorkCollection, r.Id, w => w ?? new DetectionWork { Id = r.Id });

    void Settle(string id) => store.DeleteDocument<DetectionWork>(WorkCollection, id);

    /// <summary>Checks every record whose check is due and opens the cases whose grace period is over; returns how many it acted on.</summary>
    public async Task<int> ProcessDueAsync(CancellationToken ct)
    {
        var acted = 0;
        foreach (var work in store.Documents<DetectionWork>(WorkCollection))
        {
            ct.ThrowIfCancellationRequested();
            var record = records.Get(work.Id);
            if (record is null || Settled(record)) { Settle(work.Id); continue; }
            var now = time.GetUtcNow();
            try
            {
                if (record.Verdict == Verdicts.Pending)
                {
                    if (record.NextAttemptAt is { } at && at > now) continue;
                    record = await CheckAsync(record, ct);
                    acted++;
                    if (record is null || Settled(record)) { Settle(work.Id); continue; }
                }
                if (record.Verdict == Verdicts.Unreviewed && (record.MergedAt ?? record.FirstSeenAt) + Options.GracePeriod <= time.GetUtcNow())
                {
                    await DecideAsync(record);
                    acted++;
                    Settle(work.Id);
                }
            }
            catch (GitHubException e)
            {
                Failed(work.Id, e);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // One record that cannot be handled must not stop the others: it is retried like a GitHub failure.
                Failed(work.Id, new GitHubException(GitHubFailure.Invalid, e.GetType().Name + ": " + e.Message, inner: e));
            }
        }
        return acted;
    }

    /// <summary>Reads from GitHub what decides the record; null when it turned out not to belong to the population (removed).</summary>
    async Task<MergeRecord?> CheckAsync(MergeRecord record, CancellationToken ct) =>
        record.Kind == DetectedBypass.PullRequestKind ? await CheckPullRequestAsync(record, ct) : await CheckPushAsync(record, ct);

    async Task<MergeRecord?> CheckPullRequestAsync(MergeRecord record, CancellationToken ct)
    {
        var pr = PullRequest(record);
        var info = await gateway.GetPullRequestAsync(pr, ct);
        if (!info.IsMerged) return Remove(record, "not merged");
        var branch = info.BaseRef;
        if (!(await scope.BranchesAsync(record.Repository, ct)).Contains(branch)) return Remove(record, $"merged into {branch}, which is not watched");
        var reviews = await gateway.GetReviewsAsync(pr, ct);
        var now = time.GetUtcNow();
        return records.Save(record.Id, r =>
        {
            r ??= record;
            (r.Branch, r.Title, r.AuthorLogin, r.AuthorId) = (branch, info.Title, info.AuthorLogin, info.AuthorId == 0 ? r.AuthorId : info.AuthorId);
            r.MergedAt = info.MergedAt ?? r.MergedAt;
            r.Sha = info.MergeCommitSha?.ToLowerInvariant() ?? r.Sha;
            r.Actor = info.MergedByLogin ?? r.Actor;
            (r.CheckedAt, r.LastError, r.NextAttemptAt) = (now, null, null);
            // Automation is judged by who wrote the change, not who merged it: a merge bot must not launder a person's PR.
            if (scope.IsIgnoredActor(r.AuthorLogin) && r.RuleSuites.Count == 0)
            {
                (r.Verdict, r.Reason) = (Verdicts.Ignored, $"opened by {r.AuthorLogin}, an automation account (Detection:IgnoreActors)");
                return r;
            }
            var mergedAt = r.MergedAt ?? now;
            bool ByAuthor(ReviewInfo v) => r.AuthorId is { } a && v.UserId is { } u ? a == u : string.Equals(v.UserLogin, r.AuthorLogin, StringComparison.OrdinalIgnoreCase);
            // An approval of an earlier head did not see what was merged.
            bool OfMergedHead(ReviewInfo v) => info.HeadSha.Length == 0 || string.Equals(v.CommitId, info.HeadSha, StringComparison.OrdinalIgnoreCase);
            var approvals = reviews.Where(v => v.State == "APPROVED" && v.SubmittedAt is not null).ToList();
            var before = approvals.Where(v => v.SubmittedAt <= mergedAt && !ByAuthor(v) && OfMergedHead(v)).OrderBy(v => v.SubmittedAt).FirstOrDefault();
            if (before is not null) (r.ApprovedBy, r.ApprovedAt) = (before.UserLogin, before.SubmittedAt);
            if (r.RuleSuites.Count > 0)
                (r.Verdict, r.Reason) = (Verdicts.Unreviewed, $"GitHub recorded a bypass of the branch's rules when it was merged (rule suite {string.Join(", ", r.RuleSuites)})");
            else if (before is not null)
                (r.Verdict, r.Reason) = (Verdicts.ReviewedBeforeMerge, $"approved by {before.UserLogin} before the merge");
            else
                (r.Verdict, r.Reason) = (Verdicts.Unreviewed, approvals.Any(v => !ByAuthor(v) && v.SubmittedAt <= mergedAt)
                    ? $"merged into {branch} with approvals of an earlier head only: nobody approved what was merged"
                    : approvals.Any(v => !ByAuthor(v))
                    ? $"merged into {branch} before anyone approved it (approved only after the merge)"
                    : approvals.Count > 0
                    ? $"merged into {branch} approved only by its author"
                    : $"merged into {branch} without an approving review");
            return r;
        });
    }

    async Task<MergeRecord?> CheckPushAsync(MergeRecord record, CancellationToken ct)
    {
        var (owner, repo) = WatchedScope.Split(record.Repository);
        var now = time.GetUtcNow();
        // The actor of a push found only by the sweep comes from the commit, which its author writes: never trusted to excuse it.
        if (scope.IsIgnoredActor(record.Actor) && !record.ActorFromCommit)
            return records.Save(record.Id, r =>
            {
                r ??= record;
                (r.Verdict, r.Reason, r.CheckedAt, r.LastError, r.NextAttemptAt) =
                    (Verdicts.Ignored, $"pushed by {r.Actor}, an automation account (Detection:IgnoreActors)", now, null, null);
                return r;
            });
        // Checked after the grace period, not at the push: GitHub links a merged PR's commits to it a moment after the merge.
        var commits = record.Commits.Count > 0 ? record.Commits : [record.Sha ?? ""];
        var direct = new List<string>();
        foreach (var sha in commits.Where(s => s.Length > 0))
            if (!BroughtToBranch(await gateway.GetCommitPullRequestsAsync(owner, repo, sha, ct), record.Branch)) direct.Add(sha);
        // A force push rewrote what the branch holds (it may only have dropped reviewed commits): a bypass whatever it brought.
        if (record.Forced)
            return records.Save(record.Id, r =>
            {
                r ??= record;
                (r.CheckedAt, r.LastError, r.NextAttemptAt, r.Verdict) = (now, null, null, Verdicts.Unreviewed);
                r.Reason = $"force-pushed to {r.Branch}, rewriting its history" + (direct.Count > 0 ? $" ({direct.Count} commit{(direct.Count == 1 ? "" : "s")} without a pull request)" : "");
                return r;
            });
        if (direct.Count == 0 && record.RuleSuites.Count == 0) return Remove(record, "every commit came with a pull request into the branch");
        return records.Save(record.Id, r =>
        {
            r ??= record;
            r.Commits = direct;
            (r.CheckedAt, r.LastError, r.NextAttemptAt) = (now, null, null);
            (r.Verdict, r.Reason) = (Verdicts.Unreviewed, r.RuleSuites.Count > 0
                ? $"pushed straight to {r.Branch} past the branch's rules: GitHub recorded a bypass (rule suite {string.Join(", ", r.RuleSuites)})"
                : $"pushed straight to {r.Branch} without a pull request ({direct.Count} commit{(direct.Count == 1 ? "" : "s")})");
            return r;
        });
    }

    /// <summary>
    /// Whether a PR merged into <paramref name="branch"/> brought the commit: GitHub also lists the PR that first brought it into
    /// another branch, and a commit merged into an unwatched branch and then pushed to a watched one is a direct push there.
    /// </summary>
    public static bool BroughtToBranch(IReadOnlyList<CommitPullRequestInfo> pulls, string? branch) =>
        pulls.Any(p => p.MergedAt is not null && (branch is null || string.Equals(p.BaseRef, branch, StringComparison.Ordinal)));

    MergeRecord? Remove(MergeRecord record, string why)
    {
        store.DeleteDocument<MergeRecord>(MergeRecords.Collection, record.Id);
        LogRemoved(log, record.Describe(), why);
        return null;
    }

    void Failed(string id, GitHubException e)
    {
        var now = time.GetUtcNow();
        if (records.Get(id) is null) return;
        var record = records.Save(id, r =>
        {
            r!.Attempts++;
            r.LastError = e.Message;
            // Doubling from Detection:CheckInterval: a minute, two, four... at the default, up to half an hour.
            var backoff = TimeSpan.FromSeconds(Math.Min(MaxBackoff.TotalSeconds, Options.CheckInterval.TotalSeconds * Math.Pow(2, Math.Min(r.Attempts, 16))));
            r.NextAttemptAt = now + (e.RetryAfter is { } after && after > backoff ? after : backoff);
            return r;
        });
        LogCheckFailed(log, record.Describe(), record.Attempts, e.Message);
        if (record.Attempts < ReportAfterAttempts || record.FailureReported) return;
        records.Save(id, r => { r!.FailureReported = true; return r; });
        notices.Failed("check", $"checking {record.Describe()} against GitHub", e.Message, record.Attempts);
    }

    /// <summary>Past the grace period and still a bypass: a declaration that links it settles it; otherwise a case is opened.</summary>
    async Task DecideAsync(MergeRecord record)
    {
        if (Declaring(record) is { } declared)
        {
            // A case opened before a crash that lost its number: found by its key, and taken over like any other.
            if (OpenedCase(record) is { } orphan)
            {
                records.Save(record.Id, r => { r!.CaseId = orphan.Id; return r; });
                if (!await AbsorbAsync(orphan.Id, declared.Id)) return;
            }
            records.Save(record.Id, r => { r!.DeclaredAs = declared.Id; return r; });
            return;
        }
        var (change, created) = await OpenCaseAsync(record);
        records.Save(record.Id, r => { r!.CaseId = change.Id; return r; });
        if (created) LogOpened(log, change.ChangeId.ToString(), record.Describe(), record.Reason ?? "");
        // A declaration saved while the case was being opened did not see it: look once more, now that it is stored.
        if (Declaring(record) is { } late) await AbsorbAsync(change.Id, late.Id);
    }

    EmergencyChange? OpenedCase(MergeRecord record)
    {
        if (record.Kind != DetectedBypass.PullRequestKind || record.Number is not { } number) return null;
        var (owner, repo) = WatchedScope.Split(record.Repository);
        return store.ChangesLinking(owner, repo, number).FirstOrDefault(c => c.Detected?.Key == record.Id);
    }

    /// <summary>The declared change (not a detected case, not cancelled before use) that links this PR, if any.</summary>
    EmergencyChange? Declaring(MergeRecord record)
    {
        if (record.Kind != DetectedBypass.PullRequestKind || record.Number is not { } number) return null;
        var (owner, repo) = WatchedScope.Split(record.Repository);
        return store.ChangesLinking(owner, repo, number).FirstOrDefault(c => CountsAsDeclaration(c, record.MergedAt));
    }

    /// <summary>
    /// A declaration covers a merge when it is not a detected case, not cancelled, and its review (if done) came after the merge:
    /// a change reviewed and closed before a later head was merged did not review that merge.
    /// </summary>
    public static bool CountsAsDeclaration(EmergencyChange c, DateTimeOffset? mergedAt) =>
        c.Detected is null && c.Status != ChangeStatus.Cancelled
        && (c.Status == ChangeStatus.Open || mergedAt is not { } m || c.ReviewedAt is { } reviewed && reviewed >= m);

    PullRequestRef PullRequest(MergeRecord r)
    {
        var (owner, repo) = WatchedScope.Split(r.Repository);
        return new PullRequestRef(new Uri(github.Value.WebBaseUrl).Host.ToLowerInvariant(), owner, repo, r.Number ?? 0);
    }

    Task<(EmergencyChange Change, bool Created)> OpenCaseAsync(MergeRecord r)
    {
        var now = time.GetUtcNow();
        var responsible = people.SlackUserOf(r.Actor, r.ActorId);
        var what = r.Kind == DetectedBypass.PullRequestKind ? $"{r.Repository}#{r.Number} merged into {r.Branch}" : $"a direct push to {r.Repository} {r.Branch}";
        var summary = $"Undeclared bypass: {what} by {r.Actor ?? "an unknown account"} without review";
        var request = new DeclarationRequest(responsible ?? "", null, summary, null, null, null,
            r.Kind == DetectedBypass.PullRequestKind ? [PullRequest(r)] : [], [], "detected:" + r.Id, null);
        return declarations.DeclareAsync(request, c =>
        {
            c.Source = DetectedBypass.SourceName;
            c.Detected = new DetectedBypass
            {
                Key = r.Id, Kind = r.Kind, Repository = r.Repository, Branch = r.Branch, Number = r.Number, Sha = r.Sha, Commits = [.. r.Commits],
                Actor = r.Actor, ActorId = r.ActorId, MergedAt = r.MergedAt, Reason = r.Reason ?? "", FoundBy = [.. r.FoundBy], RuleSuites = [.. r.RuleSuites],
            };
            if (c.PullRequests.FirstOrDefault() is { } linked)
                (linked.Title, linked.AuthorLogin, linked.AuthorId, linked.BaseRef, linked.Merged, linked.MergedAt) = (r.Title, r.AuthorLogin, r.AuthorId, r.Branch, true, r.MergedAt);
            // The person responsible explains it; when nobody is known, the admins are asked to name someone.
            if (responsible is not null)
                c.Steps.Add(OutboxQueue.NewStep(StepKinds.DirectMessage, now, DirectMessageStep.Target(responsible, DetectionKeys.Responsible)));
            else
                foreach (var admin in slack.Value.Admins.Distinct())
                    c.Steps.Add(OutboxQueue.NewStep(StepKinds.DirectMessage, now, DirectMessageStep.Target(admin, DetectionKeys.Assign)));
        }, new Dictionary<string, string>
        {
            ["detected"] = r.Id, ["repository"] = r.Repository, ["branch"] = r.Branch ?? "", ["sha"] = r.Sha ?? "",
            ["actor"] = r.Actor ?? "", ["reason"] = r.Reason ?? "", ["found_by"] = string.Join(' ', r.FoundBy),
            ["merged_at"] = r.MergedAt?.ToString("O") ?? "", ["responsible"] = responsible ?? "",
        });
    }

    /// <summary>
    /// A declaration (<paramref name="declaredId"/>) links what detected case <paramref name="caseId"/> is about: the case closes as
    /// "declared as BG-m" and is not chased; the declaration owes the review. True when it closed the case now.
    /// </summary>
    public async Task<bool> AbsorbAsync(int caseId, int declaredId)
    {
        var now = time.GetUtcNow();
        var (_, closed) = await store.UpdateAsync(caseId, c =>
        {
            if (c.Detected is not { } d || d.AbsorbedBy is not null || c.Status != ChangeStatus.Open) return Decision<bool>.Only(false);
            (c.Status, d.AbsorbedBy, d.AbsorbedAt, c.NextCheckAt) = (ChangeStatus.Closed, declaredId, now, null);
            OutboxQueue.Enqueue(c, StepKinds.ThreadNote, now, AbsorbedNote.Key);
            OutboxQueue.Enqueue(c, StepKinds.RefreshAnnouncement, now);
            return new([new AuditEvent
            {
                ChangeNumber = c.Id, At = now, Actor = "bot", Type = AuditTypes.DetectionAbsorbed,
                Data = new() { ["declared_as"] = new ChangeId(declaredId).ToString(), ["detected"] = d.Key },
            }], true);
        });
        if (closed) LogAbsorbed(log, new ChangeId(caseId).ToString(), new ChangeId(declaredId).ToString());
        return closed;
    }

    /// <summary>
    /// A declaration linked <paramref name="pr"/>: the record of that merge (if any) is declared, and its detected case, if one is
    /// open, is taken over.
    /// </summary>
    public async Task DeclaredAsync(EmergencyChange declaration, PullRequestRef pr)
    {
        var id = MergeRecord.PullRequestId($"{pr.Owner}/{pr.Repo}", pr.Number);
        if (records.Get(id) is not { } record || !CountsAsDeclaration(declaration, record.MergedAt)) return;
        // A case already dismissed or reviewed stays what it was: a later declaration does not rewrite the record.
        if (record.CaseId is { } caseId && !await AbsorbAsync(caseId, declaration.Id)) return;
        if (record.DeclaredAs is null) records.Save(id, r => { r!.DeclaredAs = declaration.Id; return r; });
    }

    /// <summary>
    /// A declaration that had taken over detected cases was cancelled before use: those cases open again, for a cancelled
    /// declaration reviews nothing.
    /// </summary>
    public async Task DeclarationCancelledAsync(EmergencyChange declaration)
    {
        var now = time.GetUtcNow();
        foreach (var linked in declaration.PullRequests)
        {
            var id = MergeRecord.PullRequestId($"{linked.Owner}/{linked.Repo}", linked.Number);
            if (records.Get(id) is not { DeclaredAs: { } by } record || by != declaration.Id) continue;
            // Another live declaration of the same PR keeps it declared.
            var other = Declaring(record);
            records.Save(id, r => { r!.DeclaredAs = other?.Id; return r; });
            if (other is not null) continue;
            if (record.CaseId is { } caseId)
                await store.UpdateAsync(caseId, c =>
                {
                    if (c.Detected is not { } d || d.AbsorbedBy != declaration.Id || c.Status != ChangeStatus.Closed) return [];
                    (c.Status, d.AbsorbedBy, d.AbsorbedAt, c.NextCheckAt) = (ChangeStatus.Open, null, null, now);
                    OutboxQueue.Enqueue(c, StepKinds.ThreadNote, now, AbsorbedNote.ReopenedKey);
                    OutboxQueue.Enqueue(c, StepKinds.RefreshAnnouncement, now);
                    OutboxQueue.Enqueue(c, StepKinds.Track, now);
                    return [new AuditEvent
                    {
                        ChangeNumber = c.Id, At = now, Actor = "bot", Type = AuditTypes.Reopened,
                        Data = new() { ["because"] = $"{declaration.ChangeId}, which had taken this case over, was cancelled", ["detected"] = d.Key },
                    }];
                });
            else
            {
                QueueWork(record);
                nudge.Wake();
            }
        }
    }

    [LoggerMessage(EventId = 9001, Level = LogLevel.Warning, Message = "Undeclared bypass {Change} opened for {Merge}: {Reason}")]
    static partial void LogOpened(ILogger logger, string change, string merge, string reason);
    [LoggerMessage(EventId = 9002, Level = LogLevel.Information, Message = "Detected case {Change} taken over by the declaration {Declared}")]
    static partial void LogAbsorbed(ILogger logger, string change, string declared);
    [LoggerMessage(EventId = 9003, Level = LogLevel.Warning, Message = "Checking {Merge} failed (attempt {Attempts}), retried: {Error}")]
    static partial void LogCheckFailed(ILogger logger, string merge, int attempts, string error);
    [LoggerMessage(EventId = 9004, Level = LogLevel.Information, Message = "{Merge} is not a watched merge ({Why}): dropped")]
    static partial void LogRemoved(ILogger logger, string merge, string why);
}

/// <summary>A record still to check or decide (<see cref="Detector.WorkCollection"/>).</summary>
public sealed class DetectionWork
{
    public string Id { get; set; } = "";
}

/// <summary>Wakes the detection worker at once (a webhook arrived) instead of at its next interval.</summary>
public sealed class DetectionNudge
{
    readonly SemaphoreSlim signal = new(0, 1);

    public void Wake()
    {
        if (signal.CurrentCount == 0)
            try { signal.Release(); } catch (SemaphoreFullException) { }
    }

    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct) => signal.WaitAsync(timeout, ct);
}

/// <summary>Thread notes of a detected case taken over by a declaration, and opened again when that declaration was cancelled.</summary>
internal sealed class AbsorbedNote : IThreadNoteSource
{
    public const string Key = "detection-absorbed";
    public const string ReopenedKey = "detection-reopened";
    public IReadOnlyCollection<string> Names => [Key, ReopenedKey];

    public string? Render(EmergencyChange change, string key) => change.Detected is not { } d ? null : key switch
    {
        Key when d.AbsorbedBy is { } m =>
            $":lock: Closed: declared as {new ChangeId(m)}. That declaration now owes the retrospective review; nothing more is chased here.",
        ReopenedKey => $":rotating_light: {change.ChangeId} is open again: the declaration that had taken it over was cancelled, so this undeclared bypass still needs its review.",
        _ => null,
    };
}
