using BreakGlassBot.Hosting;
using BreakGlassBot.Jira;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Jira;

/// <summary>The reviewed rule: status category key "done" (in any language), or a configured status name.</summary>
[Trait("Category", "EndToEnd")]
public class JiraEvidenceTests : JiraBotTest
{
    static JiraIssue Issue(string status, string? categoryKey, string? categoryName = null) =>
        new("1", "OPS-7", "s", status, categoryKey, categoryName, []);

    [Theory]
    [InlineData("Done", "done", true)]
    [InlineData("Erledigt", "done", true)]          // German "Done": the name changes, the category key does not
    [InlineData("Terminé", "DONE", true)]
    [InlineData("Closed", "completed", false)]      // the statuscategory spec example's placeholder key is not a real one
    [InlineData("In Progress", "indeterminate", false)]
    [InlineData("Done", "indeterminate", false)]    // a status merely named Done in an in-progress category is not enough
    [InlineData("QA Approved", "indeterminate", true)]
    [InlineData("qa approved ", "indeterminate", true)]
    public void ReviewedMeansCategoryDoneOrAConfiguredStatusName(string status, string category, bool reviewed) =>
        Assert.Equal(reviewed, JiraReviewRule.IsReviewed(Issue(status, category), ["QA Approved"]));

    [Fact]
    public void WhatIsMissingIsSaidInWords()
    {
        Assert.Equal("Jira issue OPS-7 is in status 'In Review' (In Progress); it counts as reviewed once it reaches a status in the Done category or one of: QA Approved, Signed off.",
            JiraReviewRule.Missing("OPS-7", Issue("In Review", "indeterminate", "In Progress"), ["QA Approved", "Signed off"]));
        Assert.Equal("Jira issue OPS-7 is in status 'To Do' (new); it counts as reviewed once it reaches a status in the Done category.",
            JiraReviewRule.Missing("OPS-7", Issue("To Do", "new"), []));
        Assert.Null(JiraReviewRule.Missing("OPS-7", Issue("Erledigt", "done"), []));
    }

    IEvidenceSource Source => Bot.Service<IEnumerable<IEvidenceSource>>().Single(s => s.Kind == EvidenceKind.JiraReviewed);

    [Fact]
    public async Task EachLinkedIssueIsCheckedAtJiraIncludingALocalisedDoneAndAConfiguredStatus()
    {
        Jira.Add("OPS-7", status: "Erledigt", categoryKey: "done", categoryName: "Fertig");
        Jira.Add("OPS-8", status: "In Progress", categoryKey: "indeterminate", categoryName: "In Progress");
        Jira.Add("OPS-9", status: "Geprüft", categoryKey: "indeterminate", categoryName: "In Arbeit");
        Jira.Add("OPS-10", status: "Closed", categoryKey: "completed", categoryName: "Done");
        await StartBotAsync(Flavor.DataCenter, new Dictionary<string, string?> { ["Jira:ReviewedStatuses:0"] = "geprüft" });
        await Bot.CommandJsonAsync("Fix it OPS-7 OPS-8 OPS-9 OPS-10");
        await StepSettled(JiraStepKinds.Link);

        Assert.True(Source.AppliesTo(Change()));
        var results = await Source.CheckAsync(Change(), CancellationToken.None);
        Assert.Equal([("OPS-7", true), ("OPS-8", false), ("OPS-9", true), ("OPS-10", false)], results.Select(r => (r.Target!, r.Satisfied)));
        Assert.Equal("Jira issue OPS-8 is in status 'In Progress' (In Progress); it counts as reviewed once it reaches a status in the Done category or one of: geprüft.",
            results[1].Missing);
    }

    [Fact]
    public async Task AMovedIssueIsCheckedUnderItsNewKeyAndAnIssueMovedToDoneCounts()
    {
        Jira.Add("OPS-7");
        Jira.Move("OPS-7", "PAY-99");
        await StartBotAsync();
        await Bot.CommandJsonAsync("Fix it OPS-7");
        await StepSettled(JiraStepKinds.Link);

        Assert.False(Assert.Single(await Source.CheckAsync(Change(), CancellationToken.None)).Satisfied);
        Jira["PAY-99"].CategoryKey = "done";
        var result = Assert.Single(await Source.CheckAsync(Change(), CancellationToken.None));
        Assert.Equal(("PAY-99", true), (result.Target, result.Satisfied));
        Assert.EndsWith("/rest/api/3/issue/PAY-99", Jira.CallsTo(FakeJira.GetIssue).Last().Path);
    }

