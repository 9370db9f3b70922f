using BreakGlassBot.Deadlines;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using Hangfire;
using Hangfire.Server;

namespace BreakGlassBot.Detection;

/// <summary>
/// GitHub's rule suites (rule insights; GitHub Enterprise Cloud and Server, maybe other plans): every push or merge GitHub
/// recorded as a bypass of a watched branch's rules, read with a day's window every Detection:RuleSuitesInterval, so the windows
/// overlap and a missed poll loses nothing; each suite is taken once (by its id) and matched to its PR by the merge commit.
/// </summary>
public sealed partial class RuleSuitePoll(Detector detector, WatchedScope scope, IGitHubGateway gateway, ChangeStore store, AdminNotices notices,
    TimeProvider time, ILogger<RuleSuitePoll> log)
{
    public const string FoundBy = "rule_suite";
    readonly HashSet<string> unavailable = new(StringComparer.OrdinalIgnoreCase);
    int failedPolls;

    public async Task<int> PollAsync(CancellationToken ct)
    {
        var found = 0;
        GitHubException? failure = null;
        foreach (var repository in scope.Repositories())
        {
            // One repository GitHub will not answer for does not stop the others.
            try
            {
                var (owner, repo) = WatchedScope.Split(repository);
                foreach (var branch in await scope.BranchesAsync(repository, ct))
                {
                    IReadOnlyList<RuleSuiteInfo> suites;
                    try { suites = await gateway.GetBypassRuleSuitesAsync(owner, repo, branch, "day", ct); }
                    catch (GitHubException e) when (e.Failure == GitHubFailure.NotFound)
                    {
                        // No rule insights on this plan or repository: the webhooks and the sweep still cover it.
                        if (unavailable.Add(repository)) LogUnavailable(log, repository);
                        continue;
                    }
                    foreach (var suite in suites.Where(s => s.Result == "bypass"))
                    {
                        var key = "rule-suite:" + suite.Id;
                        if (store.WasSeen(key)) continue;
                        await ObserveAsync(repository, branch, suite, ct);
                        store.MarkSeen(key, time.GetUtcNow());
                        found++;
                    }
                }
            }
            catch (GitHubException e)
            {
                LogFailed(log, repository, e.Message);
                failure = e;
            }
        }
        if (failure is null) failedPolls = 0;
        else if (++failedPolls == 3) notices.Failed(FoundBy, "reading GitHub's rule suites", failure.Message, failedPolls);
        return found;
    }

    async Task ObserveAsync(string repository, string branch, RuleSuiteInfo suite, CancellationToken ct)
    {
        var (owner, repo) = WatchedScope.Split(repository);
        var after = suite.AfterSha ?? "";
        var pulls = after.Length == 0 ? [] : await gateway.GetCommitPullRequestsAsync(owner, repo, after, ct);
        // Only a PR merged into this branch is what the suite recorded; one that brought the commit to another branch is not.
        var intoBranch = pulls.Where(p => Detector.BroughtToBranch([p], branch)).ToList();
        var pr = intoBranch.FirstOrDefault(p => string.Equals(p.MergeCommitSha, after, StringComparison.OrdinalIgnoreCase)) ?? intoBranch.FirstOrDefault();
        if (pr is not null)
            detector.Observe(new MergeObservation(DetectedBypass.PullRequestKind, repository, FoundBy)
            {
                Branch = branch, Number = pr.Number, Sha = pr.MergeCommitSha, MergedAt = pr.MergedAt, RuleSuite = suite.Id,
                Actor = suite.ActorName, ActorId = suite.ActorId,
            });
        else
            detector.Observe(new MergeObservation(DetectedBypass.DirectPushKind, repository, FoundBy)
            {
                Branch = branch, Sha = after, Commits = after.Length > 0 ? [after] : [], MergedAt = suite.PushedAt ?? time.GetUtcNow(), RuleSuite = suite.Id,
                Actor = suite.ActorName, ActorId = suite.ActorId,
            });
    }

    [LoggerMessage(EventId = 9011, Level = LogLevel.Information, Message = "GitHub has no rule insights for {Repository} (404): its bypasses are found by the webhooks and the sweep")]
    static partial void LogUnavailable(ILogger logger, string repository);
    [LoggerMessage(EventId = 9012, Level = LogLevel.Warning, Message = "Reading GitHub's rule suites of {Repository} failed, retried at the next poll: {Error}")]
    static partial void LogFailed(ILogger logger, string repository, string error);
}

