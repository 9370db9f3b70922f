using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Hosting;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Digest;

/// <summary>Merged pull requests per window, oldest first, and the repositories counted; or why not (<see cref="Unknown"/>).</summary>
public sealed record AllChangeCounts(IReadOnlyList<int>? PerWeek, string Scope, string? Unknown)
{
    public static AllChangeCounts NotCounted(string why) => new(null, "", why);
}

/// <summary>How long the digest waits for GitHub's search before showing the count trend instead; a class so tests can shorten it.</summary>
public sealed class AllChangesSettings
{
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// Counts all changes (the break-glass rate's denominator) through GitHub's search. Never throws nor waits longer than
/// <see cref="AllChangesSettings.Timeout"/>: the digest goes out anyway.
/// </summary>
public sealed partial class AllChangesCounter(IGitHubGateway github, IOptions<GitHubOptions> options, AllChangesSettings settings, TimeProvider time,
    ILogger<AllChangesCounter> log)
{
    // GitHub refuses a search query longer than 256 characters: several repo: qualifiers go in one query up to this length.
    const int MaxQueryLength = 200;

    /// <summary>
    /// The owner/repo of each pull request linked to <paramref name="changes"/> not cancelled (repeats allowed); the same
    /// rule as <see cref="ChangeStore.LinkedRepositoriesDeclaredBetween"/>.
    /// </summary>
    public static IEnumerable<string> LinkedRepositories(IEnumerable<EmergencyChange> changes) =>
        changes.Where(c => c.Status != ChangeStatus.Cancelled).SelectMany(c => c.PullRequests).Select(p => $"{p.Owner}/{p.Repo}");

    /// <summary>GitHub:Repositories; only when that is empty is <paramref name="linkedRepositories"/> read.</summary>
    IReadOnlyList<string> Repositories(Func<IEnumerable<string>> linkedRepositories) =>
        options.Value.Repositories.Count > 0
            ? [.. options.Value.Repositories.Select(r => r.Trim()).Where(r => r.Length > 0).Distinct(StringComparer.OrdinalIgnoreCase)]
            : [.. linkedRepositories().Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.OrdinalIgnoreCase)];

    /// <summary>Merged pull requests per window, or why they are unknown.</summary>
    /// <param name="linkedRepositories">The repositories of the period's linked PRs; read only when GitHub:Repositories is empty.</param>
    /// <param name="timeout">A shorter wait than <see cref="AllChangesSettings.Timeout"/> (on demand).</param>
    public async Task<AllChangeCounts> CountAsync(IReadOnlyList<(DateTimeOffset From, DateTimeOffset To)> windows, Func<IEnumerable<string>> linkedRepositories,
        CancellationToken ct, TimeSpan? timeout = null)
    {
        if (!options.Value.IsConfigured) return AllChangeCounts.NotCounted("GitHub is not configured");
        var repositories = Repositories(linkedRepositories);
        if (repositories.Count == 0) return AllChangeCounts.NotCounted("no repositories to count in: set GitHub:Repositories");
        // Cancelled when the wait is over: searches left running would spend GitHub's search limit (30 a minute) for nothing.
        var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var counting = CountAllAsync(windows, Batches(repositories), stop.Token);
        try
        {
            var totals = await counting.WaitAsync(timeout is { } t && t < settings.Timeout ? t : settings.Timeout, time, ct);
            var scope = repositories.Count == 1 ? repositories[0] : $"{repositories.Count} repositories";
            return new AllChangeCounts(totals, scope, null);
        }
        catch (TimeoutException)
        {
            LogCountFailed(log, "timed out");
            return AllChangeCounts.NotCounted("GitHub's search did not answer in time");
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            LogCountFailed(log, e is GitHubException g ? g.Failure.ToString() : e.GetType().Name);
            return AllChangeCounts.NotCounted(e is GitHubException { Failure: GitHubFailure.RateLimited } ? "GitHub's search is rate-limited just now" : "GitHub's search failed");
        }
        finally
        {
            if (!counting.IsCompleted)
            {
                stop.Cancel();
                // Observe its end (so its cancellation is not an unobserved exception), then let the token source go.
                _ = counting.ContinueWith(t => { _ = t.Exception; stop.Dispose(); }, TaskScheduler.Default);
            }
            else stop.Dispose();
        }
    }

    async Task<IReadOnlyList<int>> CountAllAsync(IReadOnlyList<(DateTimeOffset From, DateTimeOffset To)> windows, IReadOnlyList<IReadOnlyList<string>> batches,
        CancellationToken ct)
    {
        var totals = new List<int>();
        foreach (var (from, to) in windows)
        {
            var total = 0;
            foreach (var batch in batches)
            {
                ct.ThrowIfCancellationRequested();
                total += await github.CountMergedPullRequestsAsync(batch, from, to, ct);
            }
            totals.Add(total);
        }
        return totals;
    }

    static IReadOnlyList<IReadOnlyList<string>> Batches(IReadOnlyList<string> repositories)
    {
        var batches = new List<IReadOnlyList<string>>();
        var current = new List<string>();
        var length = 0;
        foreach (var r in repositories)
        {
            if (current.Count > 0 && length + r.Length + 6 > MaxQueryLength) { batches.Add(current); current = []; length = 0; }
            current.Add(r);
            length += r.Length + 6; // "repo:" and a space
        }
        if (current.Count > 0) batches.Add(current);
        return batches;
    }

    [LoggerMessage(EventId = 7010, Level = LogLevel.Warning, Message = "Could not count all changes on GitHub for the break-glass rate: {Reason}")]
    static partial void LogCountFailed(ILogger logger, string reason);
}
