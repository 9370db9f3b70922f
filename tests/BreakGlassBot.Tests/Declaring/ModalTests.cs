using System.Net;
using System.Text.Json.Nodes;
using BreakGlassBot.Declaring;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Declaring;

[Trait("Category", "EndToEnd")]
public class ModalTests : BotTest
{
    /// <summary>Slack's view_submission fixture, with the modal's own callback id and the given field values.</summary>
    internal static JsonObject Submission(string viewId, string? summary, string? justification, string? prs = null, string? jira = null, string? severity = null,
        string user = TestBot.Declarer)
    {
        var payload = Fixtures.Object("slack/view_submission.json");
        payload["user"] = new JsonObject { ["id"] = user, ["username"] = "oncall" };
        var view = payload["view"]!.AsObject();
        view["id"] = viewId;
        view["callback_id"] = DeclarationModal.CallbackId;
        view["private_metadata"] = "C2147483705";
        var values = new JsonObject();
        void Text(string block, string? value) { if (value is not null) values[block] = new JsonObject { ["value"] = new JsonObject { ["type"] = "plain_text_input", ["value"] = value } }; }
        Text(DeclarationModal.SummaryBlock, summary);
        Text(DeclarationModal.JustificationBlock, justification);
        Text(DeclarationModal.PullRequestsBlock, prs);
        Text(DeclarationModal.JiraBlock, jira);
        if (severity is not null)
            values[DeclarationModal.SeverityBlock] = new JsonObject { ["value"] = new JsonObject { ["type"] = "static_select", ["selected_option"] = new JsonObject { ["value"] = severity } } };
        view["state"] = new JsonObject { ["values"] = values };
        return payload;
    }

    [Fact]
    public async Task BareBreakglassOpensTheModalWithTheTriggerId()
    {
        var response = await Bot.SendSignedAsync("/slack/commands", TestBot.CommandForm("", triggerId: "13345224609.738474920.8088930838d88f008e0"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var call = Assert.Single(Slack.CallsTo("views.open"));
        var body = JsonNode.Parse(call.Body)!;
        Assert.Equal("13345224609.738474920.8088930838d88f008e0", body["trigger_id"]!.GetValue<string>());
        Assert.Equal(DeclarationModal.CallbackId, body["view"]!["callback_id"]!.GetValue<string>());
        var blockIds = body["view"]!["blocks"]!.AsArray().Select(b => b!["block_id"]?.GetValue<string>()).Where(b => b is not null).ToList();
        Assert.Equal([DeclarationModal.SummaryBlock, DeclarationModal.JustificationBlock, DeclarationModal.ServiceBlock,
            DeclarationModal.PullRequestsBlock, DeclarationModal.JiraBlock, DeclarationModal.SeverityBlock], blockIds);
    }

    [Fact]
    public async Task WhenTheModalCannotOpenTheUserIsToldToDeclareInOneLine()
    {
        Slack.Fail("views.open", FakeSlack.Error("slack/views_open_error_invalid_trigger.json"));
        var reply = await Bot.CommandJsonAsync("");
        Assert.Contains("/breakglass <summary>", reply["text"]!.GetValue<string>());
    }

    [Fact]
    public async Task BadFieldsComeBackAsErrorsKeyedByBlockId()
    {
        var response = await Bot.InteractionAsync(Submission("V1", summary: "", justification: "", prs: "https://github.com/acme/api/issues/1", jira: "ops 12"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("errors", body["response_action"]!.GetValue<string>());
        var errors = body["errors"]!.AsObject();
        Assert.Equal(new HashSet<string> { DeclarationModal.SummaryBlock, DeclarationModal.JustificationBlock, DeclarationModal.PullRequestsBlock, DeclarationModal.JiraBlock },
            errors.Select(e => e.Key).ToHashSet());
        Assert.Contains("issues/1", errors[DeclarationModal.PullRequestsBlock]!.GetValue<string>());
        Assert.Equal(0, Bot.Store.Count());
    }

    [Fact]
    public async Task AGoodSubmissionDeclaresAndAnnounces()
    {
        var response = await Bot.InteractionAsync(Submission("V2", "Disable feature flag", "Checkout is failing for all EU users",
            prs: "https://github.com/acme/shop/pull/9\nhttps://github.com/acme/shop/pull/10", jira: "OPS-1, ops-2", severity: "SEV1"));
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("update", body["response_action"]!.GetValue<string>());
        Assert.Contains("BG-1", body.ToJsonString());

        var change = Bot.Store.Get(1)!;
        Assert.Equal("Disable feature flag", change.Summary);
        Assert.Equal("Checkout is failing for all EU users", change.Justification);
        Assert.Equal("SEV1", change.Severity);
        Assert.Equal(2, change.PullRequests.Count);
        Assert.Equal(["OPS-1", "OPS-2"], change.JiraIssues.Select(j => j.Key));
        await Eventually.Until(() => Slack.Announcements("BG-1").Count == 1, "announced");
        await Eventually.Until(() => Bot.Store.Get(1)!.NextStepAt is null, "details posted");
        var details = Slack.Thread(TestBot.Channel, Slack.Announcements("BG-1")[0].Ts).Single();
        Assert.Contains("Checkout is failing for all EU users", details.Text);
        Assert.Contains("SEV1", details.Text);
    }

    [Fact]
    public async Task ADoubleSubmittedModalDeclaresOnce()
    {
        var payload = Submission("V3", "Rotate leaked key", "Key was posted publicly");
        var first = await Bot.InteractionAsync(payload);
        var second = await Bot.InteractionAsync(payload);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Contains("BG-1", await second.Content.ReadAsStringAsync());
        Assert.Equal(1, Bot.Store.Count());
        await Eventually.Until(() => Slack.Announcements("BG-1").Count == 1, "announced");
        // Every step of the one change is done: a second announcement would have been posted by now.
        await Eventually.Until(() => Bot.Store.Get(1)!.NextStepAt is null, "all steps of BG-1 done");
        Assert.Single(Slack.TopLevel(TestBot.Channel));
    }

    [Fact]
    public async Task ViewClosedAndUnknownCallbacksAreAcknowledged()
    {
        Assert.Equal(HttpStatusCode.OK, (await Bot.InteractionAsync(Fixtures.Json("slack/view_closed.json"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Bot.InteractionAsync(Fixtures.Json("slack/view_submission.json"))).StatusCode);
        Assert.Equal(0, Bot.Store.Count());
    }
}
