using System.Text.Json.Nodes;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>GitHub:BypassMode Team: the declarer joins the ruleset's bypass team for Policy:BypassDuration.</summary>
public class TeamBypassTests : GitHubBotTest
{
    const string Team = "acme/breakglass";
    const string MembershipPath = "/orgs/acme/teams/breakglass/memberships/hubot";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["GitHub:BypassMode"] = "Team",
        ["GitHub:BypassTeam"] = Team,
        ["Policy:BypassDuration"] = "00:00:01.500",
        [$"People:{TestBot.Declarer}:GitHub"] = "hubot",
    };

    IReadOnlyList<PostedSlackMessage> Notes(string key) => [.. Thread().Where(m => m.MetadataNote == key)];

    [Fact]
    public async Task TheDeclarerJoinsTheBypassTeamAndIsRemovedWhenTheTimeIsUp()
    {
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => GitHub.IsMember(Team, "hubot"), "added to the team");
        var put = Assert.Single(GitHub.CallsTo("PUT", MembershipPath));
        Assert.Equal("member", JsonNode.Parse(put.Body)!["role"]!.GetValue<string>());
        Assert.Single(GitHub.CallsTo("GET", MembershipPath)); // checked before the grant

        await WaitUntil(() => Change().Bypass?.RevokedAt is not null && Notes(GitHubNotes.BypassEnded).Count == 1, "bypass ended");
        Assert.False(GitHub.IsMember(Team, "hubot"));
        Assert.Single(GitHub.CallsTo("DELETE", MembershipPath));

        var b = Change().Bypass!;
        Assert.Equal(("Team", Team, "hubot", false), (b.Mode, b.Team, b.Login, b.WasAlreadyMember));
        Assert.True(b.RevokedAt >= b.ExpiresAt);
        var granted = Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.BypassGranted);
        Assert.Equal((Team, "hubot", "false", "member"), (granted.Data["team"], granted.Data["login"], granted.Data["was_already_member"], granted.Data["role"]));
        Assert.Contains("GitHub user hubot added to team acme/breakglass", granted.Data["granted"]);
        var revoked = Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.BypassRevoked);
        Assert.Equal("true", revoked.Data["removed"]);

        Assert.Contains("Bypass started", Notes(GitHubNotes.BypassGranted).Single().Text);
        Assert.Contains("`hubot` added to `acme/breakglass`", Notes(GitHubNotes.BypassGranted).Single().Text);
        Assert.Contains("`hubot` removed from `acme/breakglass`", Notes(GitHubNotes.BypassEnded).Single().Text);
    }

    [Fact]
    public async Task AChangeCancelledBeforeTheGrantCouldRunGrantsNothing()
    {
        GitHub.Down = true;
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => Change().Steps.Single(s => s.Kind == GitHubStepKinds.BypassGrant).LastError is not null, "grant failed while GitHub is down");
        Assert.Contains("is cancelled", (await Bot.CommandJsonAsync("cancel BG-1 wrong incident"))["text"]!.GetValue<string>());
        // Still down: only the cancel check can settle the step (an attempt begun before the cancel keeps failing).
        await WaitUntil(() => Change().Steps.Single(s => s.Kind == GitHubStepKinds.BypassGrant).State == StepState.Done, "grant step settled");
        GitHub.Down = false;
        Assert.Empty(GitHub.CallsTo("PUT", MembershipPath));
        Assert.False(GitHub.IsMember(Team, "hubot"));
        Assert.Null(Change().Bypass);
    }

    [Fact]
    public async Task AUserWhoWasAlreadyAMemberIsLeftAMember()
    {
        GitHub.AddMember(Team, "hubot");
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => Change().Bypass?.RevokedAt is not null && Notes(GitHubNotes.BypassEnded).Count == 1, "bypass ended");
        Assert.True(GitHub.IsMember(Team, "hubot"));
        Assert.Empty(GitHub.CallsTo("PUT", MembershipPath));
        Assert.Empty(GitHub.CallsTo("DELETE", MembershipPath));
        Assert.True(Change().Bypass!.WasAlreadyMember);
        Assert.Equal("false", Bot.Store.AuditTrail(1).Single(e => e.Type == GitHubAuditTypes.BypassRevoked).Data["removed"]);
        Assert.Contains("stays in `acme/breakglass`", Notes(GitHubNotes.BypassEnded).Single().Text);
    }
}

