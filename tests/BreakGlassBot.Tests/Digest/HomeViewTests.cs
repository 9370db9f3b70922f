using System.Text.Json.Nodes;
using BreakGlassBot.Declaring;
using BreakGlassBot.Digest;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Slack;
using BreakGlassBot.Tests.Support;
using static BreakGlassBot.Tests.Support.InProcessBot;

namespace BreakGlassBot.Tests.Digest;

/// <summary>The Home tab's view (pure), and its event and clicks handled in process.</summary>
public class HomeViewTests
{
    static readonly DateTimeOffset Now = InProcessBot.Start;

    static List<EmergencyChange> Changes(int count, string declarer, int from = 1) =>
        [.. Enumerable.Range(from, count).Select(i => new EmergencyChange
        {
            Id = i, DeclaredBy = declarer, Summary = $"Change {i}", DeclaredAt = Now, DueAt = Now + TimeSpan.FromHours(i), Status = ChangeStatus.Open,
        })];

    static JsonArray Build(HomeData data, string? notice = null) =>
        new HomeView(new ChangeMessages(null, Channel)).Build(data, Now, notice)["blocks"]!.AsArray();

    [Fact]
    public void TheMostBlocksTheViewCanHoldIsWithinSlacksLimit()
    {
        Assert.True(HomeView.MostBlocks <= HomeView.MaxBlocks, $"{HomeView.MostBlocks} blocks at most, Slack takes {HomeView.MaxBlocks}");
        // Every optional part at once, and far longer lists than are shown.
        var blocks = Build(new HomeData(Changes(500, Reviewer), 500, Changes(2000, Declarer, from: 1000), 2000, ToReviewAtLeast: true,
            ReviewersUnknown: true, Overdue: 40), notice: ":white_check_mark: You approved BG-1 retrospectively.");
        Assert.InRange(blocks.Count, 1, HomeView.MaxBlocks);
        var text = TextOf(blocks);
        Assert.Contains("*Awaiting your review* (2000+)", text);
        Assert.Contains($"…and {2000 - HomeView.MaxToReview}+ more awaiting your review", text);
        Assert.Contains($"…and {500 - HomeView.MaxMine} more of yours", text);
        Assert.Contains("The reviewer group could not be read just now", text);
        Assert.Contains("*Overdue for review (all changes)*: 40.", text);
        Assert.StartsWith(":white_check_mark: You approved BG-1", blocks[1]!["text"]!["text"]!.GetValue<string>()); // the answer on top
    }

    [Fact]
    public void EachChangeAwaitingReviewHasTheAnnouncementsButtonsUnderABlockIdOfItsOwn()
    {
        var blocks = Build(new HomeData([], 0, Changes(3, Declarer), 3));
        var actions = blocks.Where(b => b!["type"]!.GetValue<string>() == "actions").ToList();
        Assert.Equal(["breakglass_review_1", "breakglass_review_2", "breakglass_review_3"], actions.Select(a => a!["block_id"]!.GetValue<string>()));
        Assert.All(actions, a => Assert.Equal([ReviewActions.Approve, ReviewActions.RequestChanges],
            a!["elements"]!.AsArray().Select(e => e!["action_id"]!.GetValue<string>())));
        Assert.Contains("*Your open changes*: none.", TextOf(blocks));
        Assert.DoesNotContain("Overdue for review", TextOf(blocks));
    }

    static EventEnvelope HomeOpened(string user, string tab = "home")
    {
        var envelope = Fixtures.Object("slack/event_app_home_opened.json");
        envelope["event"]!["user"] = user;
        envelope["event"]!["tab"] = tab;
        Assert.True(EventEnvelope.TryParse(envelope.ToJsonString(), out var parsed), "the event parses");
        return parsed;
    }

    static InteractionPayload HomeClick(string user, string actionId, string value)
    {
        var payload = Fixtures.Object("slack/block_actions_home_tab.json");
        payload["user"] = new JsonObject { ["id"] = user, ["username"] = user.ToLowerInvariant() };
        payload["actions"]![0]!["action_id"] = actionId;
        payload["actions"]![0]!["value"] = value;
        Assert.True(InteractionPayload.TryParse("payload=" + Uri.EscapeDataString(payload.ToJsonString()), out var parsed), "the Home tab click parses");
        Assert.Null(parsed.ResponseUrl);
        Assert.Null(parsed.Channel);
        return parsed;
    }

    [Fact]
    public async Task OnlyTheHomeTabIsPublishedNotTheMessagesTab()
    {
        await using var bot = Create();
        await bot.DeclareAsync("Rotate the signing keys");
        await bot.HandleEventAsync(HomeOpened(Reviewer, tab: "messages"));
        Assert.Empty(bot.Slack.CallsTo("views.publish"));
        await bot.HandleEventAsync(HomeOpened(Reviewer));
        var published = Assert.Single(bot.Slack.CallsTo("views.publish"));
        Assert.Equal(Reviewer, published.User);
        Assert.Contains("Rotate the signing keys", TextOf(published.View!["blocks"]));
    }

    [Fact]
    public async Task WhenTheReviewerGroupIsMisconfiguredTheTabSaysSoInsteadOfShowingNothingToReview()
    {
        // No members are configured for the group in the recording Slack: it answers no_such_subteam, which only an admin fixes.
        await using var bot = Create(new Dictionary<string, string?> { ["Slack:ReviewerUserGroup"] = "S0GROUP" });
        await bot.DeclareAsync();
        await bot.HandleEventAsync(HomeOpened(Outsider));
        var text = TextOf(Assert.Single(bot.Slack.CallsTo("views.publish")).View!["blocks"]);
        Assert.Contains("*Awaiting your review*: nothing that the bot could tell.", text);
        Assert.Contains("the reviewer group is misconfigured: Slack:ReviewerUserGroup (S0GROUP) cannot be read, Slack says `no_such_subteam`", text);
    }

    [Fact]
    public async Task ARefusedClickOnTheHomeTabIsAnsweredOnTheTab()
    {
        await using var bot = Create();
        await bot.DeclareAsync();
        Assert.True(await bot.ActAsync(HomeClick(Declarer, ReviewActions.Approve, "BG-1")));
        var published = await bot.Slack.WaitForAsync("views.publish");
        Assert.Equal(Declarer, published.User);
        Assert.Contains(":no_entry: You cannot approve BG-1: you declared this change", TextOf(published.View!["blocks"]));
        Assert.Empty(bot.Change().Approvals);
        Assert.Empty(bot.Slack.Responses);
    }

    [Fact]
    public async Task RequestChangesOnTheHomeTabOpensTheForm()
    {
        await using var bot = Create();
        await bot.DeclareAsync();
        Assert.True(await bot.ActAsync(HomeClick(Reviewer, ReviewActions.RequestChanges, "BG-1")));
        var open = Assert.Single(bot.Slack.CallsTo("views.open"));
        Assert.Equal("24571818370.22717085937.b9c7ca14b87be6b44ff5864edba8306f", open.TriggerId); // the fixture's
        Assert.Equal("BG-1", open.View!["private_metadata"]!.GetValue<string>());
    }
}
