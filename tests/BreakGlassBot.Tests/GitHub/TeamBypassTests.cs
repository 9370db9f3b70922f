using System.Text.Json.Nodes;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>GitHub:BypassMode Team with the declarer's login "hubot" in the People map: the set-up every Team bypass test shares.</summary>
public abstract class TeamBypassTest : GitHubBotTest
{
    protected const string Team = "acme/breakglass";
    protected const string MembershipPath = "/orgs/acme/teams/breakglass/memberships/hubot";

    /// <summary>Policy:BypassDuration: an hour unless the test waits for the window to end.</summary>
    protected virtual string BypassDuration => "01:00:00";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["GitHub:BypassMode"] = "Team",
        ["GitHub:BypassTeam"] = Team,
        ["Policy:BypassDuration"] = BypassDuration,
        [$"People:{TestBot.Declarer}:GitHub"] = "hubot",
    };
}

/// <summary>GitHub:BypassMode Team: the declarer joins the ruleset's bypass team for Policy:BypassDuration.</summary>
[Trait("Category", "EndToEnd")]
public class TeamBypassTests : TeamBypassTest
{
    protected override string BypassDuration => "00:00:01.500";

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
[Trait("Category", "EndToEnd")]
public class TeamBypassRestartTests : TeamBypassTest
{
    protected override string BypassDuration => "00:00:04"; // long enough to stop the bot before it ends, even on a busy machine

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
        // RevokedAt is stored before the step's outcome (and its audit event) is recorded: wait for the event.
        await WaitUntil(() => Bot.Store.AuditTrail(1).Any(e => e.Type == GitHubAuditTypes.BypassRevoked), "revoked after restart");
        Assert.False(GitHub.IsMember("acme/breakglass", "hubot"));
        Assert.Single(GitHub.CallsTo("DELETE", "/orgs/acme/teams/breakglass/memberships/hubot"));
        Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.BypassRevoked);
        await WaitUntil(() => Thread().Any(m => m.MetadataNote == GitHubNotes.BypassEnded), "thread told");
    }
}

/// <summary>No GitHub account known: nothing typed into Slack links one in Team mode.</summary>
[Trait("Category", "EndToEnd")]
public class TeamBypassWithoutLoginTests : GitHubBotTest
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["GitHub:BypassMode"] = "Team",
        ["GitHub:BypassTeam"] = "acme/breakglass",
        ["Policy:BypassDuration"] = "01:00:00",
    };

    // The grant that follows a verified link: IdentityTests (VerifiedIdentityTeamTests).

    [Theory]
    [InlineData("link github -bad-", "is not a GitHub login")]
    [InlineData("link github", "Linking a GitHub account is not set up here")]
    [InlineData("link github hubot", "cannot check a login typed into Slack")]
    [InlineData("link jira 5b10a2844c20165700ede21g", "Type `/breakglass link github")]
    public async Task LinkRefusesWhatIsNotAVerifiedGitHubAccount(string command, string expected)
    {
        Assert.Contains(expected, (await Bot.CommandJsonAsync(command))["text"]!.GetValue<string>());
        Assert.Null(Bot.Store.LinkedAccount(TestBot.Declarer, "github"));
    }
}

/// <summary>Team bypasses that overlap, are cancelled, or are pending invitations: an hour-long window, ended by cancelling.</summary>
[Trait("Category", "EndToEnd")]
public class TeamBypassOverlapTests : TeamBypassTest
{

    IReadOnlyList<PostedSlackMessage> Notes(int id, string key) => [.. Thread(id).Where(m => m.MetadataNote == key)];

    async Task DeclareGrantedAsync(int id, string summary)
    {
        await Bot.CommandJsonAsync(summary);
        await WaitUntil(() => Change(id).Bypass is { GrantedAt: var g } && g != default && Notes(id, GitHubNotes.BypassGranted).Count == 1, $"BG-{id} granted");
    }

    /// <summary>An admin ends it: a used bypass is withdrawn (its review still owed), one that added nobody is cancelled.</summary>
    async Task CancelAsync(int id) =>
        Assert.Matches("is cancelled|is withdrawn after use", (await Bot.CommandJsonAsync($"cancel BG-{id} declared by mistake", TestBot.Admin))["text"]!.GetValue<string>());