/// <summary>The revocation is a durable outbox step due at the bypass's end: a bot that was down then revokes on start.</summary>
public class TeamBypassRestartTests : GitHubBotTest
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["GitHub:BypassMode"] = "Team",
        ["GitHub:BypassTeam"] = "acme/breakglass",
        ["Policy:BypassDuration"] = "00:00:04", // long enough to stop the bot before it ends, even on a busy machine
        [$"People:{TestBot.Declarer}:GitHub"] = "hubot",
    };

    [Fact]
    public async Task ABypassThatEndsWhileTheBotIsDownIsRevokedAfterTheRestart()
    {
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => Change().Bypass is { GrantedAt: var g } && g != default, "granted");
        var expires = Change().Bypass!.ExpiresAt;
        await Bot.DisposeAsync();
        Assert.True(DateTimeOffset.UtcNow < expires, "stopped before the bypass ended");
        Assert.True(GitHub.IsMember("acme/breakglass", "hubot"));

        await Eventually.Until(() => DateTimeOffset.UtcNow > expires.AddMilliseconds(200), "the bypass's end passes while the bot is down");
        Assert.Empty(GitHub.CallsTo("DELETE", "/orgs/acme/teams/breakglass/memberships/hubot"));

        Bot = await StartBotAsync();
        await WaitUntil(() => Change().Bypass?.RevokedAt is not null, "revoked after restart");
        Assert.False(GitHub.IsMember("acme/breakglass", "hubot"));
        Assert.Single(GitHub.CallsTo("DELETE", "/orgs/acme/teams/breakglass/memberships/hubot"));
        Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.BypassRevoked);
        await WaitUntil(() => Thread().Any(m => m.MetadataNote == GitHubNotes.BypassEnded), "thread told");
    }
}

/// <summary>No GitHub login known: the declarer is told how to link one, and the grant follows the link.</summary>
public class TeamBypassWithoutLoginTests : GitHubBotTest
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["GitHub:BypassMode"] = "Team",
        ["GitHub:BypassTeam"] = "acme/breakglass",
        ["Policy:BypassDuration"] = "01:00:00",
    };

    [Fact]
    public async Task TheDeclarerIsToldToLinkTheirLoginAndTheGrantFollowsTheLink()
    {
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => Thread().Any(m => m.MetadataNote?.StartsWith("step-gaveup") == true), "told to link");
        var note = Thread().Single(m => m.MetadataNote?.StartsWith("step-gaveup") == true).Text;
        Assert.Contains("the bot does not know the declarer's GitHub login", note);
        Assert.Contains("/breakglass link github &lt;your-login&gt;", note);
        Assert.DoesNotContain(GitHub.Calls, c => c.Key.EndsWith("membership"));

        var reply = (await Bot.CommandJsonAsync("link github hubot"))["text"]!.GetValue<string>();
        Assert.Contains("Your GitHub login is now `hubot`", reply);
        Assert.Contains("Granting the bypass for BG-1 now", reply);
        await WaitUntil(() => GitHub.IsMember("acme/breakglass", "hubot") && Change().Bypass?.Login == "hubot" && Change().Bypass!.GrantedAt != default, "granted after link");
        Assert.Equal("hubot", Bot.Store.LinkedAccount(TestBot.Declarer, "github"));
        Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.AccountLinked);
        await WaitUntil(() => Thread().Any(m => m.MetadataNote == GitHubNotes.BypassGranted), "grant in the thread");
    }

    [Theory]
    [InlineData("link github -bad-", "is not a GitHub login")]
    [InlineData("link github", "Type `/breakglass link github")]
    [InlineData("link jira 5b10a2844c20165700ede21g", "Type `/breakglass link github")]
    public async Task LinkRefusesWhatIsNotAGitHubLogin(string command, string expected)
    {
        Assert.Contains(expected, (await Bot.CommandJsonAsync(command))["text"]!.GetValue<string>());
        Assert.Null(Bot.Store.LinkedAccount(TestBot.Declarer, "github"));
    }
}
