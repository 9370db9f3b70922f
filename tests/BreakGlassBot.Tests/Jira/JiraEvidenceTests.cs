using BreakGlassBot.Hosting;
using BreakGlassBot.Jira;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Jira;

/// <summary>The reviewed rule: status category key "done" (in any language), or a configured status name.</summary>
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

    [Fact]
    public async Task AnIssueJiraRefusedDoesNotApplyAndJiraDownThrowsSoTheTrackerAsksLater()
    {
        Jira.Add("OPS-8");
        await StartBotAsync();
        await Bot.CommandJsonAsync("Fix it OPS-404");
        await StepSettled(JiraStepKinds.Link);
        Assert.False(Source.AppliesTo(Change()), "the only issue has a Problem");

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
    public async Task WithoutJiraConfiguredTheSourceDoesNotApply()
    {
        await StartBotAsync(Flavor.None);
        await Bot.CommandJsonAsync("Fix it OPS-7");
        await AllSettled();
        Assert.False(Source.AppliesTo(Change()));
    }
}
