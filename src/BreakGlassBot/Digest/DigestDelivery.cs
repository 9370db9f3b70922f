using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Deadlines;
using BreakGlassBot.Hosting;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Slack;
using Hangfire;
using Hangfire.Server;
using Microsoft.Extensions.Options;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.Digest;

public enum DigestRecipientKind { DirectMessage, Channel }

/// <summary>
/// The deliveries owed for one ISO week's digest (e.g. 2026-W03), saved before anything is sent, so a rerun sends
/// only what is not done.
/// </summary>
public sealed class DigestRun
{
    public const string Collection = "digests";
    public string Id { get; set; } = "";
    public DateTimeOffset CreatedAt { get; set; }
    public List<DigestDelivery> Deliveries { get; set; } = [];
    /// <summary>Set when Slack asked for a longer wait than a run holds a worker: the rest is sent by a job scheduled then.</summary>
    public DateTimeOffset? ResumeAt { get; set; }
}

public sealed class DigestDelivery
{
    /// <summary>A manager's Slack user id, or the digest channel's id.</summary>
    public string Recipient { get; set; } = "";
    public DigestRecipientKind Kind { get; set; }
    /// <summary>Attempts made, over every run of the week (for the record; <see cref="Unconfirmed"/> decides whether to look in Slack first).</summary>
    public int Attempts { get; set; }
    public DateTimeOffset? FirstAttemptAt { get; set; }
    public string? LastError { get; set; }
    /// <summary>
    /// A post whose outcome is unknown (timeout, 5xx, crash): saved before the post; while true, the next attempt
    /// looks for the message in Slack first.
    /// </summary>
    public bool Unconfirmed { get; set; }
    public bool Done { get; set; }
    public DateTimeOffset? DoneAt { get; set; }
    /// <summary>Where and as which message it was delivered: the evidence that managers were told.</summary>
    public string? Channel { get; set; }
    public string? Ts { get; set; }
}

/// <summary>Thrown when some deliveries of a run failed: Hangfire retries the job, and the retry sends only those.</summary>
public sealed class DigestIncompleteException(string week, int failed, int total)
    : Exception($"Digest {week}: {failed} of {total} deliveries failed; the retry sends only those");

/// <summary>
/// The digest as of now: the store's changes through the builder, with the eligible reviewers of the overdue changes
/// and all changes counted on GitHub for the break-glass rate. Used by the job and by /breakglass overdue.
/// </summary>
public sealed class DigestContent(ChangeStore store, DigestBuilder builder, AllChangesCounter? allChanges = null, Reviewers? reviewers = null,
    Detection.PopulationService? population = null)
{
    /// <summary>Without the reviewers and the count of all changes: the store's part only.</summary>
    public SlackMessage Build(DateTimeOffset now, string? week = null) => builder.Build(Read(now), now, week);

    /// <param name="budget">At most this long for the calls to GitHub and Slack (on demand: inside Slack's 3 s); past it, the fallbacks.</param>
    public async Task<SlackMessage> BuildAsync(DateTimeOffset now, string? week, CancellationToken ct, TimeSpan? budget = null)
    {
        var data = Read(now);
        var windows = DigestBuilder.RateWindows(now);
        // Counted while the reviewers are resolved: both are bounded by the budget.
        // The linked repositories are read (two fields per pull request) only if the counter needs them.
        var counting = allChanges?.CountAsync(windows, () => store.LinkedRepositoriesDeclaredBetween(windows[0].From, now), ct, budget);
        IReadOnlyDictionary<int, IReadOnlyList<string>>? named = null;
        try { named = await (budget is { } b ? NotActedAsync(data.Overdue, ct).WaitAsync(b, ct) : NotActedAsync(data.Overdue, ct)); }
        catch (TimeoutException) { } // "a reviewer" instead of names
        return builder.Build(data with { AllChanges = counting is null ? null : await counting, Reviewers = named }, now, week);
    }

    DigestData Read(DateTimeOffset now)
    {
        // Overdue and due-soon come from the due-time index, read in full only as far as shown; the numbers and trend
        // read times only.
        var since = now - DigestBuilder.Week * DigestBuilder.TrendWeeks;
        var overdueTo = now.AddTicks(-1);
        var times = store.OpenDueTimes(now - DigestBuilder.Week + TimeSpan.FromTicks(1), now).Concat(store.DeclaredOrReviewedTimesSince(since))
            .DistinctBy(t => t.Id).ToList();
        return new DigestData(
            store.FirstOpenDue(DateTimeOffset.MinValue, overdueTo, DigestBuilder.MaxListedAtMost), store.CountOpenDue(DateTimeOffset.MinValue, overdueTo),
            store.FirstOpenDue(now, now + DigestBuilder.Week, DigestBuilder.MaxDueListed), store.CountOpenDue(now, now + DigestBuilder.Week),
            times, Population: Population(now));
    }

    /// <summary>With Detection:Enabled, the changes merged in the same 7 days as the other numbers, (now - 7d, now].</summary>
    Detection.PopulationFigures? Population(DateTimeOffset now) =>
        population is { Enabled: true } p ? p.For(now - DigestBuilder.Week + TimeSpan.FromTicks(1), now + TimeSpan.FromTicks(1), now).Figures : null;

    /// <summary>Per overdue change, the eligible reviewers (as the tracker resolves them) who have neither approved nor requested changes.</summary>
    async Task<IReadOnlyDictionary<int, IReadOnlyList<string>>?> NotActedAsync(IReadOnlyList<EmergencyChange> overdue, CancellationToken ct)
    {
        if (reviewers is null) return null;
        var result = new Dictionary<int, IReadOnlyList<string>>();
        foreach (var c in overdue)
        {
            var acted = c.ReviewersWhoActed();
            result[c.Id] = [.. (await reviewers.ForChangeAsync(c, ct)).Where(u => !acted.Contains(u))];
        }
        return result;
    }
}

