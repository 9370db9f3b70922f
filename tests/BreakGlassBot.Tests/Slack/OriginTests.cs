using System.Net;
using System.Text.Json.Nodes;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Declaring;
using BreakGlassBot.Tests.Reviewing;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Slack;

/// <summary>
/// Requests signed with the bot's secret but from another workspace or app (an app distributed to several workspaces signs
/// them all alike; an Enterprise Grid org's other workspaces): nothing happens, and a log line says why.
/// </summary>
[Trait("Category", "EndToEnd")]
public class OriginTests : BotTest
{
    internal const string Team = "T0001";
    internal const string App = "A0APP";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Slack:TeamId"] = Team, ["Slack:AppId"] = App, ["Slack:Reviewers:0"] = ApprovalTests.Reviewer1, ["Slack:Reviewers:1"] = ApprovalTests.Reviewer2,
    };

    internal static Task<HttpResponseMessage> CommandFromAsync(TestBot bot, string team, string app = App, string? enterprise = null) =>
        bot.SendSignedAsync("/slack/commands", TestBot.CommandForm("Roll back payments", teamId: team, appId: app, enterpriseId: enterprise));

    [Fact]
    public async Task ACommandFromAnotherWorkspaceIsAnsweredWhyAndDeclaresNothing()
    {
        var response = await CommandFromAsync(Bot, "T0OTHER");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("serves another Slack workspace", await response.Content.ReadAsStringAsync());
        Assert.Equal(0, Bot.Store.Count());
        Assert.Contains(Bot.Logs, l => l.Contains("refused (ForeignWorkspace): team T0OTHER"));
        Assert.Empty(Bot.Store.AuditTrail(1));

        Assert.Contains("BG-1", await (await CommandFromAsync(Bot, Team)).Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ACommandOrAnInteractionOfAnotherAppIsRefused()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, (await CommandFromAsync(Bot, Team, app: "A0OTHER")).StatusCode);
        var submission = ModalTests.Submission("V1", "Disable flag", "Checkout down");
        submission["team"] = new JsonObject { ["id"] = Team };
        submission["api_app_id"] = "A0OTHER";
        Assert.Equal(HttpStatusCode.Unauthorized, (await Bot.InteractionAsync(submission)).StatusCode);
        Assert.Equal(0, Bot.Store.Count());
        Assert.Contains(Bot.Logs, l => l.Contains("refused (ForeignApp)"));
    }

    [Fact]
    public async Task AnInteractionFromAnotherWorkspaceIsRefused()
    {
        var submission = ModalTests.Submission("V1", "Disable flag", "Checkout down");
        submission["team"] = new JsonObject { ["id"] = "T0OTHER" };
        submission["api_app_id"] = App;
        Assert.Equal(HttpStatusCode.Unauthorized, (await Bot.InteractionAsync(submission)).StatusCode);
        Assert.Equal(0, Bot.Store.Count());

        submission["team"] = new JsonObject { ["id"] = Team };
        Assert.Equal("update", JsonNode.Parse(await (await Bot.InteractionAsync(submission)).Content.ReadAsStringAsync())!["response_action"]!.GetValue<string>());
        Assert.Equal(1, Bot.Store.Count());
    }

    internal static JsonObject Reply(string eventId, string threadTs, string team, string app, string reviewer = ApprovalTests.Reviewer1)
    {
        var envelope = ThreadReplyTests.Reply(eventId, reviewer, "approved", threadTs);
        envelope["team_id"] = team;
        envelope["api_app_id"] = app;
        envelope.Remove("enterprise_id");
        envelope["authorizations"] = new JsonArray(new JsonObject { ["team_id"] = team, ["user_id"] = "UBOT", ["is_bot"] = true, ["is_enterprise_install"] = false });
        return envelope;
    }

    [Theory]
    [InlineData("T0OTHER", App)]
    [InlineData(Team, "A0OTHER")]
    public async Task AnEventFromAnotherWorkspaceOrAppIsAcknowledgedAndDropped(string team, string app)
    {
        await CommandFromAsync(Bot, Team);
        await Bot.Until(() => Bot.Store.Get(1)!.Announcement is not null, "announced");
        var ts = Bot.Store.Get(1)!.Announcement!.Ts;

        Assert.Equal(HttpStatusCode.OK, (await Bot.EventAsync(Reply("Ev1", ts, team, app, ApprovalTests.Reviewer2))).StatusCode);
        // The same event id from our own workspace is then new to the inbox: the foreign one was never saved, nor approved.
        Assert.Equal(HttpStatusCode.OK, (await Bot.EventAsync(Reply("Ev1", ts, Team, App))).StatusCode);
        await Bot.Until(() => Bot.Store.Get(1)!.Status == ChangeStatus.Reviewed, "approved by the thread reply from our workspace");
        Assert.Equal(ApprovalTests.Reviewer1, Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.Approved).Actor);
        Assert.Contains(Bot.Logs, l => l.Contains("/slack/events refused"));
    }

    [Fact]
    public async Task AnEventWhoseAuthorizationIsAnotherWorkspacesIsDropped()
    {
        await CommandFromAsync(Bot, Team);
        await Bot.Until(() => Bot.Store.Get(1)!.Announcement is not null, "announced");
        var reply = Reply("Ev2", Bot.Store.Get(1)!.Announcement!.Ts, Team, App, ApprovalTests.Reviewer2);
        reply["authorizations"]![0]!["team_id"] = "T0OTHER";
        await Bot.EventAsync(reply);
        await Bot.EventAsync(Reply("Ev2", Bot.Store.Get(1)!.Announcement!.Ts, Team, App));
        await Bot.Until(() => Bot.Store.Get(1)!.Status == ChangeStatus.Reviewed, "approved by the event from our workspace");
        Assert.Equal(ApprovalTests.Reviewer1, Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.Approved).Actor);
    }
}

