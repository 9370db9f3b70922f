using System.Threading.Channels;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Slack;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Outbox;

/// <summary>
/// Every kind of outbox step, in one catalog: a kind is stored with each pending step, so a value must never change or be
/// reused. Each has exactly one <see cref="IStepHandler"/> (checked by a test); features name theirs through aliases.
/// </summary>
public static class StepKinds
{
    public const string Announce = "announce";
    public const string ThreadDetails = "thread-details";
    public const string RefreshAnnouncement = "refresh-announcement";
    public const string ThreadNote = "thread-note";
    public const string Track = "track";
    public const string DirectMessage = "direct-message";
    public const string Reevaluate = "reevaluate";
    public const string JiraLink = "jira-link";
    public const string JiraCreate = "jira-create";
    public const string JiraApproval = "jira-approval";
    public const string GitHubPullRequest = "github-pr";
    public const string GitHubBypassGrant = "github-bypass-grant";
    public const string GitHubBypassRevoke = "github-bypass-revoke";
    public const string GitHubMergeButton = "github-merge-button";
    public const string GitHubMerge = "github-merge";
    public const string GitHubApprovalComment = "github-approval-comment";
    /// <summary>A declaration linked a PR: the detected case about it (if any) is taken over.</summary>
    public const string DetectionDeclared = "detection-declared";
    /// <summary>A declaration was cancelled before use: the detected cases it had taken over open again.</summary>
    public const string DetectionCancelled = "detection-cancelled";

    public static readonly IReadOnlyList<string> All =
    [
        Announce, ThreadDetails, RefreshAnnouncement, ThreadNote, Track, DirectMessage, Reevaluate,
        JiraLink, JiraCreate, JiraApproval,
        GitHubPullRequest, GitHubBypassGrant, GitHubBypassRevoke, GitHubMergeButton, GitHubMerge, GitHubApprovalComment,
        DetectionDeclared, DetectionCancelled,
    ];
}

/// <summary>What one attempt at a step came to.</summary>
public abstract record StepOutcome
{
    /// <summary>Done: <paramref name="Apply"/> records the result on the change (inside the store's write lock).</summary>
    public sealed record Done(Func<EmergencyChange, IEnumerable<AuditEvent>>? Apply = null) : StepOutcome;
    /// <summary>
    /// Failed for now: try again after the back-off, or after <paramref name="After"/> (Retry-After). <paramref name="Apply"/>
    /// may record something about the failure on the change (e.g. a direct message owed), inside the store's write lock.
    /// </summary>
    public sealed record Retry(string Error, TimeSpan? After = null, Func<EmergencyChange, IEnumerable<AuditEvent>>? Apply = null) : StepOutcome;
    /// <summary>
    /// Will never work as asked (a PR that does not exist, a key Jira refuses): stop retrying and tell the thread,
    /// once. <paramref name="Problem"/> says what is wrong and what a person should do.
    /// </summary>
    public sealed record GiveUp(string Problem, Func<EmergencyChange, IEnumerable<AuditEvent>>? Apply = null) : StepOutcome;
}

/// <summary>Does one kind of outgoing step. Must be safe to run again after a crash (<c>step.Attempts &gt; 1</c>).</summary>
public interface IStepHandler
{
    string Kind { get; }
    /// <summary>True when the step posts into the announcement's thread: it waits, without counting attempts, until there is one.</summary>
    bool NeedsThread => false;
    /// <summary>
    /// What the step does, in words ("add the break-glass label to acme/api#1"), for the thread notes about its failure
    /// and recovery. Slack's own steps return null: a note about Slack failing could not be posted either.
    /// </summary>
    string? Describe(EmergencyChange change, PendingStep step) => null;
    Task<StepOutcome> RunAsync(EmergencyChange change, PendingStep step, CancellationToken ct);
}

/// <summary>
/// The durable outbox: steps are saved inside the change document in the same write that creates or
/// changes it, and <see cref="OutboxWorker"/> carries them out with back-off. Nudge wakes the worker.
/// </summary>
public sealed class OutboxQueue(IOptions<StorageOptions> storage) : ISlackRequestListener
{
    readonly Channel<bool> wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public static PendingStep NewStep(string kind, DateTimeOffset now, string? target = null) =>
        new() { Kind = kind, Target = target, NextAttemptAt = now };

