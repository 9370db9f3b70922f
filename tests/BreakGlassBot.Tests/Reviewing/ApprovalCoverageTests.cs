using System.Text.Json.Nodes;
using BreakGlassBot.Deadlines;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.GitHub;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Reviewing;

/// <summary>
/// An approval covers what its approver saw: a PR head pushed after it voids it, a GitHub review counts on the head it
/// was given on, and an approver may withdraw theirs while the change is open.
/// </summary>
[Trait("Category", "EndToEnd")]
public class ApprovalCoverageTests : GitHubBotTest
{
    const string Reviewer = ApprovalTests.Reviewer1;
    const string NewHead = "0123456789abcdef0123456789abcdef01234567";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Slack:Reviewers:0"] = Reviewer,
        ["Slack:Reviewers:1"] = ApprovalTests.Reviewer2,
        // Known on GitHub, and neither wrote the PR (octocat did): their approvals count at once.
        [$"People:{Reviewer}:GitHub"] = "hubot",
        [$"People:{ApprovalTests.Reviewer2}:GitHub"] = "monalisa",
        ["Policy:RequiredEvidence:0"] = "SlackApproval",
        ["Policy:RequiredEvidence:1"] = "PullRequestApproved",
    };

    async Task DeclaredAsync()
    {
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => StepsSettled() && Change().PullRequests[0].HeadSha is not null, "declared, PR read");
    }

    async Task ApproveAsync(string user = Reviewer, string ts = "1548426417.840180")
    {
        await Bot.InteractionAsync(ApprovalTests.Click(user, ReviewActions.Approve, "BG-1", actionTs: ts));
        await WaitUntil(() => Change().Approvals.Any(a => a.Reviewer == user && a.Stands), $"{user} approved");
    }

    void Look() => Bot.Service<ReviewTracker>().Reevaluate(1);

    async Task<string> CommandAsync(string text, string user) =>
        (await Bot.SendSignedAsync("/slack/commands", TestBot.CommandForm(text, user)).ContinueWith(t => t.Result.Content.ReadAsStringAsync()).Unwrap()) is var body
            ? JsonNode.Parse(body)!["text"]!.GetValue<string>() : "";

    [Fact]
    public async Task AHeadPushedAfterASlackApprovalVoidsItAndTheThreadAsksForANewOne()
    {
        await DeclaredAsync();
        await ApproveAsync();
        var approval = Change().Approvals.Single();
        Assert.Equal(["BG-1", $"{Pr}@{FakeGitHub.DefaultHead}"], approval.Covered);
        var approved = Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.Approved);
        Assert.Equal(($"BG-1 {Pr}@{FakeGitHub.DefaultHead}", "Fix it"), (approved.Data["covered"], approved.Data["summary"]));

        // Someone pushes to the PR after the approval, and a GitHub review is given on the new head.
        GitHub.PullRequest(Pr).HeadSha = NewHead;
        lock (GitHub.PullRequest(Pr).Reviews) GitHub.PullRequest(Pr).Reviews.Add(FakeGitHub.Review(81, "monalisa", 583231, "APPROVED", DateTimeOffset.UtcNow, commitId: NewHead));
        Look();
        await WaitUntil(() => !Change().Approvals.Single().Stands, "the Slack approval voided");
        Assert.Equal($"it did not cover {Pr} at 0123456 (approved at 6dcb09b)", Change().Approvals.Single().VoidedBecause);
        var voided = Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.ApprovalVoided);
        Assert.Equal((Reviewer, "bot"), (voided.Data["reviewer"], voided.Actor));
        await WaitUntil(() => Thread().Any(m => m.Text.Contains($"<@{Reviewer}>'s approval of BG-1 no longer counts")), "the thread says so");
        Assert.Equal(NewHead, Change().PullRequests[0].HeadSha);
        Look();
        await Eventually.Stays(() => Change().Status == ChangeStatus.Open, "not reviewed on the old approval", TimeSpan.FromSeconds(1));

        await ApproveAsync(ts: "1548426418.000001");
        Assert.Equal(["BG-1", $"{Pr}@{NewHead}"], Change().Approvals[1].Covered);
        await WaitUntil(() => Change().Status == ChangeStatus.Reviewed, "reviewed on the new head's approval");
    }

    [Fact]
    public async Task AGitHubApprovalOfAnOlderCommitDoesNotCount()
    {
        GitHub.PullRequest(Pr).HeadSha = NewHead;
        lock (GitHub.PullRequest(Pr).Reviews) GitHub.PullRequest(Pr).Reviews.Add(FakeGitHub.Review(81, "monalisa", 583231, "APPROVED", DateTimeOffset.UtcNow, commitId: FakeGitHub.DefaultHead));
        await DeclaredAsync();
        await ApproveAsync();
        await WaitUntil(() => Change().Evidence.Any(e => e.Kind == nameof(EvidenceKind.PullRequestApproved) && e.Missing?.Contains("approved commit 6dcb09b, not its head 0123456") == true),
            "the PR review is missing, and says why");
        Assert.Equal(ChangeStatus.Open, Change().Status);

        lock (GitHub.PullRequest(Pr).Reviews) GitHub.PullRequest(Pr).Reviews.Add(FakeGitHub.Review(82, "monalisa", 583231, "APPROVED", DateTimeOffset.UtcNow, commitId: NewHead));
        Look();
        await WaitUntil(() => Change().Status == ChangeStatus.Reviewed, "reviewed once the head is approved");
    }

    [Fact]
    public async Task AnApproverWithdrawsTheirApprovalUntilTheChangeIsReviewed()
    {
        await DeclaredAsync();
        await ApproveAsync();
        Assert.Contains("Your approval of BG-1 is withdrawn", await CommandAsync("unapprove BG-1", Reviewer));
        var approval = Change().Approvals.Single();
        Assert.Equal((false, Approvals.WithdrawnBecause), (approval.Stands, approval.VoidedBecause));
        var voided = Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.ApprovalVoided);
        Assert.Equal((Reviewer, Reviewer, Approvals.WithdrawnBecause), (voided.Actor, voided.Data["reviewer"], voided.Data["because"]));
        await WaitUntil(() => Thread().Any(m => m.Text.Contains($"<@{Reviewer}> withdrew their approval of BG-1")), "the thread says so");
        Assert.Contains("nothing to withdraw", await CommandAsync("unapprove BG-1", Reviewer));
        Assert.Contains("nothing to withdraw", await CommandAsync("unapprove BG-1", ApprovalTests.Reviewer2));
        Assert.Contains("Type `/breakglass unapprove BG-42`", await CommandAsync("unapprove soon", Reviewer));

        // The PR is reviewed on GitHub: with the Slack approval withdrawn the change still waits for one.
        lock (GitHub.PullRequest(Pr).Reviews) GitHub.PullRequest(Pr).Reviews.Add(FakeGitHub.Review(81, "monalisa", 583231, "APPROVED", DateTimeOffset.UtcNow));
        Look();
        await WaitUntil(() => Change().Evidence.Any(e => e.Kind == nameof(EvidenceKind.PullRequestApproved) && e.Satisfied), "PR evidence read");
        Assert.Equal(ChangeStatus.Open, Change().Status);

        await ApproveAsync(ApprovalTests.Reviewer2, "1548426418.000002");
        await WaitUntil(() => Change().Status == ChangeStatus.Reviewed, "reviewed");
        Assert.Contains("already reviewed", await CommandAsync("unapprove BG-1", ApprovalTests.Reviewer2));
        Assert.True(Change().Approvals.Single(a => a.Reviewer == ApprovalTests.Reviewer2).Stands);
    }
}

