using BreakGlassBot.Slack;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Slack;

public class PayloadTests
{
    [Theory]
    [InlineData("slack/slash_command.form", "/webhook-collect", "U2CERLKJA")]
    [InlineData("slack/slash_command_docs_weather.form", "/weather", null)]
    [InlineData("slack/slash_command_bolt_js.form", null, null)]
    public void SlashCommandFixturesParse(string fixture, string? command, string? user)
    {
        Assert.True(SlashCommand.TryParse(Fixtures.Text(fixture), out var parsed));
        if (command is not null) Assert.Equal(command, parsed.Command);
        if (user is not null) Assert.Equal(user, parsed.UserId);
        Assert.False(string.IsNullOrEmpty(parsed.UserId));
    }

    [Fact]
    public void TheDocumentedWeatherCommandKeepsItsTextAndResponseUrl()
    {
        Assert.True(SlashCommand.TryParse(Fixtures.Text("slack/slash_command_docs_weather.form"), out var parsed));
        Assert.Equal("94070", parsed.Text);
        Assert.StartsWith("https://hooks.slack.com/commands/", parsed.ResponseUrl);
        Assert.False(string.IsNullOrEmpty(parsed.TriggerId));
    }

    [Theory]
    [InlineData("")]
    [InlineData("text=hello")]
    [InlineData("command=%2Fbreakglass")]
    [InlineData("user_id=U1")]
    public void FormsWithoutCommandOrUserAreRejected(string form) => Assert.False(SlashCommand.TryParse(form, out _));

    [Fact]
    public void BlockActionsFixtureParses()
    {
        var form = "payload=" + Uri.EscapeDataString(Fixtures.Text("slack/block_actions.json"));
        Assert.True(InteractionPayload.TryParse(form, out var p));
        Assert.Equal("block_actions", p.Type);
        Assert.Equal("UA8RXUSPL", p.User.Id);
        Assert.Equal("WaXA", p.Actions![0].ActionId);
        Assert.Equal("click_me_123", p.Actions[0].Value);
        Assert.Equal("1548261231.000200", p.Container!.MessageTs);
        Assert.Equal("CBR2V3XEX", p.Channel!.Id);
    }

    [Fact]
    public void ViewSubmissionFixtureParsesWithItsStateValues()
    {
        var form = "payload=" + Uri.EscapeDataString(Fixtures.Text("slack/view_submission.json"));
        Assert.True(InteractionPayload.TryParse(form, out var p));
        Assert.Equal("view_submission", p.Type);
        Assert.Equal("VNHU13V36", p.View!.Id);
        Assert.Equal("modal-with-inputs", p.View.CallbackId);
        Assert.Equal("This is my example inputted value", p.View.Value("multiline"));
        Assert.Null(p.View.Value("no-such-block"));
    }

    [Theory]
    [InlineData("slack/view_submission_full.json", "view_submission")]
    [InlineData("slack/view_closed.json", "view_closed")]
    [InlineData("slack/block_actions_home_tab.json", "block_actions")]
    public void OtherInteractionFixturesParse(string fixture, string type)
    {
        Assert.True(InteractionPayload.TryParse("payload=" + Uri.EscapeDataString(Fixtures.Text(fixture)), out var p));
        Assert.Equal(type, p.Type);
    }

    [Fact]
    public void TheFormEncodedShortcutFromBoltParses()
    {
        Assert.True(InteractionPayload.TryParse(Fixtures.Text("slack/interactive_shortcut.form"), out var p));
        Assert.Equal("shortcut", p.Type);
    }

    [Theory]
    [InlineData("")]
    [InlineData("payload=")]
    [InlineData("payload=%7Bnot%20json")]
    [InlineData("payload=%5B1%2C2%5D")]
    [InlineData("payload=%7B%22type%22%3A%22block_actions%22%7D")]
    [InlineData("payload=%7B%22type%22%3A%22block_actions%22%2C%22user%22%3A%22U1%22%7D")]
    [InlineData("other=1")]
    public void MalformedInteractionsAreRejected(string form) => Assert.False(InteractionPayload.TryParse(form, out _));

    [Fact]
    public void DeeplyNestedJsonIsRejectedNotThrown()
    {
        var deep = new string('[', 5000) + new string(']', 5000);
        Assert.False(InteractionPayload.TryParse("payload=" + Uri.EscapeDataString("{\"type\":\"x\",\"user\":{\"id\":\"U\"},\"view\":" + deep + "}"), out _));
    }

    [Fact]
    public void EventFixturesParse()
    {
        Assert.True(EventEnvelope.TryParse(Fixtures.Text("slack/url_verification.json"), out var verification));
        Assert.Equal("url_verification", verification.Type);
        Assert.False(string.IsNullOrEmpty(verification.Challenge));

        Assert.True(EventEnvelope.TryParse(Fixtures.Text("slack/event_message_thread_reply.json"), out var reply));
        Assert.Equal("event_callback", reply.Type);
        Assert.Equal("message", reply.Event!.Type);
        Assert.False(string.IsNullOrEmpty(reply.Event.ThreadTs));
        Assert.False(string.IsNullOrEmpty(reply.EventId));
    }
}
