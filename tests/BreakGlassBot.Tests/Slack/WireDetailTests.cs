using System.Net;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Slack;

/// <summary>Details of the HTTP answers real Slack expects (issue 16, item 7).</summary>
[Trait("Category", "EndToEnd")]
public sealed class WireDetailTests : BotTest
{
    [Fact]
    public async Task OpeningTheFormAnswersWithAnEmpty200()
    {
        var response = await Bot.CommandAsync("");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("", await response.Content.ReadAsStringAsync());
        Assert.Single(Slack.CallsTo("views.open"));
    }

    [Fact]
    public async Task AReplyWithoutBlocksCarriesNoBlocksKey()
    {
        var reply = await Bot.CommandJsonAsync("help");
        Assert.False(reply.ContainsKey("blocks"), reply.ToJsonString());
        Assert.Contains("/breakglass status", reply["text"]!.GetValue<string>());
    }

    [Fact]
    public async Task AnUnsignedSslCheckGetsA200AndDoesNothing()
    {
        var response = await Bot.Http.PostAsync("/slack/commands", Form("ssl_check=1&token=Jhj5dZrVaK7ZwHHjRyZWjbDl"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0, Bot.Store.Count());
    }

    [Fact]
    public async Task AnSslCheckCannotSmuggleADeclaration()
    {
        var body = "ssl_check=1&" + TestBot.CommandForm("Roll back payments");
        var response = await Bot.Http.PostAsync("/slack/commands", Form(body));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("", await response.Content.ReadAsStringAsync());
        Assert.Equal(0, Bot.Store.Count());
        Assert.Empty(Slack.Messages);
    }

    [Fact]
    public async Task AnUnsignedCommandIsStillRefused()
    {
        var response = await Bot.Http.PostAsync("/slack/commands", Form(TestBot.CommandForm("Roll back payments")));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(0, Bot.Store.Count());
    }

    [Fact]
    public async Task AppRateLimitedIsAcknowledgedAndLoggedAsAWarning()
    {
        var response = await Bot.EventAsync(Fixtures.Json("slack/app_rate_limited.json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains(Bot.Logs, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains("app_rate_limited"));
    }

    static StringContent Form(string body) => new(body, System.Text.Encoding.UTF8, "application/x-www-form-urlencoded");
}