/// <summary>A Team bypass ends when its change is reviewed, not only when its time is up.</summary>
[Trait("Category", "EndToEnd")]
public class TeamBypassEndsOnReviewTests : TeamBypassTest
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>(base.Settings)
    {
        ["Slack:Reviewers:0"] = ApprovalTests.Reviewer1,
        [$"People:{ApprovalTests.Reviewer1}:GitHub"] = "monalisa",
        ["Policy:RequiredEvidence:0"] = "SlackApproval",
    };

    [Fact]
    public async Task TheBypassIsRevokedWhenTheChangeIsReviewed()
    {
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => GitHub.IsMember(Team, "hubot"), "added to the team");
        await Bot.InteractionAsync(ApprovalTests.Click(ApprovalTests.Reviewer1, ReviewActions.Approve, "BG-1"));
        await WaitUntil(() => Change().Status == ChangeStatus.Reviewed, "reviewed");
        // The bypass was granted for an hour: only the review can have ended it now.
        await WaitUntil(() => Change().Bypass?.RevokedAt is not null && !GitHub.IsMember(Team, "hubot"), "removed from the team at review");
        Assert.True(Change().Bypass!.RevokedAt < Change().Bypass!.ExpiresAt);
        Assert.Single(GitHub.CallsTo("DELETE", MembershipPath));
    }
}
