using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Jira;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.Jira;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Reviewing;

/// <summary>An approval in Slack is mirrored to the linked Jira issue exactly once, even when Slack retries the click and Jira fails once.</summary>
[Trait("Category", "EndToEnd")]
public class ApprovalMirrorTests : JiraBotTest
{
    [Fact]
    public async Task AButtonApprovalIsMirroredToJiraOnceWithTheTransition()
    {
        var issue = Jira.Add("OPS-7");
        issue.Transitions.Add(new FakeJira.Transition("31", "Mark reviewed", "Reviewed", "done", "Done"));
        await StartBotAsync(extra: new Dictionary<string, string?>
        {
            ["Slack:Reviewers:0"] = ApprovalTests.Reviewer1,
            ["Jira:ReviewTransition"] = "mark reviewed",
        });
        await Bot.CommandJsonAsync("Hotfix OPS-7");
        await AllSettled();
        var commentsBefore = issue.Comments.Count;

        Jira.Fail(FakeJira.AddComment, new Fault.Status(503));
        var click = ApprovalTests.Click(ApprovalTests.Reviewer1, ReviewActions.Approve, "BG-1");
        await Bot.InteractionAsync(click);
        await Bot.InteractionAsync(click); // Slack's retry
        await StepSettled(JiraStepKinds.Approval);
        await AllSettled();

        var mirrored = issue.Comments.Skip(commentsBefore).Select(c => FakeJira.TextOf(c.Body)).ToList();
        Assert.Single(mirrored, t => t.Contains("approved retrospectively by") && t.Contains("in Slack"));
        Assert.Single(Jira.CallsTo(FakeJira.DoTransition));
        Assert.Equal("Reviewed", issue.StatusName);
        Assert.Single(Thread(), m => m.Text.Contains("approved retrospectively by"));
        await Eventually.Until(() => Change().Status == ChangeStatus.Reviewed, "reviewed (Slack approval + Jira now done)");
    }
}
