using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Hosting;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>The completion rule for a PR, as a pure function.</summary>
[Trait("Category", "EndToEnd")]
public class ReviewRuleTests
{
    static readonly DateTimeOffset T0 = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);
    static readonly PullRequestInfo Open = new("Fix", "octocat", 1, "abc", "main", "open", false, null, null);
    static readonly PullRequestInfo MergedAtT0 = Open with { State = "closed", Merged = true, MergedAt = T0 };

    static ReviewInfo R(long id, string login, long userId, string state, DateTimeOffset? at) => new(id, login, userId, state, at, "abc");

    static EvidenceResult Check(PullRequestInfo pr, params ReviewInfo[] reviews) => ReviewRule.Evaluate("acme/api#1", pr, reviews);

    [Fact]
    public void AnApprovalBySomeoneElseCounts() =>
        Assert.True(Check(Open, R(1, "hubot", 2, "APPROVED", T0)).Satisfied);

    [Fact]
    public void ChangesRequestedIsNotAnApproval()
    {
        var r = Check(Open, R(1, "hubot", 2, "CHANGES_REQUESTED", T0));
        Assert.False(r.Satisfied);
        Assert.Contains("hubot requested changes", r.Missing);
    }

    [Fact]
    public void ALaterRequestForChangesReplacesTheSameReviewersApproval()
    {
        var r = Check(Open, R(1, "hubot", 2, "APPROVED", T0), R(2, "hubot", 2, "CHANGES_REQUESTED", T0.AddMinutes(5)), R(3, "hubot", 2, "COMMENTED", T0.AddMinutes(9)));
        Assert.False(r.Satisfied);
        Assert.Contains("hubot requested changes", r.Missing);
    }

    [Fact]
    public void ADismissedApprovalDoesNotCount()
    {
        var r = Check(Open, R(1, "hubot", 2, "DISMISSED", T0));
        Assert.False(r.Satisfied);
        Assert.Contains("the review by hubot was dismissed", r.Missing);
    }

    [Fact]
    public void TheAuthorsOwnApprovalDoesNotCountEvenUnderAnotherLogin()
    {
        // Same user id as the author (1), renamed: ids are compared, not logins.
        var r = Check(Open, R(1, "octocat-renamed", 1, "APPROVED", T0));
        Assert.False(r.Satisfied);
        Assert.Contains("its author octocat approved it, which does not count", r.Missing);
        Assert.Contains("from someone other than its author octocat", r.Missing);
    }

    [Fact]
    public void AnApprovalBeforeTheMergeDoesNotCountAfterIt()
    {
        var r = Check(MergedAtT0, R(1, "hubot", 2, "APPROVED", T0.AddMinutes(-10)));
        Assert.False(r.Satisfied);
        Assert.Contains("hubot approved at 2025-03-01 11:50 UTC, before it was merged at 2025-03-01 12:00 UTC", r.Missing);
        Assert.True(Check(MergedAtT0, R(1, "hubot", 2, "APPROVED", T0.AddMinutes(-10)), R(2, "hubot", 2, "APPROVED", T0.AddMinutes(10))).Satisfied);
    }

    [Fact]
    public void APendingReviewAndNoReviewsAtAllAreNotApprovals()
    {
        Assert.False(Check(Open, R(1, "hubot", 2, "APPROVED", null)).Satisfied);
        var none = Check(MergedAtT0);
        Assert.False(none.Satisfied);
        Assert.Equal("acme/api#1 has no approving review yet: an approving review from someone other than its author octocat, submitted after the merge, is needed.", none.Missing);
    }

    [Fact]
    public void MergedAtAloneMeansMerged()
    {
        // GitHub's own example says merged:false with a merged_at: the stricter reading is taken.
        var pr = Open with { MergedAt = T0 };
        Assert.False(Check(pr, R(1, "hubot", 2, "APPROVED", T0.AddMinutes(-1))).Satisfied);
    }
}