/// <summary>
/// The daily sweep (every plan): every PR merged into a watched branch in the last Detection:SweepWindow, and every commit on it
/// that no PR brought, become merge records; what the webhooks missed while the bot was down is found here. A failure is an
/// audit event and a note to the admins, and the job fails so Hangfire retries it; the next day's window covers it again.
/// </summary>
public sealed partial class DetectionSweepJob(Detector detector, WatchedScope scope, IGitHubGateway gateway, MergeRecords records, ChangeStore store,
    AdminNotices notices, TimeProvider time, ILogger<DetectionSweepJob> log)
{
    public const string RecurringId = "detection-sweep";
    /// <summary>The furthest back a sweep catches up after the bot was down (GitHub keeps search results far longer).</summary>
    static readonly TimeSpan MaxCatchUp = TimeSpan.FromDays(90);
    public const string FoundBy = "sweep";

    [AutomaticRetry(Attempts = 10)]
    public async Task RunAsync(PerformContext? context, CancellationToken ct)
    {
        if (!scope.Active) return;
        var to = time.GetUtcNow();
        // From the end of the last sweep that finished, if that is further back than the window: a bot down for a week
        // sweeps the week (at most MaxCatchUp).
        var last = store.Document<SweepMark>(SweepMark.Collection, SweepMark.Key)?.SweptTo;
        var from = to - scope.Options.SweepWindow;
        if (last is { } l && l < from) from = l < to - MaxCatchUp ? to - MaxCatchUp : l;
        var attempt = context?.GetJobParameter<int>("RetryCount") ?? 0;
        int merged = 0, pushes = 0, added = 0;
        var repositories = scope.Repositories();
        var failed = new List<(string Repository, GitHubException Error)>();
        foreach (var repository in repositories)
        {
            try
            {
                var (owner, repo) = WatchedScope.Split(repository);
                foreach (var branch in await scope.BranchesAsync(repository, ct))
                {
                    foreach (var hit in await gateway.SearchMergedPullRequestsAsync(repository, branch, from, to, ct))
                    {
                        merged++;
                        var id = MergeRecord.PullRequestId(repository, hit.Number);
                        var record = records.Get(id);
                        if (record is null) added++;
                        if (record is null || !record.FoundBy.Contains(FoundBy))
                            detector.Observe(new MergeObservation(DetectedBypass.PullRequestKind, repository, FoundBy)
                            {
                                Branch = branch, Number = hit.Number, Title = hit.Title, AuthorLogin = hit.AuthorLogin, AuthorId = hit.AuthorId, MergedAt = hit.MergedAt,
                            });
                    }
                    // Commits a PR brought are known by their merge commit; the others are asked about one by one.
                    var known = records.All().Where(r => string.Equals(r.Repository, repository, StringComparison.OrdinalIgnoreCase))
                        .SelectMany(r => r.Commits.Append(r.Sha ?? "")).Where(s => s.Length > 0).ToHashSet(StringComparer.OrdinalIgnoreCase);
                    foreach (var commit in await gateway.GetBranchCommitsAsync(owner, repo, branch, from, to, ct))
                    {
                        if (known.Contains(commit.Sha)) continue;
                        if (Detector.BroughtToBranch(await gateway.GetCommitPullRequestsAsync(owner, repo, commit.Sha, ct), branch)) continue;
                        pushes++;
                        if (records.Get(MergeRecord.PushId(repository, commit.Sha)) is null) added++;
                        detector.Observe(new MergeObservation(DetectedBypass.DirectPushKind, repository, FoundBy)
                        {
                            Branch = branch, Sha = commit.Sha, Commits = [commit.Sha], Actor = ByWeb(commit) ? commit.AuthorLogin : commit.CommitterLogin,
                            ActorId = ByWeb(commit) ? commit.AuthorId : commit.CommitterId, MergedAt = commit.CommittedAt ?? to, ActorFromCommit = true,
                        });
                    }
                }
            }
            catch (GitHubException e)
            {
                // The other repositories are still swept; this one fails the run, so Hangfire retries it.
                LogFailed(log, repository, attempt + 1, e.Message);
                failed.Add((repository, e));
            }
        }
        if (failed.Count > 0)
        {
            // Told once per run, not on every retry of it.
            if (attempt == 0)
                notices.Failed(FoundBy, $"the sweep of {string.Join(", ", failed.Select(f => f.Repository))} for {from:yyyy-MM-dd HH:mm}–{to:yyyy-MM-dd HH:mm} UTC",
                    failed[0].Error.Message, attempt + 1);
            throw failed[0].Error;
        }
        store.SaveDocument<SweepMark>(SweepMark.Collection, SweepMark.Key, m => { m ??= new SweepMark { Id = SweepMark.Key }; m.SweptTo = to; return m; });
        store.Append(new AuditEvent
        {
            ChangeNumber = 0, At = time.GetUtcNow(), Actor = "bot", Type = AuditTypes.DetectionSwept,
            Data = new()
            {
                ["from"] = from.ToString("O"), ["to"] = to.ToString("O"), ["repositories"] = string.Join(' ', repositories),
                ["merged"] = merged.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["direct_pushes"] = pushes.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["new"] = added.ToString(System.Globalization.CultureInfo.InvariantCulture),
            },
        });
        LogSwept(log, repositories.Count, merged, pushes, added);
    }

    /// <summary>A commit made on GitHub's web pages is committed by GitHub's own account: its author is the person.</summary>
    static bool ByWeb(CommitInfo c) => c.CommitterLogin is null || string.Equals(c.CommitterLogin, "web-flow", StringComparison.OrdinalIgnoreCase);

    [LoggerMessage(EventId = 9021, Level = LogLevel.Warning, Message = "The detection sweep of {Repository} failed (attempt {Attempt}); Hangfire retries it: {Error}")]
    static partial void LogFailed(ILogger logger, string repository, int attempt, string error);
    [LoggerMessage(EventId = 9022, Level = LogLevel.Information, Message = "Detection sweep: {Repositories} repositories, {Merged} merged PRs, {Pushes} direct pushes, {Added} new")]
    static partial void LogSwept(ILogger logger, int repositories, int merged, int pushes, int added);
}

/// <summary>Where the last sweep that finished ended, so the next one starts there however long the bot was down.</summary>
public sealed class SweepMark
{
    public const string Collection = "detection_state";
    public const string Key = "sweep";
    public string Id { get; set; } = "";
    public DateTimeOffset SweptTo { get; set; }
}

internal sealed class DetectionSweepSchedule(IRecurringJobManager recurring, InstanceQueue queue, Microsoft.Extensions.Options.IOptions<Hosting.DetectionOptions> options) : IRecurringSchedule
{
    public string? Id => options.Value.Enabled ? DetectionSweepJob.RecurringId : null;

    public void Register()
    {
        if (!options.Value.Enabled) { recurring.RemoveIfExists(queue.RecurringId(DetectionSweepJob.RecurringId)); return; }
        queue.AddOrUpdate<DetectionSweepJob>(recurring, DetectionSweepJob.RecurringId, j => j.RunAsync(null, CancellationToken.None), options.Value.SweepCron);
    }
}
