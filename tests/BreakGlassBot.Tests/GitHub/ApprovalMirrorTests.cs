using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Reviewing;
using Microsoft.Extensions.DependencyInjection;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>An approval recorded in Slack (by the reviewing feature) is mirrored on the PR, once.</summary>
[Trait("Category", "EndToEnd")]
public class ApprovalMirrorTests : GitHubBotTest
{
    // A reviewer the bot knows on GitHub (not the PR's author): an unknown one's approval waits until they link.
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["People:U0REVIEWER:GitHub"] = "hubot" };

    void Approve()
    {
        var now = DateTimeOffset.UtcNow;
        var followUps = Bot.App.Services.GetServices<IApprovalFollowUps>().ToList();
        Bot.Store.Update(1, c =>
        {
            var approval = new Approval { Reviewer = "U0REVIEWER", ReviewerName = "alice", At = now, Comment = "LGTM, cc @team", Source = "button" };
            if (c.Approvals.Count == 0) c.Approvals.Add(approval);
            foreach (var f in followUps) c.Steps.AddRange(f.StepsFor(c, c.Approvals[0], 0, now));
            return [];
        });
        Bot.Service<OutboxQueue>().Nudge();
    }

    [Fact]
    public async Task ASlackApprovalIsCommentedOnThePullRequestExactlyOnce()
    {
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => StepsSettled(), "declared and linked");
        Approve();
        await WaitUntil(() => StepsSettled() && GitHub.PullRequest(Pr).Comments.Count == 2, "approval mirrored");
        var comment = GitHub.PullRequest(Pr).Comments.Last();
        Assert.Contains("<!-- breakglass:BG-1:approval:0 -->", comment);
        Assert.Contains($"Approved retrospectively by alice in Slack ({Change().Announcement!.Permalink})", comment);
        Assert.Contains("@\u200bteam", comment); // no mention: nobody is notified by a quoted comment

        // The same follow-up again (a retried request, a replay after a crash): still one comment.
        Approve();
        await WaitUntil(() => StepsSettled() && Change().Steps.Count(s => s.Kind == GitHubStepKinds.ApprovalComment && s.State == StepState.Done) == 2, "second run done");
        Assert.Equal(2, GitHub.PullRequest(Pr).Comments.Count);
        Assert.Equal(2, Bot.Store.AuditTrail(1).Count(e => e.Type == GitHubAuditTypes.ApprovalMirrored));
    }
}
