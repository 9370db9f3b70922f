using BreakGlassBot.Slack;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Slack;

/// <summary>The first answers kept for replays: found again by key, and forgotten once Slack's window has closed on them.</summary>
public class ReplayStoreTests
{
    [Fact]
    public async Task AnAnswerIsKeptUntilItsWindowClosesThenPruned()
    {
        await using var bot = InProcessBot.Create();
        var replays = bot.Service<ISlackReplayStore>();
        var answer = new SlackAnswer(200, "application/json; charset=utf-8", """{"text":"BG-1 declared"}""");
        replays.Save("/slack/commands:1:aa", answer, InProcessBot.Start.AddMinutes(5));
        replays.Save("/slack/interactions:1:bb", new SlackAnswer(200, null, ""), InProcessBot.Start.AddMinutes(5));
        Assert.Equal(answer, replays.Find("/slack/commands:1:aa"));
        Assert.Equal(new SlackAnswer(200, null, ""), replays.Find("/slack/interactions:1:bb")); // an empty 200 stays empty
        Assert.Null(replays.Find("/slack/commands:1:cc"));

        // Past the window (and the minute between prunes), the next save forgets both; the new one stays.
        bot.Clock.Advance(TimeSpan.FromMinutes(6));
        replays.Save("/slack/commands:2:dd", answer, InProcessBot.Start.AddMinutes(11));
        Assert.Null(replays.Find("/slack/commands:1:aa"));
        Assert.Null(replays.Find("/slack/interactions:1:bb"));
        Assert.Equal(answer, replays.Find("/slack/commands:2:dd"));
    }
}
