using System.Text.Json.Nodes;
using BreakGlassBot.Slack;
using BreakGlassBot.Tests.Support;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.Tests.Slack;

/// <summary>The bot's real Slack client (as wired in the app, resilience included) against a fake Slack on loopback.</summary>
[Trait("Category", "EndToEnd")]
public class SlackApiClientTests : BotTest
{
    ISlackApi Api => Bot.Service<ISlackApi>();

    [Fact]
    public async Task PostMessageSendsTheBotTokenAsBearerJsonAndReturnsTheTs()
    {
        var posted = await Api.PostMessageAsync("C1", new SlackMessage("hello", Blocks.List(Blocks.Section("*hi*"))) { ThreadTs = "1.2" });
        var call = Assert.Single(Slack.CallsTo("chat.postMessage"));
        Assert.Equal("Bearer " + FakeSlack.BotToken, call.Headers["Authorization"]);
        Assert.StartsWith("application/json", call.Headers["Content-Type"]);
        var body = JsonNode.Parse(call.Body)!;
        Assert.Equal("C1", body["channel"]!.GetValue<string>());
        Assert.Equal("1.2", body["thread_ts"]!.GetValue<string>());
        Assert.Equal("section", body["blocks"]![0]!["type"]!.GetValue<string>());
        Assert.Equal(Slack.Messages.Single().Ts, posted.Ts);
    }

    [Theory]
    [InlineData("chat.postMessage", "slack/chat_postMessage_error_too_many_attachments.json", "too_many_attachments")]
    [InlineData("chat.postMessage", "slack/error_invalid_auth.json", "invalid_auth")]
    public async Task SlackErrorsBecomeExceptionsNamingTheError(string method, string fixture, string error)
    {
        Slack.Fail(method, FakeSlack.Error(fixture));
        var e = await Assert.ThrowsAsync<SlackApiException>(() => Api.PostMessageAsync("C1", new SlackMessage("x")));
        Assert.Equal(error, e.Error);
        Assert.Equal(method, e.Method);
    }

    [Fact]
    public async Task EphemeralAndUpdateAndOpenErrorsComeFromTheirFixtures()
    {
        Slack.Fail("chat.postEphemeral", FakeSlack.Error("slack/chat_postEphemeral_error_user_not_in_channel.json"));
        Assert.Equal("user_not_in_channel", (await Assert.ThrowsAsync<SlackApiException>(() => Api.PostEphemeralAsync("C1", "U1", new SlackMessage("x")))).Error);
        Assert.Equal("cant_update_message", (await Assert.ThrowsAsync<SlackApiException>(() => Api.UpdateMessageAsync("C1", "9.9", new SlackMessage("x")))).Error);
        Slack.Fail("conversations.open", FakeSlack.Error("slack/conversations_open_error_channel_not_found.json"));
        Assert.Equal("channel_not_found", (await Assert.ThrowsAsync<SlackApiException>(() => Api.OpenDirectMessageAsync("U1"))).Error);
        Slack.Fail("views.open", FakeSlack.Error("slack/views_open_error_invalid_trigger.json"));
        Assert.Equal("invalid_arguments", (await Assert.ThrowsAsync<SlackApiException>(() => Api.OpenViewAsync("t", new JsonObject()))).Error);
    }

