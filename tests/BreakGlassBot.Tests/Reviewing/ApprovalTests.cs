using System.Net;
using System.Text.Json.Nodes;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Slack;
using BreakGlassBot.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.Tests.Reviewing;

[Trait("Category", "EndToEnd")]
public class ApprovalTests : BotTest
{
    internal const string Reviewer1 = "U0REV1";
    internal const string Reviewer2 = "U0REV2";
    internal const string Outsider = "U0RANDOM";
    internal const string Author = "U0AUTHOR";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Slack:Reviewers:0"] = Reviewer1,
        ["Slack:Reviewers:1"] = Reviewer2,
        ["Slack:Reviewers:2"] = Author,
        ["People:U0AUTHOR:GitHub"] = "octocat",
        ["Policy:ReviewWindow"] = "01:00:00",
        ["Policy:ReminderInterval"] = "00:30:00",
    };

    /// <summary>Slack's block_actions fixture, as a click on one of our buttons by <paramref name="user"/>.</summary>
    internal static JsonObject Click(string user, string actionId, string value, string channel = TestBot.Channel, string? responseUrl = null, string actionTs = "1548426417.840180")
    {
        var payload = Fixtures.Object("slack/block_actions.json");
        payload["user"] = new JsonObject { ["id"] = user, ["username"] = user.ToLowerInvariant(), ["team_id"] = "T9TK3CUKW" };
        payload["container"]!["channel_id"] = channel;
        payload["channel"]!["id"] = channel;
        payload["response_url"] = responseUrl;
        var action = payload["actions"]![0]!.AsObject();
        action["action_id"] = actionId;
        action["block_id"] = ReviewActions.BlockId;
        action["value"] = value;
        action["action_ts"] = actionTs;
        return payload;
    }

    async Task<EmergencyChange> DeclareAsync(string text = "Hotfix checkout")
    {
        var reply = await Bot.CommandJsonAsync(text);
        var id = int.Parse(System.Text.RegularExpressions.Regex.Match(reply["text"]!.GetValue<string>(), @"BG-(\d+)").Groups[1].Value);
        await Eventually.Until(() => Bot.Store.Get(id)!.Announcement is not null && Bot.Store.Get(id)!.NextStepAt is null, "announced");
        return Bot.Store.Get(id)!;
    }

    string LastResponse() => JsonNode.Parse(Slack.Responses.Last().Body)!["text"]!.GetValue<string>();

    [Fact]
    public async Task AReviewersClickApprovesOnceEvenWhenSlackRetriesIt()
    {
        var change = await DeclareAsync();
        var click = Click(Reviewer1, ReviewActions.Approve, "BG-1", responseUrl: Slack.ResponseUrl("a"));
        var first = await Bot.InteractionAsync(click);
        // A double click: a second action (its own action_ts), not a replay of the first request, which is answered as the first.
        var again = await Bot.InteractionAsync(Click(Reviewer1, ReviewActions.Approve, "BG-1", responseUrl: Slack.ResponseUrl("a"), actionTs: "1548426418.000001"));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);

        await Bot.Until(() => Bot.Store.Get(1)!.Status == ChangeStatus.Reviewed, "reviewed");
        await Eventually.Until(() => Bot.Store.Get(1)!.NextStepAt is null, "notes and updates sent");
        Assert.Single(Bot.Store.Get(1)!.Approvals);
        Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.Approved && e.Actor == Reviewer1);
        var thread = Slack.Thread(TestBot.Channel, change.Announcement!.Ts);
        Assert.Single(thread, m => m.Text.Contains($"approved retrospectively by <@{Reviewer1}>"));
        Assert.Single(thread, m => m.Text.Contains("BG-1 is reviewed"));
        var announcement = Slack.Announcements("BG-1").Single();
        Assert.Contains("Approved by", announcement.AllText);
        Assert.Contains(":white_check_mark: Reviewed", announcement.AllText);
        Assert.DoesNotContain(ReviewActions.Approve, announcement.AllText); // no buttons on a reviewed change
        await Eventually.Until(() => Slack.Responses.Count == 2, "both clicks answered");
        Assert.Contains(Slack.Responses, r => r.Body.Contains("You approved BG-1"));
        Assert.Contains(Slack.Responses, r => r.Body.Contains("already"));
    }

    [Theory]
    [InlineData(TestBot.Declarer, "you declared this change")]
    [InlineData(Outsider, "only configured reviewers")]
    [InlineData(Author, "you authored acme/api#1")]
    public async Task TheDeclarerAPrAuthorAndANonReviewerAreRefusedAndItIsRecorded(string user, string reason)
    {
        await DeclareAsync("Hotfix https://github.com/acme/api/pull/1");
        Bot.Store.Update(1, c => { c.PullRequests[0].AuthorLogin = "octocat"; return []; }); // as fetched from GitHub
        await Bot.InteractionAsync(Click(user, ReviewActions.Approve, "BG-1", responseUrl: Slack.ResponseUrl("r")));
        await Eventually.Until(() => Slack.Responses.Count == 1, "the refusal is answered");
        Assert.Contains(reason, LastResponse());
        var change = Bot.Store.Get(1)!;
        Assert.Empty(change.Approvals);
        Assert.Equal(ChangeStatus.Open, change.Status);
        Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.ApprovalRefused && e.Actor == user && e.Data["reason"].Contains(reason));
    }

    [Fact]
    public async Task StaleClicksOnReviewedOrCancelledChangesSaySo()
    {
        await DeclareAsync("First");
        await DeclareAsync("Second");
        await Bot.InteractionAsync(Click(Reviewer1, ReviewActions.Approve, "BG-1"));
        await Eventually.Until(() => Bot.Store.Get(1)!.Status == ChangeStatus.Reviewed, "reviewed");
        await Bot.InteractionAsync(Click(Reviewer2, ReviewActions.Approve, "BG-1", responseUrl: Slack.ResponseUrl("1")));
        await Eventually.Until(() => Slack.Responses.Count == 1, "answered");
        Assert.Contains($"already reviewed: approved by <@{Reviewer1}> at", LastResponse());

        await Bot.CommandJsonAsync("cancel BG-2 duplicate");
        await Bot.InteractionAsync(Click(Reviewer2, ReviewActions.Approve, "BG-2", responseUrl: Slack.ResponseUrl("2")));
        await Eventually.Until(() => Slack.Responses.Count == 2, "answered");
        Assert.Contains("was cancelled", LastResponse());
        Assert.Empty(Bot.Store.Get(2)!.Approvals);

        await Bot.InteractionAsync(Click(Reviewer2, ReviewActions.Approve, "BG-99", responseUrl: Slack.ResponseUrl("3")));
        await Eventually.Until(() => Slack.Responses.Count == 3, "answered");
        Assert.Contains("There is no BG-99", LastResponse());
    }

    [Fact]
    public async Task AClickOnAReminderInADirectMessageCountsToo()
    {
        await DeclareAsync();
        await Bot.InteractionAsync(Click(Reviewer2, ReviewActions.Approve, "BG-1", channel: "D" + Reviewer2));
        await Eventually.Until(() => Bot.Store.Get(1)!.Approvals.Count == 1, "approved");
        Assert.Equal("reminder-button", Bot.Store.Get(1)!.Approvals[0].Source);
    }

    [Fact]
    public async Task DetailsShowTheChangeToTheClickerOnly()
    {
        await DeclareAsync("Rotate keys");
        await Bot.InteractionAsync(Click(Outsider, ReviewActions.Details, "BG-1", responseUrl: Slack.ResponseUrl("d")));
        await Eventually.Until(() => Slack.Responses.Count == 1, "answered");
        var body = JsonNode.Parse(Slack.Responses[0].Body)!;
        Assert.Equal("ephemeral", body["response_type"]!.GetValue<string>());
        Assert.Contains("Rotate keys", body.ToJsonString());
        Assert.False(body["replace_original"]!.GetValue<bool>());
    }

    [Fact]
    public async Task RequestChangesOpensAModalRecordsTheReasonAndTellsTheDeclarer()
    {
        var change = await DeclareAsync();
        await Bot.InteractionAsync(Click(Reviewer1, ReviewActions.RequestChanges, "BG-1"));
        var open = JsonNode.Parse(Assert.Single(Slack.CallsTo("views.open")).Body)!;
        Assert.Equal("breakglass_request_changes", open["view"]!["callback_id"]!.GetValue<string>());
        Assert.Equal("BG-1", open["view"]!["private_metadata"]!.GetValue<string>());

        var submission = Fixtures.Object("slack/view_submission.json");
        submission["user"] = new JsonObject { ["id"] = Reviewer1 };
        submission["view"]!["callback_id"] = "breakglass_request_changes";
        submission["view"]!["private_metadata"] = "BG-1";
        submission["view"]!["state"] = new JsonObject { ["values"] = new JsonObject { ["reason"] = new JsonObject { ["value"] = new JsonObject { ["type"] = "plain_text_input", ["value"] = "" } } } };
        var empty = JsonNode.Parse(await (await Bot.InteractionAsync(submission)).Content.ReadAsStringAsync())!;
        Assert.Equal("errors", empty["response_action"]!.GetValue<string>());
        Assert.NotNull(empty["errors"]!["reason"]);

        submission["view"]!["state"]!["values"]!["reason"]!["value"]!["value"] = "Add a rollback plan to the PR";
        var ok = JsonNode.Parse(await (await Bot.InteractionAsync(submission)).Content.ReadAsStringAsync())!;
        Assert.Equal("clear", ok["response_action"]!.GetValue<string>());
        Assert.Equal("Add a rollback plan to the PR", Bot.Store.Get(1)!.ChangeRequests.Single().Reason);
        Assert.Equal(ChangeStatus.Open, Bot.Store.Get(1)!.Status);
        await Eventually.Until(() => Slack.Thread(TestBot.Channel, change.Announcement!.Ts).Any(m => m.Text.Contains("requested changes")), "thread note");
        var note = Slack.Thread(TestBot.Channel, change.Announcement!.Ts).Single(m => m.Text.Contains("requested changes"));
        Assert.Contains($"<@{TestBot.Declarer}>", note.Text);
        Assert.Contains("Add a rollback plan", note.Text);
        await Eventually.Until(() => Slack.DirectMessages(TestBot.Declarer).Any(m => m.Text.Contains("Changes were requested")), "the declarer is reminded");
        Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.ChangesRequested);
    }

    [Theory]
    [InlineData(TestBot.Declarer, "you declared this change")]
    [InlineData(Outsider, "only configured reviewers")]
    public async Task ARefusedRequestChangesClickIsAnsweredAndRecorded(string user, string reason)
    {
        await DeclareAsync();
        await Bot.InteractionAsync(Click(user, ReviewActions.RequestChanges, "BG-1", responseUrl: Slack.ResponseUrl("rc"), actionTs: "77.7"));
        await Eventually.Until(() => Slack.Responses.Count == 1, "the refusal is answered");
        Assert.Contains(reason, LastResponse());
        Assert.Empty(Slack.CallsTo("views.open"));
        var refused = Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.ApprovalRefused);
        Assert.Equal((user, "request_changes", "77.7"), (refused.Actor, refused.Data["action"], refused.Data["source_id"]));
        Assert.Contains(reason, refused.Data["reason"]);
        Assert.Empty(Bot.Store.Get(1)!.ChangeRequests);
    }

    [Fact]
    public async Task EveryButtonTheBotRendersHasAHandler()
    {
        var change = await DeclareAsync();
        var handled = Bot.App.Services.GetServices<IBlockActionHandler>().SelectMany(h => h.ActionIds).ToHashSet();
        var rendered = new List<string>();
        void Collect(JsonNode? node)
        {
            if (node is JsonObject o)
            {
                if (o["type"]?.GetValue<string>() == "button") rendered.Add(o["action_id"]!.GetValue<string>());
                foreach (var (_, v) in o) Collect(v);
            }
            else if (node is JsonArray a) foreach (var v in a) Collect(v);
        }
        Collect(Slack.Announcements("BG-1")[0].Blocks);
        var messages = Bot.Service<BreakGlassBot.Declaring.ChangeMessages>();
        foreach (var source in Bot.App.Services.GetServices<IDirectMessageSource>())
            foreach (var key in new[] { "reminder:1", "declarer-reminder:1", "escalation:1" })
                Collect(source.Render(change, key, Reviewer1, DateTimeOffset.UtcNow)?.Blocks);
        Assert.NotEmpty(rendered);
        Assert.All(rendered, id => Assert.Contains(id, handled));
    }
}

