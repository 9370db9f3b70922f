using System.Text.Json.Nodes;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Jira;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Jira;

/// <summary>On declaration: link, label and comment each linked issue, or create one; Cloud and Data Center at the wire.</summary>
[Trait("Category", "EndToEnd")]
public class JiraDeclarationTests : JiraBotTest
{
    [Fact]
    public async Task CloudLinksWithBasicAuthAddsTheLabelAndCommentsInAdfWithTheThreadLink()
    {
        Jira.Add("OPS-7", "Payments outage");
        await StartBotAsync(Flavor.Cloud);
        await Bot.CommandJsonAsync("Roll back payments deploy OPS-7");
        await StepSettled(JiraStepKinds.Link);

        var change = Change();
        Assert.All(Jira.Calls, c =>
        {
            Assert.StartsWith("/rest/api/3/issue/OPS-7", c.Path);
            Assert.Equal(FakeJira.BasicAuth, c.Headers["Authorization"]);
        });
        Assert.Equal(["break-glass"], Jira["OPS-7"].Labels);
        var call = Assert.Single(Jira.CallsTo(FakeJira.AddComment));
        var body = JsonNode.Parse(call.Body)!["body"]!;
        Assert.Equal("doc", body["type"]!.GetValue<string>());
        Assert.Equal(1, body["version"]!.GetValue<int>());
        var text = FakeJira.TextOf(Assert.Single(Jira["OPS-7"].Comments).Body);
        Assert.Contains("Emergency change BG-1 declared", text);
        Assert.Contains("Summary: Roll back payments deploy", text);
        Assert.Contains("Declared by: u0declarer (Slack U0DECLARER)", text);
        Assert.Contains("Retrospective review due: " + JiraTexts.Time(change.DueAt), text);
        // The thread link is a real ADF link mark, not just text.
        var link = body.ToJsonString();
        Assert.Contains($"\"href\":\"{change.Announcement!.Permalink}\"", link);

        var linked = Assert.Single(change.JiraIssues);
        Assert.Equal(("OPS-7", null, "In Progress", "indeterminate", "Payments outage"), (linked.Key, linked.DeclaredKey, linked.Status, linked.StatusCategory, linked.Summary));
        Assert.Single(Audit(JiraAuditTypes.Linked));
        Assert.Equal("OPS-7", Assert.Single(Audit(JiraAuditTypes.Commented)).Data["key"]);
        Assert.DoesNotContain(Bot.Logs, l => l.Contains(FakeJira.ApiToken) || l.Contains(FakeJira.BasicAuth[6..]));
    }

    [Fact]
    public async Task DataCenterUsesTheTokenAsBearerRestV2AndAPlainTextComment()
    {
        Jira.Add("OPS-7");
        await StartBotAsync(Flavor.DataCenter);
        await Bot.CommandJsonAsync("Roll back payments deploy OPS-7");
        await StepSettled(JiraStepKinds.Link);

        Assert.All(Jira.Calls, c =>
        {
            Assert.StartsWith("/rest/api/2/", c.Path);
            Assert.Equal("Bearer " + FakeJira.Pat, c.Headers["Authorization"]);
        });
        var body = JsonNode.Parse(Assert.Single(Jira.CallsTo(FakeJira.AddComment)).Body)!["body"]!;
        var text = Assert.IsAssignableFrom<JsonValue>(body).GetValue<string>();
        Assert.StartsWith("Emergency change BG-1 declared in Slack", text);
        Assert.Contains("Slack thread: " + Change().Announcement!.Permalink, text);
        Assert.Equal(["break-glass"], Jira["OPS-7"].Labels);
        Assert.Equal(StepState.Done, StepOf(Change(), JiraStepKinds.Link).State);
        Assert.DoesNotContain(Bot.Logs, l => l.Contains(FakeJira.Pat));
    }

    [Fact]
    public async Task AMovedIssueIsStoredUnderTheKeyJiraAnswersWithAndTheThreadIsTold()
    {
        Jira.Add("OPS-7");
        Jira.Move("OPS-7", "PAY-99");
        await StartBotAsync();
        await Bot.CommandJsonAsync("Fix it OPS-7");
        await AllSettled();

        var linked = Assert.Single(Change().JiraIssues);
        Assert.Equal(("PAY-99", "OPS-7"), (linked.Key, linked.DeclaredKey));
        // Everything after the first read goes to the new key.
        Assert.All(Jira.Calls.Skip(1), c => Assert.StartsWith("/rest/api/3/issue/PAY-99", c.Path));
        Assert.Single(Jira["PAY-99"].Comments);
        Assert.Single(Thread(), m => m.Text.Contains("OPS-7 has moved to") && m.Text.Contains($"{Jira.Url}/browse/PAY-99"));
        Assert.Equal("OPS-7", Assert.Single(Audit(JiraAuditTypes.Linked)).Data["declared_key"]);
    }