/// <summary>An org-wide install (Slack:EnterpriseId without Slack:TeamId) accepts every workspace of the org, and only those.</summary>
[Trait("Category", "EndToEnd")]
public class EnterpriseOriginTests : BotTest
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Slack:EnterpriseId"] = "E0ORG", ["Slack:AppId"] = OriginTests.App,
    };

    [Fact]
    public async Task AnotherWorkspaceOfTheOrgDeclaresAndAWorkspaceOutsideItDoesNot()
    {
        Assert.Contains("BG-1", await (await OriginTests.CommandFromAsync(Bot, "T0SALES", enterprise: "E0ORG")).Content.ReadAsStringAsync());
        Assert.Contains("serves another Slack workspace", await (await OriginTests.CommandFromAsync(Bot, "T0SALES", enterprise: "E0OTHER")).Content.ReadAsStringAsync());
        Assert.Contains("serves another Slack workspace", await (await OriginTests.CommandFromAsync(Bot, OriginTests.Team)).Content.ReadAsStringAsync());
        Assert.Equal(1, Bot.Store.Count());
    }
}

/// <summary>A workspace install inside an org serves its own workspace, not the org's others.</summary>
[Trait("Category", "EndToEnd")]
public class WorkspaceInOrgOriginTests : BotTest
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Slack:TeamId"] = OriginTests.Team, ["Slack:EnterpriseId"] = "E0ORG", ["Slack:AppId"] = OriginTests.App,
    };

    [Fact]
    public async Task AnotherWorkspaceOfTheOrgIsRefused()
    {
        Assert.Contains("serves another Slack workspace", await (await OriginTests.CommandFromAsync(Bot, "T0SALES", enterprise: "E0ORG")).Content.ReadAsStringAsync());
        Assert.Contains("BG-1", await (await OriginTests.CommandFromAsync(Bot, OriginTests.Team, enterprise: "E0ORG")).Content.ReadAsStringAsync());
        Assert.Equal(1, Bot.Store.Count());
    }
}

