using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Outbox;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Declaring;

/// <summary>
/// /breakglass status, list, overdue, cancel, help and words it does not know, decided by the command handler called
/// in process (<see cref="InProcessBot"/>): what the caller is told, and what was recorded.
/// </summary>
public class SubCommandDecisionTests : IAsyncLifetime
{
    const string Declarer = InProcessBot.Declarer;
    InProcessBot bot = null!;

    public Task InitializeAsync()
    {
        bot = InProcessBot.Create();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await bot.DisposeAsync();

    [Fact]
    public async Task HelpListsEverySubCommandAndDeclaresNothing()
    {
        var help = await bot.ReplyAsync("help");
        foreach (var sub in new[] { "status", "list", "overdue", "cancel", "help", "link", "export" }) Assert.Contains($"`/breakglass {sub}", help);
        Assert.Equal(0, bot.Store.Count());
        Assert.Equal(0, bot.Store.AuditCount());
    }

    [Fact]
    public async Task HelpAnswersToItsAliases()
    {
        var help = await bot.ReplyAsync("help");
        foreach (var word in new[] { "-h", "--help", "?", "HELP" }) Assert.Equal(help, await bot.ReplyAsync(word));
    }

    [Fact]
    public async Task StatusWithoutOpenChangesSaysSo() =>
        Assert.Equal("You have no open emergency changes. `/breakglass list` shows everyone's.", await bot.ReplyAsync("status"));

    [Fact]
    public async Task StatusWithoutAnIdListsOnlyTheCallersOpenChanges()
    {
        await bot.ReplyAsync("First fix");
        await bot.ReplyAsync("Second fix");
        await bot.ReplyAsync("Someone else's fix", "U0OTHER");
        await bot.ReplyAsync("cancel BG-2 typo");

        var mine = await bot.ReplyAsync("status");
        Assert.StartsWith("Your open changes (1):\n*BG-1* First fix · <@U0DECLARER> · due in 2d 0h", mine);
        Assert.DoesNotContain("BG-2", mine);
        Assert.DoesNotContain("BG-3", mine);
    }

    [Fact]
    public async Task StatusOfOneChangeShowsItToAnyone()
    {
        await bot.ReplyAsync("Restart the queue workers");
        var reply = await bot.CommandAsync("status bg-1", InProcessBot.Outsider);
        Assert.False(reply.InChannel);
        Assert.Equal("BG-1: Restart the queue workers", reply.Text);
        var blocks = InProcessBot.TextOf(reply.Blocks);
        Assert.Contains("Open, awaiting retrospective review", blocks);
        Assert.Contains("<@U0DECLARER>", blocks);
    }

    [Fact]
    public async Task StatusOfAnUnknownOrMalformedIdSaysWhatToType()
    {
        await bot.ReplyAsync("A change");
        Assert.Equal(":warning: There is no BG-9. `/breakglass list` shows the open changes.", await bot.ReplyAsync("status BG-9"));
        Assert.Equal(":warning: 'banana' is not a change id. Type `/breakglass status BG-42`." + SubCommandText.DeclareInstead, await bot.ReplyAsync("status banana"));
        Assert.Equal(1, bot.Store.Count());
    }

    [Fact]
    public async Task ListShowsTheOpenChangesSoonestDueFirst()
    {
        await bot.ReplyAsync("Older fix");
        bot.Clock.Advance(TimeSpan.FromHours(1));
        await bot.ReplyAsync("Newer fix");
        await bot.ReplyAsync("Withdrawn fix");
        await bot.ReplyAsync("cancel BG-3 mistake");

        var list = await bot.ReplyAsync("list");
        Assert.Equal("*Open emergency changes* (2):\n*BG-1* Older fix · <@U0DECLARER> · due in 1d 23h\n*BG-2* Newer fix · <@U0DECLARER> · due in 2d 0h", list);
        Assert.Equal(list, await bot.ReplyAsync("list open"));
    }

    [Fact]
    public async Task ListOverdueShowsOnlyTheChangesPastTheirDueTime()
    {
        Assert.Equal("Overdue emergency changes: none.", await bot.ReplyAsync("list overdue"));
        await bot.ReplyAsync("Fix one");
        bot.Clock.Advance(TimeSpan.FromDays(1));
        await bot.ReplyAsync("Fix two");
        bot.Clock.Advance(TimeSpan.FromDays(1) + TimeSpan.FromMinutes(90));

        Assert.Equal("*Overdue emergency changes* (1):\n*BG-1* Fix one · <@U0DECLARER> · overdue by 1h 30m", await bot.ReplyAsync("list overdue"));
    }

    [Fact]
    public async Task ListMineShowsTheCallersChangesWhateverTheirStatus()
    {
        await bot.ReplyAsync("Fix one");
        await bot.ReplyAsync("Fix two", "U0OTHER");
        await bot.ReplyAsync("cancel BG-1 mistake");
        var mine = await bot.ReplyAsync("list mine");
        Assert.StartsWith("*Your emergency changes* (1):\n*BG-1* Fix one · <@U0DECLARER> · cancelled", mine);
        Assert.DoesNotContain("BG-2", mine);
    }

    [Fact]
    public async Task AListLongerThanFifteenSaysHowManyMoreThereAre()
    {
        for (var i = 1; i <= 17; i++) await bot.DeclareAsync($"Fix number {i}");
        var lines = (await bot.ReplyAsync("list")).Split('\n');
        Assert.Equal("*Open emergency changes* (17):", lines[0]);
        Assert.Equal(15, lines.Count(l => l.StartsWith("*BG-")));
        Assert.Equal("…and 2 more.", lines[^1]);
    }

    [Fact]
    public async Task AListFilterItDoesNotKnowSaysWhichItKnows() =>
        Assert.Equal(":warning: I can list `open`, `overdue` or `mine`, not 'everything'. Type `/breakglass list overdue`." + SubCommandText.DeclareInstead,
            await bot.ReplyAsync("list everything"));

    [Fact]
    public async Task OverdueGivesTheDigestNowToTheCallerOnly()
    {
        Assert.StartsWith(":white_check_mark: Break-glass digest: nothing is overdue for review", await bot.ReplyAsync("overdue"));
        await bot.ReplyAsync("Failover database");
        bot.Clock.Advance(TimeSpan.FromDays(3));
        var digest = await bot.CommandAsync("overdue", InProcessBot.Outsider);
        Assert.False(digest.InChannel);
        Assert.Contains("*1 emergency change is overdue*", digest.Text);
        Assert.Contains("*BG-1* Failover database · declared by <@U0DECLARER> · *overdue by 1d 0h*", InProcessBot.TextOf(digest.Blocks));
        Assert.Contains("<@U0REVIEWER>", InProcessBot.TextOf(digest.Blocks)); // who has to act
        Assert.Single(bot.Store.AuditTrail(1)); // reading records nothing
    }

    [Fact]
    public async Task TheDeclarerCancelsWithAReasonAndTheRecordIsKept()
    {
        await bot.ReplyAsync("Mistaken declaration");
        bot.Clock.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal("BG-1 is cancelled; it stays in the record with your reason.", await bot.ReplyAsync("cancel BG-1 typed in the wrong channel"));

        var change = bot.Change();
        Assert.Equal(ChangeStatus.Cancelled, change.Status);
        Assert.Equal((Declarer, "typed in the wrong channel", bot.Clock.GetUtcNow()), (change.Cancellation!.By, change.Cancellation.Reason, change.Cancellation.At));
        var cancelled = Assert.Single(bot.Audit(AuditTypes.Cancelled));
        Assert.Equal((Declarer, "typed in the wrong channel"), (cancelled.Actor, cancelled.Data["reason"]));
        Assert.Contains(StepKinds.RefreshAnnouncement, bot.PendingSteps());
        Assert.Contains($"{StepKinds.ThreadNote}:{CancelledNote.Key}", bot.PendingSteps());
        Assert.Contains("BG-1", await bot.ReplyAsync("list mine"));
    }

    [Fact]
    public async Task AnAdminMayCancelSomeoneElsesChange()
    {
        await bot.ReplyAsync("Someone else's change");
        Assert.Equal("BG-1 is cancelled; it stays in the record with your reason.", await bot.ReplyAsync("cancel BG-1 duplicate of BG-0", InProcessBot.Admin));
        Assert.Equal(InProcessBot.Admin, bot.Change().Cancellation!.By);
    }

    [Fact]
    public async Task SomeoneElseCannotCancelAndTheAttemptIsAudited()
    {
        await bot.ReplyAsync("Someone else's change");
        var stepsBefore = bot.PendingSteps();
        Assert.Equal(":no_entry: Only <@U0DECLARER> (who declared it) or an admin may cancel BG-1.", await bot.ReplyAsync("cancel BG-1 not mine", "U0OTHER"));
        Assert.Equal(ChangeStatus.Open, bot.Change().Status);
        Assert.Null(bot.Change().Cancellation);
        var refused = Assert.Single(bot.Audit(AuditTypes.CancelRefused));
        Assert.Equal(("U0OTHER", "not declarer or admin"), (refused.Actor, refused.Data["reason"]));
        Assert.Empty(bot.Audit(AuditTypes.Cancelled));
        Assert.Equal(stepsBefore, bot.PendingSteps());
    }

    [Fact]
    public async Task CancelWithBadArgumentsSaysWhatToTypeAndChangesNothing()
    {
        await bot.ReplyAsync("A change");
        const string usage = "Type `/breakglass cancel BG-42 <reason>`: the reason is kept in the record.";
        Assert.Equal(":warning: Which change? " + usage, await bot.ReplyAsync("cancel"));
        Assert.Equal(":warning: Say why BG-1 is cancelled. " + usage, await bot.ReplyAsync("cancel BG-1"));
        Assert.Equal(":warning: There is no BG-77. `/breakglass list mine` shows your changes.", await bot.ReplyAsync("cancel BG-77 reason"));
        Assert.Equal(ChangeStatus.Open, bot.Change().Status);
        Assert.Equal([AuditTypes.Declared], bot.Audit().Select(e => e.Type));
    }

    [Fact]
    public async Task CancellingTwiceSaysWhoCancelledAndWhy()
    {
        await bot.ReplyAsync("A change");
        await bot.ReplyAsync("cancel BG-1 wrong channel");
        Assert.Equal("BG-1 is already cancelled (by <@U0DECLARER>: wrong channel).", await bot.ReplyAsync("cancel BG-1 again", InProcessBot.Admin));
        Assert.Single(bot.Audit(AuditTypes.Cancelled));
        Assert.Equal(Declarer, bot.Change().Cancellation!.By);
    }

    [Fact]
    public async Task AReviewedChangeCannotBeCancelled()
    {
        await bot.ReplyAsync("A change");
        bot.Store.Update(1, c => { c.Status = ChangeStatus.Reviewed; return []; });
        Assert.Equal("BG-1 is already reviewed.", await bot.ReplyAsync("cancel BG-1 changed my mind"));
        Assert.Equal(ChangeStatus.Reviewed, bot.Change().Status);
        Assert.Empty(bot.Audit(AuditTypes.Cancelled));
    }

    [Fact]
    public async Task ASubCommandWordWithArgumentsThatDoNotParseSaysHowToDeclareInstead()
    {
        foreach (var (command, usage) in new[]
        {
            ("status page down in eu", "is not a change id"),
            ("list of broken things fixed", "I can list"),
            ("cancel the deploy, it breaks checkout", "Which change?"),
        })
        {
            var reply = await bot.ReplyAsync(command);
            Assert.Contains(usage, reply);
            Assert.EndsWith(SubCommandText.DeclareInstead, reply);
        }
        Assert.Equal(0, bot.Store.Count());
    }

    [Fact]
    public async Task ASubCommandUsedAsMeantIsNotToldAboutDeclaring()
    {
        await bot.ReplyAsync("A change");
        Assert.DoesNotContain("To declare an emergency", await bot.ReplyAsync("cancel BG-1"));
        Assert.DoesNotContain("To declare an emergency", await bot.ReplyAsync("status BG-1"));
    }
}