    [Fact]
    public async Task WithNoLinkedIssueAndAProjectKeyTheBotCreatesOneLinksItAndSaysSoInTheThread()
    {
        await StartBotAsync(extra: new Dictionary<string, string?> { ["Jira:ProjectKey"] = "OPS", ["Jira:IssueType"] = "Bug" });
        await Bot.CommandJsonAsync("Disable the fraud check https://github.com/acme/pay/pull/42");
        await StepSettled(JiraStepKinds.Create);
        await AllSettled();

        var fields = JsonNode.Parse(Assert.Single(Jira.CallsTo(FakeJira.CreateIssue)).Body)!["fields"]!;
        Assert.Equal("OPS", fields["project"]!["key"]!.GetValue<string>());
        Assert.Equal("Bug", fields["issuetype"]!["name"]!.GetValue<string>());
        Assert.Equal("[BG-1] Disable the fraud check", fields["summary"]!.GetValue<string>());
        Assert.Equal("doc", fields["description"]!["type"]!.GetValue<string>());
        var description = FakeJira.TextOf(fields["description"]!);
        Assert.Contains("Justification: none given", description);
        Assert.Contains("Pull request: acme/pay#42", description);
        Assert.Contains("Slack thread: " + Change().Announcement!.Permalink, description);
        Assert.Equal(["break-glass"], Jira["OPS-100"].Labels);

        var linked = Assert.Single(Change().JiraIssues);
        Assert.True(linked.CreatedByBot);
        Assert.Equal("OPS-100", linked.Key);
        Assert.Single(Thread(), m => m.Text.Contains("the bot created") && m.Text.Contains($"{Jira.Url}/browse/OPS-100"));
        Assert.Equal("OPS-100", Assert.Single(Audit(JiraAuditTypes.Created)).Data["key"]);
        // The announcement is re-rendered with the new link.
        await Eventually.Until(() => Slack.Announcements("BG-1").Single().AllText.Contains("browse/OPS-100"), "announcement shows OPS-100");
    }

    [Fact]
    public async Task ASummaryOnSeveralLinesIsCreatedAsOneLine()
    {
        await StartBotAsync(extra: new Dictionary<string, string?> { ["Jira:ProjectKey"] = "OPS" });
        // The form keeps what was typed, line break included (a slash command's text is folded to one line already).
        await Bot.InteractionAsync(BreakGlassBot.Tests.Declaring.ModalTests.Submission("V1", "Payments are down\nrolling back the deploy", "Checkout fails"));
        await StepSettled(JiraStepKinds.Create);

        Assert.Equal("[BG-1] Payments are down rolling back the deploy", Assert.Single(Jira.Issues).Summary);
        Assert.Equal("OPS-100", Assert.Single(Change().JiraIssues).Key);
    }

    [Fact]
    public async Task ALongSummaryIsCutOnWholeCharactersAndCreatedOnce()
    {
        await StartBotAsync(extra: new Dictionary<string, string?> { ["Jira:ProjectKey"] = "OPS" });
        // Jira's 255 falls inside the emoji: a cut on UTF-16 units would leave half of it.
        var summary = new string('x', 254 - "[BG-1] ".Length - 1) + "🚨 rollback " + new string('y', 40);
        await Bot.CommandJsonAsync(summary);
        await StepSettled(JiraStepKinds.Create);
        await AllSettled();

        var created = Assert.Single(Jira.Issues).Summary;
        Assert.True(created.Length <= 255, created);
        Assert.EndsWith("…", created);
        Assert.DoesNotContain('\uFFFD', created); // half an emoji goes over the wire as a replacement character
        Assert.Single(Jira.CallsTo(FakeJira.CreateIssue));
    }

    [Fact]
    public async Task AProjectWhoseCreateScreenHasNoLabelsFieldGetsTheIssueLabelledAfterwards()
    {
        Jira.ProjectsWithoutLabelsOnCreate.Add("OPS");
        await StartBotAsync(extra: new Dictionary<string, string?> { ["Jira:ProjectKey"] = "OPS" });
        await Bot.CommandJsonAsync("Disable the fraud check");
        await StepSettled(JiraStepKinds.Create);
        await AllSettled();

        var issue = Assert.Single(Jira.Issues);
        Assert.Equal(["break-glass"], issue.Labels);
        Assert.Equal(issue.Key, Assert.Single(Change().JiraIssues).Key);
        Assert.Equal(2, Jira.CallsTo(FakeJira.CreateIssue).Count); // refused with labels, then created without
        Assert.DoesNotContain(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.StepAbandoned);
    }

