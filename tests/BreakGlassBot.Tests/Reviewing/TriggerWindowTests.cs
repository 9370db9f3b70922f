using System.Net;
using System.Text.Json.Nodes;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Reviewing;

/// <summary>
/// A click's trigger_id expires 3 s after the click: the Request changes form must open within it even when the reviewer
/// user group has never been read and Slack is slow to list it. Eligibility is then checked when the form is sent.
/// </summary>
[Trait("Category", "EndToEnd")]
public class TriggerWindowTests : BotTest
{
    const string Group = "S0614TZR7";
    const string Member = "U060R4BJ4"; // in the group, as usergroups_users_list.json lists it
    const string NotMember = "U0NOTINGROUP";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Slack:ReviewerUserGroup"] = Group };

    async Task DeclareAsync()
    {
        await Bot.CommandJsonAsync("Hotfix checkout");
        await Eventually.Until(() => Bot.Store.Get(1)?.Announcement is not null && Bot.Store.Get(1)!.NextStepAt is null, "announced");
    }

    static JsonObject Submission(string user, string reason)
    {
        var submission = Fixtures.Object("slack/view_submission.json");
        submission["user"] = new JsonObject { ["id"] = user };
        submission["view"]!["callback_id"] = RequestChangesButton.CallbackId;
        submission["view"]!["private_metadata"] = "BG-1";
        submission["view"]!["state"] = new JsonObject { ["values"] = new JsonObject
        {
            [RequestChangesButton.ReasonBlock] = new JsonObject { ["value"] = new JsonObject { ["type"] = "plain_text_input", ["value"] = reason } },
        } };
        return submission;
    }

    async Task<JsonNode> SubmitAsync(string user, string reason) =>
        JsonNode.Parse(await (await Bot.InteractionAsync(Submission(user, reason))).Content.ReadAsStringAsync())!;

    [Fact]
    public async Task WithAColdCacheAndASlowGroupTheFormOpensWhileTheGroupIsStillBeingListed()
    {
        await DeclareAsync();
        var lookupsBefore = Slack.CallsTo("usergroups.users.list").Count; // the bot's start-up check of the group
        var slowGroup = Slack.Hold("usergroups.users.list");
        try
        {
            var click = await Bot.InteractionAsync(ApprovalTests.Click(Member, ReviewActions.RequestChanges, "BG-1", responseUrl: Slack.ResponseUrl("rc")));
            Assert.Equal(HttpStatusCode.OK, click.StatusCode);
            // The form opened, and the group lookup it started is still unanswered.
            var open = JsonNode.Parse(Assert.Single(Slack.CallsTo("views.open")).Body)!;
            Assert.Equal(RequestChangesButton.CallbackId, open["view"]!["callback_id"]!.GetValue<string>());
            Assert.Equal(lookupsBefore + 1, Slack.CallsTo("usergroups.users.list").Count);
            Assert.False(slowGroup.Task.IsCompleted);
            Assert.Empty(Slack.Responses); // no "couldn't check the reviewer group" in place of the form
        }
        finally { slowGroup.TrySetResult(); }

        // Sent once Slack has answered: checked in full then, and recorded.
        await Bot.Until(() => SubmitAsync(Member, "Add a rollback plan").GetAwaiter().GetResult()["response_action"]!.GetValue<string>() == "clear", "the form is accepted");
        Assert.Equal(Member, Assert.Single(Change().ChangeRequests).Reviewer);
        Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.ChangesRequested);
    }

    [Fact]
    public async Task SomeoneOutsideTheGroupWhoGotTheFormIsRefusedWhenSendingIt()
    {
        await DeclareAsync();
        var slowGroup = Slack.Hold("usergroups.users.list");
        try
        {
            await Bot.InteractionAsync(ApprovalTests.Click(NotMember, ReviewActions.RequestChanges, "BG-1"));
            Assert.Single(Slack.CallsTo("views.open"));
        }
        finally { slowGroup.TrySetResult(); }

        var answer = await SubmitAsync(NotMember, "Looks wrong");
        // While the lookup may still be finishing the form says to try again; once it is known, the refusal.
        await Bot.Until(() => SubmitAsync(NotMember, "Looks wrong").GetAwaiter().GetResult()["errors"]?[RequestChangesButton.ReasonBlock]?.GetValue<string>()
            ?.Contains("only configured reviewers") == true, "refused in the form");
        Assert.Equal("errors", answer["response_action"]!.GetValue<string>());
        Assert.Empty(Change().ChangeRequests);
        Assert.Contains(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.ApprovalRefused && e.Actor == NotMember && e.Data["action"] == "request_changes");
    }
}
