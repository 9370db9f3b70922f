using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Declaring;

/// <summary>An announcement Slack refuses until an admin acts is retried, and the declarer is told once, by direct message.</summary>
[Trait("Category", "EndToEnd")]
public class AnnouncementBlockedTests : BotTest
{
    static bool ToChangeChannel(RecordedCall c) => c.Body.Contains($"\"channel\":\"{TestBot.Channel}\"");

    [Fact]
    public async Task ABotNotInTheChannelIsReportedToTheDeclarerOnceAndTheAnnouncementPostedWhenFixed()
    {
        Slack.Fail("chat.postMessage", new Fault.Status(200, """{"ok":false,"error":"not_in_channel"}"""), times: 4, when: ToChangeChannel);

        await Bot.CommandJsonAsync("Announce where the bot was not invited");

        await Bot.Until(() => Bot.Store.Get(1)!.Announcement is not null, "posted once the bot is in the channel");
        await Bot.Until(() => Bot.Store.Get(1)!.NextStepAt is null, "every step done");
        Assert.Equal(4, Slack.Faulted.Count(c => c.Key == "chat.postMessage"));
        Assert.Single(Slack.TopLevel(TestBot.Channel)); // Announcements() would count the DM too: it carries the change id
        var dm = Assert.Single(Slack.DirectMessages(TestBot.Declarer));
        Assert.Contains("BG-1", dm.Text);
        Assert.Contains("`not_in_channel`", dm.Text);
        Assert.Contains($"invite the bot to <#{TestBot.Channel}>", dm.Text);
        Assert.Single(Bot.Logs, l => l.StartsWith("Warning") && l.Contains("BG-1") && l.Contains("not_in_channel") && l.Contains("An admin must invite the bot"));
        Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.AnnouncementFailed && e.Data["to"] == TestBot.Declarer);
        Assert.DoesNotContain(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.ReminderSent);
    }

    [Fact]
    public async Task APassingFailureTellsNobody()
    {
        Slack.Fail("chat.postMessage", new Fault.Status(503), times: 2, when: ToChangeChannel);

        await Bot.CommandJsonAsync("Slack hiccups");

        await Bot.Until(() => Bot.Store.Get(1)!.NextStepAt is null, "every step done");
        Assert.Single(Slack.Announcements("BG-1"));
        Assert.Empty(Slack.DirectMessages(TestBot.Declarer));
    }
}