    /// <summary>
    /// Adds a step unless an identical one is pending and not yet started (a started one may have read stale state).
    /// </summary>
    public static void Enqueue(EmergencyChange change, string kind, DateTimeOffset now, string? target = null)
    {
        if (change.Steps.Any(s => s.State == StepState.Pending && s.Attempts == 0 && s.Kind == kind && s.Target == target)) return;
        change.Steps.Add(NewStep(kind, now, target));
    }

    /// <summary>
    /// Voids the approvals that do not cover what the change now links (<see cref="ApprovalCoverage"/>), tells the thread
    /// about each, and returns their audit events: to be written in the same store write as what made them stale.
    /// </summary>
    public static List<AuditEvent> VoidUncoveredApprovals(EmergencyChange change, DateTimeOffset now, string actor)
    {
        var (events, voided) = ApprovalCoverage.VoidUncovered(change, now, actor);
        foreach (var i in voided) Enqueue(change, StepKinds.ThreadNote, now, ApprovalCoverage.VoidedNotePrefix + i);
        if (voided.Count > 0) Enqueue(change, StepKinds.RefreshAnnouncement, now);
        return events;
    }

    public void Nudge() => wake.Writer.TryWrite(true);

    // While Slack requests keep arriving, the outbox waits between steps so they get the CPU and the write lock.
    // Monotonic ticks, not the TimeProvider: this is about this machine's load, not policy time.
    internal static readonly TimeSpan QuietBeforeStep = TimeSpan.FromMilliseconds(25);
    internal static readonly TimeSpan MaxYieldPerStep = TimeSpan.FromMilliseconds(500);
    long lastRequest = long.MinValue / 2;

    /// <summary>A verified Slack request arrived (called by the request filter).</summary>
    public void RequestArrived() => Volatile.Write(ref lastRequest, Environment.TickCount64);

    /// <summary>Waits until no request arrived for <see cref="QuietBeforeStep"/>, at most <see cref="MaxYieldPerStep"/>: a long burst slows the outbox, never stops it.</summary>
    internal async Task YieldToRequestsAsync(CancellationToken ct)
    {
        var started = Environment.TickCount64;
        while (true)
        {
            var now = Environment.TickCount64;
            var quietFor = now - Volatile.Read(ref lastRequest);
            if (quietFor >= QuietBeforeStep.TotalMilliseconds || now - started >= MaxYieldPerStep.TotalMilliseconds) return;
            await Task.Delay(TimeSpan.FromMilliseconds(QuietBeforeStep.TotalMilliseconds - quietFor), ct);
        }
    }

    internal async Task WaitAsync(TimeProvider time, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(storage.Value.PollingInterval);
        try { await wake.Reader.ReadAsync(timeout.Token); }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested) { }
    }

    /// <summary>Exponential back-off from the polling interval, capped by Storage:MaxRetryDelay.</summary>
    public TimeSpan Backoff(int attempts)
    {
        var first = storage.Value.PollingInterval;
        var factor = Math.Pow(2, Math.Min(Math.Max(attempts - 1, 0), 20));
        var delay = TimeSpan.FromTicks((long)Math.Min(first.Ticks * factor, storage.Value.MaxRetryDelay.Ticks));
        return delay;
    }
}

