using System.Net;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.Reviewing;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Slack;

/// <summary>
/// The same signed request sent again within Slack's 5 minutes (same body, timestamp and signature: a replay by whoever
/// saw it, or a proxy's retry) is answered with the first answer and does nothing again, even across a restart.
/// </summary>
[Trait("Category", "EndToEnd")]
public class ReplayTests : BotTest
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Slack:Reviewers:0"] = ApprovalTests.Reviewer1 };

    readonly long timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    async Task<(HttpStatusCode Status, string Body)> SendAsync(string path, string body, string contentType = "application/x-www-form-urlencoded",
        string? signature = null)
    {
        using var response = await Bot.Http.SendAsync(SlackSigner.Request(Bot.Url + path, TestBot.SigningSecret, body, contentType, timestamp: timestamp, signature: signature));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AReplayedDeclarationIsAnsweredAsTheFirstAndDeclaresOnce()
    {
        var form = TestBot.CommandForm("Roll back payments deploy");
        var first = await SendAsync("/slack/commands", form);
        var replay = await SendAsync("/slack/commands", form);
        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Contains("BG-1", first.Body);
        Assert.Equal(first, replay);
        // The same MAC in capital hex passes the signature check too: still the same request.
        var capitals = "v0=" + SlackSigner.Sign(TestBot.SigningSecret, timestamp, form)[3..].ToUpperInvariant();
        Assert.Equal(first, await SendAsync("/slack/commands", form, signature: capitals));
        Assert.Equal(1, Bot.Store.Count());
        Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.Declared);
        Assert.Contains(Bot.Logs, l => l.Contains("is a replay"));

        // The same command typed again is a new request (its own trigger_id, timestamp and signature): a second change.
        Assert.Contains("BG-2", await (await Bot.CommandAsync("Roll back payments deploy")).Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ReplaysInFlightTogetherDeclareOnce()
    {
        var form = TestBot.CommandForm("Roll back payments deploy");
        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => SendAsync("/slack/commands", form)));
        Assert.Equal(1, Bot.Store.Count());
        Assert.All(answers, a => Assert.Equal(answers[0], a));
        Assert.Contains("BG-1", answers[0].Body);
    }

    [Fact]
    public async Task AReplayAfterARestartIsStillRecognised()
    {
        var form = TestBot.CommandForm("Roll back payments deploy");
        var first = await SendAsync("/slack/commands", form);
        await Bot.StopAsync();
        Bot = await StartBotAsync();
        Assert.Equal(first, await SendAsync("/slack/commands", form));
        Assert.Equal(1, Bot.Store.Count());
    }

    [Fact]
    public async Task AReplayedClickIsAnsweredAsTheFirstWithoutASecondEffect()
    {
        await Bot.CommandJsonAsync("Hotfix checkout");
        await Bot.Until(() => Bot.Store.Get(1)!.Announcement is not null && Bot.Store.Get(1)!.NextStepAt is null, "announced");
        var click = "payload=" + Uri.EscapeDataString(ApprovalTests.Click(ApprovalTests.Reviewer1, ReviewActions.Approve, "BG-1", responseUrl: Slack.ResponseUrl("a")).ToJsonString());
        var first = await SendAsync("/slack/interactions", click);
        var replay = await SendAsync("/slack/interactions", click);
        Assert.Equal(first, replay);
        Assert.Contains(Bot.Logs, l => l.Contains("/slack/interactions is a replay"));
        await Bot.Until(() => Bot.Store.Get(1)!.Status == ChangeStatus.Reviewed, "reviewed");
        await Eventually.Until(() => Slack.Responses.Count >= 1, "the click answered");
        Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.Approved);
        Assert.DoesNotContain(Slack.Responses, r => r.Body.Contains("already"));
    }

    [Fact]
    public async Task AReplayedModalSubmissionIsAnsweredAsTheFirst()
    {
        var submission = "payload=" + Uri.EscapeDataString(Declaring.ModalTests.Submission("V1", "Disable feature flag", "Checkout is down").ToJsonString());
        var first = await SendAsync("/slack/interactions", submission);
        Assert.Contains("update", first.Body);
        Assert.Equal(first, await SendAsync("/slack/interactions", submission));
        Assert.Equal(1, Bot.Store.Count());
        Assert.Contains(Bot.Logs, l => l.Contains("/slack/interactions is a replay"));
    }
}
