using System.Text.Json.Nodes;
using BreakGlassBot.Deadlines;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Outbox;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Outbox;

/// <summary>
/// Slack errors only an admin can fix, against a fake Slack as strict as the real one: the step is parked (not retried on
/// every sweep, not lost), audited once, told once, shown in /healthz, and resumed once the cause is gone.
/// </summary>
public abstract class ParkingTest : BotTest
{
    protected const string Reviewer = "U0REV1";
    protected const string OtherReviewer = "U0REV2";

    protected virtual string ParkedRetryInterval => "01:00:00";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Policy:ReviewWindow"] = "00:10:00",
        ["Policy:ReminderInterval"] = "00:00:01",
        ["Slack:Reviewers:0"] = Reviewer,
        ["Slack:ParkedRetryInterval"] = ParkedRetryInterval,
    };

    protected IEnumerable<AuditEvent> Parked(int change) => Bot.Store.AuditTrail(change).Where(e => e.Type == AuditTypes.StepParked);

    protected int PostsTo(string user) => Slack.CallsTo("chat.postMessage").Count(c => c.Body.Contains($"\"channel\":\"D{user}\""));

    protected IReadOnlyList<PostedSlackMessage> ThreadOf(int change) => Slack.Thread(TestBot.Channel, Bot.Store.Get(change)!.Announcement!.Ts);

    protected JsonNode? Degraded() => JsonNode.Parse(Bot.Http.GetStringAsync("/healthz").GetAwaiter().GetResult())!["degraded"];

    /// <summary>Tracking has checked the change <paramref name="times"/> more times: reminders would have been due meanwhile.</summary>
    protected async Task ChecksRunAsync(int change, int times)
    {
        var from = Bot.Jobs<TrackChangeJob>(change).Succeeded;
        await Bot.Until(() => Bot.Jobs<TrackChangeJob>(change).Succeeded >= from + times, $"{times} more checks of BG-{change}", TimeSpan.FromSeconds(30));
    }
}

