using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Reliability;

/// <summary>One bot per data directory: a second one on the same files refuses to start, says why, and harms nothing.</summary>
[Trait("Category", "EndToEnd")]
public class DataDirectoryLockTests : BotTest
{
    [Fact]
    public async Task ASecondBotOnTheSameDataDirectoryRefusesToStartAndTheFirstCarriesOn()
    {
        await Bot.CommandJsonAsync("Before the second bot");
        var e = await Assert.ThrowsAsync<DataDirectoryInUseException>(() => TestBot.StartAsync(Slack, Bot.DataDirectory));
        Assert.Contains(Bot.DataDirectory, e.Message);
        Assert.Contains("Storage:DataDirectory", e.Message);

        Assert.Contains("BG-2", (await Bot.CommandJsonAsync("After the second bot"))["text"]!.GetValue<string>());
        await Eventually.Until(() => Slack.Announcements("BG-2").Count == 1, "the first bot still announces");
        Assert.Equal(2, Bot.Store.Count());
    }

    [Fact]
    public async Task TheCommandLineExitsWithCode3AndTheReason()
    {
        var error = new StringWriter();
        var original = Console.Error;
        int code;
        try
        {
            Console.SetError(error);
            code = await Program.Main([$"--Storage:DataDirectory={Bot.DataDirectory}", "--urls=http://127.0.0.1:0"]);
        }
        finally { Console.SetError(original); }
        Assert.Equal(3, code);
        Assert.Contains("is in use by another BreakGlassBot process", error.ToString());
    }

    [Fact]
    public async Task TheDirectoryIsFreeAgainOnceTheBotStops()
    {
        var data = Bot.DataDirectory;
        await Bot.CommandJsonAsync("Kept across the restart");
        await Bot.StopAsync();
        await using var again = await TestBot.StartAsync(Slack, data);
        Assert.Equal(1, again.Store.Count());
    }
}
