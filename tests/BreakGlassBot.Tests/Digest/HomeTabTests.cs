using System.Net;
using System.Text.Json.Nodes;
using BreakGlassBot.Digest;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.Reviewing;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Digest;

/// <summary>
/// The App Home tab at the wire: a signed app_home_opened event in, views.publish out to the fake Slack (which refuses a
/// view over Slack's 100 blocks), and a click on the tab's buttons handled like a click on the announcement's.
/// </summary>
[Trait("Category", "EndToEnd")]
public class HomeTabTests : BotTest
{
    const string Reviewer = ApprovalTests.Reviewer1;
    const string Manager = "U0MANAGER";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Slack:Reviewers:0"] = Reviewer,
        ["Slack:Managers:0"] = Manager,
    };

    /// <summary>The documented app_home_opened event (the Home tab), for <paramref name="user"/>.</summary>
    static JsonObject HomeOpened(string user, string eventId, string tab = "home")
    {
        var envelope = Fixtures.Object("slack/event_app_home_opened.json");
        envelope["event_id"] = eventId;
        envelope["event"]!["user"] = user;
        envelope["event"]!["tab"] = tab;
        return envelope;
    }

    /// <summary>The documented Home tab block_actions payload, as a click by <paramref name="user"/> on one of our buttons there.</summary>
    static JsonObject HomeClick(string user, string actionId, string changeId)
    {
        var payload = Fixtures.Object("slack/block_actions_home_tab.json");
        payload["user"] = new JsonObject { ["id"] = user, ["username"] = user.ToLowerInvariant(), ["team_id"] = "T9TK3CUKW" };
        var action = payload["actions"]![0]!.AsObject();
        action["action_id"] = actionId;
        action["block_id"] = "breakglass_review_1";
        action["value"] = changeId;
        action["action_ts"] = "1571318425.267782";
        return payload;
    }

    /// <summary>Opens the user's Home tab and returns the view Slack was given, once it was published after <paramref name="published"/> earlier ones.</summary>
    async Task<JsonObject> OpenHomeAsync(string user, string eventId, int published = 0)
    {
        Assert.Equal(HttpStatusCode.OK, (await Bot.EventAsync(HomeOpened(user, eventId))).StatusCode);
        await Bot.Until(() => PublishedTo(user).Count > published, $"the Home tab of {user} is published");
        return (JsonObject)JsonNode.Parse(PublishedTo(user)[published].Body)!["view"]!;
    }

    IReadOnlyList<RecordedCall> PublishedTo(string user) =>
        [.. Slack.CallsTo("views.publish").Where(c => JsonNode.Parse(c.Body)!["user_id"]!.GetValue<string>() == user)];

    static string TextOf(JsonNode view) => InProcessBot.TextOf(view["blocks"]);

    /// <summary>Open changes stored directly, due in a day, their next check planned later (so only the Home tab talks to Slack).</summary>
    void Seed(string declarer, int count, string summary)
    {
        var now = DateTimeOffset.UtcNow;
        for (var i = 0; i < count; i++)
            Bot.Store.Declare(new EmergencyChange
            {
                DeclaredBy = declarer, Summary = $"{summary} {i}", DeclaredAt = now, DueAt = now + TimeSpan.FromDays(1) + TimeSpan.FromMinutes(i),
                NextCheckAt = now + TimeSpan.FromDays(1),
            }, _ => []);
    }

    [Fact]
    public async Task OpeningTheHomeTabPublishesMyChangesTheOnesAwaitingMyReviewAndForAManagerTheOverdueCount()
    {
        await Bot.CommandJsonAsync("Hotfix checkout");                 // BG-1, by the declarer
        await Bot.CommandJsonAsync("Rotate the keys", Reviewer);       // BG-2, the reviewer's own
        await Bot.Until(() => Change(2).Announcement is not null, "announced");

        var view = await OpenHomeAsync(Reviewer, "EvHome1");
        Assert.Equal("home", view["type"]!.GetValue<string>());
        var text = TextOf(view);
        Assert.Contains("*Awaiting your review* (1)", text);
        Assert.Contains("BG-1", text);
        Assert.Contains("Hotfix checkout", text);
        Assert.Contains($"declared by <@{TestBot.Declarer}>", text);
        Assert.Contains("Review due <!date^", text); // the deadline, in the reader's time zone
        Assert.Contains("*Your open changes* (1)", text);
        Assert.Contains("Rotate the keys", text);
        Assert.DoesNotContain("Overdue for review", text); // not a manager
        // The announcement's Approve and Request changes buttons, for BG-1 only (a reviewer never approves their own change).
        var actions = view["blocks"]!.AsArray().Where(b => b!["type"]!.GetValue<string>() == "actions").ToList();
        var buttons = Assert.Single(actions)!["elements"]!.AsArray();
        Assert.Equal([ReviewActions.Approve, ReviewActions.RequestChanges], buttons.Select(b => b!["action_id"]!.GetValue<string>()));
        Assert.All(buttons, b => Assert.Equal("BG-1", b!["value"]!.GetValue<string>()));

        // The Messages tab is not the Home tab: nothing is published for it.
        await Bot.EventAsync(HomeOpened(Reviewer, "EvHome2", tab: "messages"));
        Bot.Store.Update(1, c => { c.DueAt = DateTimeOffset.UtcNow - TimeSpan.FromHours(3); return []; });
        var manager = TextOf(await OpenHomeAsync(Manager, "EvHome3"));
        Assert.Contains(":warning: *Overdue for review (all changes)*: 1.", manager);
        Assert.Contains("*Awaiting your review*: nothing.", manager); // a manager who is not a reviewer
        Assert.Contains("*Your open changes*: none.", manager);
        Assert.Single(PublishedTo(Reviewer)); // the Messages-tab event (saved before the manager's) published nothing
    }

    [Fact]
    public async Task WithHundredsOfChangesTheTabStaysWithinSlacksLimitsAndSaysHowManyMore()
    {
        Seed(TestBot.Declarer, 150, "Awaiting");
        Seed(Reviewer, 15, "Mine");

        var view = await OpenHomeAsync(Reviewer, "EvHomeMany");
        var blocks = view["blocks"]!.AsArray();
        Assert.InRange(blocks.Count, 1, HomeView.MaxBlocks);
        var text = TextOf(view);
        Assert.Contains("*Awaiting your review* (150)", text);
        Assert.Contains($"…and {150 - HomeView.MaxToReview} more awaiting your review: `/breakglass list open`", text);
        Assert.Contains("*Your open changes* (15)", text);
        Assert.Contains($"…and {15 - HomeView.MaxMine} more of yours: `/breakglass list mine`", text);
        Assert.Equal(HomeView.MaxToReview, blocks.Count(b => b!["type"]!.GetValue<string>() == "actions"));
        Assert.Contains("Awaiting 0", text); // soonest due first
        Assert.DoesNotContain("Awaiting 149", text);
        Assert.Equal(blocks.Count, blocks.Select(b => b!["block_id"]?.GetValue<string>()).Where(id => id is not null).Distinct().Count()
            + blocks.Count(b => b!["block_id"] is null)); // block ids are unique in a view
    }

    [Fact]
    public async Task AnApproveClickOnTheHomeTabApprovesAndTheTabShowsTheAnswer()
    {
        await Bot.CommandJsonAsync("Hotfix checkout");
        await Bot.Until(() => Change().Announcement is not null, "announced");
        await OpenHomeAsync(Reviewer, "EvHomeClick");

        var click = await Bot.InteractionAsync(HomeClick(Reviewer, ReviewActions.Approve, "BG-1"));
        Assert.Equal(HttpStatusCode.OK, click.StatusCode);
        await Bot.Until(() => Change().Status == ChangeStatus.Reviewed, "reviewed");
        var approval = Assert.Single(Change().Approvals);
        Assert.Equal((Reviewer, "home-tab-button"), (approval.Reviewer, approval.Source));

        // The click has no response_url: its answer is shown on top of the re-published tab, where BG-1 no longer awaits review.
        await Bot.Until(() => PublishedTo(Reviewer).Count == 2, "the tab is published again");
        var text = TextOf(JsonNode.Parse(PublishedTo(Reviewer)[1].Body)!["view"]!);
        Assert.Contains(":white_check_mark: You approved BG-1 retrospectively.", text);
        Assert.Contains("*Awaiting your review*: nothing.", text);
        Assert.Empty(Slack.Responses);
    }
}
