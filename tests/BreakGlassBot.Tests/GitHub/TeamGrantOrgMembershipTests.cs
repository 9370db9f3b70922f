using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>
/// Team grants never invite outsiders (issue 18, item 5): a team PUT for someone outside the organisation sends them an
/// organisation invitation, so the bot grants only to organisation members and withdraws any invitation a grant caused.
/// </summary>
[Trait("Category", "EndToEnd")]
public class TeamGrantOrgMembershipTests : TeamBypassTest
{
    const string OrgMembershipPath = "/orgs/acme/memberships/hubot";

    static string ActiveOrgMembership => Fixtures.Object("github/org_membership_get.json").ToJsonString();

    PostedSlackMessage? GaveUpNote() => Thread().FirstOrDefault(m => m.MetadataNote?.StartsWith("step-gaveup") == true);

    AuditEvent Refusal() => Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.BypassRefused);

    [Theory]
    [InlineData(null, "not a member", "is not a member of the organisation `acme`")]
    [InlineData("pending", "invited, not a member", "has been invited to but is not yet a member of the organisation `acme`")]
    public async Task ATeamGrantToSomeoneOutsideTheOrganisationIsRefusedAndSaidInTheThread(string? orgState, string reason, string said)
    {
        GitHub.OrgMembers.TryRemove("acme:hubot", out _);
        if (orgState is not null) GitHub.Invite("acme", "hubot");
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => GaveUpNote() is not null, "the refusal in the thread");

        Assert.Contains(said, GaveUpNote()!.Text);
        Assert.Contains("adding anyone else would invite them into the organisation", GaveUpNote()!.Text);
        Assert.Empty(GitHub.CallsTo("PUT", MembershipPath));
        Assert.False(GitHub.IsMember(Team, "hubot"));
        Assert.False(GitHub.IsOrgMember("acme", "hubot"));
        Assert.Equal(orgState is null ? [] : ["hubot"], GitHub.InvitedLogins("acme")); // someone else's invitation is theirs to keep
        Assert.False(Change().Bypass!.Granted);
        Assert.Equal((reason, "acme", "nothing"), (Refusal().Data["reason"], Refusal().Data["org"], Refusal().Data["granted"]));
        Assert.DoesNotContain(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.BypassGranted);
        // Refused once, not retried: waiting does not make anyone a member.
        var grant = Change().Steps.Single(s => s.Kind == GitHubStepKinds.BypassGrant);
        Assert.Equal((StepState.Abandoned, 1), (grant.State, grant.Attempts));
        Assert.Single(GitHub.CallsTo("GET", OrgMembershipPath));
    }

    [Fact]
    public async Task APutAnsweredPendingIsWithdrawnAndNotCountedAsAGrant()
    {
        // They leave the organisation between the check and the PUT: GitHub's answer to the PUT is an invitation.
        GitHub.OrgMembers.TryRemove("acme:hubot", out _);
        GitHub.Fail("GET org membership", new Fault.Status(200, ActiveOrgMembership));
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => GaveUpNote() is not null, "the withdrawal in the thread");

        Assert.Single(GitHub.CallsTo("PUT", MembershipPath));
        Assert.Empty(GitHub.InvitedLogins("acme"));
        Assert.Single(GitHub.CallsTo("GET", "/orgs/acme/invitations"));
        Assert.Single(GitHub.Calls, c => c.Method == "DELETE" && c.Path.StartsWith("/orgs/acme/invitations/"));
        Assert.False(GitHub.IsMember(Team, "hubot"));
        Assert.False(GitHub.IsOrgMember("acme", "hubot"));
        Assert.False(Change().Bypass!.Granted);
        Assert.Equal("withdrawn", Change().Bypass!.MembershipState);
        Assert.Equal(("invitation withdrawn", "1"), (Refusal().Data["reason"], Refusal().Data["invitations_withdrawn"]));
        Assert.DoesNotContain(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.BypassGranted);
        Assert.Contains("GitHub answered the grant with an invitation, which the bot withdrew. No bypass was granted", GaveUpNote()!.Text);
        Assert.DoesNotContain(Thread(), m => m.MetadataNote == GitHubNotes.BypassGranted);
    }

    [Fact]
    public async Task ARevocationWithdrawsThePendingInvitationAGrantCaused()
    {
        GitHub.Invite("acme", "octodog"); // someone else's invitation, not the bot's to withdraw
        GitHub.OrgMembers.TryRemove("acme:hubot", out _);
        GitHub.Fail("GET org membership", new Fault.Status(200, ActiveOrgMembership));
        // GitHub takes the PUT (an invitation) but the answer is lost, again and again.
        GitHub.Fail("PUT membership", new Fault.AfterWork(502), times: 100_000);
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => GitHub.CallsTo("PUT", MembershipPath).Count >= 1 && GitHub.InvitedLogins("acme").Contains("hubot"), "invited by the lost PUT");

        Assert.Contains("is cancelled", (await Bot.CommandJsonAsync("cancel BG-1 declared by mistake", TestBot.Admin))["text"]!.GetValue<string>());
        await WaitUntil(() => Bot.Store.AuditTrail(1).Any(e => e.Type == GitHubAuditTypes.BypassRevoked), "the unconfirmed grant ended", seconds: 20);

        Assert.Equal(["octodog"], GitHub.InvitedLogins("acme"));
        Assert.False(GitHub.IsMember(Team, "hubot"));
        Assert.False(GitHub.IsOrgMember("acme", "hubot"));
        var revoked = Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.BypassRevoked);
        Assert.Equal("1", revoked.Data["invitations_withdrawn"]);
    }

    [Fact]
    public async Task ARevocationLeavesAPriorOrganisationMemberInTheOrganisation()
    {
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => Change().Bypass is { Granted: true } && GitHub.IsMember(Team, "hubot"), "granted");
        Assert.Equal("active", Change().Bypass!.MembershipState);
        await Bot.CommandJsonAsync("cancel BG-1 rolled back instead", TestBot.Admin);
        await WaitUntil(() => Bot.Store.AuditTrail(1).Any(e => e.Type == GitHubAuditTypes.BypassRevoked) && !GitHub.IsMember(Team, "hubot"), "removed from the team");

        Assert.True(GitHub.IsOrgMember("acme", "hubot"));
        Assert.DoesNotContain(GitHub.Calls, c => c.Method == "DELETE" && c.Path.StartsWith("/orgs/acme/memberships/"));
        Assert.DoesNotContain(GitHub.Calls, c => c.Path.StartsWith("/orgs/acme/invitations"));
        Assert.DoesNotContain("invitations_withdrawn", Bot.Store.AuditTrail(1).Single(e => e.Type == GitHubAuditTypes.BypassRevoked).Data.Keys);
    }
}
