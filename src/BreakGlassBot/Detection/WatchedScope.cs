using System.Collections.Concurrent;
using BreakGlassBot.GitHub;
using BreakGlassBot.Hosting;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Detection;

/// <summary>
/// What detection watches: GitHub:Repositories, and in each
/// Detection:Branches (else the repository's default branch), and whose actions it ignores (Detection:IgnoreActors).
/// </summary>
public sealed class WatchedScope(IOptions<GitHubOptions> github, IOptions<DetectionOptions> detection, IGitHubGateway gateway, TimeProvider time)
{
    /// <summary>How long a default branch read from GitHub is trusted: a repository may change it.</summary>
    public static readonly TimeSpan DefaultBranchTtl = TimeSpan.FromHours(1);
    readonly ConcurrentDictionary<string, (string Branch, DateTimeOffset At)> defaultBranches = new(StringComparer.OrdinalIgnoreCase);

    public DetectionOptions Options => detection.Value;

    /// <summary>Detection is on and has a GitHub to ask.</summary>
    public bool Active => detection.Value.Enabled && github.Value.IsConfigured;

    /// <summary>GitHub:Repositories (required with detection, see ConfigurationCheck): owner/repo, distinct, in the configured case.</summary>
    public IReadOnlyList<string> Repositories() =>
        [.. github.Value.Repositories.Select(r => r.Trim()).Where(r => r.Contains('/')).Distinct(StringComparer.OrdinalIgnoreCase)];

    public bool IsWatchedRepository(string repository) => Repositories().Contains(repository, StringComparer.OrdinalIgnoreCase);

    /// <summary>Whether <paramref name="branch"/> is watched, given the repository's default branch when the caller knows it.</summary>
    public bool IsWatchedBranch(string repository, string branch, string? defaultBranch)
    {
        if (detection.Value.Branches.Count > 0) return detection.Value.Branches.Any(b => string.Equals(b.Trim(), branch, StringComparison.Ordinal));
        if (defaultBranch is { Length: > 0 })
        {
            // GitHub's payload says what the default branch is now: the freshest answer there is.
            defaultBranches[repository] = (defaultBranch, time.GetUtcNow());
            return branch == defaultBranch;
        }
        return defaultBranches.TryGetValue(repository, out var known) && known.Branch == branch;
    }

    /// <summary>The watched branches of one repository (asks GitHub for its default branch when none are configured).</summary>
    public async Task<IReadOnlyList<string>> BranchesAsync(string repository, CancellationToken ct)
    {
        if (detection.Value.Branches.Count > 0) return [.. detection.Value.Branches.Select(b => b.Trim())];
        if (defaultBranches.TryGetValue(repository, out var known) && time.GetUtcNow() - known.At < DefaultBranchTtl) return [known.Branch];
        var (owner, repo) = Split(repository);
        var branch = await gateway.GetDefaultBranchAsync(owner, repo, ct);
        defaultBranches[repository] = (branch, time.GetUtcNow());
        return [branch];
    }

    public bool IsIgnoredActor(string? login) => detection.Value.IsWatchedActorIgnored(login);

    public static (string Owner, string Repo) Split(string repository)
    {
        var slash = repository.IndexOf('/');
        return (repository[..slash], repository[(slash + 1)..]);
    }
}