[Trait("Category", "EndToEnd")]
public class TwoApprovalTests : BotTest
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Slack:Reviewers:0"] = ApprovalTests.Reviewer1, ["Slack:Reviewers:1"] = ApprovalTests.Reviewer2, ["Policy:RequiredApprovals"] = "2",
    };

    [Fact]
    public async Task TwoDistinctApproversAreNeededWhenConfigured()
    {
        await Bot.CommandJsonAsync("Patch kernel");
        await Eventually.Until(() => Bot.Store.Get(1)!.Announcement is not null, "announced");
        await Bot.InteractionAsync(ApprovalTests.Click(ApprovalTests.Reviewer1, ReviewActions.Approve, "BG-1"));
        await Bot.InteractionAsync(ApprovalTests.Click(ApprovalTests.Reviewer1, ReviewActions.Approve, "BG-1", actionTs: "2.2"));
        await Eventually.Until(() => Bot.Store.Get(1)!.Evidence.Any(e => e.Missing?.Contains("1 of 2") == true), "evaluated after the first approval");
        Assert.Equal(ChangeStatus.Open, Bot.Store.Get(1)!.Status);
        Assert.Single(Bot.Store.Get(1)!.Approvals);

        await Bot.InteractionAsync(ApprovalTests.Click(ApprovalTests.Reviewer2, ReviewActions.Approve, "BG-1"));
        await Eventually.Until(() => Bot.Store.Get(1)!.Status == ChangeStatus.Reviewed, "reviewed after the second");
        Assert.Equal(2, Bot.Store.Get(1)!.Approvals.Count);
    }
}
