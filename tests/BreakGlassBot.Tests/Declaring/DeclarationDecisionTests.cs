using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Outbox;
using BreakGlassBot.Slack;
using BreakGlassBot.Tests.Support;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Tests.Declaring;

/// <summary>
/// Declaring with /breakglass (one line or the form), numbering, the due date from the policy on the fake clock, and who
/// may declare: the command handler and <see cref="Declarations"/> called in process.
/// </summary>
public class DeclarationDecisionTests
{
    const string Pr = "https://github.com/acme/payments/pull/42";

    [Fact]
    public async Task DeclaringInOneLineRecordsTheChangeAndAnswersTheCallerOnly()
    {
        await using var bot = InProcessBot.Create();
        var reply = await bot.CommandAsync($"Roll back payments deploy {Pr} OPS-7");

        Assert.False(reply.InChannel);
        Assert.StartsWith(":rotating_light: *BG-1* declared: Roll back payments deploy\n", reply.Text);
        Assert.Contains($"Announcing in <#{InProcessBot.Channel}>; retrospective review due {Blocks.Date(InProcessBot.Start.AddDays(2))}.", reply.Text);
        Assert.Contains("`/breakglass status BG-1`", InProcessBot.TextOf(reply.Blocks));

        var change = bot.Change();
        Assert.Equal(("Roll back payments deploy", InProcessBot.Declarer, ChangeStatus.Open), (change.Summary, change.DeclaredBy, change.Status));
        Assert.Equal("acme/payments#42", Assert.Single(change.PullRequests).Ref.ToString());
        Assert.Equal("OPS-7", Assert.Single(change.JiraIssues).Key);
        Assert.Equal((InProcessBot.Start, InProcessBot.Start.AddDays(2)), (change.DeclaredAt, change.DueAt));
        Assert.Equal(InProcessBot.CommandChannel, change.DeclaredInChannel);

        var declared = Assert.Single(bot.Audit());
        Assert.Equal((AuditTypes.Declared, InProcessBot.Declarer), (declared.Type, declared.Actor));
        Assert.Equal(("command", "2d 0h after declaration", "acme/payments#42", "OPS-7"),
            (declared.Data["source"], declared.Data["policy"], declared.Data["pull_requests"], declared.Data["jira_issues"]));
        Assert.Equal(change.DueAt.ToString("O"), declared.Data["due_at"]);
        // The announcement, its details and the tracker's first check are owed, not done: nothing waited on Slack but the
        // guest check (users.info, with a budget; see DeclarerPolicy).
        Assert.Equal([StepKinds.Announce, StepKinds.ThreadDetails, StepKinds.Track], bot.PendingSteps());
        Assert.Equal(["users.info"], bot.Slack.Calls.Select(c => c.Method));
        Assert.Equal(InProcessBot.Start.AddHours(4), change.NextCheckAt); // the first reminder comes before the deadline
    }

    [Fact]
    public async Task ChangesAreNumberedInTheOrderTheyAreDeclared()
    {
        await using var bot = InProcessBot.Create();
        for (var i = 1; i <= 3; i++)
            Assert.StartsWith($":rotating_light: *BG-{i}* declared: Change number {i}", await bot.ReplyAsync($"Change number {i}", $"U0PERSON{i}"));
        Assert.Equal(["Change number 1", "Change number 2", "Change number 3"], Enumerable.Range(1, 3).Select(i => bot.Change(i).Summary));
        Assert.Equal(["U0PERSON1", "U0PERSON2", "U0PERSON3"], Enumerable.Range(1, 3).Select(i => Assert.Single(bot.Audit(i)).Actor));
    }

    [Fact]
    public async Task OneInvocationHandledTwiceIsOneChange()
    {
        // The same request reaching two replicas (or replayed after its answer was forgotten): its trigger_id keys the declaration.
        await using var bot = InProcessBot.Create();
        var first = await bot.CommandAsync("Restart the queue workers", triggerId: "7001.1.abc");
        var again = await bot.CommandAsync("Restart the queue workers", triggerId: "7001.1.abc");
        var other = await bot.CommandAsync("Restart the queue workers", triggerId: "7001.2.def");
        Assert.StartsWith(":rotating_light: *BG-1* declared", first.Text);
        Assert.StartsWith(":rotating_light: *BG-1* declared", again.Text);
        Assert.StartsWith(":rotating_light: *BG-2* declared", other.Text);
        Assert.Single(bot.Audit(1), e => e.Type == AuditTypes.Declared);
        Assert.Equal("command", Assert.Single(bot.Audit(1)).Data["source"]);
    }

