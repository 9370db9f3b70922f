using System.Diagnostics;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Declaring;

[Trait("Category", "EndToEnd")]
public class DeclareTests : BotTest
{
    const string Pr = "https://github.com/acme/payments/pull/42";

    [Fact]
    public async Task ASignedBreakglassStoresTheChangeAndAnnouncesItInTheChangeChannel()
    {
        var reply = await Bot.CommandJsonAsync($"Roll back payments deploy {Pr} OPS-7");

        Assert.Equal("ephemeral", reply["response_type"]!.GetValue<string>());
        Assert.Contains("BG-1", reply["text"]!.GetValue<string>());
        Assert.Contains("Roll back payments deploy", reply["text"]!.GetValue<string>());

        var change = Bot.Store.Get(1)!;
        Assert.Equal("Roll back payments deploy", change.Summary);
        Assert.Equal(TestBot.Declarer, change.DeclaredBy);
        Assert.Equal("acme/payments#42", Assert.Single(change.PullRequests).Ref.ToString());
        Assert.Equal("OPS-7", Assert.Single(change.JiraIssues).Key);
        Assert.Equal(ChangeStatus.Open, change.Status);
        Assert.Equal(change.DeclaredAt + TimeSpan.FromDays(2), change.DueAt);

        await Eventually.Until(() => Bot.Store.Get(1)!.Announcement is not null, "the announcement ts is stored");
        var announcement = Assert.Single(Slack.TopLevel(TestBot.Channel));
        Assert.Equal("BG-1", announcement.MetadataChangeId);
        Assert.Contains("BG-1", announcement.AllText);
        Assert.Contains("Roll back payments deploy", announcement.AllText);
        Assert.Contains(Pr, announcement.AllText);
        Assert.Contains("OPS-7", announcement.AllText);
        Assert.Contains($"<@{TestBot.Declarer}>", announcement.AllText);
        Assert.Equal(announcement.Ts, Bot.Store.Get(1)!.Announcement!.Ts);
        Assert.NotNull(Bot.Store.Get(1)!.Announcement!.Permalink);

        await Eventually.Until(() => Slack.Thread(TestBot.Channel, announcement.Ts).Count == 1, "the details reply in the thread");
        Assert.Contains("Details of BG-1", Slack.Thread(TestBot.Channel, announcement.Ts)[0].Text);

        var trail = Bot.Store.AuditTrail(1).Select(e => e.Type).ToList();
        Assert.Equal([AuditTypes.Declared, AuditTypes.Announced], trail);
    }

    [Fact]
    public async Task TheSummaryKeepsItsPunctuationAndAJiraBrowseUrlIsALink()
    {
        await Bot.CommandJsonAsync($"Roll back payments, restart workers {Pr} https://acme.atlassian.net/browse/OPS-7");
        var change = Bot.Store.Get(1)!;
        Assert.Equal("Roll back payments, restart workers", change.Summary);
        Assert.Equal("OPS-7", Assert.Single(change.JiraIssues).Key);
        Assert.Equal("acme/payments#42", Assert.Single(change.PullRequests).Ref.ToString());
    }

    [Fact]
    public async Task ChangesGetSequentialIds()
    {
        for (var i = 1; i <= 3; i++)
            Assert.Contains($"BG-{i}", (await Bot.CommandJsonAsync($"Change number {i}"))["text"]!.GetValue<string>());
        await Eventually.Until(() => Slack.TopLevel(TestBot.Channel).Count == 3, "three announcements");
        Assert.Equal(["BG-1", "BG-2", "BG-3"], Slack.TopLevel(TestBot.Channel).Select(m => m.MetadataChangeId).Order());
    }

    [Fact]
    public async Task SlackLinkEscapesInTheTextAreUnderstood()
    {
        await Bot.CommandJsonAsync($"Hotfix <{Pr}|#42> <{Pr.Replace("42", "43")}>");
        var change = Bot.Store.Get(1)!;
        Assert.Equal("Hotfix #42", change.Summary); // a link's own label is text the person saw
        Assert.Equal(2, change.PullRequests.Count);
    }

    [Fact]
    public async Task MentionsAndMarkupInTheSummaryCannotPingTheChannel()
    {
        // What Slack sends for "Fix <!channel> & <@U999> <script>" typed: & < > escaped.
        await Bot.CommandJsonAsync("Fix &lt;!channel&gt; &amp; &lt;@U999&gt; &lt;script&gt;");
        await Eventually.Until(() => Slack.TopLevel(TestBot.Channel).Count == 1, "announcement");
        var text = Slack.TopLevel(TestBot.Channel)[0].AllText;
        Assert.DoesNotContain("<!channel>", text);
        Assert.DoesNotContain("<@U999>", text);
        Assert.Contains("&lt;!channel&gt;", text);
    }

