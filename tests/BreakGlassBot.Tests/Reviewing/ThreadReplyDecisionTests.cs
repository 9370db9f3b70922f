using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Outbox;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.Support;
using static BreakGlassBot.Tests.Support.InProcessBot;

namespace BreakGlassBot.Tests.Reviewing;

/// <summary>
/// Replies in a change's thread, handed to the event handlers as the inbox worker does: an eligible reviewer's approval
/// word approves, the same word from someone else gets one note, discussion and bot posts are left alone.
/// </summary>
public class ThreadReplyDecisionTests
{
    /// <summary>A bot with BG-1 declared and announced (its thread exists).</summary>
    static async Task<InProcessBot> AnnouncedAsync(IDictionary<string, string?>? settings = null)
    {
        var bot = Create(settings);
        await bot.DeclareAsync("Scale the database");
        bot.Announce(1);
        return bot;
    }

    [Fact]
    public async Task AReviewersApprovalWordInTheThreadApproves()
    {
        await using var bot = await AnnouncedAsync();
        var thread = bot.Change().Announcement!.Ts;
        await bot.HandleEventAsync(Message(Reviewer, "LGTM, thanks for the quick fix", thread, ts: "1900000099.000100"));

        var approval = Assert.Single(bot.Change().Approvals);
        Assert.Equal((Reviewer, "thread-reply", "1900000099.000100", "LGTM, thanks for the quick fix"),
            (approval.Reviewer, approval.Source, approval.SourceId, approval.Comment));
        Assert.Equal("thread-reply", Assert.Single(bot.Audit(AuditTypes.Approved)).Data["source"]);
        Assert.Equal(":white_check_mark: BG-1 approved retrospectively by <@U0REVIEWER>: LGTM, thanks for the quick fix",
            bot.ThreadNote(1, Approvals.ApprovedNotePrefix + "0"));
        Assert.Equal([1], bot.Jobs.Reevaluated);
    }

    [Fact]
    public async Task EachDefaultApprovalWordCounts()
    {
        await using var bot = Create();
        foreach (var text in new[] { ":+1:", "👍", "Approve.", "approved - ship it" })
        {
            var change = await bot.DeclareAsync();
            await bot.HandleEventAsync(Message(Reviewer, text, bot.Announce(change.Id)));
            Assert.Equal(text, Assert.Single(bot.Change(change.Id).Approvals).Comment);
        }
    }

    [Fact]
    public async Task DiscussionInTheThreadIsLeftAlone()
    {
        await using var bot = await AnnouncedAsync();
        var thread = bot.Change().Announcement!.Ts;
        foreach (var text in new[] { "who approved this?", "not approved yet", "looking at it now", "approved?", "" })
            await bot.HandleEventAsync(Message(Reviewer, text, thread));
        Assert.Empty(bot.Change().Approvals);
        Assert.Equal([AuditTypes.Declared, AuditTypes.Announced], bot.Audit().Select(e => e.Type)); // nothing recorded for the replies
        Assert.Empty(bot.Slack.Calls); // not even who the bot is was asked
    }

    [Fact]
    public async Task TheDeclarersApprovalWordIsRefusedWithOneNoteInTheThread()
    {
        await using var bot = await AnnouncedAsync();
        var thread = bot.Change().Announcement!.Ts;
        await bot.HandleEventAsync(Message(Declarer, "approved", thread, ts: "1900000099.000301"));
        await bot.HandleEventAsync(Message(Declarer, "lgtm", thread, ts: "1900000099.000302"));

        Assert.Empty(bot.Change().Approvals);
        Assert.Equal(2, bot.Audit(AuditTypes.ApprovalRefused).Count); // every attempt is on record
        Assert.Equal([Declarer], bot.Change().RefusalsNoted);
        var note = Approvals.RefusalNotePrefix + Declarer;
        Assert.Single(bot.PendingSteps(), s => s == $"{StepKinds.ThreadNote}:{note}"); // but the thread is told once
        Assert.Equal("<@U0DECLARER>: that does not count as an approval of BG-1: the declarer cannot approve their own change.", bot.ThreadNote(1, note));
    }

    [Fact]
    public async Task AnOutsidersApprovalWordGetsTheNoteToo()
    {
        await using var bot = await AnnouncedAsync();
        var thread = bot.Change().Announcement!.Ts;
        await bot.HandleEventAsync(Message(Outsider, "lgtm", thread));
        Assert.Empty(bot.Change().Approvals);
        Assert.Equal($"<@{Outsider}>: that does not count as an approval of BG-1: only the configured reviewers can approve.",
            bot.ThreadNote(1, Approvals.RefusalNotePrefix + Outsider));
    }