    [Fact]
    public async Task TheDueDateIsTheReviewWindowAfterTheClocksNow()
    {
        await using var bot = InProcessBot.Create(new Dictionary<string, string?> { ["Policy:ReviewWindow"] = "03:00:00" });
        bot.Clock.Advance(TimeSpan.FromMinutes(42));
        var change = await bot.DeclareAsync();
        var now = InProcessBot.Start.AddMinutes(42);
        Assert.Equal((now, now.AddHours(3)), (change.DeclaredAt, change.DueAt));
        // The deadline comes before the first reminder (4 h): the first check is at the deadline.
        Assert.Equal(now.AddHours(3), change.NextCheckAt);
        Assert.Equal("3h 0m after declaration", Assert.Single(bot.Audit()).Data["policy"]);
    }

    [Fact]
    public async Task InBusinessHoursModeTheWindowCountsWorkingTimeOnly()
    {
        await using var bot = InProcessBot.Create(new Dictionary<string, string?>
        {
            ["Policy:BusinessHoursOnly"] = "true",
            ["Policy:BusinessHours"] = "Mon-Fri 09:00-17:00",
            ["Policy:TimeZone"] = "UTC",
            ["Policy:ReviewWindow"] = "08:00:00",
        });
        bot.Clock.SetUtcNow(new DateTimeOffset(2031, 3, 7, 16, 0, 0, TimeSpan.Zero)); // Friday 16:00
        var change = await bot.DeclareAsync();
        // One working hour on Friday, seven on Monday.
        Assert.Equal(new DateTimeOffset(2031, 3, 10, 16, 0, 0, TimeSpan.Zero), change.DueAt);
        // The first reminder waits for Monday morning, not the weekend.
        Assert.Equal(new DateTimeOffset(2031, 3, 10, 9, 0, 0, TimeSpan.Zero), change.NextCheckAt);
        Assert.Equal("8h 0m of working time (Mon-Fri 09:00-17:00 UTC) after declaration", Assert.Single(bot.Audit()).Data["policy"]);
    }

    [Fact]
    public async Task AMistakeInTheTextIsAnsweredWithWhatToTypeAndNothingIsRecorded()
    {
        await using var bot = InProcessBot.Create();
        foreach (var (text, expected) in new[]
        {
            ("ab", ":warning: Say what you are changing and why"),
            ("Fix https://github.com/acme/api/issues/3", ":warning: 'https://github.com/acme/api/issues/3' is not a pull request link"),
            ("Fix https://github.com/acme/api/pull/abc", ":warning: 'https://github.com/acme/api/pull/abc' is not a pull request link"),
        })
        {
            var reply = await bot.ReplyAsync(text);
            Assert.StartsWith(expected, reply);
            Assert.Contains("/breakglass", reply);
        }
        Assert.Equal(0, bot.Store.Count());
        Assert.Equal(0, bot.Store.AuditCount());
    }

    [Fact]
    public async Task ASummaryTooLongIsCutAndKeptWholeAsTheJustification()
    {
        await using var bot = InProcessBot.Create();
        var text = string.Join(' ', Enumerable.Repeat("rollback", 40)); // 359 characters
        await bot.ReplyAsync(text);
        var change = bot.Change();
        Assert.Equal(DeclarationText.MaxSummaryLength, change.Summary.Length);
        Assert.Equal(text, change.Justification);
    }

    [Fact]
    public async Task OnlyConfiguredDeclarersAndAdminsMayBreakTheGlassButAnyoneMayRead()
    {
        await using var bot = InProcessBot.Create(new Dictionary<string, string?> { ["Slack:Declarers:0"] = "U0ONCALL" });
        Assert.Equal(":no_entry: Only the configured declarers may break the glass. Ask one of: <@U0ONCALL>, <@U0ADMIN>", await bot.ReplyAsync("Hotfix", "U0INTERN"));
        Assert.Equal(0, bot.Store.Count());

        Assert.StartsWith(":rotating_light: *BG-1* declared", await bot.ReplyAsync("Hotfix", "U0ONCALL"));
        Assert.StartsWith(":rotating_light: *BG-2* declared", await bot.ReplyAsync("Hotfix", InProcessBot.Admin));
        Assert.StartsWith("BG-1: Hotfix", await bot.ReplyAsync("status BG-1", "U0INTERN"));
        Assert.StartsWith("*Open emergency changes* (2)", await bot.ReplyAsync("list", "U0INTERN"));
    }