    [Theory]
    [InlineData("ab", "Say what you are changing")]
    [InlineData("Fix https://github.com/acme/api/issues/3", "not a pull request link")]
    [InlineData("Fix https://github.com/acme/api/pull/abc", "not a pull request link")]
    public async Task AUsersMistakeGetsAnEphemeralSayingWhatToType(string text, string expected)
    {
        var reply = await Bot.CommandJsonAsync(text);
        Assert.Equal("ephemeral", reply["response_type"]!.GetValue<string>());
        Assert.Contains(expected, reply["text"]!.GetValue<string>());
        Assert.Contains("/breakglass", reply["text"]!.GetValue<string>());
        Assert.Equal(0, Bot.Store.Count());
    }

    [Fact]
    public async Task DeclaringWhileSlacksApiIsDownStillAnswersAtOnceAndAnnouncesOnceItRecovers()
    {
        Slack.Down = true;
        var clock = Stopwatch.StartNew();
        var reply = await Bot.CommandJsonAsync("Failover database");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"answered in {clock.Elapsed}");
        Assert.Contains("BG-1", reply["text"]!.GetValue<string>());
        await Eventually.Until(() => Slack.Calls.Count >= 3, "the bot keeps retrying");
        Assert.Empty(Slack.Messages);
        Assert.Contains(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.StepFailed && e.Data["error"].Contains("http_503"));

        Slack.Down = false;
        await Eventually.Until(() => Bot.Store.Get(1)!.Announcement is not null, "announced after recovery");
        await Eventually.Until(() => Bot.Store.Get(1)!.NextStepAt is null, "all steps done");
        Assert.Single(Slack.Announcements("BG-1"));
        Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.Announced);
    }

    [Fact]
    public async Task APostThatReachedSlackButFailedOnTheWayBackIsNotPostedTwice()
    {
        // Slack posts the message but the bot sees a 500 (or a timeout): a blind retry would post it twice.
        Slack.Fail("chat.postMessage", new Fault.AfterWork(500));
        await Bot.CommandJsonAsync("Restart the queue workers");
        await Eventually.Until(() => Bot.Store.Get(1)!.Announcement is not null, "announcement adopted");
        await Eventually.Until(() => Bot.Store.Get(1)!.NextStepAt is null, "all steps done");
        Assert.Single(Slack.Announcements("BG-1"));
        Assert.Equal(Slack.Announcements("BG-1")[0].Ts, Bot.Store.Get(1)!.Announcement!.Ts);
        Assert.NotEmpty(Slack.CallsTo("conversations.history"));
    }

    [Fact]
    public async Task AThreadReplyThatFailedOnTheWayBackIsNotRepeated()
    {
        await Bot.CommandJsonAsync("Patch TLS config");
        await Eventually.Until(() => Bot.Store.Get(1)!.NextStepAt is null, "announced and detailed");
        // Now make the next thread note's post succeed at Slack but fail for the bot.
        Slack.Fail("chat.postMessage", new Fault.AfterWork(502));
        await Bot.CommandJsonAsync("cancel BG-1 declared in the wrong workspace");
        await Eventually.Until(() => Bot.Store.Get(1)!.NextStepAt is null, "cancel note done");
        var thread = Slack.Thread(TestBot.Channel, Bot.Store.Get(1)!.Announcement!.Ts);
        Assert.Single(thread, m => m.MetadataNote == "cancelled");
    }

    [Fact]
    public async Task RateLimitedAnnouncementsWaitForRetryAfterAndPostOnce()
    {
        // 4 s is longer than the client waits in place (3 s): the outbox must hold the step back that long.
        Slack.Fail("chat.postMessage", FakeSlack.RateLimited(4));
        await Bot.CommandJsonAsync("Scale up the API");
        await Eventually.Until(() => Bot.Store.Get(1)!.Announcement is not null, "announced", TimeSpan.FromSeconds(15));
        Assert.Single(Slack.Announcements("BG-1"));
        var posts = Slack.CallsTo("chat.postMessage");
        Assert.True(posts[1].At - posts[0].At >= TimeSpan.FromSeconds(3.5), $"retried after {posts[1].At - posts[0].At}");
        var failed = Bot.Store.AuditTrail(1).First(e => e.Type == AuditTypes.StepFailed);
        Assert.Contains("ratelimited", failed.Data["error"]);
    }
}