/// <summary>Carries out due outbox steps; on start-up it picks up whatever a previous process left.</summary>
internal sealed partial class OutboxWorker(ChangeStore store, OutboxQueue outbox, IEnumerable<IStepHandler> handlers, TimeProvider time,
    IOptions<SlackOptions> slack, IOptions<StorageOptions> storage, Replica replica, ILogger<OutboxWorker> log)
    : BackgroundService
{
    readonly Dictionary<string, IStepHandler> byKind = handlers.ToDictionary(h => h.Kind);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // An admin who fixed the token or a setting restarted the bot: whatever was parked is tried again at once.
        try { await ParkedSteps.ReleaseAsync(store, time.GetUtcNow(), _ => true); }
        catch (Exception e) { LogSweepFailed(log, e); }
        while (!stoppingToken.IsCancellationRequested)
        {
            try { await RunDueAsync(stoppingToken); }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { break; }
            catch (Exception e) { LogSweepFailed(log, e); }
            await outbox.WaitAsync(time, stoppingToken);
        }
    }

    /// <summary>
    /// One sweep: the changes with a due step that no other replica holds, claimed for this one and run a few at a time. The
    /// claims are renewed while they run; one lost (this replica stalled past its lease) stops that change's steps here.
    /// </summary>
    internal async Task RunDueAsync(CancellationToken ct)
    {
        var lease = storage.Value.ClaimLease;
        var due = store.ClaimDueSteps(time.GetUtcNow(), replica.Id, lease, limit: 200);
        if (due.Count == 0) return;
        var held = new System.Collections.Concurrent.ConcurrentDictionary<int, bool>(due.Select(c => KeyValuePair.Create(c.Id, true)));
        using var renewing = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var renewer = RenewClaimsAsync(held, lease, renewing.Token);
        try
        {
            await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = ct }, async (change, token) =>
            {
                try { await RunChangeAsync(change.Id, token, () => held.ContainsKey(change.Id)); }
                finally
                {
                    if (held.TryRemove(change.Id, out _)) store.ReleaseStepClaim(change.Id, replica.Id);
                }
            });
        }
        finally
        {
            await renewing.CancelAsync();
            try { await renewer; } catch (OperationCanceledException) { }
        }
    }

    /// <summary>
    /// Renews every claim a third of the lease apart. A claim not renewed for most of the lease (the database did not answer)
    /// is given up here, before it can end there and another replica take the change: its steps must not run twice.
    /// </summary>
    async Task RenewClaimsAsync(System.Collections.Concurrent.ConcurrentDictionary<int, bool> held, TimeSpan lease, CancellationToken ct)
    {
        var every = TimeSpan.FromTicks(Math.Max(lease.Ticks / 3, TimeSpan.FromMilliseconds(50).Ticks));
        var giveUpAfter = (long)(lease.TotalMilliseconds * 0.6);
        var renewedAt = Environment.TickCount64;
        while (!ct.IsCancellationRequested)
        {
            await Task.Delay(every, ct);
            var failed = false;
            foreach (var id in held.Keys)
            {
                bool renewed;
                try { renewed = store.RenewStepClaim(id, replica.Id, lease); }
                catch (Exception e) when (e is not OperationCanceledException) { LogSweepFailed(log, e); failed = true; continue; }
                if (!renewed && held.TryRemove(id, out _)) LogClaimLost(log, id);
            }
            if (!failed) renewedAt = Environment.TickCount64;
            else if (Environment.TickCount64 - renewedAt > giveUpAfter)
                foreach (var id in held.Keys)
                    if (held.TryRemove(id, out _)) LogClaimLost(log, id);
        }
    }

    async Task RunChangeAsync(int id, CancellationToken ct, Func<bool> stillHeld)
    {
        // Steps run in the order they were added: the announcement before anything that needs its thread.
        // The change as the last write left it is the one to read next: no second read per step.
        EmergencyChange? latest = null;
        for (var index = 0; ; index++)
        {
            var change = latest ?? store.Get(id);
            latest = change;
            if (change is null || index >= change.Steps.Count) return;
            var step = change.Steps[index];
            var now = time.GetUtcNow();
            if (step.State != StepState.Pending || step.NextAttemptAt > now) continue;
            if (!byKind.TryGetValue(step.Kind, out var handler))
            {
                LogUnknownKind(log, change.ChangeId.ToString(), step.Kind);
                continue;
            }
            if (handler.NeedsThread && change.Announcement is null) continue;
            // Thread posts keep their order: one waiting out a 429 or a Slack outage holds back the ones after it.
            if (ParkedSteps.IsSlackKind(step.Kind) && HeldBackByEarlierPost(change, index, step.Kind)) continue;
            await outbox.YieldToRequestsAsync(ct);
            if (!stillHeld()) return; // another replica has the change now

            // Count the attempt before making it: after a crash the handler sees Attempts > 1 and checks
            // whether the first attempt already took effect (e.g. the message was posted).
            (change, var attempt) = await store.UpdateAsync(id, c =>
            {
                var s = c.Steps[index];
                s.Attempts++;
                s.NextAttemptAt = now + outbox.Backoff(s.Attempts);
                return Decision<int>.Only(s.Attempts);
            });
            if (change is null) return;

            StepOutcome outcome;
            var description = handler.Describe(change, change.Steps[index]);
            try { outcome = await handler.RunAsync(change, change.Steps[index], ct); }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { throw; }
            catch (Exception e)
            {
                LogStepCrashed(log, e, change.ChangeId.ToString(), step.Kind);
                outcome = new StepOutcome.Retry(e.GetType().Name);
            }
            var parkOn = outcome is StepOutcome.Retry r && SlackErrors.CodeOf(r.Error) is { } code && SlackErrors.Classify(code) != SlackErrorKind.Transient
                ? code : null;
            if (parkOn is not null && SlackErrors.Classify(parkOn) == SlackErrorKind.Workspace)
            {
                // Told once for the whole workspace: only when no other step is parked on the same error already. Deciding
                // whether it is news and parking are one step under a store lock, so two changes (on any replicas) cannot both tell.
                await using (await store.LockAsync("slack-parked:" + parkOn, ct))
                {
                    var news = !ParkedSteps.AnyParkedOn(store, parkOn, except: (id, index));
                    latest = await RecordAsync(id, index, attempt, outcome, description, parkOn, news);
                }
            }
            else latest = await RecordAsync(id, index, attempt, outcome, description, parkOn, tell: parkOn is not null);
            if (parkOn is not null) lock (parkedKinds) parkedKinds.Add(ParkedSteps.IsTokenError(parkOn) ? AnyKind : step.Kind);
            else if (outcome is StepOutcome.Done && ParkedSteps.IsSlackKind(step.Kind))
            {
                // A step of this kind went through: whatever of its kind waits for an admin's fix may have had it too, and any
                // Slack call that works proves the token does.
                var kind = TakeParkedKind(step.Kind);
                var token = TakeParkedKind(AnyKind);
                var released = !kind && !token ? 0 : await ParkedSteps.ReleaseAsync(store, time.GetUtcNow(),
                    st => (kind && st.Kind == step.Kind && !ParkedSteps.MessageSpecific(st.ParkedOn!)) || (token && ParkedSteps.IsTokenError(st.ParkedOn!)));
                if (released > 0) outbox.Nudge();
            }
        }
    }

    // Kinds with steps parked since the last release: a success of another kind says nothing, and most successes need no store scan.
    readonly HashSet<string> parkedKinds = [];
    const string AnyKind = "*";

    bool TakeParkedKind(string kind)
    {
        lock (parkedKinds) return parkedKinds.Remove(kind);
    }

    /// <summary>
    /// Thread posts keep their order behind an earlier one that is waiting out a passing failure; after a 429 every later
    /// Slack step of the change waits too (Slack asked the app to slow down, and the announcement should not show a state
    /// the thread has not told yet).
    /// </summary>
    static bool HeldBackByEarlierPost(EmergencyChange change, int index, string kind)
    {
        for (var j = 0; j < index; j++)
        {
            var earlier = change.Steps[j];
            if (earlier.State != StepState.Pending || earlier.ParkedOn is not null || !ParkedSteps.IsSlackKind(earlier.Kind)
                || SlackErrors.CodeOf(earlier.LastError) is not { } code || SlackErrors.Classify(code) != SlackErrorKind.Transient)
                continue;
            if (code is "ratelimited" or "rate_limited" or "http_429") return true;
            if (ParkedSteps.ThreadPosts.Contains(kind) && ParkedSteps.ThreadPosts.Contains(earlier.Kind)) return true;
        }
        return false;
    }

    Task<EmergencyChange?> RecordAsync(int id, int index, int attempt, StepOutcome outcome, string? description, string? parkOn = null, bool tell = false)
    {
        var now = time.GetUtcNow();
        return store.UpdateAsync(id, c =>
        {
            var s = c.Steps[index];
            // Another replica took the change over and attempted the step since (this one's claim ended): its attempt decides.
            if (s.Attempts != attempt) return [];
            s.Description = description;
            if (parkOn is not null && outcome is StepOutcome.Retry parked)
            {
                var first = s.ParkedOn != parkOn;
                s.ParkedOn = parkOn;
                s.LastError = parked.Error;
                s.AttemptsKnownUnsent = s.AttemptsKnownUnsent == attempt - 1 ? attempt : s.AttemptsKnownUnsent; // Slack refused: nothing posted
                // The announcement keeps the ordinary back-off: reviewers see nothing without it, and it is one call per blocked change.
                s.NextAttemptAt = now + (s.Kind == StepKinds.Announce ? outbox.Backoff(s.Attempts) : slack.Value.ParkedRetryInterval);
                IEnumerable<AuditEvent> applied = parked.Apply?.Invoke(c) ?? [];
                if (!first) return [.. applied];
                LogStepParked(log, c.ChangeId.ToString(), s.Kind, s.Target, parkOn, SlackErrors.AdminAction(parkOn), s.NextAttemptAt);
                var told = tell ? ParkedSteps.Tell(c, index, slack.Value.Admins, now) : "already told";
                return [new AuditEvent { ChangeNumber = c.Id, At = now, Actor = "bot", Type = AuditTypes.StepParked,
                    Data = new() { ["step"] = s.Kind, ["target"] = s.Target ?? "", ["error"] = parked.Error, ["attempt"] = attempt.ToString(),
                        ["told"] = told, ["retry_at"] = s.NextAttemptAt.ToString("O") } },
                    .. applied];
            }
            switch (outcome)
            {
                case StepOutcome.Done done:
                    s.State = StepState.Done;
                    s.DoneAt = now;
                    if (s.FailureReported) OutboxQueue.Enqueue(c, StepKinds.ThreadNote, now, StepNotes.Recovered(index));
                    if (s.ParkedOn is { } was)
                    {
                        s.ParkedOn = null;
                        if (c.Steps.Any(n => n.Kind == StepKinds.ThreadNote && n.Target == StepNotes.Parked(index)))
                            OutboxQueue.Enqueue(c, StepKinds.ThreadNote, now, StepNotes.Unparked(index));
                        return [new AuditEvent { ChangeNumber = c.Id, At = now, Actor = "bot", Type = AuditTypes.StepUnparked,
                            Data = new() { ["step"] = s.Kind, ["target"] = s.Target ?? "", ["error"] = was, ["attempt"] = attempt.ToString() } },
                            .. done.Apply?.Invoke(c) ?? []];
                    }
                    return done.Apply?.Invoke(c) ?? [];
                case StepOutcome.GiveUp gaveUp:
                    s.State = StepState.Abandoned;
                    s.DoneAt = now;
                    s.LastError = gaveUp.Problem;
                    if (description is not null) OutboxQueue.Enqueue(c, StepKinds.ThreadNote, now, StepNotes.GaveUp(index));
                    LogStepAbandoned(log, c.ChangeId.ToString(), s.Kind, s.Target, gaveUp.Problem);
                    return [new AuditEvent { ChangeNumber = c.Id, At = now, Actor = "bot", Type = AuditTypes.StepAbandoned,
                        Data = new() { ["step"] = s.Kind, ["target"] = s.Target ?? "", ["problem"] = gaveUp.Problem } },
                        .. gaveUp.Apply?.Invoke(c) ?? []];
                case StepOutcome.Retry retry:
                    s.ParkedOn = null; // failing for a passing reason now: back to the ordinary back-off
                    var first = s.LastError != retry.Error;
                    s.LastError = retry.Error;
                    // Only an unbroken run of clear refusals proves nothing was posted.
                    if (s.AttemptsKnownUnsent == attempt - 1 && !SlackPosting.IsUncertain(retry.Error)) s.AttemptsKnownUnsent = attempt;
                    s.NextAttemptAt = now + (retry.After is { } after && after > outbox.Backoff(s.Attempts) ? after : outbox.Backoff(s.Attempts));
                    LogStepRetry(log, c.ChangeId.ToString(), s.Kind, s.Target, attempt, retry.Error, s.NextAttemptAt);
                    if (description is not null && !s.FailureReported)
                    {
                        s.FailureReported = true;
                        OutboxQueue.Enqueue(c, StepKinds.ThreadNote, now, StepNotes.Failed(index));
                    }
                    // One audit event per distinct error, not one per attempt: the trail stays readable during a long outage.
                    IEnumerable<AuditEvent> applied = retry.Apply?.Invoke(c) ?? [];
                    return first
                        ? [new AuditEvent { ChangeNumber = c.Id, At = now, Actor = "bot", Type = AuditTypes.StepFailed,
                            Data = new() { ["step"] = s.Kind, ["target"] = s.Target ?? "", ["error"] = retry.Error, ["attempt"] = attempt.ToString() } },
                            .. applied]
                        : [.. applied];
                default:
                    return [];
            }
        });
    }

    [LoggerMessage(EventId = 2006, Level = LogLevel.Error,
        Message = "Step {Kind} ({Target}) of {ChangeId} is parked: Slack says {Error}, which retrying will not cure. An admin must {Action}. Next check at {NextAt}")]
    static partial void LogStepParked(ILogger logger, string changeId, string kind, string? target, string error, string action, DateTimeOffset nextAt);
    [LoggerMessage(EventId = 2005, Level = LogLevel.Warning, Message = "Step {Kind} ({Target}) of {ChangeId} abandoned: {Problem}")]
    static partial void LogStepAbandoned(ILogger logger, string changeId, string kind, string? target, string problem);
    [LoggerMessage(EventId = 2007, Level = LogLevel.Warning, Message = "Lost the claim on BG-{Id}'s steps (this replica stalled past Storage:ClaimLease); another replica carries them on")]
    static partial void LogClaimLost(ILogger logger, int id);
    [LoggerMessage(EventId = 2001, Level = LogLevel.Error, Message = "Outbox sweep failed")]
    static partial void LogSweepFailed(ILogger logger, Exception e);
    [LoggerMessage(EventId = 2002, Level = LogLevel.Error, Message = "Change {ChangeId} has a step of unknown kind {Kind}")]
    static partial void LogUnknownKind(ILogger logger, string changeId, string kind);
    [LoggerMessage(EventId = 2003, Level = LogLevel.Error, Message = "Step {Kind} of {ChangeId} threw")]
    static partial void LogStepCrashed(ILogger logger, Exception e, string changeId, string kind);
    [LoggerMessage(EventId = 2004, Level = LogLevel.Warning, Message = "Step {Kind} ({Target}) of {ChangeId} failed on attempt {Attempt}: {Error}; next try at {NextAt}")]
    static partial void LogStepRetry(ILogger logger, string changeId, string kind, string? target, int attempt, string error, DateTimeOffset nextAt);
}

