using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Declaring;

/// <summary>
/// A post whose outcome is unknown (Slack acted, the answer was lost) stays "maybe posted" until a lookup completes:
/// a clear error on the lookup itself must not let the next attempt post blindly.
/// </summary>
[Trait("Category", "EndToEnd")]
public class ExactlyOnceTests : BotTest
{
    static bool Announcement(RecordedCall c) => !c.Body.Contains("thread_ts");
    static bool ThreadReply(RecordedCall c) => c.Body.Contains("thread_ts");

    [Fact]
    public async Task AnAnnouncementAnswered500AfterPostingThenALookupRateLimitedIsStillPostedOnce()
    {
        Slack.Fail("chat.postMessage", new Fault.AfterWork(500), when: Announcement);
        Slack.Fail("conversations.history", FakeSlack.RateLimited(0), times: 3);

        await Bot.CommandJsonAsync("Posted, answer lost, lookup rate-limited");

        await Bot.Until(() => Bot.Store.Get(1)!.Announcement is not null, "the announcement adopted");
        await Bot.Until(() => Bot.Store.Get(1)!.NextStepAt is null, "every step done");
        Assert.Equal(3, Slack.Faulted.Count(c => c.Key == "conversations.history"));
        Assert.Single(Slack.Announcements("BG-1"));
        Assert.Equal(Slack.Announcements("BG-1")[0].Ts, Bot.Store.Get(1)!.Announcement!.Ts);
    }

    [Fact]
    public async Task AThreadReplyAnswered500AfterPostingThenALookupRateLimitedIsStillPostedOnce()
    {
        Slack.Fail("chat.postMessage", new Fault.AfterWork(500), when: ThreadReply);
        Slack.Fail("conversations.replies", FakeSlack.RateLimited(0), times: 3);

        await Bot.CommandJsonAsync("Details posted, answer lost, lookup rate-limited");

        await Bot.Until(() => Bot.Store.Get(1)!.NextStepAt is null, "every step done");
        Assert.Equal(3, Slack.Faulted.Count(c => c.Key == "conversations.replies"));
        Assert.Single(Slack.Messages, m => m.MetadataNote == "details");
    }
}
