using System.Net;
using System.Text.Json.Nodes;
using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Tests.Support;
using Microsoft.Extensions.Configuration;

namespace BreakGlassBot.Tests.Declaring;

/// <summary>Team and MergeByBot grant or merge: they do not start until someone decided who may use them.</summary>
public class DeclarersRequiredTests
{
    static string[] Args(string mode, params string[] more) =>
        ["--urls=http://127.0.0.1:0", "--Slack:SigningSecret=s", "--Slack:BotToken=xoxb-t", "--Slack:AnnouncementChannel=C1",
         "--GitHub:Token=ghp_t", $"--GitHub:BypassMode={mode}", "--GitHub:BypassTeam=acme/breakglass",
         $"--Storage:DataDirectory={TestBot.NewDataDirectory()}", .. more];

    [Theory]
    [InlineData("Team")]
    [InlineData("MergeByBot")]
    public void AModeThatGrantsRefusesToStartWithoutDeclarers(string mode)
    {
        var e = Assert.Throws<BotConfigurationException>(() => Program.Create(Args(mode)));
        Assert.Contains(e.Errors, x => x.StartsWith("Slack:Declarers is required when GitHub:BypassMode is " + mode));
    }

    [Theory]
    [InlineData("U0ONCALL")]
    [InlineData("S0ONCALL")]
    public void AUserOrAUserGroupIsEnough(string declarer) =>
        Assert.DoesNotContain(ConfigurationCheck.Validate(new ConfigurationBuilder().AddCommandLine(Args("Team", $"--Slack:Declarers:0={declarer}")).Build()),
            e => e.StartsWith("Slack:Declarers"));

    [Fact]
    public void RecordOnlyStillStartsWithoutDeclarers() =>
        Assert.DoesNotContain(ConfigurationCheck.Validate(new ConfigurationBuilder().AddCommandLine(Args("RecordOnly")).Build()),
            e => e.StartsWith("Slack:Declarers"));
}

/// <summary>Guests never declare, even where anyone else may (RecordOnly without Slack:Declarers).</summary>
[Trait("Category", "EndToEnd")]
public class GuestDeclarerTests : BotTest
{
    const string Guest = "U0GUEST";
    const string SingleChannelGuest = "U0SCGUEST";
    const string Member = "U0MEMBER";

    protected override void SeedFakes()
    {
        Slack.Guests.Add(Guest);
        Slack.SingleChannelGuests.Add(SingleChannelGuest);
    }

    [Theory]
    [InlineData(Guest)]
    [InlineData(SingleChannelGuest)]
    public async Task AGuestIsRefusedWithWhyAndWhomToAsk(string guest)
    {
        var refused = (await Bot.CommandJsonAsync("Hotfix checkout", user: guest))["text"]!.GetValue<string>();
        Assert.Contains("Guests (single- and multi-channel) may not break the glass", refused);
        Assert.Contains($"<@{TestBot.Admin}>", refused); // whom to ask
        Assert.Contains((await Bot.CommandJsonAsync("", user: guest))["text"]!.GetValue<string>(), refused);
        Assert.Empty(Slack.CallsTo("views.open"));

        var form = JsonNode.Parse(await (await Bot.InteractionAsync(ModalTests.Submission("V1", "Disable flag", "Checkout down", user: guest))).Content.ReadAsStringAsync())!;
        Assert.Equal("errors", form["response_action"]!.GetValue<string>());
        Assert.Contains("Guests", form["errors"]![DeclarationModal.SummaryBlock]!.GetValue<string>());
        Assert.Equal(0, Bot.Store.Count());
        Assert.Contains(Slack.CallsTo("users.info"), c => c.Body.Contains(guest));

        Assert.Contains("BG-1", (await Bot.CommandJsonAsync("Hotfix checkout", user: Member))["text"]!.GetValue<string>());
    }

    [Fact]
    public async Task WhenSlackCannotSayWhoSomeoneIsTheDeclarationStandsAndSaysSo()
    {
        // RecordOnly without Slack:Declarers grants nothing: break-glass does not wait on Slack, and the record tells the auditor.
        Slack.Fail("users.info", new Fault.Status(500), times: 100);
        Assert.Contains("BG-1", (await Bot.CommandJsonAsync("Hotfix checkout", user: Member))["text"]!.GetValue<string>());
        Assert.Equal("unconfirmed (users.info: http_500)", Bot.Store.AuditTrail(1).Single(e => e.Type == AuditTypes.Declared).Data["declarer_check"]);
    }

    [Fact]
    public async Task AConfirmedMemberHasNoUnconfirmedMark()
    {
        await Bot.CommandJsonAsync("Hotfix checkout", user: Member);
        Assert.DoesNotContain("declarer_check", Bot.Store.AuditTrail(1).Single(e => e.Type == AuditTypes.Declared).Data.Keys);
    }
}

/// <summary>Slack:Declarers with a user and a user group: who is listed by id needs no call to Slack, a group member does.</summary>
[Trait("Category", "EndToEnd")]
public class DeclarerGroupTests : BotTest
{
    const string Listed = "U0ONCALL";
    const string GroupMember = "U060R4BJ4"; // in the usergroups.users.list fixture

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Slack:Declarers:0"] = Listed, ["Slack:Declarers:1"] = "S0ONCALL",
    };

    [Fact]
    public async Task AGroupMemberDeclaresAndSomeoneOutsideIsToldWhomToAsk()
    {
        Assert.Contains("BG-1", (await Bot.CommandJsonAsync("Hotfix", user: GroupMember))["text"]!.GetValue<string>());
        var refused = (await Bot.CommandJsonAsync("Hotfix", user: "U0INTERN"))["text"]!.GetValue<string>();
        Assert.Contains("Only the configured declarers", refused);
        Assert.Contains($"<@{Listed}>", refused);
        Assert.Contains("<!subteam^S0ONCALL>", refused);
        Assert.Equal(1, Bot.Store.Count());
    }

    [Fact]
    public async Task AGuestInTheGroupIsStillRefused()
    {
        Slack.Guests.Add(GroupMember);
        Assert.Contains("Guests", (await Bot.CommandJsonAsync("Hotfix", user: GroupMember))["text"]!.GetValue<string>());
        Assert.Equal(0, Bot.Store.Count());
    }

    [Fact]
    public async Task ADeclarerListedByIdDeclaresWhileSlackIsDown()
    {
        Slack.Down = true;
        var answer = await Bot.CommandAsync("Roll back payments", user: Listed);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Contains("BG-1", await answer.Content.ReadAsStringAsync());
        Assert.DoesNotContain(Slack.Faulted, c => c.Key is "users.info" or "usergroups.users.list");
        // A group member cannot be confirmed while Slack is down (the group unread, or users.info): refused, with whom to ask.
        Assert.Contains("Only the configured declarers", (await Bot.CommandJsonAsync("Roll back payments", user: GroupMember))["text"]!.GetValue<string>());
        Assert.Equal(1, Bot.Store.Count());
    }
}
