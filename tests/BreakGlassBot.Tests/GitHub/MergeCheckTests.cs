using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Hosting;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>What the live PR must still be for MergeByBot to merge it, decided from records alone.</summary>
public class MergeCheckTests
{
    static readonly LinkedPullRequest Linked = new() { Owner = "acme", Repo = "api", Number = 1347, BaseRef = "main" };

    static PullRequestInfo Live(string baseRef = "main", string? head = "acme/api", string? baseRepo = "acme/api") =>
        new("Fix it", "octocat", 1, "6dcb09b5b57875f334f61aebed695e2e4193db5e", baseRef, "open", false, null, null,
            BaseRepository: baseRepo, HeadRepository: head);

    const string Head = "6dcb09b5b57875f334f61aebed695e2e4193db5e";

    static string? Reason(PullRequestInfo live, bool allowForks = false, EmergencyChange? change = null) =>
        MergeChecks.Refusal(change ?? new EmergencyChange { Id = 1 }, Linked, live, new GitHubOptions { AllowForkMerges = allowForks })?.Reason;

    static EmergencyChange ReviewedAt(string head) => new()
    {
        Id = 1, Status = ChangeStatus.Reviewed,
        Approvals = [new Approval { Reviewer = "U1", Covered = ["BG-1", $"acme/api#1347@{head}"] }, new Approval { Reviewer = "U2", Covered = ["BG-1", "acme/api#1347@0ld"], VoidedAt = DateTimeOffset.UnixEpoch }],
    };

    [Fact]
    public void OnceReviewedOnlyTheReviewedHeadIsMerged()
    {
        Assert.Null(Reason(Live(), change: ReviewedAt(Head)));
        Assert.Equal("head not the reviewed one", Reason(Live(), change: ReviewedAt("ffffffffffffffffffffffffffffffffffffffff")));
        // Open: the review is still to come, and covers whatever it is given on.
        Assert.Null(Reason(Live(), change: new EmergencyChange { Id = 1, Approvals = [new Approval { Reviewer = "U1", Covered = ["BG-1", "acme/api#1347@ffff"] }] }));
    }

    [Fact]
    public void TheSameBaseAndRepositoryMayBeMerged() => Assert.Null(Reason(Live()));

    [Fact]
    public void ARetargetedBaseIsRefused() => Assert.Equal("base changed", Reason(Live(baseRef: "release")));

    [Theory]
    [InlineData("mallory/api", false, "head from a fork")]
    [InlineData(null, false, "head from a fork")]      // the fork was deleted: whose code it is cannot be told
    [InlineData("ACME/API", false, null)]              // the same repository, in another case
    [InlineData("mallory/api", true, null)]            // GitHub:AllowForkMerges
    public void AForkHeadIsRefusedUnlessAllowed(string? head, bool allowForks, string? reason) =>
        Assert.Equal(reason, Reason(Live(head: head), allowForks));

    [Fact]
    public void ARetargetedBaseIsRefusedEvenWhereForksAreAllowed() =>
        Assert.Equal("base changed", Reason(Live(baseRef: "release", head: "mallory/api"), allowForks: true));
}
