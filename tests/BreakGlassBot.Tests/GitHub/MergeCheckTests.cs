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

    static string? Reason(PullRequestInfo live, bool allowForks = false) =>
        MergeChecks.Refusal(Linked, live, new GitHubOptions { AllowForkMerges = allowForks })?.Reason;

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