/// <summary>The evidence source the deadline tracker calls, at the wire against the fake GitHub with the fixture reviews.</summary>
[Trait("Category", "EndToEnd")]
public class ReviewEvidenceTests : GitHubBotTest
{
    static readonly DateTimeOffset MergedAt = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);

    const string DeclarerLogin = "Decl-GH";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { [$"People:{TestBot.Declarer}:GitHub"] = DeclarerLogin };

    IEvidenceSource Source => Bot.App.Services.GetServices<IEvidenceSource>().Single(s => s.Kind == EvidenceKind.PullRequestApproved);

    static EmergencyChange Linking(params (string Owner, string Repo, int Number)[] prs) => new()
    {
        Id = 1,
        DeclaredBy = TestBot.Declarer,
        PullRequests = [.. prs.Select(p => new LinkedPullRequest { Owner = p.Owner, Repo = p.Repo, Number = p.Number })],
    };

    async Task<EvidenceResult> CheckAsync() => Assert.Single(await Source.CheckAsync(Linking(("acme", "api", 1347)), CancellationToken.None));

    void AddReview(System.Text.Json.Nodes.JsonObject review)
    {
        var pr = GitHub.PullRequest(Pr);
        lock (pr.Reviews) pr.Reviews.Add(review);
    }

    [Fact]
    public async Task TheFixtureReviewIsTheAuthorApprovingTheirOwnPullRequest()
    {
        // pull_reviews_list.json: octocat (id 1) approves; pull_get.json: octocat (id 1) wrote the PR.
        AddReview(Fixtures.Json("github/pull_reviews_list.json").AsArray()[0]!.DeepClone().AsObject());
        var r = await CheckAsync();
        Assert.False(r.Satisfied);
        Assert.Contains("its author octocat approved it", r.Missing);
        Assert.True(Source.AppliesTo(Linking(("acme", "api", 1347))));
        Assert.False(Source.AppliesTo(Linking()));
    }

    [Fact]
    public async Task AnApprovalBySomeoneElseSatisfiesIt()
    {
        AddReview(FakeGitHub.Review(81, "hubot", 2, "APPROVED", DateTimeOffset.UtcNow));
        var r = await CheckAsync();
        Assert.True(r.Satisfied, r.Missing);
        Assert.Equal(Pr, r.Target);
        Assert.Single(GitHub.CallsTo("GET", "/repos/acme/api/pulls/1347/reviews"));
    }

    [Fact]
    public async Task ChangesRequestedAndDismissedFixturesAreNotApprovals()
    {
        AddReview(FakeGitHub.Review(80, "hubot", 2, "CHANGES_REQUESTED", DateTimeOffset.UtcNow, "github/pull_review_changes_requested.json"));
        AddReview(FakeGitHub.Review(82, "monalisa", 3, "DISMISSED", DateTimeOffset.UtcNow, "github/pull_review_dismissed.json"));
        var r = await CheckAsync();
        Assert.False(r.Satisfied);
        Assert.Contains("hubot requested changes", r.Missing);
        Assert.Contains("the review by monalisa was dismissed", r.Missing);
    }

    [Fact]
    public async Task AnApprovalBeforeTheMergeIsNotTheRetrospectiveReview()
    {
        var pr = GitHub.PullRequest(Pr);
        pr.Merged = true;
        pr.MergedAt = MergedAt;
        AddReview(FakeGitHub.Review(81, "hubot", 2, "APPROVED", MergedAt.AddHours(-1)));
        var r = await CheckAsync();
        Assert.False(r.Satisfied);
        Assert.Contains("before it was merged at 2025-03-01 12:00 UTC", r.Missing);

        AddReview(FakeGitHub.Review(83, "hubot", 2, "APPROVED", MergedAt.AddHours(1)));
        Assert.True((await CheckAsync()).Satisfied);
    }

    [Fact]
    public async Task ReviewsOnEveryPageAreRead()
    {
        GitHub.ReviewPageSize = 1;
        AddReview(FakeGitHub.Review(80, "hubot", 2, "CHANGES_REQUESTED", DateTimeOffset.UtcNow.AddMinutes(-5)));
        AddReview(FakeGitHub.Review(81, "monalisa", 3, "APPROVED", DateTimeOffset.UtcNow));
        var r = await CheckAsync();
        Assert.True(r.Satisfied, r.Missing);
        var calls = GitHub.CallsTo("GET", "/repos/acme/api/pulls/1347/reviews");
        Assert.Equal(2, calls.Count);
        Assert.Contains("page=2", calls[1].Query);
    }

    [Fact]
    public async Task AMissingPullRequestIsReportedAndAnOutageThrowsSoTheTrackerAsksAgain()
    {
        var missing = Assert.Single(await Source.CheckAsync(Linking(("acme", "api", 404)), CancellationToken.None));
        Assert.False(missing.Satisfied);
        Assert.Contains("acme/api#404 cannot be read by the bot", missing.Missing);

        GitHub.Down = true;
        var e = await Assert.ThrowsAsync<GitHubException>(CheckAsync);
        Assert.Equal(GitHubFailure.Unavailable, e.Failure);
    }

    [Fact]
    public async Task TheDeclarersOwnApprovalDoesNotCountAndTheLoginIsComparedIgnoringCase()
    {
        AddReview(FakeGitHub.Review(81, "decl-gh", 7, "APPROVED", DateTimeOffset.UtcNow.AddMinutes(-1)));
        var r = await CheckAsync();
        Assert.False(r.Satisfied);
        Assert.Contains($"the declarer of the change ({DeclarerLogin}) approved it, which does not count", r.Missing);
        Assert.Contains($"from someone other than its author octocat and the declarer {DeclarerLogin}", r.Missing);

        AddReview(FakeGitHub.Review(82, "hubot", 2, "APPROVED", DateTimeOffset.UtcNow));
        Assert.True((await CheckAsync()).Satisfied);
    }

    [Fact]
    public async Task AReviewWithoutSubmittedAtFromTheWireIsNotAnApproval()
    {
        // GitHub answers submitted_at: null for a pending review; Octokit must read it, and the rule must not count it.
        AddReview(FakeGitHub.Review(81, "hubot", 2, "APPROVED", null));
        var r = await CheckAsync();
        Assert.False(r.Satisfied);
        Assert.Equal($"{Pr} has no approving review yet: an approving review from someone other than its author octocat and the declarer {DeclarerLogin} is needed.", r.Missing);
    }

    [Fact]
    public async Task TheApprovingReviewAndTheMergeTimeAreRecordedOnTheChange()
    {
        var pr = GitHub.PullRequest(Pr);
        pr.Merged = true;
        pr.MergedAt = MergedAt;
        AddReview(FakeGitHub.Review(80, "monalisa", 3, "APPROVED", MergedAt.AddHours(-1))); // before the merge: does not count
        AddReview(FakeGitHub.Review(81, "hubot", 2, "APPROVED", MergedAt.AddHours(2)));
        var r = await CheckAsync();
        Assert.True(r.Satisfied, r.Missing);

        var change = Linking(("acme", "api", 1347)); // as stored: no webhook ever said it was merged
        Assert.False(change.PullRequests[0].Merged);
        Assert.NotNull(r.Record);
        r.Record(change);
        var linked = change.PullRequests[0];
        Assert.Equal(("hubot", 2L, MergedAt.AddHours(2)), (linked.ApprovedBy, linked.ApprovedById, linked.ApprovedAt));
        Assert.True(linked.Merged);
        Assert.Equal(MergedAt, linked.MergedAt);
        Assert.NotNull(linked.ReviewCheckedAt);
    }
}
