using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Jira;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Jira;

/// <summary>Jira down, slow, refusing or rate-limiting: the declaration stands, the step is retried and reported, or given up once.</summary>
[Trait("Category", "EndToEnd")]
public class JiraFaultTests : JiraBotTest
{
    [Fact]
    public async Task WhileJiraIsDownTheChangeStandsAndAfterwardsExactlyOneCommentIsMadeAndTheRecoveryReported()
    {
        Jira.Add("OPS-7");
        Jira.Down = true;
        await StartBotAsync();
        var reply = await Bot.CommandJsonAsync("Fix it OPS-7");
        Assert.Contains("BG-1", reply.ToJsonString());
        await Eventually.Until(() => Thread().Any(m => m.Text.Contains("Could not record BG-1 on Jira issue OPS-7 yet (Jira is unavailable (HTTP 503))")),
            "failure reported in the thread");
        await Eventually.Until(() => StepOf(Change(), JiraStepKinds.Link).Attempts >= 3, "retried with back-off");

        Jira.Down = false;
        await StepSettled(JiraStepKinds.Link);
        await Eventually.Until(() => Thread().Any(m => m.Text.Contains("Done after all: record BG-1 on Jira issue OPS-7")), "recovery reported");
        Assert.Single(Jira["OPS-7"].Comments);
        Assert.Single(Jira.CallsTo(FakeJira.AddComment));
        Assert.Single(Thread(), m => m.Text.Contains("Could not record BG-1"));
        Assert.Equal(ChangeStatus.Open, Change().Status);
    }

    [Fact]
    public async Task ACommentWhoseAnswerWasLostIsNotPostedAgain()
    {
        Jira.Add("OPS-7");
        Jira.Fail(FakeJira.AddComment, new Fault.AfterWork(503));
        await StartBotAsync();
        await Bot.CommandJsonAsync("Fix it OPS-7");
        await StepSettled(JiraStepKinds.Link);

        Assert.Single(Jira["OPS-7"].Comments);
        Assert.Single(Jira.CallsTo(FakeJira.AddComment));
        Assert.True(Jira.CallsTo(FakeJira.ListComments).Count >= 2, "the second attempt looked for the comment first");
        Assert.Equal("true", Assert.Single(Audit(JiraAuditTypes.Commented)).Data["found_existing"]);
    }

    [Fact]
    public async Task TheCommentMarkerIsFoundOnALaterPageAndBG1DoesNotMatchBG12()
    {
        var issue = Jira.Add("OPS-7");
        issue.Comments.Add(("1", System.Text.Json.Nodes.JsonValue.Create("Emergency change BG-12 declared in Slack")!));
        issue.Comments.Add(("2", System.Text.Json.Nodes.JsonValue.Create("unrelated")!));
        issue.Comments.Add(("3", System.Text.Json.Nodes.JsonValue.Create("unrelated")!));
        Jira.CommentPageSize = 2;
        Jira.Fail(FakeJira.AddComment, new Fault.AfterWork(503));
        await StartBotAsync(Flavor.DataCenter);
        await Bot.CommandJsonAsync("Fix it OPS-7");
        await StepSettled(JiraStepKinds.Link);

        // The first attempt did not take BG-12's comment for its own; the second found its own on page 3.
        Assert.Equal(4, issue.Comments.Count);
        Assert.Single(Jira.CallsTo(FakeJira.AddComment));
        Assert.Contains(Jira.CallsTo(FakeJira.ListComments), c => c.Query.Contains("startAt=2"));
    }

