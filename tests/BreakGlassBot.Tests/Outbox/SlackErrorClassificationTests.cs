using System.Text.Json.Nodes;
using BreakGlassBot.Slack;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Outbox;

/// <summary>The one classification of Slack's errors, as a table.</summary>
public class SlackErrorClassificationTests
{
    [Theory]
    [InlineData("ratelimited", SlackErrorKind.Transient)]
    [InlineData("http_503", SlackErrorKind.Transient)]
    [InlineData("http_500", SlackErrorKind.Transient)]
    [InlineData("timeout", SlackErrorKind.Transient)]
    [InlineData("connection_failed", SlackErrorKind.Transient)]
    [InlineData("internal_error", SlackErrorKind.Transient)]
    [InlineData("fatal_error", SlackErrorKind.Transient)]
    [InlineData("service_unavailable", SlackErrorKind.Transient)]
    [InlineData("request_timeout", SlackErrorKind.Transient)]
    [InlineData("unreadable_json", SlackErrorKind.Transient)] // our client could not read Slack's answer
    [InlineData("invalid_json", SlackErrorKind.Permanent)] // Slack could not read what the bot sent: sending it again will not help
    [InlineData("cannot_dm_bot", SlackErrorKind.Recipient)]
    [InlineData("user_disabled", SlackErrorKind.Recipient)]
    [InlineData("user_not_found", SlackErrorKind.Recipient)]
    [InlineData("messages_tab_disabled", SlackErrorKind.Workspace)]
    [InlineData("missing_scope", SlackErrorKind.Workspace)]
    [InlineData("invalid_auth", SlackErrorKind.Workspace)]
    [InlineData("token_revoked", SlackErrorKind.Workspace)]
    [InlineData("account_inactive", SlackErrorKind.Workspace)]
    [InlineData("invalid_blocks", SlackErrorKind.Permanent)]
    [InlineData("invalid_arguments", SlackErrorKind.Permanent)]
    [InlineData("msg_too_long", SlackErrorKind.Permanent)]
    [InlineData("metadata_too_large", SlackErrorKind.Permanent)]
    [InlineData("is_archived", SlackErrorKind.Permanent)]
    [InlineData("channel_not_found", SlackErrorKind.Permanent)]
    [InlineData("not_in_channel", SlackErrorKind.Permanent)]
    [InlineData("restricted_action", SlackErrorKind.Permanent)]
    [InlineData("an_error_slack_adds_next_year", SlackErrorKind.Permanent)]
    public void EachErrorHasOneKind(string error, SlackErrorKind kind) => Assert.Equal(kind, SlackErrors.Classify(error));

    [Theory]
    [InlineData("slack chat.postMessage: not_in_channel", "not_in_channel")]
    [InlineData("slack conversations.open: missing_scope", "missing_scope")]
    [InlineData("GitHub 502", null)]
    [InlineData(null, null)]
    public void TheCodeIsReadBackFromAStepsError(string? stepError, string? code) => Assert.Equal(code, SlackErrors.CodeOf(stepError));
}

/// <summary>The fake Slack refuses what real Slack refuses, so a message over Block Kit's limits cannot pass the tests.</summary>
[Trait("Category", "EndToEnd")]
public class StrictFakeSlackTests : BotTest
{
    ISlackApi Api => Bot.Service<ISlackApi>();

    // By hand: the bot's own Blocks.Section truncates, which is what keeps its messages inside the limits.
    static JsonObject Section(int length) =>
        new() { ["type"] = "section", ["text"] = new JsonObject { ["type"] = "mrkdwn", ["text"] = new string('x', length) } };

    public static TheoryData<string, JsonArray> OverTheLimits => new()
    {
        { "51 blocks", new JsonArray([.. Enumerable.Range(0, 51).Select(_ => (JsonNode)Section(10))]) },
        { "a section of 3001 characters", new JsonArray(Section(3001)) },
        { "a header of 151 characters", new JsonArray(new JsonObject { ["type"] = "header", ["text"] = new JsonObject { ["type"] = "plain_text", ["text"] = new string('h', 151) } }) },
        { "a button text of 76 characters", new JsonArray(new JsonObject { ["type"] = "actions", ["elements"] = new JsonArray(new JsonObject
            { ["type"] = "button", ["action_id"] = "a", ["text"] = new JsonObject { ["type"] = "plain_text", ["text"] = new string('b', 76) } }) }) },
    };

    [Theory]
    [MemberData(nameof(OverTheLimits))]
    public async Task AMessageOverBlockKitsLimitsIsRefusedWithInvalidBlocks(string what, JsonArray blocks)
    {
        var e = await Assert.ThrowsAsync<SlackApiException>(() => Api.PostMessageAsync("C1", new SlackMessage(what, blocks)));
        Assert.Equal("invalid_blocks", e.Error);
        Assert.Empty(Slack.Messages);
    }

    [Fact]
    public async Task AMessageAtTheLimitsIsPosted()
    {
        await Api.PostMessageAsync("C1", new SlackMessage("ok", new JsonArray([.. Enumerable.Range(0, 50).Select(_ => (JsonNode)Section(3000))])));
        Assert.Single(Slack.Messages);
    }

    [Fact]
    public async Task AMissingScopeIsAnsweredAsSlackDoes()
    {
        Slack.MissingScopes.Add("im:write");
        var e = await Assert.ThrowsAsync<SlackApiException>(() => Api.OpenDirectMessageAsync("U1"));
        Assert.Equal("missing_scope", e.Error);
        var raw = JsonNode.Parse(await Raw("conversations.open"))!;
        Assert.Equal("im:write", raw["needed"]!.GetValue<string>());
        Assert.DoesNotContain("im:write", raw["provided"]!.GetValue<string>());
        Assert.Contains("chat:write", raw["provided"]!.GetValue<string>());
    }

    async Task<string> Raw(string method)
    {
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new("Bearer", FakeSlack.BotToken);
        var response = await http.PostAsync(Slack.ApiUrl + method, new StringContent("{\"users\":\"U1\"}", System.Text.Encoding.UTF8, "application/json"));
        return await response.Content.ReadAsStringAsync();
    }
}
