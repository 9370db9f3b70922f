using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Declaring;

/// <summary>What counts as a used bypass when the bot added nobody to a team: a PR it merged, or a linked PR merged by hand.</summary>
public class CancelAfterUseDecisionTests
{
    [Theory]
    [InlineData("merged by the bot", "the bot merged acme/api#1347")]
    [InlineData("merged by hand", "acme/api#1347 was merged")]
    public async Task AMergedPullRequestIsAUseTheDeclarerCannotCancelAway(string how, string used)
    {
        await using var bot = InProcessBot.Create();
        await bot.ReplyAsync("Fix it https://github.com/acme/api/pull/1347");
        bot.Store.Update(1, c =>
        {
            (c.PullRequests[0].Merged, c.PullRequests[0].MergedAt) = (true, bot.Clock.GetUtcNow());
            if (how == "merged by the bot") c.Bypass = new Bypass { Mode = "MergeByBot", GrantedAt = bot.Clock.GetUtcNow(), PullRequest = "acme/api#1347" };
            return [];
        });
        var reply = await bot.ReplyAsync("cancel BG-1 oops");
        Assert.StartsWith($":no_entry: BG-1's bypass was used ({used}), so it cannot be cancelled", reply);
        Assert.Equal(ChangeStatus.Open, bot.Change().Status);

        Assert.StartsWith("BG-1 is withdrawn after use", await bot.ReplyAsync("cancel BG-1 oops", InProcessBot.Admin));
        Assert.Equal((ChangeStatus.Open, used), (bot.Change().Status, bot.Change().Cancellation!.Used));
    }

    [Fact]
    public async Task NothingMergedNothingGrantedIsAMistakeTheDeclarerMayCancel()
    {
        await using var bot = InProcessBot.Create();
        await bot.ReplyAsync("Fix it https://github.com/acme/api/pull/1347");
        Assert.Equal("BG-1 is cancelled; it stays in the record with your reason.", await bot.ReplyAsync("cancel BG-1 oops"));
        Assert.Equal(ChangeStatus.Cancelled, bot.Change().Status);
    }
}
