using System.Net;
using System.Text.Json.Nodes;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Reviewing;

[Trait("Category", "EndToEnd")]
public class ThreadReplyTests : BotTest
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Slack:Reviewers:0"] = ApprovalTests.Reviewer1, ["Slack:Reviewers:1"] = ApprovalTests.Reviewer2, ["Policy:RequiredApprovals"] = "2",
        // The bot's own user (auth.test answers UBOT) is listed as a reviewer, so only the own-message filter keeps its posts from approving.
        ["Slack:Reviewers:2"] = "UBOT",
    };

    /// <summary>bolt-python's thread-reply event (a human reply in a channel thread), pointed at our announcement.</summary>
    internal static JsonObject Reply(string eventId, string user, string text, string threadTs, string ts = "1700000099.000100")
    {
        var envelope = Fixtures.Object("slack/event_message_thread_reply.json");
        envelope["event_id"] = eventId;
        var e = envelope["event"]!.AsObject();
        e["user"] = user;
        e["text"] = text;
        e["channel"] = TestBot.Channel;
        e["thread_ts"] = threadTs;
        e["ts"] = ts;
        e.Remove("bot_id");
        e.Remove("subtype");
        return envelope;
    }

    async Task<string> DeclareAsync()
    {
        await Bot.CommandJsonAsync("Scale the database");
        await Eventually.Until(() => Bot.Store.Get(1)!.Announcement is not null && Bot.Store.Get(1)!.NextStepAt is null, "announced");
        return Bot.Store.Get(1)!.Announcement!.Ts;
    }

    [Fact]
    public async Task UrlVerificationIsAnswered()
    {
        var challenge = Fixtures.Object("slack/url_verification.json");
        var response = await Bot.EventAsync(challenge);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(challenge["challenge"]!.GetValue<string>(), JsonNode.Parse(await response.Content.ReadAsStringAsync())!["challenge"]!.GetValue<string>());
    }

    [Fact]
    public async Task AReviewersLgtmInTheThreadApprovesOnceAcrossSlackRetries()
    {
        var ts = await DeclareAsync();
        var reply = Reply("Ev0001", ApprovalTests.Reviewer1, "LGTM, thanks for the quick fix", ts);
        Assert.Equal(HttpStatusCode.OK, (await Bot.EventAsync(reply)).StatusCode);
        var retry = SlackSigner.Request(Bot.Url + "/slack/events", TestBot.SigningSecret, reply.ToJsonString(), "application/json");
        retry.Headers.Add("X-Slack-Retry-Num", "1");
        retry.Headers.Add("X-Slack-Retry-Reason", "http_timeout");
        Assert.Equal(HttpStatusCode.OK, (await Bot.Http.SendAsync(retry)).StatusCode);

        await Eventually.Until(() => Bot.Store.Get(1)!.Approvals.Count == 1, "approved");
        // Both deliveries handled and the outbox idle: a second approval or note would be there by now.
        await Eventually.Until(() => Bot.Store.PendingInbound().Count == 0 && Bot.Store.Get(1)!.NextStepAt is null, "both deliveries handled, thread reply posted");
        var approval = Assert.Single(Bot.Store.Get(1)!.Approvals);
        Assert.Equal("thread-reply", approval.Source);
        Assert.Equal("LGTM, thanks for the quick fix", approval.Comment);
        Assert.Single(Slack.Thread(TestBot.Channel, ts), m => m.Text.Contains($"approved retrospectively by <@{ApprovalTests.Reviewer1}>"));
    }

    [Theory]
    [InlineData(":+1:")]
    [InlineData("👍")]
    [InlineData("approved")]
    [InlineData("Approve.")]
    public async Task EachDefaultApprovalWordCounts(string text)
    {
        var ts = await DeclareAsync();
        await Bot.EventAsync(Reply("Ev" + Guid.NewGuid().ToString("N"), ApprovalTests.Reviewer2, text, ts));
        await Eventually.Until(() => Bot.Store.Get(1)!.Approvals.Count == 1, $"'{text}' approves");
    }

    [Fact]
    public async Task DiscussionInTheThreadIsLeftAlone()
    {
        var ts = await DeclareAsync();
        var calls = Slack.Calls.Count;
        foreach (var (i, text) in new[] { "who approved this?", "not approved yet", "looking at it now", "approved?" }.Index())
            await Bot.EventAsync(Reply($"EvD{i}", ApprovalTests.Reviewer1, text, ts, ts: $"1700000099.00020{i}"));
        // Every event handled and the outbox idle: an approval or a reply would be there by now.
        await Eventually.Until(() => Bot.Store.PendingInbound().Count == 0 && Bot.Store.Get(1)!.NextStepAt is null, "events processed, nothing left to post");
        Assert.Empty(Bot.Store.Get(1)!.Approvals);
        Assert.Equal(calls, Slack.Calls.Count);
    }

    [Fact]
    public async Task TheSameWordsFromSomeoneWhoMayNotApproveGetOneNote()
    {
        var ts = await DeclareAsync();
        await Bot.EventAsync(Reply("EvN1", TestBot.Declarer, "approved", ts, ts: "1700000099.000301"));
        await Bot.EventAsync(Reply("EvN2", TestBot.Declarer, "lgtm", ts, ts: "1700000099.000302"));
        await Eventually.Until(() => Bot.Store.PendingInbound().Count == 0, "events processed");
        await Eventually.Until(() => Bot.Store.Get(1)!.NextStepAt is null, "note posted");
        Assert.Empty(Bot.Store.Get(1)!.Approvals);
        Assert.Single(Slack.Thread(TestBot.Channel, ts), m => m.Text.Contains("does not count as an approval") && m.Text.Contains("declarer cannot approve"));
        Assert.Equal(2, Bot.Store.AuditTrail(1).Count(e => e.Type == AuditTypes.ApprovalRefused));
    }

    [Fact]
    public async Task BotMessagesAreIgnored()
    {
        var ts = await DeclareAsync();
        var modern = Fixtures.Object("slack/event_message_bot_modern.json");
        modern["event_id"] = "EvB1";
        modern["event"]!["text"] = "lgtm";
        modern["event"]!["thread_ts"] = ts;
        modern["event"]!["channel"] = TestBot.Channel;
        modern["event"]!["user"] = ApprovalTests.Reviewer1; // a bot posting as if it were a reviewer still has bot_id
        var self = Reply("EvB2", "UBOT", "approved", ts); // our own bot user (auth.test)
        await Bot.EventAsync(modern);
        await Bot.EventAsync(self);
        await Eventually.Until(() => Bot.Store.PendingInbound().Count == 0, "events processed");
        Assert.Empty(Bot.Store.Get(1)!.Approvals);
        Assert.DoesNotContain(Bot.Store.AuditTrail(1), e => e.Type is AuditTypes.Approved or AuditTypes.ApprovalRefused);
        Assert.Empty(Bot.Store.Get(1)!.RefusalsNoted);
    }

    [Fact]
    public async Task AnEventAcknowledgedJustBeforeAStopIsHandledAfterTheRestart()
    {
        var ts = await DeclareAsync();
        var envelope = Reply("EvR1", ApprovalTests.Reviewer1, "lgtm", ts);
        Bot.Store.AcceptInbound("EvR1", envelope.ToJsonString(), DateTimeOffset.UtcNow); // saved at the ack, never processed
        var data = Bot.DataDirectory;
        await Bot.StopAsync();
        await using var again = await TestBot.StartAsync(Slack, data, Settings);
        await Eventually.Until(() => again.Store.Get(1)!.Approvals.Count == 1, "processed after restart");
    }

    [Theory]
    [InlineData("lgtm", true)]
    [InlineData("LGTM!", true)]
    [InlineData("approved - thanks", true)]
    [InlineData("👍", true)]
    [InlineData("👍🏽", true)]
    [InlineData(":+1: nice", false)]
    [InlineData(":+1:, nice", true)]
    [InlineData("approved?", false)]
    [InlineData("approve ?", false)]
    [InlineData("approvedness", false)]
    [InlineData("not approved", false)]
    [InlineData("approved by whom?", false)] // a question about the approval is not one
    [InlineData("approved by whom", false)]
    [InlineData("approved by Alice", false)] // someone else's approval, reported
    [InlineData("lgtm once CI passes", false)]
    [InlineData("LGTM, ship it", true)]
    [InlineData("approve.", true)]
    [InlineData("👍 go ahead", false)] // a sentence after the emoji, with no separator
    [InlineData("lgtm :+1:", true)]
    [InlineData("lgtm :thinking_face:", false)]
    [InlineData("lgtm :-1:", false)]
    [InlineData("lgtm ❌", false)]
    [InlineData(":+1: once CI passes", false)]
    [InlineData("LGTM - NOT", false)]
    [InlineData("approved, by Alice", false)]
    [InlineData("approved, but the migration first", false)]
    [InlineData("approved - ship it", true)]
    [InlineData("lgtm & ship it", true)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void ApprovalWordsAreMatchedAtTheStart(string? text, bool expected) =>
        Assert.Equal(expected, ThreadReplyApprovals.IsApproval(text, PolicyOptions.DefaultApprovalWords));
}

