using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Jira;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Jira;

/// <summary>
/// A create whose outcome was not recorded (Jira created the issue, the bot never learnt or saved it) is never repeated:
/// the retry finds the issue, even when Jira's search is slow to show it, and the change records its key.
/// </summary>
[Trait("Category", "EndToEnd")]
public class JiraCreateOnceTests : JiraBotTest
{
    static readonly Dictionary<string, string?> Create = new()
    {
        ["Jira:ProjectKey"] = "OPS",
        // Longer than the fake's search lag below: the bot waits this long once before it would create again.
        ["Jira:SearchSettle"] = "00:00:03",
    };

    [Fact]
    public async Task ALostCreateThatSearchDoesNotShowYetIsWaitedForNotCreatedAgain()
    {
        // Jira creates the issue, then the answer is lost; its search shows new issues only after a while, as Cloud's does.
        Jira.SearchLag = TimeSpan.FromSeconds(1.5);
        Jira.Fail(FakeJira.CreateIssue, new Fault.AfterWork(503));
        await StartBotAsync(extra: Create);
        await Bot.CommandJsonAsync("Disable the fraud check 🚨");
        await StepSettled(JiraStepKinds.Create);

        var made = Assert.Single(Jira.Issues, i => i.Summary.StartsWith("[BG-1] "));
        Assert.Single(Jira.CallsTo(FakeJira.CreateIssue));
        Assert.Equal(made.Key, Assert.Single(Change().JiraIssues).Key);
        Assert.Equal(StepState.Done, StepOf(Change(), JiraStepKinds.Create).State);
        Assert.Equal("true", Assert.Single(Audit(JiraAuditTypes.Created)).Data["found_existing"]);
    }

    [Fact]
    public async Task InAProjectWithoutLabelsALostCreateIsFoundNotRepeated()
    {
        // No Labels field anywhere: the issue is created unlabelled, and labelling it fails too. The retry must find it anyway.
        Jira.ProjectsWithoutLabels.Add("OPS");
        Jira.Fail(FakeJira.CreateIssue, new Fault.AfterWork(503), when: c => !c.Body.Contains("\"labels\""));
        await StartBotAsync(extra: Create);
        await Bot.CommandJsonAsync("Disable the fraud check");
        await StepSettled(JiraStepKinds.Create);

        var made = Assert.Single(Jira.Issues, i => i.Summary.StartsWith("[BG-1] "));
        Assert.Empty(made.Labels);
        Assert.Equal(made.Key, Assert.Single(Change().JiraIssues).Key);
    }

    [Fact]
    public async Task ACreateThatTimesOutAfterJiraMadeTheIssueIsRecordedOnce()
    {
        // Jira makes the issue and holds its answer past the bot's 10 s attempt timeout: the attempt ends without an outcome.
        Jira.SearchLag = TimeSpan.FromSeconds(1.5);
        Jira.Fail(FakeJira.CreateIssue, new Fault.WorkThenHang(TimeSpan.FromSeconds(15)));
        await StartBotAsync(extra: Create);
        await Bot.CommandJsonAsync("Disable the fraud check");
        await Eventually.Until(() => Change().JiraIssues.Count > 0, "the created issue recorded", TimeSpan.FromSeconds(30));

        var made = Assert.Single(Jira.Issues, i => i.Summary.StartsWith("[BG-1] "));
        Assert.Single(Jira.CallsTo(FakeJira.CreateIssue));
        Assert.Equal(made.Key, Assert.Single(Change().JiraIssues).Key);
    }

    [Fact]
    public async Task WhatJiraAnswersIsStoredCutAndValidSoTheOutcomeCanBeSaved()
    {
        // An issue an earlier attempt made, found by the search, whose summary Jira returns overlong and with half an emoji.
        var summary = "[BG-1] " + new string('x', 400) + "\uD83D";
        Jira.Add("OPS-60", summary).Labels.Add("break-glass");
        await StartBotAsync(extra: Create);
        await Bot.CommandJsonAsync("Disable the fraud check");
        await StepSettled(JiraStepKinds.Create);

        var linked = Assert.Single(Change().JiraIssues);
        Assert.Equal("OPS-60", linked.Key);
        Assert.True(linked.Summary!.Length <= 255);
        Assert.DoesNotContain(linked.Summary, char.IsSurrogate);
        Assert.Empty(Jira.CallsTo(FakeJira.CreateIssue));
    }
}