    [Fact]
    public async Task BotPostsAreIgnoredEvenFromAListedReviewer()
    {
        // The bot's own user (auth.test) is listed as a reviewer: only the own-message check keeps its posts from approving.
        await using var bot = await AnnouncedAsync(new Dictionary<string, string?> { ["Slack:Reviewers:1"] = "UBOT" });
        var thread = bot.Change().Announcement!.Ts;
        await bot.HandleEventAsync(Message(Reviewer, "lgtm", thread, botId: "B0OTHERBOT")); // a bot posting as a reviewer
        await bot.HandleEventAsync(Message(Reviewer, "lgtm", thread, botId: "B0OTHERBOT", subtype: "bot_message"));
        await bot.HandleEventAsync(Message("UBOT", "approved", thread));

        Assert.Empty(bot.Change().Approvals);
        Assert.DoesNotContain(bot.Audit(), e => e.Type is AuditTypes.Approved or AuditTypes.ApprovalRefused);
        Assert.Empty(bot.Change().RefusalsNoted);
        Assert.Single(bot.Slack.CallsTo("auth.test"));
    }

    [Fact]
    public async Task EditsTopLevelMessagesAndOtherThreadsAreIgnored()
    {
        await using var bot = await AnnouncedAsync();
        var thread = bot.Change().Announcement!.Ts;
        await bot.HandleEventAsync(Message(Reviewer, "lgtm", thread, subtype: "message_changed"));
        await bot.HandleEventAsync(Message(Reviewer, "lgtm", threadTs: null));
        await bot.HandleEventAsync(Message(Reviewer, "lgtm", threadTs: thread, ts: thread)); // the announcement itself
        await bot.HandleEventAsync(Message(Reviewer, "lgtm", threadTs: "1800000000.000001")); // a thread that is no change's
        await bot.HandleEventAsync(Message(Reviewer, "lgtm", thread, channel: "C0ELSEWHERE"));
        Assert.Empty(bot.Change().Approvals);
        Assert.Equal([AuditTypes.Declared, AuditTypes.Announced], bot.Audit().Select(e => e.Type)); // nothing recorded for the replies
    }

    [Fact]
    public async Task ABroadcastReplyIsStillAReply()
    {
        await using var bot = await AnnouncedAsync();
        var thread = bot.Change().Announcement!.Ts;
        await bot.HandleEventAsync(Message(Reviewer, "lgtm", thread, subtype: "thread_broadcast"));
        Assert.Single(bot.Change().Approvals);
    }

    [Fact]
    public async Task WhenTheReviewerGroupCannotBeReadTheEventIsLeftForTheInboxToTryAgain()
    {
        await using var bot = await AnnouncedAsync(new Dictionary<string, string?> { ["Slack:ReviewerUserGroup"] = "S0REVIEWERS" });
        var thread = bot.Change().Announcement!.Ts;
        bot.Slack.Failing["usergroups.users.list"] = "internal_error";
        await Assert.ThrowsAsync<ReviewerGroupUnavailableException>(() => bot.HandleEventAsync(Message("U0MEMBER", "lgtm", thread)));
        Assert.Empty(bot.Change().Approvals);
        Assert.Empty(bot.Change().RefusalsNoted);

        bot.Slack.Failing.Clear();
        bot.Slack.UserGroups["S0REVIEWERS"] = ["U0MEMBER"];
        await bot.HandleEventAsync(Message("U0MEMBER", "lgtm", thread)); // the inbox's next try
        Assert.Equal("U0MEMBER", Assert.Single(bot.Change().Approvals).Reviewer);
    }

    [Fact]
    public async Task ConfiguredApprovalWordsReplaceTheDefaults()
    {
        await using var bot = await AnnouncedAsync(new Dictionary<string, string?> { ["Policy:ApprovalWords:0"] = "ship it" });
        var thread = bot.Change().Announcement!.Ts;
        await bot.HandleEventAsync(Message(Reviewer, "lgtm", thread));
        Assert.Empty(bot.Change().Approvals);
        await bot.HandleEventAsync(Message(Reviewer, "Ship it!", thread));
        Assert.Equal("Ship it!", Assert.Single(bot.Change().Approvals).Comment);
    }
}
