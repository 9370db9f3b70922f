using System.Net;
using System.Text.Json.Nodes;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Hosting;

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
    public async Task HealthzIs503WhenStorageIsGone()
    {
        Bot.Store.Dispose();
        var response = await Bot.Http.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("unhealthy", await response.Content.ReadAsStringAsync());
    }
}