    [Fact]
    public async Task AShortRetryAfterIsHonouredInPlace()
    {
        Slack.Fail("chat.postMessage", FakeSlack.RateLimited(1));
        var started = DateTime.UtcNow;
        await Api.PostMessageAsync("C1", new SlackMessage("x"));
        Assert.Equal(2, Slack.CallsTo("chat.postMessage").Count);
        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromSeconds(0.9), "waited for Retry-After");
        Assert.Single(Slack.Messages);
    }

    [Fact]
    public async Task ALongRetryAfterIsHandedBackToTheCaller()
    {
        Slack.Fail("chat.postMessage", FakeSlack.RateLimited(30));
        var e = await Assert.ThrowsAsync<SlackApiException>(() => Api.PostMessageAsync("C1", new SlackMessage("x")));
        Assert.Equal("ratelimited", e.Error);
        Assert.Equal(TimeSpan.FromSeconds(30), e.RetryAfter);
        Assert.Single(Slack.CallsTo("chat.postMessage"));
    }

    [Fact]
    public async Task ServerErrorsAndMalformedJsonAreNotRetriedInPlace()
    {
        // A retried postMessage after a 5xx could post twice; the outbox decides, after checking.
        Slack.Fail("chat.postMessage", new Fault.Status(500));
        Assert.Equal("http_500", (await Assert.ThrowsAsync<SlackApiException>(() => Api.PostMessageAsync("C1", new SlackMessage("x")))).Error);
        Slack.Fail("chat.postMessage", new Fault.Malformed());
        Assert.Equal("unreadable_json", (await Assert.ThrowsAsync<SlackApiException>(() => Api.PostMessageAsync("C1", new SlackMessage("x")))).Error);
        Assert.Equal(2, Slack.CallsTo("chat.postMessage").Count);
    }

    [Fact]
    public async Task ReadMethodsParseTheirFixtures()
    {
        Assert.Equal(["U060R4BJ4", "W123A4BC5"], await Api.GetUserGroupMembersAsync("S0614TZR7"));
        Assert.Equal("DU1", await Api.OpenDirectMessageAsync("U1"));
        Assert.Equal("VMHU10V25", await Api.OpenViewAsync("trigger", new JsonObject { ["type"] = "modal" }));
        var posted = await Api.PostMessageAsync("C1", new SlackMessage("x"));
        Assert.Contains(posted.Ts.Replace(".", ""), await Api.GetPermalinkAsync("C1", posted.Ts));
    }

    [Fact]
    public async Task HistoryReturnsTheMetadataTheBotTaggedItsPostsWith()
    {
        var tag = new MessageMetadata("breakglass_announcement", new Dictionary<string, string> { ["change_id"] = "BG-7" });
        await Api.PostMessageAsync("C1", new SlackMessage("tagged") { Metadata = tag });
        await Api.PostMessageAsync("C1", new SlackMessage("plain"));
        var history = await Api.GetHistoryAsync("C1", DateTimeOffset.UtcNow.AddHours(-1));
        Assert.Equal(2, history.Count);
        Assert.Contains(history, m => SlackPosting.Matches(m.Metadata, tag));
        var call = Slack.CallsTo("conversations.history").Single();
        Assert.Contains("include_all_metadata=true", call.Body);
    }

    [Fact]
    public async Task ResponseUrlRepliesCarryNoTokenAndAreEphemeral()
    {
        await Api.RespondAsync(Slack.ResponseUrl("abc"), new SlackMessage("done"));
        var call = Assert.Single(Slack.Responses);
        Assert.False(call.Headers.ContainsKey("Authorization"));
        Assert.Equal("ephemeral", JsonNode.Parse(call.Body)!["response_type"]!.GetValue<string>());
    }

    [Theory]
    [InlineData(200, "{\"ok\":false,\"error\":\"invalid_blocks\"}", "invalid_blocks")]
    [InlineData(200, "expired_url", "expired_url")]
    [InlineData(200, "<html>Bad gateway</html>", "invalid_response")]
    [InlineData(404, "used_url", "used_url")]
    [InlineData(500, null, "http_500")]
    public async Task AResponseUrlAnswerThatIsNotOkIsAnError(int status, string? body, string error)
    {
        // Slack answers a response_url with JSON or with plain text; a 200 can still refuse the message.
        Slack.Fail("response_url", new Fault.Status(status, body));
        var e = await Assert.ThrowsAsync<SlackApiException>(() => Api.RespondAsync(Slack.ResponseUrl("abc"), new SlackMessage("done")));
        Assert.Equal(("response_url", error), (e.Method, e.Error));
    }

    [Theory]
    [InlineData("ok")]
    [InlineData("{\"ok\":true}")]
    [InlineData("")]
    public async Task AResponseUrlAnswerSayingOkIsASuccess(string body)
    {
        Slack.Fail("response_url", new Fault.Status(200, body));
        await Api.RespondAsync(Slack.ResponseUrl("abc"), new SlackMessage("done"));
        Assert.Single(Slack.Responses);
    }

    [Fact]
    public async Task PublishViewSendsTheUsersHomeViewAndSlacksLimitIsEnforced()
    {
        var blocks = new JsonArray([.. Enumerable.Range(0, 3).Select(i => (JsonNode)Blocks.Section($"line {i}"))]);
        Assert.Equal("VHOMEU1", await Api.PublishViewAsync("U1", new JsonObject { ["type"] = "home", ["blocks"] = blocks }));
        var body = JsonNode.Parse(Assert.Single(Slack.CallsTo("views.publish")).Body)!;
        Assert.Equal(("U1", "home"), (body["user_id"]!.GetValue<string>(), body["view"]!["type"]!.GetValue<string>()));
        var tooMany = new JsonArray([.. Enumerable.Range(0, 101).Select(i => (JsonNode)Blocks.Divider())]);
        Assert.Equal("invalid_blocks", (await Assert.ThrowsAsync<SlackApiException>(() => Api.PublishViewAsync("U1", new JsonObject { ["type"] = "home", ["blocks"] = tooMany }))).Error);
    }

    [Fact]
    public async Task ASlackThatIsDownIsAConnectionFailure()
    {
        await Slack.DisposeAsync();
        var e = await Assert.ThrowsAsync<SlackApiException>(() => Api.PostMessageAsync("C1", new SlackMessage("x")));
        Assert.Equal("connection_failed", e.Error);
    }
}