    [Fact]
    public async Task TheFormIsNotOpenedForSomeoneWhoMayNotDeclare()
    {
        await using var bot = InProcessBot.Create(new Dictionary<string, string?> { ["Slack:Declarers:0"] = "U0ONCALL" });
        Assert.Equal(":no_entry: Only the configured declarers may break the glass. Ask one of: <@U0ONCALL>, <@U0ADMIN>", await bot.ReplyAsync("", "U0INTERN"));
        Assert.Empty(bot.Slack.CallsTo("views.open"));
    }

    [Fact]
    public async Task ABareCommandOpensTheFormWithTheTriggerIdAndRecordsNothing()
    {
        await using var bot = InProcessBot.Create();
        Assert.Equal("", await bot.ReplyAsync("   "));
        var open = Assert.Single(bot.Slack.CallsTo("views.open"));
        Assert.Equal(InProcessBot.TriggerId, open.TriggerId);
        Assert.Equal(DeclarationModal.CallbackId, open.View!["callback_id"]!.GetValue<string>());
        Assert.Equal(InProcessBot.CommandChannel, open.View["private_metadata"]!.GetValue<string>());
        var blockIds = open.View["blocks"]!.AsArray().Select(b => b!["block_id"]?.GetValue<string>()).OfType<string>();
        Assert.Equal([DeclarationModal.SummaryBlock, DeclarationModal.JustificationBlock, DeclarationModal.ServiceBlock,
            DeclarationModal.PullRequestsBlock, DeclarationModal.JiraBlock, DeclarationModal.SeverityBlock], blockIds);
        Assert.Equal(0, bot.Store.Count());
    }

    [Fact]
    public async Task ABareCommandWithoutATriggerIdSaysHowToDeclareInOneLine()
    {
        await using var bot = InProcessBot.Create();
        var reply = await bot.CommandAsync("", triggerId: null);
        Assert.Equal("Type `/breakglass <summary> [PR URL] [JIRA-KEY]` to declare.", reply.Text);
        Assert.Equal(["users.info"], bot.Slack.Calls.Select(c => c.Method)); // the guest check; no views.open
    }

    [Fact]
    public async Task WhenSlackCannotOpenTheFormTheUserIsToldToDeclareInOneLine()
    {
        await using var bot = InProcessBot.Create();
        bot.Slack.Failing["views.open"] = "expired_trigger_id";
        Assert.Equal(":warning: Slack could not open the form just now. Declare in one line instead: `/breakglass <summary> [PR URL] [JIRA-KEY]`",
            await bot.ReplyAsync(""));
        Assert.Single(bot.Slack.CallsTo("views.open"));
        Assert.Contains(bot.Logs, l => l.StartsWith("Warning") && l.Contains("views.open failed for U0DECLARER: expired_trigger_id"));
        Assert.Equal(0, bot.Store.Count());
    }

    [Fact]
    public void DeclarersAndAdminsDecideWhoMayDeclareAndWhoMayCancel()
    {
        static Permissions With(params string[] declarers) =>
            new(Options.Create(new SlackOptions { Admins = ["U0ADMIN"], Declarers = [.. declarers] }));
        var change = new EmergencyChange { DeclaredBy = "U0DECLARER" };

        var open = With();
        Assert.True(open.MayDeclare("U0ANYONE")); // no declarers configured: anyone may
        var restricted = With("U0ONCALL");
        Assert.Equal([true, true, false], new[] { "U0ONCALL", "U0ADMIN", "U0ANYONE" }.Select(restricted.MayDeclare));
        Assert.Equal([true, true, false], new[] { "U0DECLARER", "U0ADMIN", "U0ONCALL" }.Select(u => restricted.MayCancel(u, change)));
        Assert.True(restricted.IsAdmin("U0ADMIN"));
        Assert.False(restricted.IsAdmin("U0ONCALL"));
    }
}
