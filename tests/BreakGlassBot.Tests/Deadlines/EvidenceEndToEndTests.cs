using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.Jira;
using BreakGlassBot.Tests.Reviewing;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Deadlines;

/// <summary>
/// Declare → reviewers reminded → evidence satisfied at the fakes (a Slack approval, the Jira issue moved to a
/// done status) → Reviewed, and nothing more is sent. Real Hangfire on SQLite, real HTTP everywhere.
/// </summary>
public class EvidenceEndToEndTests : JiraBotTest
{
    [Fact]
    public async Task TheChangeIsReviewedOnlyWhenEveryLinkedSourceIsSatisfied()
    {
        Jira.Add("OPS-7");
        await StartBotAsync(extra: new Dictionary<string, string?>
        {
            ["Slack:Reviewers:0"] = ApprovalTests.Reviewer1,
            ["Policy:ReviewWindow"] = "00:01:00",
            ["Policy:ReminderInterval"] = "00:00:02",
        });
        await Bot.CommandJsonAsync("Hotfix payments OPS-7");
        await Bot.Until(() => Slack.DirectMessages(ApprovalTests.Reviewer1).Count >= 1, "reviewer reminded", TimeSpan.FromSeconds(30));
        Assert.Contains("OPS-7", Slack.DirectMessages(ApprovalTests.Reviewer1)[0].Text);

        await Bot.InteractionAsync(ApprovalTests.Click(ApprovalTests.Reviewer1, ReviewActions.Approve, "BG-1"));
        await Eventually.Until(() => Change().Evidence.Any(e => e.Kind == "SlackApproval" && e.Satisfied), "the Slack approval is counted");
        Assert.Equal(ChangeStatus.Open, Change().Status);
        Assert.Contains(Change().Evidence, e => e.Kind == "JiraReviewed" && !e.Satisfied && e.Target == "OPS-7");

        var issue = Jira["OPS-7"];
        issue.StatusName = "Erledigt";
        issue.CategoryKey = "done";
        issue.CategoryName = "Fertig";
        await Eventually.Until(() => Change().Status == ChangeStatus.Reviewed, "reviewed once Jira says done", TimeSpan.FromSeconds(30));
        await AllSettled();
        var dms = Slack.Messages.Count(m => m.Channel.StartsWith('D'));
        await Task.Delay(TimeSpan.FromSeconds(5));
        Assert.Equal(dms, Slack.Messages.Count(m => m.Channel.StartsWith('D')));
        Assert.Single(Thread(), m => m.Text.Contains("BG-1 is reviewed") && m.Text.Contains("OPS-7: reviewed in Jira"));
    }
}