/// <summary>A group member's thread approval during a Slack usergroups outage, with nothing cached (as after a restart).</summary>
[Trait("Category", "EndToEnd")]
public class ThreadReplyGroupOutageTests : BotTest
{
    const string Member = "U060R4BJ4"; // in the fixture's usergroups.users.list answer
    const string Lookup = "usergroups.users.list";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Slack:ReviewerUserGroup"] = "S0614TZR7" };

    int FailedLookups() => Slack.Faulted.Count(c => c.Key == Lookup);

    [Fact]
    public async Task AMembersLgtmOutlastsAGroupOutageLongerThanFiveAttemptsAndApprovesOnce()
    {
        Slack.Fail(Lookup, new Fault.Status(503), times: 10_000);
        await Bot.CommandJsonAsync("Scale the database");
        await Bot.Until(() => Bot.Store.Get(1)!.Announcement is not null && Bot.Store.Get(1)!.NextStepAt is null, "announced");
        var ts = Bot.Store.Get(1)!.Announcement!.Ts;
        var before = FailedLookups();

        await Bot.EventAsync(ThreadReplyTests.Reply("EvG1", Member, "lgtm", ts));
        // Well past the five attempts after which any other failing event is dropped (the tracker's first look may add one or two).
        await Bot.Until(() => FailedLookups() >= before + 9, "the inbox kept trying through the outage", TimeSpan.FromSeconds(60));
        Assert.Empty(Bot.Store.Get(1)!.Approvals);
        Assert.Single(Bot.Store.PendingInbound());

        Slack.ClearFaults();
        await Bot.Until(() => Bot.Store.PendingInbound().Count == 0, "handled once the group can be read", TimeSpan.FromSeconds(30));
        var approval = Assert.Single(Bot.Store.Get(1)!.Approvals);
        Assert.Equal(Member, approval.Reviewer);
        Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.Approved);
        Assert.DoesNotContain(Bot.Logs, l => l.Contains("Gave up on Slack event"));
        Assert.Single(Bot.Logs, l => l.Contains("waits for the reviewer user group")); // warned once, not per attempt
    }
}
