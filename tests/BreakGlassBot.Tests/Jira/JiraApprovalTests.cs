using System.Text.Json.Nodes;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Jira;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.Support;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.Tests.Jira;

/// <summary>
/// Mirroring a Slack approval to Jira. The approval flow that calls IApprovalFollowUps is built elsewhere, so these tests
/// record an approval the way it will: add it and its follow-up steps in one store update, then nudge the outbox.
/// </summary>
[Trait("Category", "EndToEnd")]
public class JiraApprovalTests : JiraBotTest
{
    static FakeJira.Transition Review(string id) => new(id, "Review", "Reviewed", "done", "Done");
    static readonly FakeJira.Transition Start = new("11", "Start Progress", "In Progress", "indeterminate", "In Progress");

    async Task DeclareAndLinkAsync(string text, Flavor flavor = Flavor.Cloud, string? transition = "review")
    {
        await StartBotAsync(flavor, new Dictionary<string, string?> { ["Jira:ReviewTransition"] = transition });
        await Bot.CommandJsonAsync(text);
        await StepSettled(JiraStepKinds.Link);
    }

    void Approve(string reviewer = "U0ALICE", string? name = "Alice", string? comment = null)
    {
        var followUps = Bot.Service<IEnumerable<IApprovalFollowUps>>().ToList();
        var now = DateTimeOffset.UtcNow;
        Bot.Store.Update(1, c =>
        {
            c.Approvals.Add(new Approval { Reviewer = reviewer, ReviewerName = name, At = now, Comment = comment, Source = "button" });
            var index = c.Approvals.Count - 1;
            foreach (var f in followUps) c.Steps.AddRange(f.StepsFor(c, c.Approvals[index], index, now));
            return [];
        });
        Bot.Service<OutboxQueue>().Nudge();
    }

    [Fact]
    public async Task TheApprovalIsCommentedWithTheThreadLinkAndTheTransitionIdIsLookedUpPerIssue()
    {
        // Same transition name, different ids: two workflows.
        Jira.Add("OPS-7", transitions: [Start, Review("31")]);
        Jira.Add("SEC-2", transitions: [Review("711"), Start]);
        await DeclareAndLinkAsync("Fix it OPS-7 SEC-2");
        Approve(comment: "Looked at the diff, fine");
        await StepSettled(JiraStepKinds.Approval);

        foreach (var (key, id) in new[] { ("OPS-7", "31"), ("SEC-2", "711") })
        {
            var text = FakeJira.TextOf(Jira[key].Comments.Last().Body);
            Assert.Contains("BG-1 approved retrospectively by Alice in Slack", text);
            Assert.Contains("Comment: Looked at the diff, fine", text);
            Assert.Contains("Slack thread: " + Change().Announcement!.Permalink, text);
            Assert.Single(Jira.CallsTo(FakeJira.DoTransition), c => c.Path.Contains(key) && JsonNode.Parse(c.Body)!["transition"]!["id"]!.GetValue<string>() == id);
            Assert.Equal("Reviewed", Jira[key].StatusName);
        }
        Assert.Equal(2, Audit(JiraAuditTypes.Transitioned).Count);
        Assert.Equal("31", Audit(JiraAuditTypes.Transitioned).Single(e => e.Data["key"] == "OPS-7").Data["transition_id"]);
        Assert.Equal(2, Audit(JiraAuditTypes.Commented).Count(e => e.Data["about"] == "approval"));
        Assert.DoesNotContain(Thread(), m => m.Text.Contains("mirror the approval"));
    }

    [Fact]
    public async Task DataCenterMirrorsWithAPlainCommentAndNoTransitionWhenNoneIsConfigured()
    {
        Jira.Add("OPS-7", transitions: [Review("31")]);
        await DeclareAndLinkAsync("Fix it OPS-7", Flavor.DataCenter, transition: null);
        Approve(name: null);
        await StepSettled(JiraStepKinds.Approval);

        var body = JsonNode.Parse(Jira.CallsTo(FakeJira.AddComment).Last().Body)!["body"]!.GetValue<string>();
        Assert.StartsWith("BG-1 approved retrospectively by U0ALICE in Slack", body);
        Assert.Empty(Jira.CallsTo(FakeJira.ListTransitions));
        Assert.Empty(Jira.CallsTo(FakeJira.DoTransition));
        Assert.Equal("In Progress", Jira["OPS-7"].StatusName);
    }

    [Fact]
    public async Task AnUnavailableTransitionIsReportedOnceNamingTheOnesOffered()
    {
        Jira.Add("OPS-7", status: "To Do", categoryKey: "new", categoryName: "To Do", transitions: [Start, new("21", "Resolve", "Resolved", "done", "Done")]);
        await DeclareAndLinkAsync("Fix it OPS-7", transition: "Sign off");
        Approve();
        await StepSettled(JiraStepKinds.Approval);
        await Eventually.Until(() => Thread().Any(m => m.Text.Contains("Could not mirror the approval of BG-1 to Jira issue OPS-7")), "give-up reported");

        var note = Assert.Single(Thread(), m => m.Text.Contains("Could not mirror"));
        Assert.Contains("Jira issue OPS-7 (status 'To Do') offers no transition named 'Sign off'; it offers: 'Start Progress', 'Resolve'. An admin should set Jira:ReviewTransition", note.Text);
        Assert.Empty(Jira.CallsTo(FakeJira.DoTransition));
        Assert.Equal(2, Jira["OPS-7"].Comments.Count); // the declaration and the approval: the comment still went in
        Assert.Single(Audit(JiraAuditTypes.Commented), e => e.Data["about"] == "approval");
    }

    [Fact]
    public async Task AnIssueAlreadyMovedOnIsNotAnErrorAndTheApprovalCommentIsNotRepeated()
    {
        // The first attempt commented and transitioned, but the transition's answer was lost: the rerun finds both done.
        var issue = Jira.Add("OPS-7", transitions: [Review("31")]);
        await DeclareAndLinkAsync("Fix it OPS-7");
        Jira.Fail(FakeJira.DoTransition, new Fault.AfterWork(503));
        Approve();
        await StepSettled(JiraStepKinds.Approval);

        Assert.Equal(StepState.Done, StepOf(Change(), JiraStepKinds.Approval).State);
        Assert.Single(issue.Comments, c => FakeJira.TextOf(c.Body).Contains("approved retrospectively"));
        Assert.Single(Jira.CallsTo(FakeJira.DoTransition));
        Assert.Equal(2, StepOf(Change(), JiraStepKinds.Approval).Attempts);
        await Eventually.Until(() => Thread().Any(m => m.Text.Contains("Done after all: mirror the approval of BG-1 to Jira issue OPS-7")), "recovery reported");
        Assert.DoesNotContain(Thread(), m => m.Text.Contains(":x: Could not mirror"));
    }

    [Fact]
    public async Task NoFollowUpForAnIssueJiraRefusedAndOneForAMovedIssueUnderItsNewKey()
    {
        Jira.Add("OPS-7", transitions: [Review("31")]);
        Jira.Move("OPS-7", "PAY-99");
        await DeclareAndLinkAsync("Fix it OPS-404 OPS-7");
        Approve();
        await StepSettled(JiraStepKinds.Approval);

        Assert.Equal("PAY-99|0", Assert.Single(Change().Steps, s => s.Kind == JiraStepKinds.Approval).Target);
        Assert.Equal("Reviewed", Jira["PAY-99"].StatusName);
        Assert.DoesNotContain(Jira.Calls, c => c.Path.Contains("OPS-404") && c.Method == "POST");
    }
}
