using System.Net;
using System.Text.Json.Nodes;
using BreakGlassBot.Declaring;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Declaring;

[Trait("Category", "EndToEnd")]
public class DeclarerRestrictionTests : BotTest
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Slack:Declarers:0"] = "U0ONCALL" };

    [Fact]
    public async Task OnlyConfiguredDeclarersAndAdminsMayBreakTheGlass()
    {
        var refused = (await Bot.CommandJsonAsync("Hotfix", user: "U0INTERN"))["text"]!.GetValue<string>();
        Assert.Contains("Only the configured declarers", refused);
        Assert.Contains("<@U0ONCALL>", refused);
        Assert.Equal(0, Bot.Store.Count());
        Assert.Contains("Only the configured declarers", (await Bot.CommandJsonAsync("", user: "U0INTERN"))["text"]!.GetValue<string>());
        Assert.Empty(Slack.CallsTo("views.open"));

        Assert.Contains("BG-1", (await Bot.CommandJsonAsync("Hotfix", user: "U0ONCALL"))["text"]!.GetValue<string>());
        Assert.Contains("BG-2", (await Bot.CommandJsonAsync("Hotfix", user: TestBot.Admin))["text"]!.GetValue<string>());
        Assert.Contains("no open emergency changes", (await Bot.CommandJsonAsync("status", user: "U0INTERN"))["text"]!.GetValue<string>()); // reading is for everyone
    }

    [Fact]
    public async Task AModalSubmittedBySomeoneOutsideTheDeclarersIsRefusedAndStoresNothing()
    {
        // The form may have been opened before Slack:Declarers changed, or the payload replayed by another user.
        var response = await Bot.InteractionAsync(ModalTests.Submission("V9", "Disable feature flag", "Checkout is down", user: "U0INTERN"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("errors", body["response_action"]!.GetValue<string>());
        Assert.Contains("Only the configured declarers", body["errors"]![DeclarationModal.SummaryBlock]!.GetValue<string>());
        Assert.Equal(0, Bot.Store.Count());

        var accepted = JsonNode.Parse(await (await Bot.InteractionAsync(ModalTests.Submission("V10", "Disable feature flag", "Checkout is down", user: "U0ONCALL"))).Content.ReadAsStringAsync())!;
        Assert.Equal("update", accepted["response_action"]!.GetValue<string>());
        Assert.Equal(1, Bot.Store.Count());
    }
}