/// <summary>Nothing configured: the workspace is what auth.test says, the app what bots.info says.</summary>
[Trait("Category", "EndToEnd")]
public class LearnedOriginTests : BotTest
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { [TestBot.CheckOrigin] = "true" };

    [Fact]
    public async Task TheWorkspaceAndAppAreLearnedFromSlack()
    {
        Assert.Contains("BG-1", await (await OriginTests.CommandFromAsync(Bot, OriginTests.Team)).Content.ReadAsStringAsync());
        Assert.Contains("serves another Slack workspace", await (await OriginTests.CommandFromAsync(Bot, "T0OTHER")).Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, (await OriginTests.CommandFromAsync(Bot, OriginTests.Team, app: "A0OTHER")).StatusCode);
        Assert.Equal(1, Bot.Store.Count());
        Assert.NotEmpty(Slack.CallsTo("auth.test"));
        Assert.NotEmpty(Slack.CallsTo("bots.info"));
    }
}

/// <summary>An org-wide install learned from auth.test (is_enterprise_install) accepts the org's workspaces by enterprise id.</summary>
[Trait("Category", "EndToEnd")]
public class LearnedOrgInstallOriginTests : BotTest
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { [TestBot.CheckOrigin] = "true" };

    protected override void SeedFakes()
    {
        Slack.EnterpriseId = "E0ORG";
        Slack.EnterpriseInstall = true;
    }

    [Fact]
    public async Task AWorkspaceOfTheOrgIsAccepted()
    {
        Assert.Contains("BG-1", await (await OriginTests.CommandFromAsync(Bot, "T0SALES", enterprise: "E0ORG")).Content.ReadAsStringAsync());
        Assert.Contains("serves another Slack workspace", await (await OriginTests.CommandFromAsync(Bot, "T0SALES")).Content.ReadAsStringAsync());
        Assert.Equal(1, Bot.Store.Count());
    }
}

/// <summary>Socket Mode has no signature, but the same check: a slash command from another workspace declares nothing.</summary>
[Trait("Category", "EndToEnd")]
public class SocketModeOriginTests : SocketModeBotTest
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>(SocketSettings())
    {
        ["Slack:TeamId"] = OriginTests.Team, ["Slack:AppId"] = OriginTests.App,
    };

    [Fact]
    public async Task ACommandFromAnotherWorkspaceOverTheSocketDeclaresNothing()
    {
        await Socket.LiveAsync(2);
        var foreign = FakeSocketMode.SlashCommand("Roll back payments");
        foreign["payload"]!["team_id"] = "T0OTHER";
        var ack = await Socket.DeliverAsync(foreign);
        Assert.Contains("serves another Slack workspace", ack.ToJsonString());
        Assert.Equal(0, Bot.Store.Count());

        Assert.Contains("BG-1", (await Socket.DeliverAsync(FakeSocketMode.SlashCommand("Roll back payments"))).ToJsonString());
    }
}

/// <summary>What auth.test said before a restart stands in while Slack's Web API is down: break-glass does not wait on it.</summary>
[Trait("Category", "EndToEnd")]
public class RememberedOriginTests : BotTest
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { [TestBot.CheckOrigin] = "true" };

    [Fact]
    public async Task ARestartWhileSlackIsDownStillKnowsItsWorkspace()
    {
        Assert.Contains("BG-1", await (await OriginTests.CommandFromAsync(Bot, OriginTests.Team)).Content.ReadAsStringAsync());
        await Bot.StopAsync();
        Slack.Down = true;
        Bot = await StartBotAsync();
        Assert.Contains("BG-2", await (await OriginTests.CommandFromAsync(Bot, OriginTests.Team)).Content.ReadAsStringAsync());
        Assert.Contains("serves another Slack workspace", await (await OriginTests.CommandFromAsync(Bot, "T0OTHER")).Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, (await OriginTests.CommandFromAsync(Bot, OriginTests.Team, app: "A0OTHER")).StatusCode);
        Assert.Contains(Slack.Faulted, c => c.Key == "auth.test"); // it did ask, and Slack did not answer
        Assert.Equal(2, Bot.Store.Count());
    }
}
