using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Declaring;

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
}