[Trait("Category", "EndToEnd")]
public class PermanentErrorTests : ParkingTest
{
    [Fact]
    public async Task DirectMessagesRefusedWithMessagesTabDisabledAreParkedToldOnceAndDeliveredOnceWhenFixed()
    {
        Slack.MessagesTabDisabled = true;
        await Bot.CommandJsonAsync("Direct messages refused");

        await Bot.Until(() => Parked(1).Any(), "the reminder parked");
        await Bot.Until(() => ThreadOf(1).Any(m => m.Text.Contains("messages_tab_disabled")), "the thread told");
        await ChecksRunAsync(1, 3);
        var parked = Assert.Single(Parked(1));
        Assert.Equal(StepKinds.DirectMessage, parked.Data["step"]);
        Assert.Equal("thread", parked.Data["told"]);
        Assert.Equal(1, PostsTo(Reviewer)); // not retried on every sweep, and no pile of reminders behind it
        var notice = Assert.Single(Slack.Messages, m => m.Text.Contains("messages_tab_disabled"));
        Assert.Contains("Messages tab", notice.Text);
        Assert.Contains($"<@{Reviewer}>", notice.Text);
        var degraded = Degraded()!;
        Assert.Equal(1, degraded["parked_slack_steps"]!.GetValue<int>());
        Assert.Equal(1, degraded["errors"]!["messages_tab_disabled"]!.GetValue<int>());
        var step = Bot.Store.Get(1)!.Steps.Single(s => s.ParkedOn is not null);

        // The admin enables the Messages tab and restarts the bot: the parked DM goes, once.
        Slack.MessagesTabDisabled = false;
        await Bot.StopAsync();
        Bot = await StartBotAsync();
        var key = step.Target![(step.Target!.IndexOf('|') + 1)..] + ":" + Reviewer;
        await Bot.Until(() => Slack.DirectMessages(Reviewer).Any(m => m.MetadataNote == key), "the parked reminder delivered");
        await Bot.Until(() => ThreadOf(1).Any(m => m.Text.Contains("Slack accepts it again")), "the thread told it worked");
        await ChecksRunAsync(1, 2);
        Assert.Single(Slack.DirectMessages(Reviewer), m => m.MetadataNote == key);
        Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.StepUnparked);
        Assert.Single(Parked(1));
        Assert.Null(Degraded());
    }

    [Theory]
    [InlineData("user_disabled")]
    [InlineData("cannot_dm_bot")]
    public async Task ADeactivatedOrBotReviewerIsSkippedWithANoteWhileTheOtherIsStillReminded(string error)
    {
        await Bot.StopAsync();
        Bot = await StartBotAsync(new Dictionary<string, string?> { ["Slack:Reviewers:1"] = OtherReviewer });
        (error == "user_disabled" ? Slack.DeactivatedUsers : Slack.BotUsers).Add(Reviewer);
        await Bot.CommandJsonAsync("One reviewer left the company");

        await Bot.Until(() => Slack.DirectMessages(OtherReviewer).Count >= 1, "the other reviewer reminded");
        await Bot.Until(() => ThreadOf(1).Any(m => m.Text.Contains($"<@{Reviewer}> cannot get direct messages")), "the skip noted");
        await ChecksRunAsync(1, 3);
        await Bot.Until(() => Slack.DirectMessages(OtherReviewer).Count >= 2, "the other reviewer reminded again");
        Assert.Single(Slack.CallsTo("conversations.open"), c => c.Body.Contains(Reviewer)); // not retried, not asked again
        Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.DirectMessageSkipped && e.Data["to"] == Reviewer);
        Assert.Single(ThreadOf(1), m => m.Text.Contains("cannot get direct messages"));
        Assert.Contains(error, ThreadOf(1).Single(m => m.Text.Contains("cannot get direct messages")).Text);
        Assert.Empty(Parked(1));
        Assert.Null(Degraded());
    }

    [Fact]
    public async Task AMissingScopeIsToldOnceNotOncePerChange()
    {
        Slack.MissingScopes.Add("im:write");
        await Bot.CommandJsonAsync("First change without im:write");
        await Bot.CommandJsonAsync("Second change without im:write");

        await Bot.Until(() => Parked(1).Any() && Parked(2).Any(), "both reminders parked");
        await Bot.Until(() => Slack.Messages.Any(m => m.Text.Contains("missing_scope")), "someone told");
        await ChecksRunAsync(1, 2);
        await ChecksRunAsync(2, 2);
        var notice = Assert.Single(Slack.Messages, m => m.Text.Contains("missing_scope"));
        Assert.Contains("only notice", notice.Text);
        Assert.Single(Parked(1)); // each parked step is audited, once
        Assert.Single(Parked(2));
        Assert.Single(Parked(1).Concat(Parked(2)), e => e.Data["told"] == "thread");
        Assert.Single(Parked(1).Concat(Parked(2)), e => e.Data["told"] == "already told");
        Assert.Equal(2, Degraded()!["errors"]!["missing_scope"]!.GetValue<int>());
        Assert.Equal(2, Slack.CallsTo("conversations.open").Count);
    }
}

/// <summary>When the thread itself is what Slack refuses, the admins are told by direct message, once.</summary>
[Trait("Category", "EndToEnd")]
public class ParkedThreadNoteTests : ParkingTest
{
    [Fact]
    public async Task AThreadNoteSlackRefusesIsToldToTheAdminsOnceAndPostedAfterTheFix()
    {
        await Bot.CommandJsonAsync("A note Slack will refuse");
        await Bot.Until(() => Bot.Store.Get(1)!.Announcement is not null, "announced");
        Slack.Fail("chat.postMessage", new Fault.Status(200, """{"ok":false,"error":"not_in_channel"}"""), times: 1_000,
            when: c => c.Body.Contains("\"note\":\"cancelled\""));
        await Bot.CommandJsonAsync("cancel BG-1 mistake");

        await Bot.Until(() => Slack.DirectMessages(TestBot.Admin).Count >= 1, "the admin told");
        await Bot.Until(() => Bot.Store.Get(1)!.Steps.All(s => s.State != StepState.Pending || s.ParkedOn is not null), "nothing else pending");
        var dm = Assert.Single(Slack.DirectMessages(TestBot.Admin));
        Assert.Contains("BG-1", dm.Text);
        Assert.Contains("`not_in_channel`", dm.Text);
        Assert.Contains("invite the bot", dm.Text);
        var parked = Assert.Single(Parked(1));
        Assert.Equal(TestBot.Admin, parked.Data["told"]);
        Assert.Single(Slack.Faulted); // parked after one refusal, not retried on every sweep
        Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.ParkedNoticeSent && e.Data["to"] == TestBot.Admin);
        Assert.Equal(1, Degraded()!["errors"]!["not_in_channel"]!.GetValue<int>());

