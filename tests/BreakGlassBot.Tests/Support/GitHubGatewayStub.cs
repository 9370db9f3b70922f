using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Hosting;

namespace BreakGlassBot.Tests.Support;

/// <summary>A GitHub gateway for fast tests: every call the test does not override fails loudly.</summary>
public abstract class GitHubGatewayStub : IGitHubGateway
{
    public virtual Task<PullRequestInfo> GetPullRequestAsync(PullRequestRef pr, CancellationToken ct = default) => throw new NotSupportedException();
    public virtual Task AddLabelAsync(PullRequestRef pr, string label, CancellationToken ct = default) => throw new NotSupportedException();
    public virtual Task<IReadOnlyList<CommentInfo>> GetCommentsAsync(PullRequestRef pr, CancellationToken ct = default) => throw new NotSupportedException();
    public virtual Task CreateCommentAsync(PullRequestRef pr, string body, CancellationToken ct = default) => throw new NotSupportedException();
    public virtual Task<IReadOnlyList<ReviewInfo>> GetReviewsAsync(PullRequestRef pr, CancellationToken ct = default) => throw new NotSupportedException();
    public virtual Task<TeamMembership> GetTeamMembershipAsync(string org, string teamSlug, string login, CancellationToken ct = default) => throw new NotSupportedException();
    public virtual Task<TeamMembership> AddTeamMemberAsync(string org, string teamSlug, string login, CancellationToken ct = default) => throw new NotSupportedException();
    public virtual Task<bool> RemoveTeamMemberAsync(string org, string teamSlug, string login, CancellationToken ct = default) => throw new NotSupportedException();
    public virtual Task<string?> GetOwnLoginAsync(CancellationToken ct = default) => throw new NotSupportedException();
    public virtual Task<MergeInfo> MergeAsync(PullRequestRef pr, string sha, string commitTitle, MergeMethod? method = null, CancellationToken ct = default) =>
        throw new NotSupportedException();
    public virtual Task<int> CountMergedPullRequestsAsync(IReadOnlyList<string> repositories, DateTimeOffset from, DateTimeOffset to, CancellationToken ct = default) =>
        throw new NotSupportedException();
    public virtual Task<RepositoryPermission> GetPermissionAsync(string owner, string repo, string login, CancellationToken ct = default) => throw new NotSupportedException();
    public virtual Task<TeamMembership> GetOrgMembershipAsync(string org, string login, CancellationToken ct = default) => throw new NotSupportedException();
    public virtual Task<int> CancelOrgInvitationsAsync(string org, string login, CancellationToken ct = default) => throw new NotSupportedException();
    public virtual Task<IReadOnlyList<RuleSuiteInfo>> GetBypassRuleSuitesAsync(string owner, string repo, string? branch, string timePeriod, CancellationToken ct = default) =>
        throw new NotSupportedException();
    public virtual Task<IReadOnlyList<CommitPullRequestInfo>> GetCommitPullRequestsAsync(string owner, string repo, string sha, CancellationToken ct = default) =>
        throw new NotSupportedException();
    public virtual Task<IReadOnlyList<MergedPullRequestHit>> SearchMergedPullRequestsAsync(string repository, string branch, DateTimeOffset from, DateTimeOffset to, CancellationToken ct = default) =>
        throw new NotSupportedException();
    public virtual Task<IReadOnlyList<CommitInfo>> GetBranchCommitsAsync(string owner, string repo, string branch, DateTimeOffset since, DateTimeOffset until, CancellationToken ct = default) =>
        throw new NotSupportedException();
    public virtual Task<string> GetDefaultBranchAsync(string owner, string repo, CancellationToken ct = default) => throw new NotSupportedException();
}
