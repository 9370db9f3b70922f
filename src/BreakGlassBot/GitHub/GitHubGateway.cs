using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using Microsoft.Extensions.Options;
using Octokit;
using Octokit.Internal;
using Polly.Timeout;

namespace BreakGlassBot.GitHub;

public sealed record PullRequestInfo(
    string Title, string AuthorLogin, long AuthorId, string HeadSha, string BaseRef, string State, bool Merged, DateTimeOffset? MergedAt, string? MergeCommitSha,
    string? MergedByLogin = null, string? BaseRepository = null, string? HeadRepository = null, bool Private = false)
{
    /// <summary>The head is in another repository than the base (a fork), or its repository is gone (a deleted fork).</summary>
    public bool FromFork => BaseRepository is not null && !string.Equals(HeadRepository, BaseRepository, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Merged by merged_at as well as merged: GitHub may answer merged:false with a merged_at, and the stricter reading is safe.
    /// </summary>
    public bool IsMerged => Merged || MergedAt is not null;
}

/// <summary>One pull-request review. <see cref="SubmittedAt"/> is null for a pending (unsubmitted) review.</summary>
public sealed record ReviewInfo(long Id, string? UserLogin, long? UserId, string State, DateTimeOffset? SubmittedAt, string? CommitId);

/// <summary>A review as GitHub sends it (snake_case mapped by Octokit's serializer), with submitted_at nullable.</summary>
/// <summary>The body of POST .../issues/{n}/labels as GitHub documents it (Octokit's serializer writes "labels").</summary>
internal sealed class WireLabels
{
    public IReadOnlyList<string> Labels { get; init; } = [];
}

internal sealed class WireReview
{
    public long Id { get; set; }
    public WireUser? User { get; set; }
    public string? State { get; set; }
    public DateTimeOffset? SubmittedAt { get; set; }
    public string? CommitId { get; set; }
}

internal sealed class WireUser
{
    public string? Login { get; set; }
    public long? Id { get; set; }
}

public sealed record CommentInfo(long Id, string Body, string? AuthorLogin);

public enum TeamMembership { None, Active, Pending }

public sealed record MergeInfo(string Sha, bool Merged, string? Message);

/// <summary>GitHub's legacy base role of a person on a repository (maintain reads as write, triage as read).</summary>
public enum RepositoryPermission { None, Read, Write, Admin }

internal sealed class WirePermission
{
    public string? Permission { get; set; }
}

internal sealed class WireOrgMembership
{
    public string? State { get; set; }
}

internal sealed class WireInvitation
{
    public long Id { get; set; }
    public string? Login { get; set; }
}

/// <summary>A rule suite as listed; older documentation names the actor "username" instead of "actor_name".</summary>
internal sealed class WireRuleSuite
{
    public long Id { get; set; }
    public long? ActorId { get; set; }
    public string? ActorName { get; set; }
    public string? Username { get; set; }
    public string? BeforeSha { get; set; }
    public string? AfterSha { get; set; }
    public string? Ref { get; set; }
    public string? RepositoryName { get; set; }
    public DateTimeOffset? PushedAt { get; set; }
    public string? Result { get; set; }
}

internal sealed class WireCommitPull
{
    public int Number { get; set; }
    public string? State { get; set; }
    public DateTimeOffset? MergedAt { get; set; }
    public string? MergeCommitSha { get; set; }
    public WireBranchRef? Base { get; set; }
}

internal sealed class WireBranchRef
{
    public string? Ref { get; set; }
}

internal sealed class WireSearchResult
{
    public int TotalCount { get; set; }
    public bool IncompleteResults { get; set; }
    public List<WireSearchItem>? Items { get; set; }
}

internal sealed class WireSearchItem
{
    public int Number { get; set; }
    public string? Title { get; set; }
    public WireUser? User { get; set; }
    public WireSearchPull? PullRequest { get; set; }
}

internal sealed class WireSearchPull
{
    public DateTimeOffset? MergedAt { get; set; }
}

internal sealed class WireCommit
{
    public string? Sha { get; set; }
    public WireUser? Author { get; set; }
    public WireUser? Committer { get; set; }
    public WireGitCommit? Commit { get; set; }
}

internal sealed class WireGitCommit
{
    public string? Message { get; set; }
    public WireGitActor? Committer { get; set; }
}

internal sealed class WireGitActor
{
    public DateTimeOffset? Date { get; set; }
}

internal sealed class WireRepository
{
    public string? DefaultBranch { get; set; }
}

/// <summary>How a GitHub call failed, in the terms the steps act on.</summary>
public enum GitHubFailure
{
    /// <summary>401: the token or app credentials were refused.</summary>
    Unauthorized,
    /// <summary>403 that is not a rate limit: no permission.</summary>
    Forbidden,
    /// <summary>404: does not exist, or the bot may not see it (GitHub answers 404 for both).</summary>
    NotFound,
    /// <summary>422 or another 4xx: the request will not pass as it is.</summary>
    Invalid,
    /// <summary>409 on merge: the head moved away from the pinned SHA.</summary>
    Conflict,
    /// <summary>405 on merge: GitHub will not merge (rules, conflicts).</summary>
    NotMergeable,
    /// <summary>429, or 403 with the rate limit used up; <see cref="GitHubException.RetryAfter"/> says how long to wait.</summary>
    RateLimited,
    /// <summary>5xx, timeout, connection failure: try again later.</summary>
    Unavailable,
}

public sealed class GitHubException(GitHubFailure failure, string message, int? status = null, TimeSpan? retryAfter = null, Exception? inner = null)
    : Exception(message, inner)
{
    public GitHubFailure Failure { get; } = failure;
    public int? Status { get; } = status;
    public TimeSpan? RetryAfter { get; } = retryAfter;
}

/// <summary>The GitHub calls the bot makes, and nothing else. The one interface at the GitHub boundary.</summary>
public interface IGitHubGateway : IGitHubDetectionGateway
{
    Task<PullRequestInfo> GetPullRequestAsync(PullRequestRef pr, CancellationToken ct = default);
    Task AddLabelAsync(PullRequestRef pr, string label, CancellationToken ct = default);
    Task<IReadOnlyList<CommentInfo>> GetCommentsAsync(PullRequestRef pr, CancellationToken ct = default);
    Task CreateCommentAsync(PullRequestRef pr, string body, CancellationToken ct = default);
    /// <summary>Every review, all pages.</summary>
    Task<IReadOnlyList<ReviewInfo>> GetReviewsAsync(PullRequestRef pr, CancellationToken ct = default);
    Task<TeamMembership> GetTeamMembershipAsync(string org, string teamSlug, string login, CancellationToken ct = default);
    Task<TeamMembership> AddTeamMemberAsync(string org, string teamSlug, string login, CancellationToken ct = default);
    /// <summary>Removes the membership; true if there was one to remove.</summary>
    Task<bool> RemoveTeamMemberAsync(string org, string teamSlug, string login, CancellationToken ct = default);
    /// <summary>The login the bot acts as (GET /user), cached; null when GitHub will not say (a GitHub App's installation token).</summary>
    Task<string?> GetOwnLoginAsync(CancellationToken ct = default);
    /// <summary>Merges only if the head is still <paramref name="sha"/> (GitHub answers 409 otherwise).</summary>
    /// <param name="method">Null: the first method the repository allows (a repository that allows only squash answers 405 to a merge commit).</param>
    Task<MergeInfo> MergeAsync(PullRequestRef pr, string sha, string commitTitle, MergeMethod? method = null, CancellationToken ct = default);
    /// <summary>Pull requests merged in <paramref name="repositories"/> (owner/repo) in [from, to): the search's total_count.</summary>
    Task<int> CountMergedPullRequestsAsync(IReadOnlyList<string> repositories, DateTimeOffset from, DateTimeOffset to, CancellationToken ct = default);
    /// <summary>The person's own permission on the repository; None when GitHub does not know them there (404).</summary>
    Task<RepositoryPermission> GetPermissionAsync(string owner, string repo, string login, CancellationToken ct = default);
    /// <summary>Organisation membership: Active, Pending (invited, not yet accepted) or None (404).</summary>
    Task<TeamMembership> GetOrgMembershipAsync(string org, string login, CancellationToken ct = default);
    /// <summary>Cancels every pending organisation invitation of <paramref name="login"/>; how many there were.</summary>
    Task<int> CancelOrgInvitationsAsync(string org, string login, CancellationToken ct = default);
}

/// <summary>GitHub's record of one push or merge checked against the rules (rule insights), as listed; <see cref="Result"/> pass, fail or bypass.</summary>
public sealed record RuleSuiteInfo(long Id, string? ActorName, long? ActorId, string? BeforeSha, string? AfterSha, string? Ref, string? RepositoryName,
    DateTimeOffset? PushedAt, string Result);

/// <summary>A merged pull request as the search API lists it (confirmed separately with its reviews).</summary>
public sealed record MergedPullRequestHit(string Repository, int Number, string Title, string? AuthorLogin, long? AuthorId, DateTimeOffset? MergedAt);

/// <summary>A commit on a branch: who wrote and who committed it (GitHub accounts when GitHub knows them).</summary>
public sealed record CommitInfo(string Sha, string? AuthorLogin, long? AuthorId, string? CommitterLogin, long? CommitterId, DateTimeOffset? CommittedAt, string Message);

/// <summary>A pull request associated with a commit (GET .../commits/{sha}/pulls).</summary>
public sealed record CommitPullRequestInfo(int Number, string State, DateTimeOffset? MergedAt, string? MergeCommitSha, string? BaseRef);

/// <summary>The calls that find changes nobody declared (issue 22): rule suites, search and commits, with the bot's own response types.</summary>
public interface IGitHubDetectionGateway
{
    /// <summary>
    /// GET /repos/{owner}/{repo}/rulesets/rule-suites?rule_suite_result=bypass&amp;time_period=…, pages bounded; <paramref name="branch"/>
    /// limits to refs/heads/&lt;branch&gt; (null: every ref). 404 (no rule insights on this plan) is <see cref="GitHubFailure.NotFound"/>.
    /// </summary>
    Task<IReadOnlyList<RuleSuiteInfo>> GetBypassRuleSuitesAsync(string owner, string repo, string? branch, string timePeriod, CancellationToken ct = default);
    /// <summary>GET /repos/{owner}/{repo}/commits/{sha}/pulls: empty for a commit that no pull request brought (a direct push).</summary>
    Task<IReadOnlyList<CommitPullRequestInfo>> GetCommitPullRequestsAsync(string owner, string repo, string sha, CancellationToken ct = default);
    /// <summary>
    /// Every pull request merged into <paramref name="branch"/> of <paramref name="repository"/> (owner/repo) in [from, to), all pages:
    /// the window is split until each search stays under GitHub's 1,000-result cap; incomplete results are a failure, not a short list.
    /// </summary>
    Task<IReadOnlyList<MergedPullRequestHit>> SearchMergedPullRequestsAsync(string repository, string branch, DateTimeOffset from, DateTimeOffset to, CancellationToken ct = default);
    /// <summary>GET /repos/{owner}/{repo}/commits?sha=branch&amp;since=&amp;until=, all pages.</summary>
    Task<IReadOnlyList<CommitInfo>> GetBranchCommitsAsync(string owner, string repo, string branch, DateTimeOffset since, DateTimeOffset until, CancellationToken ct = default);
    /// <summary>GET /repos/{owner}/{repo}: its default branch.</summary>
    Task<string> GetDefaultBranchAsync(string owner, string repo, CancellationToken ct = default);
}

/// <summary>Per-attempt timeout of GitHub HTTP calls; a class so tests can shorten it.</summary>
public sealed class GitHubHttpSettings
{
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// Octokit over an IHttpClientFactory handler (for the resilience pipeline), with the base address used verbatim
/// (Octokit's own constructor rewrites non-github.com hosts to /api/v3/). Maps exceptions to <see cref="GitHubException"/>.
/// </summary>
internal sealed class GitHubGateway(IHttpMessageHandlerFactory handlers, IOptions<GitHubOptions> options, IGitHubCredentials credentials, TimeProvider time)
    : IGitHubGateway
{
    public const string HttpClientName = "github";
    internal static readonly ProductHeaderValue Product = new("BreakGlassBot", "1.0");
    const string CoreResource = "core", SearchResource = "search";
    // GitHub limits each resource on its own (x-ratelimit-resource: core, search, graphql...): a used-up search limit
    // must not stop the bypass, labels and merges, which are core calls. UTC ticks until which each resource waits.
    readonly ConcurrentDictionary<string, long> blockedUntil = new(StringComparer.OrdinalIgnoreCase);
    volatile string? ownLogin;
    volatile bool ownLoginKnown;

    public static Uri BaseUri(GitHubOptions o) => new(o.ApiBaseUrl.EndsWith('/') ? o.ApiBaseUrl : o.ApiBaseUrl + "/");

    internal static GitHubClient CreateClient(IHttpMessageHandlerFactory handlers, Uri baseUri, ICredentialStore credentials) =>
        new(new Connection(Product, baseUri, credentials, new HttpClientAdapter(() => handlers.CreateHandler(HttpClientName)), new SimpleJsonSerializer()));

    // A client per call is cheap, and takes a fresh handler from the factory (which rotates them).
    GitHubClient Client() => CreateClient(handlers, BaseUri(options.Value), credentials);

    public Task<PullRequestInfo> GetPullRequestAsync(PullRequestRef pr, CancellationToken ct = default) => CallAsync(async c =>
    {
        var p = await c.PullRequest.Get(pr.Owner, pr.Repo, pr.Number);
        return new PullRequestInfo(p.Title ?? "", p.User?.Login ?? "", p.User?.Id ?? 0, p.Head?.Sha ?? "", p.Base?.Ref ?? "",
            p.State.StringValue, p.Merged, p.MergedAt, p.MergeCommitSha, p.MergedBy?.Login,
            p.Base?.Repository?.FullName, p.Head?.Repository?.FullName, p.Base?.Repository?.Private ?? false);
    });

    public async Task<string?> GetOwnLoginAsync(CancellationToken ct = default)
    {
        if (ownLoginKnown) return ownLogin;
        try
        {
            ownLogin = await CallAsync(async c => (await c.User.Current()).Login);
            ownLoginKnown = true;
        }
        // A GitHub App's installation token may not read /user: the bot's login stays unknown, and callers judge without it.
        catch (GitHubException e) when (e.Failure is GitHubFailure.Forbidden or GitHubFailure.NotFound) { ownLoginKnown = true; }
        catch (GitHubException) { } // passing: ask again next time
        return ownLogin;
    }

    public Task AddLabelAsync(PullRequestRef pr, string label, CancellationToken ct = default) =>
        // Octokit's AddToIssue posts a bare array; GitHub's OpenAPI description takes only {"labels": [...]} (the array is a
        // tolerated legacy form in its prose), so the bot sends the documented shape.
        CallAsync(c => new ApiConnection(c.Connection).Post<IReadOnlyList<Label>>(
            new Uri($"repos/{Uri.EscapeDataString(pr.Owner)}/{Uri.EscapeDataString(pr.Repo)}/issues/{pr.Number}/labels", UriKind.Relative),
            new WireLabels { Labels = [label] }));

    public Task<IReadOnlyList<CommentInfo>> GetCommentsAsync(PullRequestRef pr, CancellationToken ct = default) => CallAsync(async c =>
    {
        // Octokit's GetAllForIssue adds sort and direction, which this operation does not have in GitHub's description.
        var uri = new Uri($"repos/{Uri.EscapeDataString(pr.Owner)}/{Uri.EscapeDataString(pr.Repo)}/issues/{pr.Number}/comments", UriKind.Relative);
        var all = await new ApiConnection(c.Connection).GetAll<IssueComment>(uri, new ApiOptions { PageSize = 100 });
        return (IReadOnlyList<CommentInfo>)[.. all.Select(x => new CommentInfo(x.Id, x.Body ?? "", x.User?.Login))];
    });

    public Task CreateCommentAsync(PullRequestRef pr, string body, CancellationToken ct = default) =>
        CallAsync(c => c.Issue.Comment.Create(pr.Owner, pr.Repo, pr.Number, body));

    public Task<IReadOnlyList<ReviewInfo>> GetReviewsAsync(PullRequestRef pr, CancellationToken ct = default) => CallAsync(async c =>
    {
        // GetAll follows Link: rel="next". Octokit's review model throws on the null submitted_at of a pending review: own shape.
        var uri = new Uri($"repos/{Uri.EscapeDataString(pr.Owner)}/{Uri.EscapeDataString(pr.Repo)}/pulls/{pr.Number}/reviews", UriKind.Relative);
        var all = await new ApiConnection(c.Connection).GetAll<WireReview>(uri, new ApiOptions { PageSize = 100 });
        return (IReadOnlyList<ReviewInfo>)[.. all.Select(r => new ReviewInfo(r.Id, r.User?.Login, r.User?.Id,
            (r.State ?? "").ToUpperInvariant(), r.SubmittedAt, r.CommitId))];
    });

    // Octokit's team methods use the legacy /teams/{id} paths; the org/slug paths need no id lookup.
    static Uri MembershipUri(string org, string slug, string login) => new(
        $"orgs/{Uri.EscapeDataString(org)}/teams/{Uri.EscapeDataString(slug)}/memberships/{Uri.EscapeDataString(login)}", UriKind.Relative);

    public async Task<TeamMembership> GetTeamMembershipAsync(string org, string teamSlug, string login, CancellationToken ct = default)
    {
        try
        {
            return await CallAsync(async c => State(await new ApiConnection(c.Connection).Get<TeamMembershipDetails>(MembershipUri(org, teamSlug, login))));
        }
        catch (GitHubException e) when (e.Failure == GitHubFailure.NotFound)
        {
            return TeamMembership.None;
        }
    }

    public Task<TeamMembership> AddTeamMemberAsync(string org, string teamSlug, string login, CancellationToken ct = default) =>
        CallAsync(async c => State(await new ApiConnection(c.Connection).Put<TeamMembershipDetails>(MembershipUri(org, teamSlug, login),
            new UpdateTeamMembership(TeamRole.Member))));

    public async Task<bool> RemoveTeamMemberAsync(string org, string teamSlug, string login, CancellationToken ct = default)
    {
        try
        {
            await CallAsync(c => new ApiConnection(c.Connection).Delete(MembershipUri(org, teamSlug, login)));
            return true;
        }
        catch (GitHubException e) when (e.Failure == GitHubFailure.NotFound)
        {
            return false; // already gone: the goal is reached
        }
    }

    static TeamMembership State(TeamMembershipDetails d) =>
        string.Equals(d.State.StringValue, "pending", StringComparison.OrdinalIgnoreCase) ? TeamMembership.Pending : TeamMembership.Active;

    public Task<MergeInfo> MergeAsync(PullRequestRef pr, string sha, string commitTitle, MergeMethod? method = null, CancellationToken ct = default) => CallAsync(async c =>
    {
        var allowed = method ?? await AllowedMethodAsync(c, pr);
        var request = new MergePullRequest { Sha = sha, CommitTitle = commitTitle };
        if (allowed is { } m0) request.MergeMethod = m0 switch
        {
            MergeMethod.Squash => PullRequestMergeMethod.Squash,
            MergeMethod.Rebase => PullRequestMergeMethod.Rebase,
            _ => PullRequestMergeMethod.Merge,
        };
        var m = await c.PullRequest.Merge(pr.Owner, pr.Repo, pr.Number, request);
        return new MergeInfo(m.Sha ?? "", m.Merged, m.Message);
    });

    /// <summary>What the PR's repository allows; when GitHub cannot say just now, nothing is named and GitHub's default applies.</summary>
    static async Task<MergeMethod?> AllowedMethodAsync(GitHubClient c, PullRequestRef pr)
    {
        try { return AllowedMethod((await c.PullRequest.Get(pr.Owner, pr.Repo, pr.Number)).Base?.Repository); }
        catch (ApiException) { return null; }
    }

    /// <summary>The repository's first allowed method of merge, squash and rebase; null when it does not say (GitHub then merges).</summary>
    internal static MergeMethod? AllowedMethod(Repository? repository) => repository switch
    {
        { AllowMergeCommit: true } => MergeMethod.Merge,
        { AllowSquashMerge: true } => MergeMethod.Squash,
        { AllowRebaseMerge: true } => MergeMethod.Rebase,
        _ => null,
    };

    public Task<int> CountMergedPullRequestsAsync(IReadOnlyList<string> repositories, DateTimeOffset from, DateTimeOffset to, CancellationToken ct = default) =>
        CallAsync(async c =>
        {
            // merged:A..B includes both ends (whole seconds): end a second early so adjacent windows do not both count a PR.
            var q = string.Join(' ', repositories.Select(r => "repo:" + r)) + " is:pr is:merged " + MergedIn(from, to);
            // The connection's Get takes a CancellationToken (ApiConnection's does not): a count given up on stops its request.
            var response = await c.Connection.Get<SearchIssuesResult>(new Uri("search/issues", UriKind.Relative),
                new Dictionary<string, string> { ["q"] = q, ["per_page"] = "1" }, null, ct);
            return response.Body.TotalCount;
        }, SearchResource, ct);

    public async Task<RepositoryPermission> GetPermissionAsync(string owner, string repo, string login, CancellationToken ct = default)
    {
        var uri = new Uri($"repos/{Uri.EscapeDataString(owner)}/{Uri.EscapeDataString(repo)}/collaborators/{Uri.EscapeDataString(login)}/permission", UriKind.Relative);
        try
        {
            var p = await CallAsync(c => new ApiConnection(c.Connection).Get<WirePermission>(uri));
            return p.Permission?.ToLowerInvariant() switch
            {
                "admin" => RepositoryPermission.Admin,
                "write" or "maintain" => RepositoryPermission.Write,
                "read" or "triage" => RepositoryPermission.Read,
                _ => RepositoryPermission.None,
            };
        }
        catch (GitHubException e) when (e.Failure == GitHubFailure.NotFound) { return RepositoryPermission.None; }
    }

    public async Task<TeamMembership> GetOrgMembershipAsync(string org, string login, CancellationToken ct = default)
    {
        var uri = new Uri($"orgs/{Uri.EscapeDataString(org)}/memberships/{Uri.EscapeDataString(login)}", UriKind.Relative);
        try
        {
            var m = await CallAsync(c => new ApiConnection(c.Connection).Get<WireOrgMembership>(uri));
            return string.Equals(m.State, "active", StringComparison.OrdinalIgnoreCase) ? TeamMembership.Active : TeamMembership.Pending;
        }
        catch (GitHubException e) when (e.Failure == GitHubFailure.NotFound) { return TeamMembership.None; }
    }

    public Task<int> CancelOrgInvitationsAsync(string org, string login, CancellationToken ct = default) => CallAsync(async c =>
    {
        // Only invitations: DELETE /orgs/{org}/memberships/{login} would also remove someone who is a member.
        var api = new ApiConnection(c.Connection);
        var all = await api.GetAll<WireInvitation>(new Uri($"orgs/{Uri.EscapeDataString(org)}/invitations", UriKind.Relative), new ApiOptions { PageSize = 100 });
        var cancelled = 0;
        foreach (var i in all.Where(i => string.Equals(i.Login, login, StringComparison.OrdinalIgnoreCase)))
        {
            try { await api.Delete(new Uri($"orgs/{Uri.EscapeDataString(org)}/invitations/{i.Id}", UriKind.Relative)); cancelled++; }
            catch (NotFoundException) { } // accepted or cancelled meanwhile
        }
        return cancelled;
    });

    // ---- Issue 22: the calls that find undeclared bypasses. Own wire shapes: Octokit has no rule-suite client, and its
    // search request has no review qualifier.

    /// <summary>Rule-suite pages read at most: the poll's window is short, and a flood of bypasses must not spend the hour's limit.</summary>
    internal const int RuleSuitePages = 10;
    /// <summary>GitHub serves at most this many results of one search, whatever its total_count says.</summary>
    internal const int SearchCap = 1000;

    static Uri RepoUri(string owner, string repo, string rest = "") =>
        new($"repos/{Uri.EscapeDataString(owner)}/{Uri.EscapeDataString(repo)}{rest}", UriKind.Relative);

    static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>merged:A..B includes both ends (whole seconds): it ends a second early so adjacent windows do not both count a PR.</summary>
    static string MergedIn(DateTimeOffset from, DateTimeOffset to) => $"merged:{Iso(from)}..{Iso(to.AddSeconds(-1))}";

    /// <summary>GET list pages following Link: rel="next" (its URL carries the query), at most <paramref name="maxPages"/>.</summary>
    static async Task<List<T>> PagesAsync<T>(GitHubClient c, Uri uri, Dictionary<string, string> parameters, int maxPages, CancellationToken ct)
    {
        var all = new List<T>();
        Uri? next = uri;
        IDictionary<string, string>? query = parameters;
        for (var page = 0; next is not null && page < maxPages; page++)
        {
            var response = await c.Connection.Get<List<T>>(next, query, null, ct);
            all.AddRange(response.Body ?? []);
            next = response.HttpResponse.ApiInfo?.GetNextPageUrl();
            query = null;
        }
        return all;
    }

    public Task<IReadOnlyList<RuleSuiteInfo>> GetBypassRuleSuitesAsync(string owner, string repo, string? branch, string timePeriod, CancellationToken ct = default) =>
        CallAsync(async c =>
        {
            var query = new Dictionary<string, string> { ["rule_suite_result"] = "bypass", ["time_period"] = timePeriod, ["per_page"] = "100" };
            if (!string.IsNullOrEmpty(branch)) query["ref"] = "refs/heads/" + branch;
            var suites = await PagesAsync<WireRuleSuite>(c, RepoUri(owner, repo, "/rulesets/rule-suites"), query, RuleSuitePages, ct);
            return (IReadOnlyList<RuleSuiteInfo>)[.. suites.Select(s => new RuleSuiteInfo(s.Id, s.ActorName ?? s.Username, s.ActorId, s.BeforeSha, s.AfterSha,
                s.Ref, s.RepositoryName, s.PushedAt, s.Result ?? ""))];
        }, CoreResource, ct);

    public Task<IReadOnlyList<CommitPullRequestInfo>> GetCommitPullRequestsAsync(string owner, string repo, string sha, CancellationToken ct = default) =>
        CallAsync(async c =>
        {
            var pulls = await PagesAsync<WireCommitPull>(c, RepoUri(owner, repo, $"/commits/{Uri.EscapeDataString(sha)}/pulls"),
                new Dictionary<string, string> { ["per_page"] = "100" }, int.MaxValue, ct);
            return (IReadOnlyList<CommitPullRequestInfo>)[.. pulls.Select(p => new CommitPullRequestInfo(p.Number, p.State ?? "", p.MergedAt, p.MergeCommitSha, p.Base?.Ref))];
        }, CoreResource, ct);

    public async Task<IReadOnlyList<MergedPullRequestHit>> SearchMergedPullRequestsAsync(string repository, string branch, DateTimeOffset from, DateTimeOffset to,
        CancellationToken ct = default)
    {
        var hits = new Dictionary<int, MergedPullRequestHit>();
        await SearchWindowAsync(repository, branch, Whole(from), Whole(to), hits, ct);
        return [.. hits.Values.OrderBy(h => h.MergedAt).ThenBy(h => h.Number)];
    }

    // merged: takes whole seconds; windows start on one so that halves never overlap nor leave a gap.
    static DateTimeOffset Whole(DateTimeOffset t) => new(t.UtcTicks - t.UtcTicks % TimeSpan.TicksPerSecond, TimeSpan.Zero);

    async Task SearchWindowAsync(string repository, string branch, DateTimeOffset from, DateTimeOffset to, Dictionary<int, MergedPullRequestHit> hits, CancellationToken ct)
    {
        if (to <= from) return;
        // merged:A..B includes both ends: end a second early so the halves of a split do not both list a PR.
        var q = $"repo:{repository} is:pr is:merged base:{branch} " + MergedIn(from, to);
        var (capped, found) = await CallAsync(async c =>
        {
            var found = new List<WireSearchItem>();
            Uri? next = new("search/issues", UriKind.Relative);
            IDictionary<string, string>? query = new Dictionary<string, string> { ["q"] = q, ["per_page"] = "100" };
            var total = 0;
            while (next is not null)
            {
                var response = await c.Connection.Get<WireSearchResult>(next, query, null, ct);
                var body = response.Body;
                // A search that timed out on GitHub's side lists only part: a population with holes must not pass as complete.
                if (body.IncompleteResults)
                    throw new GitHubException(GitHubFailure.Unavailable, $"GitHub's search timed out and listed only part of {q}");
                total = body.TotalCount;
                if (total >= SearchCap) return (true, found);
                found.AddRange(body.Items ?? []);
                next = response.HttpResponse.ApiInfo?.GetNextPageUrl();
                query = null;
            }
            // Fewer items than total_count: GitHub stopped serving this search's results (its cap), not the end of them.
            return (found.Count < total, found);
        }, SearchResource, ct);
        if (!capped)
        {
            foreach (var i in found)
                hits[i.Number] = new MergedPullRequestHit(repository, i.Number, i.Title ?? "", i.User?.Login, i.User?.Id, i.PullRequest?.MergedAt);
            return;
        }
        if (to - from <= TimeSpan.FromSeconds(1))
            throw new GitHubException(GitHubFailure.Unavailable, $"More merges in one second than GitHub's search will list: {q}");
        var mid = Whole(from + (to - from) / 2);
        if (mid <= from) mid = from.AddSeconds(1);
        await SearchWindowAsync(repository, branch, from, mid, hits, ct);
        await SearchWindowAsync(repository, branch, mid, to, hits, ct);
    }

    public Task<IReadOnlyList<CommitInfo>> GetBranchCommitsAsync(string owner, string repo, string branch, DateTimeOffset since, DateTimeOffset until,
        CancellationToken ct = default) => CallAsync(async c =>
        {
            var commits = await PagesAsync<WireCommit>(c, RepoUri(owner, repo, "/commits"), new Dictionary<string, string>
            {
                ["sha"] = branch, ["since"] = Iso(since), ["until"] = Iso(until), ["per_page"] = "100",
            }, int.MaxValue, ct);
            return (IReadOnlyList<CommitInfo>)[.. commits.Select(x => new CommitInfo(x.Sha ?? "", x.Author?.Login, x.Author?.Id, x.Committer?.Login, x.Committer?.Id,
                x.Commit?.Committer?.Date, x.Commit?.Message ?? ""))];
        }, CoreResource, ct);

    public async Task<string> GetDefaultBranchAsync(string owner, string repo, CancellationToken ct = default)
    {
        // Not cached here: a repository may change its default branch (the caller keeps it for a while).
        var r = await CallAsync(async c => (await c.Connection.Get<WireRepository>(RepoUri(owner, repo), null, null, ct)).Body, CoreResource, ct);
        if (string.IsNullOrEmpty(r.DefaultBranch)) throw new GitHubException(GitHubFailure.Unavailable, $"GitHub named no default branch for {owner}/{repo}");
        return r.DefaultBranch;
    }

    Task CallAsync(Func<GitHubClient, Task> call) => CallAsync<bool>(async c => { await call(c); return true; });

    /// <param name="resource">The rate-limit resource the call spends: search for the search API, core for the rest.</param>
    async Task<T> CallAsync<T>(Func<GitHubClient, Task<T>> call, string resource = CoreResource, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        // While GitHub has told us to wait, fail fast instead of spending more of the limit.
        var wait = new DateTimeOffset(blockedUntil.GetValueOrDefault(resource), TimeSpan.Zero) - time.GetUtcNow();
        if (wait > TimeSpan.Zero)
            throw new GitHubException(GitHubFailure.RateLimited, $"GitHub rate limit ({resource}): waiting as GitHub asked", 429, wait);
        try
        {
            return await call(Client());
        }
        catch (ApiException e)
        {
            var mapped = Map(e, time.GetUtcNow());
            if (mapped.Failure == GitHubFailure.RateLimited && mapped.RetryAfter is { } after)
            {
                var until = (time.GetUtcNow() + after).UtcTicks;
                Block(resource, until);
                // Should GitHub name another resource than the one this call spends, that one waits too.
                if (Header(e.HttpResponse?.Headers, "x-ratelimit-resource") is { Length: > 0 } named && !string.Equals(named, resource, StringComparison.OrdinalIgnoreCase))
                    Block(named, until);
            }
            if (mapped.Failure == GitHubFailure.Unauthorized) credentials.Invalidate();
            throw mapped;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw; // the caller gave up: not a GitHub failure
        }
        catch (Exception e) when (e is HttpRequestException or TimeoutRejectedException or TaskCanceledException or IOException)
        {
            throw new GitHubException(GitHubFailure.Unavailable, e is HttpRequestException h && h.StatusCode is { } s
                ? $"GitHub answered HTTP {(int)s}" : e is HttpRequestException ? "GitHub unreachable" : "GitHub timed out", inner: e);
        }
        // Octokit's deserializer throws this for an answer that is not JSON (a proxy's page, a cut-off body): a passing fault, not a crash.
        catch (System.Runtime.Serialization.SerializationException e)
        {
            throw new GitHubException(GitHubFailure.Unavailable, "GitHub answered with something that is not JSON", inner: e);
        }
    }

    void Block(string resource, long untilTicks) => blockedUntil.AddOrUpdate(resource, untilTicks, (_, old) => Math.Max(old, untilTicks));

    internal static GitHubException Map(ApiException e, DateTimeOffset now)
    {
        var status = (int)e.StatusCode;
        var headers = e.HttpResponse?.Headers;
        var message = string.IsNullOrWhiteSpace(e.ApiError?.Message) ? e.StatusCode.ToString() : e.ApiError.Message;
        var retryAfter = RetryAfter(headers, now);
        var limitUsedUp = Header(headers, "x-ratelimit-remaining") == "0";
        return e switch
        {
            RateLimitExceededException r => Limited(retryAfter ?? Positive(r.Reset - now)),
            SecondaryRateLimitExceededException => Limited(retryAfter ?? TimeSpan.FromMinutes(1)),
            // Octokit maps 429 to a plain ApiException (DEPENDENCIES.md).
            _ when e.StatusCode == HttpStatusCode.TooManyRequests || (e.StatusCode == HttpStatusCode.Forbidden && (limitUsedUp || retryAfter is not null))
                => Limited(retryAfter ?? ResetIn(headers, now) ?? TimeSpan.FromMinutes(1)),
            AuthorizationException => new GitHubException(GitHubFailure.Unauthorized, $"GitHub answered 401 ({message})", status, inner: e),
            ForbiddenException => new GitHubException(GitHubFailure.Forbidden, $"GitHub answered 403 ({message})", status, inner: e),
            NotFoundException => new GitHubException(GitHubFailure.NotFound, $"GitHub answered 404 ({message})", status, inner: e),
            PullRequestMismatchException => new GitHubException(GitHubFailure.Conflict, $"GitHub answered 409 ({message})", status, inner: e),
            PullRequestNotMergeableException => new GitHubException(GitHubFailure.NotMergeable, $"GitHub answered 405 ({message})", status, inner: e),
            _ when status >= 500 || status == 408 || status == 0 => new GitHubException(GitHubFailure.Unavailable, $"GitHub answered HTTP {status}", status, inner: e),
            _ => new GitHubException(GitHubFailure.Invalid, $"GitHub answered {status} ({message})", status, inner: e),
        };

        GitHubException Limited(TimeSpan wait) => new(GitHubFailure.RateLimited, $"GitHub rate limit (HTTP {status})", status, wait, e);
    }

    static TimeSpan Positive(TimeSpan t) => t < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : t;

    static string? Header(IReadOnlyDictionary<string, string>? headers, string name) =>
        headers?.FirstOrDefault(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Value;

    /// <summary>Retry-After: seconds or an HTTP date.</summary>
    static TimeSpan? RetryAfter(IReadOnlyDictionary<string, string>? headers, DateTimeOffset now)
    {
        var value = Header(headers, "Retry-After");
        if (value is null) return null;
        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)) return Positive(TimeSpan.FromSeconds(seconds));
        if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)) return Positive(at - now);
        return null;
    }

    /// <summary>x-ratelimit-reset: when the window resets, in epoch seconds.</summary>
    static TimeSpan? ResetIn(IReadOnlyDictionary<string, string>? headers, DateTimeOffset now) =>
        long.TryParse(Header(headers, "x-ratelimit-reset"), NumberStyles.None, CultureInfo.InvariantCulture, out var epoch)
            ? Positive(DateTimeOffset.FromUnixTimeSeconds(epoch) - now)
            : null;
}
