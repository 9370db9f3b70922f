using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Declaring;

/// <summary>The declarer's confirmation says what the bypass is in the configured GitHub:BypassMode, and promises nothing more.</summary>
[Trait("Category", "EndToEnd")]
public class ConfirmationTests
{
    static readonly EmergencyChange Change = new()
    {
        Id = 7, DeclaredBy = "U0DECLARER", Summary = "Roll back payments",
        DeclaredAt = DateTimeOffset.Parse("2026-03-02T10:00:00Z"), DueAt = DateTimeOffset.Parse("2026-03-04T10:00:00Z"),
    };

    static string Confirm(BypassSettings? bypass) => new ChangeMessages(null, "C0CHANGES", bypass).Confirmation(Change).Text;

    [Fact]
    public void RecordOnlySaysTheBotGrantsNothing()
    {
        var text = Confirm(new BypassSettings(BypassMode.RecordOnly, null, TimeSpan.FromHours(2)));
        Assert.Contains("recorded", text);
        Assert.Contains("an admin bypasses the branch rules by hand", text);
        Assert.DoesNotContain("yours", text);
        Assert.Equal(text, Confirm(null));
    }

    [Fact]
    public void TeamSaysWhichTeamAndForHowLong()
    {
        var text = Confirm(new BypassSettings(BypassMode.Team, "acme/breakglass", TimeSpan.FromHours(2)));
        Assert.Contains("being added to `acme/breakglass` for 2h 0m", text);
        Assert.DoesNotContain("by hand", text);
    }

    [Fact]
    public void MergeByBotPointsAtTheMergeButtonAndCommand()
    {
        var text = Confirm(new BypassSettings(BypassMode.MergeByBot, null, TimeSpan.FromMinutes(30)));
        Assert.Contains("*Merge now*", text);
        Assert.Contains("`/breakglass merge BG-7`", text);
        Assert.Contains("30m", text);
    }

    [Fact]
    public async Task TheBotsConfirmationFollowsItsConfiguredMode()
    {
        await using var slack = new FakeSlack();
        await slack.StartAsync();
        await using var bot = await TestBot.StartAsync(slack);
        var reply = (await bot.CommandJsonAsync("Roll back payments"))["text"]!.GetValue<string>();
        Assert.Contains("the bot grants no access itself", reply); // no GitHub credentials: nothing is granted
    }

    [Fact]
    public async Task TheBotsConfirmationInTeamModeNamesTheTeamAndTheDuration()
    {
        await using var slack = new FakeSlack();
        await slack.StartAsync();
        await using var bot = await TestBot.StartAsync(slack, settings: new Dictionary<string, string?>
        {
            // GitHub's answers do not matter here: the confirmation is sent before any GitHub call.
            ["GitHub:Token"] = "ghp-test", ["GitHub:ApiBaseUrl"] = slack.Url + "/github/",
            ["GitHub:BypassMode"] = "Team", ["GitHub:BypassTeam"] = "acme/breakglass", ["Policy:BypassDuration"] = "01:00:00",
        });
        var reply = (await bot.CommandJsonAsync("Roll back payments"))["text"]!.GetValue<string>();
        Assert.Contains("being added to `acme/breakglass` for 1h 0m", reply);
    }
}
