using System.Net;
using System.Text.Json.Nodes;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Hosting;

[Trait("Category", "EndToEnd")]
public class HealthTests : BotTest
{
    [Fact]
    public async Task HealthzReportsStorageAndIntegrations()
    {
        var response = await Bot.Http.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("ok", body["storage"]!.GetValue<string>());
        Assert.Equal("configured", body["slack"]!.GetValue<string>());
        Assert.Equal("disabled", body["github"]!.GetValue<string>());
    }

    [Fact]
    public async Task HealthzReportsStepsFailingWhileSlackIsDownAndClearsOnceTheyAreMadeUp()
    {
        Slack.Down = true;
        await Bot.CommandJsonAsync("Declared during a Slack outage");
        await Eventually.Until(() => Outbox()["failing_steps"]!.GetValue<int>() >= 1, "the failing announcement reported");
        var outbox = Outbox();
        Assert.Equal(1, outbox["changes_with_pending_steps"]!.GetValue<int>());
        Assert.True(outbox["failing_kinds"]!["announce"]!.GetValue<int>() == 1);
        Assert.True(outbox["most_attempts"]!.GetValue<int>() >= 1);
        Assert.Equal(HttpStatusCode.OK, (await Bot.Http.GetAsync("/healthz")).StatusCode); // degraded, not down: declarations still work
        Slack.Down = false;
        await Eventually.Until(() => Outbox()["changes_with_pending_steps"]!.GetValue<int>() == 0, "made up once Slack is back");
        Assert.Equal(0, Outbox()["failing_steps"]!.GetValue<int>());
        Assert.Single(Slack.Announcements("BG-1"));
    }

    JsonNode Outbox() => JsonNode.Parse(Bot.Http.GetStringAsync("/healthz").GetAwaiter().GetResult())!["outbox"]!;

    [Fact]
    public async Task HealthzIs503WhenStorageIsGone()
    {
        Bot.Store.Dispose();
        var response = await Bot.Http.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("unhealthy", await response.Content.ReadAsStringAsync());
    }
}