/// <summary>
/// Sends one week's digest to every manager (a DM) and to Slack:DigestChannel, Policy:DigestSendInterval apart
/// (Slack allows about one message per second per channel); exactly once per recipient, see <see cref="DigestRun"/>.
/// </summary>
public sealed partial class DigestSender(
    ChangeStore store, DigestContent content, ISlackApi slack, IOptions<SlackOptions> slackOptions, IOptions<PolicyOptions> policy,
    TimeProvider time, ILogger<DigestSender> log, IBackgroundJobClient? jobs = null, InstanceQueue? queue = null)
{
    /// <summary>A longer Retry-After is not waited out holding a worker: the remaining deliveries are scheduled at its end.</summary>
    public static readonly TimeSpan MaxInlineRetryAfter = TimeSpan.FromMinutes(2);
    const int MaxRateLimitedAttempts = 5;

    public IReadOnlyList<(string Recipient, DigestRecipientKind Kind)> Recipients()
    {
        var list = slackOptions.Value.Managers.Where(m => !string.IsNullOrWhiteSpace(m)).Select(m => m.Trim()).Distinct()
            .Select(m => (m, DigestRecipientKind.DirectMessage)).ToList();
        if (!string.IsNullOrWhiteSpace(slackOptions.Value.DigestChannel)) list.Add((slackOptions.Value.DigestChannel.Trim(), DigestRecipientKind.Channel));
        return list;
    }

    public string WeekOf(DateTimeOffset at) => DigestBuilder.WeekOf(at, ConfigurationCheck.FindTimeZone(policy.Value.DigestTimeZone));

    /// <summary>Delivers <paramref name="week"/>'s digest to whoever has not had it yet. Throws <see cref="DigestIncompleteException"/> when some delivery failed.</summary>
    public async Task<DigestRun> SendAsync(string week, CancellationToken ct)
    {
        // One run at a time across every replica (a trigger racing a retry, or two replicas' Hangfire servers): a database lock on PostgreSQL.
        await using var gate = await store.LockAsync("weekly-digest", ct);
        return await SendLockedAsync(week, ct);
    }

    async Task<DigestRun> SendLockedAsync(string week, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var recipients = Recipients();
        if (recipients.Count == 0)
        {
            LogNoRecipients(log, week);
            return new DigestRun { Id = week, CreatedAt = now };
        }
        // One write records every delivery owed (a manager added since the first run of the week is added to it).
        var run = store.SaveDocument<DigestRun>(DigestRun.Collection, week, existing =>
        {
            var r = existing ?? new DigestRun { Id = week, CreatedAt = now };
            foreach (var (recipient, kind) in recipients)
                if (!r.Deliveries.Any(d => d.Recipient == recipient && d.Kind == kind))
                    r.Deliveries.Add(new DigestDelivery { Recipient = recipient, Kind = kind });
            return r;
        });
        var owed = run.Deliveries.Select((d, i) => (d, i)).Where(x => !x.d.Done).Select(x => x.i).ToList();
        if (owed.Count == 0)
        {
            LogNothingOwed(log, week, run.Deliveries.Count);
            return run;
        }

        var message = await content.BuildAsync(now, week, ct);
        DateTimeOffset? lastPost = null;
        var failed = 0;
        DateTimeOffset? resumeAt = null;
        foreach (var index in owed)
        {
            var ok = false;
            for (var rateLimited = 0; ; rateLimited++)
            {
                var (done, retryAfter, posted) = await DeliverAsync(week, index, message, lastPost, ct);
                if (posted) lastPost = time.GetUtcNow();
                if (done) { ok = true; break; }
                if (retryAfter is { } longWait && longWait > MaxInlineRetryAfter && jobs is not null) { resumeAt = time.GetUtcNow() + longWait; break; }
                if (retryAfter is not { } wait || wait > MaxInlineRetryAfter || rateLimited + 1 >= MaxRateLimitedAttempts) break;
                LogRateLimited(log, week, run.Deliveries[index].Recipient, wait);
                await Task.Delay(wait, time, ct);
            }
            if (resumeAt is not null) break;
            if (!ok) failed++;
        }
        if (resumeAt is { } at)
        {
            // Slack's rate limit is the app's, so the rest waits too; no exception, so Hangfire's retry cannot fire sooner.
            run = store.SaveDocument<DigestRun>(DigestRun.Collection, week, r => { r!.ResumeAt = at; return r; });
            if (queue?.Name is { } q) jobs!.Schedule<WeeklyDigestJob>(q, j => j.ResumeAsync(week, CancellationToken.None), at);
            else jobs!.Schedule<WeeklyDigestJob>(j => j.ResumeAsync(week, CancellationToken.None), at);
            LogResumeScheduled(log, week, at);
            return run;
        }
        run = store.Document<DigestRun>(DigestRun.Collection, week)!;
        if (failed > 0) throw new DigestIncompleteException(week, failed, run.Deliveries.Count);
        LogSent(log, week, owed.Count);
        return run;
    }

    /// <summary>One attempt at one delivery. Returns whether it is done, a Retry-After when Slack rate-limited it, and whether a post was made.</summary>
    async Task<(bool Done, TimeSpan? RetryAfter, bool Posted)> DeliverAsync(string week, int index, SlackMessage message, DateTimeOffset? lastPost, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var delivery = Update(week, index, d => { d.Attempts++; d.FirstAttemptAt ??= now; });
        var tagged = message with { Metadata = DigestBuilder.Metadata(week, delivery.Recipient) };
        var posted = false;
        try
        {
            var channel = delivery.Kind == DigestRecipientKind.DirectMessage
                ? await slack.OpenDirectMessageAsync(delivery.Recipient, ct)
                : delivery.Recipient;
            var (result, found) = await SlackPosting.PostOnceAsync(slack, new SlackPlace(channel, delivery.FirstAttemptAt!.Value.AddMinutes(-1)), tagged,
                delivery.Unconfirmed, ct, async () =>
                {
                    if (lastPost is { } last && last + policy.Value.DigestSendInterval - time.GetUtcNow() is { } pause && pause > TimeSpan.Zero)
                        await Task.Delay(pause, time, ct);
                    // Saved before the post: a crash from here on leaves it unconfirmed, and the next run checks Slack first.
                    Update(week, index, d => d.Unconfirmed = true);
                    posted = true;
                });
            Update(week, index, d => Delivered(d, result.Channel, result.Ts));
            return (true, null, !found);
        }
        catch (SlackApiException e)
        {
            var error = SlackPosting.RetryFor(e).Error;
            // A failure before the post (opening the DM, reading history) settles nothing: Unconfirmed stays as it was.
            Update(week, index, d => { d.LastError = error; if (posted) d.Unconfirmed = SlackPosting.IsUncertain(error); });
            LogDeliveryFailed(log, week, delivery.Recipient, error);
            return (false, e.RetryAfter, posted);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Update(week, index, d => d.LastError = e.GetType().Name);
            LogDeliveryCrashed(log, e, week, delivery.Recipient);
            return (false, null, posted);
        }
    }

    void Delivered(DigestDelivery d, string channel, string ts)
    {
        d.Done = true;
        d.Unconfirmed = false;
        d.LastError = null;
        d.DoneAt = time.GetUtcNow();
        d.Channel = channel;
        d.Ts = ts;
    }

    DigestDelivery Update(string week, int index, Action<DigestDelivery> change) =>
        store.SaveDocument<DigestRun>(DigestRun.Collection, week, r => { change(r!.Deliveries[index]); return r; }).Deliveries[index];

    [LoggerMessage(EventId = 7001, Level = LogLevel.Information, Message = "Digest {Week} sent to {Count} recipient(s)")]
    static partial void LogSent(ILogger logger, string week, int count);
    [LoggerMessage(EventId = 7002, Level = LogLevel.Information, Message = "Digest {Week}: all {Count} deliveries were already done")]
    static partial void LogNothingOwed(ILogger logger, string week, int count);
    [LoggerMessage(EventId = 7003, Level = LogLevel.Warning, Message = "Digest {Week} to {Recipient} failed: {Error}")]
    static partial void LogDeliveryFailed(ILogger logger, string week, string recipient, string error);
    [LoggerMessage(EventId = 7004, Level = LogLevel.Error, Message = "Digest {Week} to {Recipient} threw")]
    static partial void LogDeliveryCrashed(ILogger logger, Exception e, string week, string recipient);
    [LoggerMessage(EventId = 7006, Level = LogLevel.Warning, Message = "Digest {Week}: no recipients; set Slack:Managers and/or Slack:DigestChannel")]
    static partial void LogNoRecipients(ILogger logger, string week);
    [LoggerMessage(EventId = 7007, Level = LogLevel.Warning, Message = "Digest {Week} rate-limited by Slack for longer than a run waits; the rest is sent at {At}")]
    static partial void LogResumeScheduled(ILogger logger, string week, DateTimeOffset at);
    [LoggerMessage(EventId = 7005, Level = LogLevel.Information, Message = "Digest {Week} to {Recipient} rate-limited by Slack; retrying in {Wait}")]
    static partial void LogRateLimited(ILogger logger, string week, string recipient, TimeSpan wait);
}