/// <summary>Thread notes about outbox steps: failed (retrying), recovered, given up.</summary>
internal sealed class StepNotes(IOptions<SlackOptions> slack) : IThreadNoteSource
{
    public IReadOnlyCollection<string> Names => ["step-failed", "step-recovered", "step-gaveup", "step-parked", "step-unparked", "dm-skipped"];

    public static string Parked(int index) => $"step-parked:{index}";
    public static string Unparked(int index) => $"step-unparked:{index}";
    public static string DirectMessageSkipped(string user) => $"dm-skipped:{user}";
    public static string Failed(int index) => $"step-failed:{index}";
    public static string Recovered(int index) => $"step-recovered:{index}";
    public static string GaveUp(int index) => $"step-gaveup:{index}";

    public string? Render(EmergencyChange change, string key)
    {
        if (NoteKey.Parse(key) is { Name: "dm-skipped", Argument: { } skipped })
            return DirectMessageSkippedNote(change, skipped);
        if (NoteKey.Parse(key).Name is "step-parked" or "step-unparked") return ParkedSteps.RenderNote(change, key, slack.Value.ParkedRetryInterval);
        var colon = key.LastIndexOf(':');
        if (colon < 0 || !int.TryParse(key.AsSpan(colon + 1), out var index) || index >= change.Steps.Count) return null;
        var step = change.Steps[index];
        var what = Blocks.Escape(step.Description ?? step.Kind);
        var error = Blocks.Escape(step.LastError ?? "unknown error");
        // Failures mention the declarer, so someone is notified; the recovery is news, not a call to act.
        var declarer = Blocks.Mention(change.DeclaredBy);
        return key[..colon] switch
        {
            "step-failed" => $":warning: {declarer} Could not {what} yet ({error}). The bot keeps retrying and will say here when it worked; the change itself stands.",
            "step-recovered" => $":white_check_mark: Done after all: {what} (attempt {step.Attempts}).",
            "step-gaveup" => $":x: {declarer} Could not {what}: {error}",
            _ => null,
        };
    }

    static string? DirectMessageSkippedNote(EmergencyChange change, string user)
    {
        var error = change.RefusalsNoted.FirstOrDefault(k => k.StartsWith(DirectMessageStep.UndeliverablePrefix + user + ":", StringComparison.Ordinal)) is { } k
            ? k[(DirectMessageStep.UndeliverablePrefix.Length + user.Length + 1)..] : "user_not_found";
        return $":information_source: {Blocks.Mention(user)} cannot get direct messages from the bot (Slack says `{Blocks.Escape(error)}`), so they get no reminders about {change.ChangeId}. "
            + "If they should review, an admin must " + SlackErrors.AdminAction(error) + "; the other reviewers are reminded as usual.";
    }
}
