using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Declaring;

/// <summary>A bot stopped and started again on the same data directory keeps everything and finishes what it owed.</summary>
[Trait("Category", "EndToEnd")]
public class RestartTests : IAsyncLifetime
{
    readonly FakeSlack slack = new();
    readonly string data = TestBot.NewDataDirectory();

    public Task InitializeAsync() => slack.StartAsync();

    public async Task DisposeAsync()
    {
        await slack.DisposeAsync();
        try { Directory.Delete(data, true); } catch (IOException) { }
    }

    [Fact]
    public async Task ARestartKeepsEveryChangeAndContinuesTheNumbering()
    {
        await using (var bot = await TestBot.StartAsync(slack, data))
        {
            for (var i = 1; i <= 3; i++) await bot.CommandJsonAsync($"Change {i} https://github.com/acme/api/pull/{i}");
            await Eventually.Until(() => slack.TopLevel(TestBot.Channel).Count == 3, "three announcements");
        }
        await using (var bot = await TestBot.StartAsync(slack, data))
        {
            Assert.Equal(3, bot.Store.Count());
            var second = bot.Store.Get(2)!;
            Assert.Equal("Change 2", second.Summary);
            Assert.Equal(2, second.PullRequests.Single().Number);
            Assert.NotNull(second.Announcement);
            Assert.Contains("BG-4", (await bot.CommandJsonAsync("Change 4"))["text"]!.GetValue<string>());
            Assert.Contains("Change 2", (await bot.CommandJsonAsync("status BG-2")).ToJsonString());
        }
    }

    [Fact]
    public async Task AnAnnouncementOwedWhenTheBotStoppedIsPostedExactlyOnceAfterTheRestart()
    {
        slack.Down = true;
        await using (var bot = await TestBot.StartAsync(slack, data))
        {
            await bot.CommandJsonAsync("Declared while Slack is down");
            await Eventually.Until(() => slack.CallsTo("chat.postMessage").Count >= 1, "tried once");
        }
        Assert.Empty(slack.Messages);
        slack.Down = false;
        await using (var bot = await TestBot.StartAsync(slack, data))
        {
            await Eventually.Until(() => bot.Store.Get(1)!.NextStepAt is null, "announced and detailed after restart");
            Assert.Single(slack.Announcements("BG-1"));
            Assert.Single(bot.Store.AuditTrail(1), e => e.Type == AuditTypes.Announced);
        }
    }

    [Fact]
    public async Task APostThatLandedJustBeforeACrashIsAdoptedNotRepeated()
    {
        // The announcement reached Slack, but the bot never learned its ts (it died, or the answer was lost).
        slack.Fail("chat.postMessage", new Fault.AfterWork(500));
        await using (var bot = await TestBot.StartAsync(slack, data, new Dictionary<string, string?> { ["Storage:PollingInterval"] = "00:00:05", ["Storage:MaxRetryDelay"] = "00:00:05" }))
        {
            await bot.CommandJsonAsync("Crash right after posting");
            await Eventually.Until(() => slack.Messages.Count == 1, "posted at Slack");
            Assert.Null(bot.Store.Get(1)!.Announcement);
        }
        await using (var bot = await TestBot.StartAsync(slack, data, new Dictionary<string, string?> { ["Storage:MaxRetryDelay"] = "00:00:05" }))
        {
            await Eventually.Until(() => bot.Store.Get(1)!.Announcement is not null, "adopted after restart", TimeSpan.FromSeconds(15));
            Assert.Single(slack.Announcements("BG-1"));
            Assert.Equal(slack.Announcements("BG-1")[0].Ts, bot.Store.Get(1)!.Announcement!.Ts);
        }
    }

    [Fact]
    public async Task APostAfterARateLimitThatLandedJustBeforeTheBotStoppedIsAdoptedNotRepeated()
    {
        // Attempt 1: a clear 429 (three answers: the client retries a short Retry-After in place), so nothing was posted.
        // Attempt 2: Slack posts the announcement, but its answer is held back until the bot has stopped.
        static bool Announcement(RecordedCall c) => !c.Body.Contains("thread_ts");
        slack.Fail("chat.postMessage", FakeSlack.RateLimited(0), times: 3, when: Announcement);
        slack.Fail("chat.postMessage", new Fault.WorkThenHang(TimeSpan.FromMinutes(2)), when: Announcement);
        await using (var bot = await TestBot.StartAsync(slack, data))
        {
            await bot.CommandJsonAsync("Rate-limited, then the answer was lost");
            await bot.Until(() => slack.Announcements("BG-1").Count == 1, "posted at Slack on the second attempt");
            Assert.Null(bot.Store.Get(1)!.Announcement);
        }
        Assert.Equal(4, slack.Faulted.Count(c => c.Key == "chat.postMessage"));
        await using (var bot = await TestBot.StartAsync(slack, data))
        {
            await bot.Until(() => bot.Store.Get(1)!.Announcement is not null, "adopted after the restart");
            Assert.Single(slack.Announcements("BG-1"));
            Assert.Equal(slack.Announcements("BG-1")[0].Ts, bot.Store.Get(1)!.Announcement!.Ts);
            Assert.NotEmpty(slack.CallsTo("conversations.history"));
        }
    }
}