/// <summary>
/// The recurring Hangfire job. The week is that of the job's creation (kept across Hangfire retries), so a retry
/// after midnight on Sunday still completes the right week.
/// </summary>
public sealed class WeeklyDigestJob(DigestSender sender, TimeProvider time, AuditAnchorPublisher anchors)
{
    public const string RecurringId = "weekly-overdue-digest";

    [AutomaticRetry(Attempts = 10)]
    public async Task RunAsync(PerformContext? context, CancellationToken ct)
    {
        var occurrence = context?.BackgroundJob?.CreatedAt is { } created
            ? new DateTimeOffset(DateTime.SpecifyKind(created, DateTimeKind.Utc))
            : time.GetUtcNow();
        await sender.SendAsync(sender.WeekOf(occurrence), ct);
        anchors.Enqueue("digest");
    }

    /// <summary>The rest of <paramref name="week"/>'s digest, after a long Retry-After: only what is not done yet is sent.</summary>
    [AutomaticRetry(Attempts = 10)]
    public Task ResumeAsync(string week, CancellationToken ct) => sender.SendAsync(week, ct);
}

/// <summary>/breakglass overdue: the same digest, now, only to the caller.</summary>
internal sealed class OverdueCommand(DigestContent content, ReadAccess access, TimeProvider time) : ISubCommand
{
    /// <summary>Slack wants the answer within 3 s: GitHub's count and the reviewer names get this long, then the fallbacks show.</summary>
    static readonly TimeSpan OnDemandBudget = TimeSpan.FromSeconds(1.5);
    public string Name => "overdue";
    public string Usage => "`/breakglass overdue` the weekly overdue digest, now (only you see it)";

    public async Task<CommandReply> RunAsync(SlashCommand command, string arguments, CancellationToken ct)
    {
        // The digest names everyone's overdue changes: for readers only (Slack:Readers).
        if (!await access.MayReadAllAsync(command.UserId, ct)) return new CommandReply(ReadAccess.RefusalOfAll);
        var digest = await content.BuildAsync(time.GetUtcNow(), null, ct, OnDemandBudget);
        return new CommandReply(digest.Text, digest.Blocks);
    }
}
