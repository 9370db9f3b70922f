using System.Text.Json.Nodes;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Reviewing;

/// <summary>
/// Slack:ReviewerUserGroup that Slack will never read as configured (a Free plan, a deleted group, a missing scope) is a
/// configuration error: said at start-up, in the answer to a click and in the thread, with Slack:Reviewers as the fallback.
/// </summary>
[Trait("Category", "EndToEnd")]
public class ReviewerGroupErrorTests : BotTest
{
    const string Listed = "U0LISTED";
    const string GroupMember = "U0GROUP";

    protected override bool StartsBotFirst => false;

    Task StartAsync(string error)
    {
        Slack.UserGroupError = error;
        return StartAsync();
    }

    async Task StartAsync() => Bot = await StartBotAsync(new Dictionary<string, string?>
    {
        ["Slack:ReviewerUserGroup"] = "S0614TZR7",
        ["Slack:Reviewers:0"] = Listed,
        ["Policy:ReviewWindow"] = "01:00:00",
        ["Policy:ReminderInterval"] = "00:30:00",
    });

    async Task<string> DeclareAsync()
    {
        await Bot.CommandJsonAsync("Hotfix checkout");
        await Bot.Until(() => Bot.Store.Get(1)!.Announcement is not null && Bot.Store.Get(1)!.NextStepAt is null, "announced");
        return Bot.Store.Get(1)!.Announcement!.Ts;
    }

    [Theory]
    [InlineData("plan_upgrade_required", "Slack plan with user groups")]
    [InlineData("no_such_subteam", "an existing user group")]
    [InlineData("missing_scope", "usergroups:read")]
    public async Task ItIsSaidAtStartUpAndInTheAnswerToAClick(string error, string action)
    {
        await StartAsync(error);
        await Bot.Until(() => Bot.Logs.Any(l => l.StartsWith("Error") && l.Contains("Slack:ReviewerUserGroup") && l.Contains(error)), "logged at start-up");
        await DeclareAsync();

        await Bot.InteractionAsync(ApprovalTests.Click(GroupMember, ReviewActions.Approve, "BG-1", responseUrl: Slack.ResponseUrl("g")));
        await Bot.Until(() => Slack.Responses.Count == 1, "the click answered");
        var answer = JsonNode.Parse(Slack.Responses[0].Body)!["text"]!.GetValue<string>();
        Assert.Contains("reviewer group is misconfigured", answer);
        Assert.Contains(error, answer);
        Assert.Contains(action, answer);
        Assert.Contains("only the people in Slack:Reviewers may approve", answer);
        Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.ApprovalRefused && e.Actor == GroupMember);

        // The fallback: someone listed in Slack:Reviewers approves as usual.
        await Bot.InteractionAsync(ApprovalTests.Click(Listed, ReviewActions.Approve, "BG-1", responseUrl: Slack.ResponseUrl("l")));
        await Bot.Until(() => Bot.Store.Get(1)!.Status == ChangeStatus.Reviewed, "approved through Slack:Reviewers");
    }

    [Fact]
    public async Task AThreadApprovalIsDecidedWithTheReasonNotLeftPending()
    {
        await StartAsync("plan_upgrade_required");
        var ts = await DeclareAsync();

        await Bot.EventAsync(ThreadReplyTests.Reply("EvGroup1", GroupMember, "lgtm", ts));
        await Bot.Until(() => Slack.Thread(TestBot.Channel, ts).Any(m => m.Text.Contains($"<@{GroupMember}>") && m.Text.Contains("misconfigured")),
            "the refusal noted in the thread with its reason");
        await Bot.Until(() => Bot.Store.PendingInbound(10).Count == 0, "the event handled, not parked");
        Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.ApprovalRefused && e.Actor == GroupMember);

        await Bot.EventAsync(ThreadReplyTests.Reply("EvGroup2", Listed, "lgtm", ts, ts: "1700000099.000200"));
        await Bot.Until(() => Bot.Store.Get(1)!.Status == ChangeStatus.Reviewed, "approved through Slack:Reviewers");
    }

    [Fact]
    public async Task APassingErrorIsNotCalledAMisconfiguration()
    {
        Slack.Fail("usergroups.users.list", new Fault.Status(200, """{"ok":false,"error":"internal_error"}"""), times: 100);
        await StartAsync();
        await DeclareAsync();

        await Bot.InteractionAsync(ApprovalTests.Click(GroupMember, ReviewActions.Approve, "BG-1", responseUrl: Slack.ResponseUrl("t")));
        await Bot.Until(() => Slack.Responses.Count == 1, "the click answered");
        Assert.Contains("try again in a minute", Slack.Responses[0].Body);
        Assert.DoesNotContain(Bot.Logs, l => l.StartsWith("Error") && l.Contains("Slack:ReviewerUserGroup"));
    }
}