    [Fact]
    public async Task AnOverlappingSecondBypassKeepsThePersonInTheTeamUntilTheLaterWindowEnds()
    {
        await DeclareGrantedAsync(1, "First fix");
        await DeclareGrantedAsync(2, "Second fix");
        Assert.True(GitHub.IsMember(Team, "hubot"));
        var second = Change(2).Bypass!;
        Assert.False(second.WasAlreadyMember); // active only because BG-1 added them
        Assert.Equal(1, second.SharedWith);
        Assert.Equal("BG-1", Bot.Store.AuditTrail(2).Single(e => e.Type == GitHubAuditTypes.BypassGranted).Data["shared_with"]);
        Assert.DoesNotContain("stays one", Notes(2, GitHubNotes.BypassGranted).Single().Text);

        // BG-1's bypass ends while BG-2's is open: the person stays, and BG-2 takes over the removal.
        await CancelAsync(1);
        await WaitUntil(() => Change(1).Bypass?.RevokedAt is not null && Notes(1, GitHubNotes.BypassEnded).Count == 1, "BG-1 ended");
        Assert.True(GitHub.IsMember(Team, "hubot"));
        Assert.Empty(GitHub.CallsTo("DELETE", MembershipPath));
        Assert.Equal(2, Change(1).Bypass!.HandedOffTo);
        var first = Bot.Store.AuditTrail(1).Single(e => e.Type == GitHubAuditTypes.BypassRevoked);
        Assert.Equal(("false", "BG-2", "withdrawn after use"), (first.Data["removed"], first.Data["handed_to"], first.Data["reason"]));
        Assert.Contains("stays in acme/breakglass while the bypass of BG-2 is open", first.Data["revoked"]);
        Assert.Equal("BG-1", Assert.Single(Bot.Store.AuditTrail(2), e => e.Type == GitHubAuditTypes.BypassRemovalHandedOver).Data["from"]);
        Assert.Contains("the bypass of BG-2 is still open, and its end removes them", Notes(1, GitHubNotes.BypassEnded).Single().Text);

        await CancelAsync(2);
        await WaitUntil(() => Change(2).Bypass?.RevokedAt is not null && Notes(2, GitHubNotes.BypassEnded).Count == 1, "BG-2 ended");
        Assert.False(GitHub.IsMember(Team, "hubot"));
        Assert.Single(GitHub.CallsTo("DELETE", MembershipPath));
        Assert.Equal("true", Bot.Store.AuditTrail(2).Single(e => e.Type == GitHubAuditTypes.BypassRevoked).Data["removed"]);
        Assert.Contains("`hubot` removed from `acme/breakglass`", Notes(2, GitHubNotes.BypassEnded).Single().Text);
    }

    [Fact]
    public async Task OverlappingBypassesOfSomeoneWhoWasAMemberBeforeTheFirstLeaveThemAMember()
    {
        GitHub.AddMember(Team, "hubot");
        await DeclareGrantedAsync(1, "First fix");
        await DeclareGrantedAsync(2, "Second fix");
        Assert.True(Change(1).Bypass!.WasAlreadyMember);
        Assert.True(Change(2).Bypass!.WasAlreadyMember);
        await CancelAsync(2);
        await CancelAsync(1);
        await WaitUntil(() => Change(1).Bypass?.RevokedAt is not null && Change(2).Bypass?.RevokedAt is not null, "both ended");
        Assert.True(GitHub.IsMember(Team, "hubot"));
        Assert.Empty(GitHub.CallsTo("DELETE", MembershipPath));
        Assert.Empty(GitHub.CallsTo("PUT", MembershipPath));
    }

    [Fact]
    public async Task CancellingAChangeEndsItsBypassNow()
    {
        await DeclareGrantedAsync(1, "Fix it");
        Assert.True(Change(1).Bypass!.ExpiresAt > DateTimeOffset.UtcNow.AddMinutes(50));
        await CancelAsync(1);
        await WaitUntil(() => !GitHub.IsMember(Team, "hubot") && Bot.Store.AuditTrail(1).Any(e => e.Type == GitHubAuditTypes.BypassRevoked), "removed at once");
        var revoked = Bot.Store.AuditTrail(1).Single(e => e.Type == GitHubAuditTypes.BypassRevoked);
        Assert.Equal(("true", "withdrawn after use"), (revoked.Data["removed"], revoked.Data["reason"]));
        Assert.True(Change(1).Bypass!.RevokedAt < Change(1).Bypass!.ExpiresAt);
        await WaitUntil(() => Notes(1, GitHubNotes.BypassEnded).Count == 1, "the thread says the bypass ended");
    }
}

/// <summary>A removal GitHub refuses is never abandoned: retried with back-off, and the admins are asked once to do it by hand.</summary>
[Trait("Category", "EndToEnd")]
public class TeamBypassRevocationFailureTests : TeamBypassTest
{

    [Theory]
    [InlineData(403, """{"message":"Must have admin rights to Repository.","documentation_url":"https://docs.github.com/rest/teams/members"}""")]
    [InlineData(422, """{"message":"Validation Failed","errors":[{"resource":"TeamMembership","code":"invalid"}]}""")]
    [InlineData(503, null)]
    public async Task ARefusedRemovalIsRetriedAndTheAdminsAreToldOnceToRemoveTheUserByHand(int status, string? body)
    {
        GitHub.Fail("DELETE membership", new Fault.Status(status, body), times: 5);
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => GitHub.IsMember(Team, "hubot") && Change().Steps.Any(s => s.Kind == GitHubStepKinds.BypassRevoke), "granted");
        await Bot.CommandJsonAsync("cancel BG-1 wrong incident", TestBot.Admin); // withdrawn after use: ends the bypass now

        await WaitUntil(() => Change().Bypass?.RevokedAt is not null, "removed after the refusals", seconds: 30);
        Assert.False(GitHub.IsMember(Team, "hubot"));
        Assert.Equal(6, GitHub.CallsTo("DELETE", MembershipPath).Count);
        Assert.DoesNotContain(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.StepAbandoned);
        Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.BypassRemovalStuck);

        await WaitUntil(() => Slack.DirectMessages(TestBot.Admin).Any() && Thread().Any(m => m.MetadataNote == BypassNotes.RemovalStuck), "admins and thread told");
        var dm = Assert.Single(Slack.DirectMessages(TestBot.Admin));
        Assert.Contains("remove `hubot` from the team `acme/breakglass` on GitHub by hand", dm.Text);
        Assert.Contains("An admin must remove `hubot` from `acme/breakglass` on GitHub by hand", Thread().Single(m => m.MetadataNote == BypassNotes.RemovalStuck).Text);
        await WaitUntil(() => Thread().Any(m => m.MetadataNote == GitHubNotes.BypassEnded), "the end in the thread");
    }
}