    [Fact]
    public async Task DataCenterCreatesWithAPlainTextDescription()
    {
        await StartBotAsync(Flavor.DataCenter, new Dictionary<string, string?> { ["Jira:ProjectKey"] = "OPS" });
        await Bot.CommandJsonAsync("Disable the fraud check");
        await StepSettled(JiraStepKinds.Create);

        Assert.Single(Jira.CallsTo(FakeJira.Search), c => c.Path == "/rest/api/2/search");
        var call = Assert.Single(Jira.CallsTo(FakeJira.CreateIssue));
        Assert.Equal("/rest/api/2/issue", call.Path);
        var fields = JsonNode.Parse(call.Body)!["fields"]!;
        Assert.Equal("Task", fields["issuetype"]!["name"]!.GetValue<string>());
        Assert.StartsWith("Emergency change BG-1 declared in Slack by", fields["description"]!.GetValue<string>());
        Assert.Equal("OPS-100", Assert.Single(Change().JiraIssues).Key);
    }

    [Fact]
    public async Task ACreateWhoseAnswerWasLostIsFoundBySearchInsteadOfCreatedTwice()
    {
        // Decoys: another change's issue, and one whose summary only contains the id further in.
        Jira.Add("OPS-50", "[BG-12] another change").Labels.Add("break-glass");
        Jira.Add("OPS-51", "follow-up of BG-1").Labels.Add("break-glass");
        Jira.Fail(FakeJira.CreateIssue, new Fault.AfterWork(503));
        await StartBotAsync(extra: new Dictionary<string, string?> { ["Jira:ProjectKey"] = "OPS" });
        await Bot.CommandJsonAsync("Disable the fraud check");
        await StepSettled(JiraStepKinds.Create);

        Assert.Single(Jira.CallsTo(FakeJira.CreateIssue));
        Assert.Equal(2, Jira.CallsTo(FakeJira.Search).Count);
        Assert.Single(Jira.Issues, i => i.Summary.StartsWith("[BG-1] "));
        Assert.Equal("OPS-100", Assert.Single(Change().JiraIssues).Key);
        Assert.Equal("true", Assert.Single(Audit(JiraAuditTypes.Created)).Data["found_existing"]);
        await Eventually.Until(() => Thread().Any(m => m.Text.Contains("Done after all: create a Jira issue in OPS for BG-1")), "recovery reported");
    }

    [Fact]
    public async Task ACreateJiraRefusesIsReportedWithJirasOwnWordsAndNotRetried()
    {
        Jira.Fail(FakeJira.CreateIssue, FakeJira.Status(400, Fixtures.Text("jira/jira_error_400_create_issue.json")), times: 5);
        await StartBotAsync(extra: new Dictionary<string, string?> { ["Jira:ProjectKey"] = "OPS" });
        await Bot.CommandJsonAsync("Disable the fraud check");
        await StepSettled(JiraStepKinds.Create);
        await Eventually.Until(() => Thread().Any(m => m.Text.Contains("Could not create a Jira issue in OPS for BG-1")), "give-up reported");
        await AllSettled(); // no step is pending, so none can try the create again

        Assert.Single(Jira.CallsTo(FakeJira.CreateIssue));
        var note = Assert.Single(Thread(), m => m.Text.Contains("Could not create a Jira issue"));
        Assert.Contains("Field 'priority' is required", note.Text);
        Assert.Contains("Jira:IssueType", note.Text);
        Assert.Empty(Change().JiraIssues);
        Assert.Equal(ChangeStatus.Open, Change().Status);
    }

    [Fact]
    public async Task WithNoLinkedIssueAndNoProjectKeyJiraIsLeftAlone()
    {
        await StartBotAsync();
        await Bot.CommandJsonAsync("Disable the fraud check");
        await AllSettled();
        Assert.Empty(Jira.Calls);
        Assert.DoesNotContain(Change().Steps, s => s.Kind.StartsWith("jira-"));
    }

    [Fact]
    public async Task WhenJiraIsNotConfiguredALinkedKeyIsOnlyRecorded()
    {
        await StartBotAsync(Flavor.None);
        await Bot.CommandJsonAsync("Fix it OPS-7");
        await AllSettled();
        Assert.Empty(Jira.Calls);
        Assert.DoesNotContain(Change().Steps, s => s.Kind.StartsWith("jira-"));
        Assert.Equal("OPS-7", Assert.Single(Change().JiraIssues).Key);
    }

    [Fact]
    public async Task EveryLinkedKeyIsLinkedOnItsOwn()
    {
        Jira.Add("OPS-7");
        Jira.Add("OPS-8");
        await StartBotAsync();
        await Bot.CommandJsonAsync("Fix it OPS-7 OPS-8");
        await StepSettled(JiraStepKinds.Link);
        Assert.Single(Jira["OPS-7"].Comments);
        Assert.Single(Jira["OPS-8"].Comments);
        Assert.Equal(2, Audit(JiraAuditTypes.Linked).Count);
    }
}
