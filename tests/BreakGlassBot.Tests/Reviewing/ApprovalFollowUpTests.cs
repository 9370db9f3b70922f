using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Jira;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.Declaring;
using BreakGlassBot.Tests.Jira;

namespace BreakGlassBot.Tests.Reviewing;

/// <summary>
/// The follow-ups of an approval taken while a linked PR's author was unknown (GitHub down) vouch for it outside Slack (PR
/// comment, Jira comment and review transition), so they wait for GitHub, and do nothing when the approver wrote the PR.
/// Only Jira's review counts here: a wrongly performed transition would complete the change.
/// </summary>
[Trait("Category", "EndToEnd")]
public class ApprovalFollowUpTests : LinkBotTest
{
    const string Reviewer = ApprovalTests.Reviewer1;

    async Task ApproveWhileGitHubIsDownAsync(string reviewerLogin)
    {
        Jira["OPS-7"].Transitions.Add(new FakeJira.Transition("31", "Review", "Reviewed", "done", "Done"));
        await StartAsync(("Slack:Reviewers:0", Reviewer), ($"People:{Reviewer}:GitHub", reviewerLogin), ("Jira:ReviewTransition", "Review"),
            ("Policy:RequiredEvidence:0", "JiraReviewed"), ("Policy:ReviewWindow", "01:00:00"), ("Policy:ReminderInterval", "00:30:00"));
        GitHub.Down = true;
        await Bot.CommandJsonAsync($"Fix it {PrUrl} OPS-7");
        await Bot.Until(() => Change().Announcement is not null && Change().Steps.Any(s => s.Kind == JiraStepKinds.Link && s.State == StepState.Done),
            "announced, Jira issue linked");
        await Bot.InteractionAsync(ApprovalTests.Click(Reviewer, ReviewActions.Approve, "BG-1"));
        await Bot.Until(() => Change().Approvals.Count == 1, "the approval is recorded");
        // Both follow-ups were tried and wait for GitHub, saying nothing in the thread.
        await Bot.Until(() => Change().Steps.Where(s => s.Kind is JiraStepKinds.Approval or GitHubStepKinds.ApprovalComment)
            .Count(s => s.State == StepState.Pending && s.LastError?.Contains($"waiting for GitHub to name the author of {Pr}") == true) == 2,
            "both follow-ups waiting for GitHub");
        Assert.DoesNotContain(Jira.CallsTo(FakeJira.AddComment), c => c.Body.Contains("approved retrospectively"));
        Assert.Empty(Jira.CallsTo(FakeJira.DoTransition));
        Assert.Equal(ChangeStatus.Open, Change().Status);
    }

    void NoFollowUpFailureNotes() =>
        Assert.DoesNotContain(Thread(), m => m.Text.Contains("note the Slack approval") || m.Text.Contains("mirror the approval"));

    [Fact]
    public async Task TheAuthorsOwnApprovalIsNeitherCommentedOnThePrAndJiraNorMovesTheIssueOnceGitHubNamesThem()
    {
        await ApproveWhileGitHubIsDownAsync("octocat"); // the fake PR's author

        GitHub.Down = false;
        await Bot.Until(() => Change().PullRequests[0].AuthorLogin == "octocat"
            && Change().Steps.Where(s => s.Kind is JiraStepKinds.Approval or GitHubStepKinds.ApprovalComment).All(s => s.State == StepState.Done),
            "PR read, follow-ups finished");
        await Settled();

        Assert.DoesNotContain(GitHub.PullRequest(Pr).Comments, c => c.Contains("<!-- breakglass:BG-1:approval:"));
        Assert.DoesNotContain(Jira["OPS-7"].Comments, c => FakeJira.TextOf(c.Body).Contains("approved retrospectively"));
        Assert.Empty(Jira.CallsTo(FakeJira.DoTransition));
        Assert.Equal("In Progress", Jira["OPS-7"].StatusName);
        var skipped = Audit(ApprovalAuditTypes.FollowUpSkipped);
        Assert.Equal([GitHubStepKinds.ApprovalComment, JiraStepKinds.Approval], skipped.Select(e => e.Data["step"]).Order());
        Assert.All(skipped, e => Assert.Equal(($"author of {Pr}", Reviewer), (e.Data["reason"], e.Data["reviewer"])));
        Assert.Empty(Audit(GitHubAuditTypes.ApprovalMirrored));
        Assert.DoesNotContain(Audit(JiraAuditTypes.Commented), e => e.Data["about"] == "approval");
        NoFollowUpFailureNotes();
        Assert.Equal(ChangeStatus.Open, Change().Status);
    }

    [Fact]
    public async Task AnotherReviewersApprovalIsMirroredOnceGitHubNamesSomeoneElseAsAuthor()
    {
        await ApproveWhileGitHubIsDownAsync("hubot");

        GitHub.Down = false;
        await Bot.Until(() => Change().Status == ChangeStatus.Reviewed, "reviewed: the mirrored approval moved the Jira issue");
        await Bot.Until(() => Change().Steps.Where(s => s.Kind is JiraStepKinds.Approval or GitHubStepKinds.ApprovalComment).All(s => s.State == StepState.Done),
            "follow-ups done");
        Assert.Single(GitHub.PullRequest(Pr).Comments, c => c.Contains("<!-- breakglass:BG-1:approval:0 -->"));
        Assert.Single(Jira["OPS-7"].Comments, c => FakeJira.TextOf(c.Body).Contains("approved retrospectively"));
        Assert.Single(Jira.CallsTo(FakeJira.DoTransition));
        Assert.Empty(Audit(ApprovalAuditTypes.FollowUpSkipped));
        NoFollowUpFailureNotes();
    }
}
