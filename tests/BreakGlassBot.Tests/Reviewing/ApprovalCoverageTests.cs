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

/// <summary>A reviewed change opens again when a head nobody approved is merged while its bypass is still open.</summary>
[Trait("Category", "EndToEnd")]
public class ReopenOnUnreviewedMergeTests : TeamBypassTest
{
    const string Secret = "webhook-secret-for-tests";
    const string Unreviewed = "fedcba9876543210fedcba9876543210fedcba98";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>(base.Settings)
    {
        ["Slack:Reviewers:0"] = ApprovalTests.Reviewer1,
        [$"People:{ApprovalTests.Reviewer1}:GitHub"] = "monalisa",
        ["Policy:RequiredEvidence:0"] = "SlackApproval",
        ["GitHub:WebhookSecret"] = Secret,
    };

    Task<HttpResponseMessage> MergedAsync(string head)
    {
        var body = new JsonObject
        {
            ["action"] = "closed", ["number"] = 1347,
            ["pull_request"] = new JsonObject
            {
                ["number"] = 1347, ["merged"] = true, ["merged_at"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"),
                ["merge_commit_sha"] = "1111111111111111111111111111111111111111", ["head"] = new JsonObject { ["sha"] = head },
            },
            ["repository"] = new JsonObject { ["full_name"] = "acme/api" },
            ["sender"] = new JsonObject { ["login"] = "hubot" },
        }.ToJsonString();
        var request = new HttpRequestMessage(HttpMethod.Post, Bot.Url + "/github/webhooks") { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Add("X-GitHub-Event", "pull_request");
        request.Headers.Add("X-GitHub-Delivery", Guid.NewGuid().ToString());
        request.Headers.Add("X-Hub-Signature-256", "sha256=" + Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(
            System.Text.Encoding.UTF8.GetBytes(Secret), System.Text.Encoding.UTF8.GetBytes(body))));
        return Bot.Http.SendAsync(request);
    }

    [Fact]
    public async Task AHeadNobodyApprovedMergedUnderTheOpenBypassReopensTheChange()
    {
        // The revocation keeps failing: the bypass is still open after the review.
        GitHub.Fail("DELETE membership", new Fault.Status(503), times: 10_000);
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => GitHub.IsMember(Team, "hubot") && Change().PullRequests[0].HeadSha is not null, "granted, PR read");
        await Bot.InteractionAsync(ApprovalTests.Click(ApprovalTests.Reviewer1, ReviewActions.Approve, "BG-1"));
        await WaitUntil(() => Change().Status == ChangeStatus.Reviewed, "reviewed");

        // The reviewed head merged: nothing to re-open.
        Assert.Equal(System.Net.HttpStatusCode.OK, (await MergedAsync(FakeGitHub.DefaultHead)).StatusCode);
        Assert.Equal(ChangeStatus.Reviewed, Change().Status);

        // Another head merged while the team still holds the bypass: open again, the approval voided, the thread told.
        Assert.Equal(System.Net.HttpStatusCode.OK, (await MergedAsync(Unreviewed)).StatusCode);
        Assert.Equal(ChangeStatus.Open, Change().Status);
        Assert.Null(Change().ReviewedAt);
        Assert.False(Change().Approvals.Single().Stands);
        var reopened = Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.Reopened);
        Assert.Equal((Pr, Unreviewed, FakeGitHub.DefaultHead), (reopened.Data["pr"], reopened.Data["head_sha"], reopened.Data["reviewed_head"]));
        await WaitUntil(() => Thread().Any(m => m.Text.Contains("BG-1 is open again")), "the thread says so");
    }
}