    [Theory]
    [InlineData(404, "Issue does not exist or you do not have permission to see it.")]
    [InlineData(403, "You do not have the permission to see the specified issue.")]
    public async Task AnIssueJiraSaysIsNotThereWhenReadDoesNotApplyAndJiraDownThrowsSoTheTrackerAsksLater(int status, string message)
    {
        Jira.Add("OPS-8");
        Jira.Add("OPS-9");
        Jira.Fail(FakeJira.GetIssue, FakeJira.Status(status, "{\"errorMessages\":[\"" + message + "\"],\"errors\":{}}"), when: c => c.Path.Contains("OPS-9"));
        await StartBotAsync();
        await Bot.CommandJsonAsync("Fix it OPS-9");
        await StepSettled(JiraStepKinds.Link);
        Assert.Contains(message, Assert.Single(Change().JiraIssues).Problem);
        Assert.False(Source.AppliesTo(Change()), "the only issue is not there");
        Assert.Contains("Jira does not know the issue(s) linked to BG-1 (OPS-9)", Source.NotApplicable(Change()));

        await Bot.CommandJsonAsync("Fix it OPS-8");
        await StepSettled(JiraStepKinds.Link, id: 2);
        Assert.True(Source.AppliesTo(Change(2)));
        Jira.Down = true;
        var e = await Assert.ThrowsAsync<JiraApiException>(() => Source.CheckAsync(Change(2), CancellationToken.None));
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, e.Status);
        Jira.Down = false;

        // Deleted since it was linked: a definite answer, not an outage.
        Jira.Fail(FakeJira.GetIssue, FakeJira.Status(404, FakeJira.NotFoundBody));
        var gone = Assert.Single(await Source.CheckAsync(Change(2), CancellationToken.None));
        Assert.False(gone.Satisfied);
        Assert.Contains("OPS-8 can no longer be read by the bot", gone.Missing);
    }

    [Fact]
    public async Task AnIssueWhoseCommentJiraRefusesIsReportedOnceButStillCountsAsEvidence()
    {
        Jira.Add("SEC-1");
        Jira.Fail(FakeJira.AddComment, FakeJira.Status(403, """{"errorMessages":["You do not have permission to comment on this issue."],"errors":{}}"""));
        await StartBotAsync();
        await Bot.CommandJsonAsync("Fix it SEC-1");
        await StepSettled(JiraStepKinds.Link);
        await Eventually.Until(() => Thread().Any(m => m.Text.Contains("You do not have permission to comment on this issue.")), "refusal reported");

        var linked = Assert.Single(Change().JiraIssues);
        Assert.Null(linked.Problem);
        Assert.Contains("HTTP 403", linked.CommentProblem);
        Assert.Equal("In Progress", linked.Status);
        Assert.Single(Thread(), m => m.Text.Contains("You do not have permission to comment"));
        Assert.Contains("The issue stays linked and its review status still counts", Thread().Single(m => m.Text.Contains("You do not have permission")).Text);

        // Still evidence: not reviewed while in progress, reviewed once done.
        Assert.True(Source.AppliesTo(Change()));
        Assert.False(Assert.Single(await Source.CheckAsync(Change(), CancellationToken.None)).Satisfied);
        Jira["SEC-1"].CategoryKey = "done";
        Assert.True(Assert.Single(await Source.CheckAsync(Change(), CancellationToken.None)).Satisfied);
        Assert.Single(Jira.CallsTo(FakeJira.AddComment)); // reported once, not retried
    }

    [Fact]
    public async Task WhenNoLinkedKeyExistsAndAProjectIsSetTheBotCreatesTheIssue()
    {
        await StartBotAsync(extra: new Dictionary<string, string?> { ["Jira:ProjectKey"] = "OPS" });
        await Bot.CommandJsonAsync("Fix it OPS-404 OPS-405");
        await Eventually.Until(() => Change().JiraIssues.Any(i => i.CreatedByBot), "issue created");
        await AllSettled();

        var change = Change();
        Assert.Equal(["OPS-404", "OPS-405", "OPS-100"], change.JiraIssues.Select(i => i.Key));
        Assert.Equal("OPS-100", Assert.Single(change.JiraIssues, i => i.Problem is null).Key);
        Assert.Single(Jira.CallsTo(FakeJira.CreateIssue));
        Assert.True(Source.AppliesTo(change));
        await Eventually.Until(() => Thread().Any(m => m.Text.Contains("None of the linked Jira issues could be found, so the bot created")), "creation said in the thread");
    }

    [Fact]
    public async Task WhenOneLinkedKeyExistsNoIssueIsCreated()
    {
        Jira.Add("OPS-7");
        await StartBotAsync(extra: new Dictionary<string, string?> { ["Jira:ProjectKey"] = "OPS" });
        await Bot.CommandJsonAsync("Fix it OPS-404 OPS-7");
        await AllSettled();
        Assert.Empty(Jira.CallsTo(FakeJira.CreateIssue));
        Assert.DoesNotContain(Change().JiraIssues, i => i.CreatedByBot);
    }

    [Fact]
    public async Task WithoutJiraConfiguredTheSourceDoesNotApply()
    {
        await StartBotAsync(Flavor.None);
        await Bot.CommandJsonAsync("Fix it OPS-7");
        await AllSettled();
        Assert.False(Source.AppliesTo(Change()));
    }
}