        Slack.ClearFaults(); // the admin invited the bot back, and restarts it
        await Bot.StopAsync();
        Bot = await StartBotAsync();
        await Bot.Until(() => ThreadOf(1).Any(m => m.MetadataNote == "cancelled"), "the note posted");
        await Bot.Until(() => Bot.Store.Get(1)!.NextStepAt is null, "every step done");
        Assert.Single(ThreadOf(1), m => m.MetadataNote == "cancelled");
        Assert.Single(Slack.DirectMessages(TestBot.Admin));
        Assert.Null(Degraded());
    }
}

/// <summary>A parked step is re-checked at Slack:ParkedRetryInterval, without a restart.</summary>
[Trait("Category", "EndToEnd")]
public class ParkedRecheckTests : ParkingTest
{
    protected override string ParkedRetryInterval => "00:00:01";

    [Fact]
    public async Task AParkedDirectMessageGoesOnceTheAdminHasFixedTheCause()
    {
        Slack.MessagesTabDisabled = true;
        await Bot.CommandJsonAsync("Direct messages refused for a while");
        await Bot.Until(() => Parked(1).Any(), "the reminder parked");
        await Bot.Until(() => ThreadOf(1).Any(m => m.Text.Contains("messages_tab_disabled")), "the thread told");

        Slack.MessagesTabDisabled = false;
        await Bot.Until(() => Slack.DirectMessages(Reviewer).Count >= 1, "delivered at the next re-check");
        await Bot.Until(() => Bot.Store.AuditTrail(1).Any(e => e.Type == AuditTypes.StepUnparked), "recorded as resumed");
        Assert.Single(Parked(1));
        Assert.Single(Slack.Messages, m => m.Text.Contains("messages_tab_disabled"));
    }
}

/// <summary>After a 429 with a long Retry-After on one thread post, the change's later thread posts wait too.</summary>
[Trait("Category", "EndToEnd")]
public class ThreadOrderTests : BotTest
{
    [Fact]
    public async Task ThreadNotesAppearInStepOrderAfterARateLimit()
    {
        // The details, the first thread post, get a Retry-After too long to wait in place; the cancellation comes meanwhile.
        Slack.Fail("chat.postMessage", FakeSlack.RateLimited(4), times: 1, when: c => c.Body.Contains("\"note\":\"details\""));
        await Bot.CommandJsonAsync("Rate limited details");
        await Bot.Until(() => Slack.Faulted.Any(), "the details rate limited");
        await Bot.CommandJsonAsync("cancel BG-1 mistake");

        await Bot.Until(() => Bot.Store.Get(1)!.NextStepAt is null, "every step done", TimeSpan.FromSeconds(30));
        var notes = ThreadNotes();
        Assert.Equal(["details", "cancelled"], notes.Where(n => n is "details" or "cancelled"));
    }

    [Fact]
    public async Task AfterARateLimitTheAnnouncementIsNotUpdatedBeforeTheThreadCatchesUp()
    {
        Slack.Fail("chat.postMessage", FakeSlack.RateLimited(4), times: 1, when: c => c.Body.Contains("\"note\":\"details\""));
        await Bot.CommandJsonAsync("Rate limited details");
        await Bot.Until(() => Slack.Faulted.Any(), "the details rate limited");
        await Bot.CommandJsonAsync("cancel BG-1 mistake"); // re-renders the announcement: a later Slack step

        await Bot.Until(() => Bot.Store.Get(1)!.NextStepAt is null, "every step done", TimeSpan.FromSeconds(30));
        var detailsPosted = Slack.CallsTo("chat.postMessage").Where(c => c.Body.Contains("\"note\":\"details\"")).Max(c => c.At);
        var updates = Slack.CallsTo("chat.update");
        Assert.NotEmpty(updates);
        Assert.All(updates, u => Assert.True(u.At >= detailsPosted, $"chat.update at {u.At:HH:mm:ss.fff} before the details at {detailsPosted:HH:mm:ss.fff}"));
    }

    List<string?> ThreadNotes() => [.. Slack.Thread(TestBot.Channel, Bot.Store.Get(1)!.Announcement!.Ts).Select(m => m.MetadataNote)];
}