    [Fact]
    public async Task A429WithALongRetryAfterReschedulesTheStepInsteadOfWaitingInPlace()
    {
        Jira.Add("OPS-7");
        Jira.Fail(FakeJira.GetIssue, FakeJira.Status(429, retryAfterSeconds: 30));
        await StartBotAsync();
        await Bot.CommandJsonAsync("Fix it OPS-7");
        await Eventually.Until(() => StepOf(Change(), JiraStepKinds.Link).LastError is not null, "first attempt failed");

        var step = StepOf(Change(), JiraStepKinds.Link);
        Assert.Contains("HTTP 429", step.LastError);
        var failedAt = Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.StepFailed).At;
        Assert.True(step.NextAttemptAt - failedAt >= TimeSpan.FromSeconds(29), $"next attempt at {step.NextAttemptAt:O}, failed at {failedAt:O}");
        await Eventually.Stays(() => Jira.CallsTo(FakeJira.GetIssue).Count == 1, "no retry before Retry-After", TimeSpan.FromMilliseconds(500));
    }

    [Theory]
    [InlineData(429)]
    [InlineData(503)]
    public async Task AShortRetryAfterIsHonouredInPlaceAndTheCommentIsMadeOnce(int status)
    {
        Jira.Add("OPS-7");
        Jira.Fail(FakeJira.AddComment, FakeJira.Status(status, retryAfterSeconds: 1));
        await StartBotAsync();
        await Bot.CommandJsonAsync("Fix it OPS-7");
        await StepSettled(JiraStepKinds.Link);

        Assert.Equal(2, Jira.CallsTo(FakeJira.AddComment).Count);
        Assert.Single(Jira["OPS-7"].Comments);
        if (status == 429)
        {
            Assert.Equal(1, StepOf(Change(), JiraStepKinds.Link).Attempts);
            Assert.DoesNotContain(Thread(), m => m.Text.Contains("Could not record"));
        }
        // A 503 may come after the comment was made: a POST is not repeated in place but by its step, which looks first.
        else Assert.Equal(2, StepOf(Change(), JiraStepKinds.Link).Attempts);
    }

    [Fact]
    public async Task RejectedCredentialsAreRetriedAndDescribedForAnAdmin()
    {
        Jira.Add("OPS-7");
        Jira.Fail(FakeJira.GetIssue, FakeJira.Status(401), times: 2);
        await StartBotAsync(Flavor.DataCenter);
        await Bot.CommandJsonAsync("Fix it OPS-7");
        await StepSettled(JiraStepKinds.Link);

        Assert.Single(Thread(), m => m.Text.Contains("Could not record BG-1 on Jira issue OPS-7 yet (Jira rejected the bot's credentials (HTTP 401); an admin should check Jira:PersonalAccessToken)"));
        await Eventually.Until(() => Thread().Any(m => m.Text.Contains("Done after all: record BG-1 on Jira issue OPS-7")), "recovery reported");
        Assert.Single(Jira["OPS-7"].Comments);
        Assert.DoesNotContain(Bot.Logs, l => l.Contains(FakeJira.Pat));
    }

    [Fact]
    public async Task AnUnknownKeyIsReportedOnceAndNotRetried()
    {
        await StartBotAsync();
        await Bot.CommandJsonAsync("Fix it OPS-404");
        await StepSettled(JiraStepKinds.Link);
        await Eventually.Until(() => Thread().Any(m => m.Text.Contains("Could not record BG-1 on Jira issue OPS-404:")), "give-up reported");
        await Eventually.Stays(() => Jira.CallsTo(FakeJira.GetIssue).Count == 1, "not retried", TimeSpan.FromMilliseconds(400));

        var note = Assert.Single(Thread(), m => m.Text.Contains("Could not record"));
        Assert.Contains("it does not exist, or the bot's Jira account cannot see it (HTTP 404): Issue does not exist or you do not have permission to see it. Check the key OPS-404", note.Text);
        Assert.Contains("Check the key OPS-404", note.Text);
        Assert.Equal(StepState.Abandoned, StepOf(Change(), JiraStepKinds.Link).State);
        Assert.NotNull(Assert.Single(Change().JiraIssues).Problem);
        Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.StepAbandoned);
        Assert.Equal(ChangeStatus.Open, Change().Status);
    }

    [Fact]
    public async Task AKeyTheBotMayNotTouchIsReportedOnceAndTheOtherKeyStillLinks()
    {
        Jira.Add("OPS-7");
        Jira.Add("SEC-1");
        Jira.Fail(FakeJira.AddComment, FakeJira.Status(403, """{"errorMessages":["You do not have permission to comment on this issue."],"errors":{}}"""));
        await StartBotAsync();
        await Bot.CommandJsonAsync("Fix it SEC-1 OPS-7");
        await StepSettled(JiraStepKinds.Link);

        var changeNow = Change();
        Assert.Equal(StepState.Abandoned, StepOf(changeNow, JiraStepKinds.Link, "SEC-1").State);
        Assert.Equal(StepState.Done, StepOf(changeNow, JiraStepKinds.Link, "OPS-7").State);
        Assert.Single(Jira["OPS-7"].Comments);
        await Eventually.Until(() => Thread().Any(m => m.Text.Contains("You do not have permission to comment on this issue.")), "give-up reported");
        Assert.Single(Jira.CallsTo(FakeJira.AddComment), c => c.Path.Contains("SEC-1"));
    }

    [Fact]
    public async Task AnIssueWhoseScreenLacksLabelsStillGetsTheComment()
    {
        Jira.Add("OPS-7");
        Jira.Fail(FakeJira.EditIssue, FakeJira.Status(400, """{"errorMessages":[],"errors":{"labels":"Field 'labels' cannot be set. It is not on the appropriate screen, or unknown."}}"""));
        await StartBotAsync();
        await Bot.CommandJsonAsync("Fix it OPS-7");
        await StepSettled(JiraStepKinds.Link);

        Assert.Equal(StepState.Done, StepOf(Change(), JiraStepKinds.Link).State);
        Assert.Single(Jira["OPS-7"].Comments);
        Assert.Empty(Jira["OPS-7"].Labels);
        Assert.Contains("not on the appropriate screen", Assert.Single(Audit(JiraAuditTypes.Linked)).Data["label"]);
    }

    [Theory]
    [InlineData(405)]
    [InlineData(409)]
    [InlineData(410)]
    [InlineData(413)]
    [InlineData(422)]
    public async Task AnyLastingRefusalOfTheCommentIsReportedOnceAndNotRetried(int status)
    {
        Jira.Add("OPS-7");
        Jira.Fail(FakeJira.AddComment, FakeJira.Status(status), times: 100);
        await StartBotAsync();
        await Bot.CommandJsonAsync("Fix it OPS-7");
        await StepSettled(JiraStepKinds.Link);
        await Eventually.Until(() => Thread().Any(m => m.Text.Contains($"Could not record BG-1 on Jira issue OPS-7: Jira refused the request (HTTP {status})")), "give-up reported");
        await Eventually.Stays(() => Jira.CallsTo(FakeJira.AddComment).Count == 1, "not retried", TimeSpan.FromMilliseconds(400));

        Assert.Equal(StepState.Abandoned, StepOf(Change(), JiraStepKinds.Link).State);
        Assert.Single(Thread(), m => m.Text.Contains("Could not record"));
        Assert.Null(Assert.Single(Change().JiraIssues).Problem); // readable: it still counts as evidence
    }

    [Fact]
    public async Task A408IsRetriedLikeAnOutage()
    {
        Jira.Add("OPS-7");
        Jira.Fail(FakeJira.AddComment, FakeJira.Status(408));
        await StartBotAsync();
        await Bot.CommandJsonAsync("Fix it OPS-7");
        await StepSettled(JiraStepKinds.Link);
        Assert.Equal(StepState.Done, StepOf(Change(), JiraStepKinds.Link).State);
        Assert.Single(Jira["OPS-7"].Comments);
    }

    /// <summary>A cut-off answer or a proxy's page passes like an outage; a well-formed answer of the wrong shape (below) does not.</summary>
    [Fact]
    public async Task AnIssueAnswerThatIsNotJsonIsRetriedReportedAndRecovers()
    {
        Jira.Add("OPS-7");
        Jira.Fail(FakeJira.GetIssue, new Fault.Malformed(), times: 2);
        await StartBotAsync();
        await Bot.CommandJsonAsync("Fix it OPS-7");
        await Eventually.Until(() => Thread().Any(m => m.Text.Contains("Jira answered with something that is not JSON")), "failure reported");
        await StepSettled(JiraStepKinds.Link);
        Assert.Equal(StepState.Done, StepOf(Change(), JiraStepKinds.Link).State);
        Assert.Equal(3, Jira.CallsTo(FakeJira.GetIssue).Count);
        Assert.Single(Jira["OPS-7"].Comments);
    }

    [Fact]
    public async Task AnIssueAnswerWithoutAKeyIsReportedOnceAndNotRetried()
    {
        Jira.Add("OPS-7");
        Jira.Fail(FakeJira.GetIssue, FakeJira.Status(200, """{"id":"10001","fields":{}}"""), times: 100);
        await StartBotAsync();
        await Bot.CommandJsonAsync("Fix it OPS-7");
        await StepSettled(JiraStepKinds.Link);
        await Eventually.Until(() => Thread().Any(m => m.Text.Contains("Jira's answer has no issue key")), "give-up reported");
        await Eventually.Stays(() => Jira.CallsTo(FakeJira.GetIssue).Count == 1, "not retried", TimeSpan.FromMilliseconds(400));
    }

    /// <summary>A success without a key most likely created the issue: the retry finds it instead of creating another.</summary>
    [Fact]
    public async Task ACreateAnsweredWithoutAKeyIsRetriedAndFindsTheIssueItMade()
    {
        Jira.Fail(FakeJira.CreateIssue, new Fault.AfterWork(201), times: 1);
        await StartBotAsync(extra: new Dictionary<string, string?> { ["Jira:ProjectKey"] = "OPS" });
        await Bot.CommandJsonAsync("Fix it");
        await StepSettled(JiraStepKinds.Create);
        Assert.Equal(StepState.Done, StepOf(Change(), JiraStepKinds.Create).State);
        Assert.Single(Jira.Issues);
        Assert.Single(Jira.CallsTo(FakeJira.CreateIssue));
        Assert.Equal(Jira.Issues.Single().Key, Assert.Single(Change().JiraIssues).Key);
    }
}
