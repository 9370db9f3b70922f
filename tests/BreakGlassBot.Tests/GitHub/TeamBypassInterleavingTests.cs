using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Tests.Support;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>
/// Cancel-and-redeclare: BG-1's revocation (moved to now by the cancel) and BG-2's grant run side by side in one outbox sweep.
/// The steps are driven directly against the fake GitHub, in the order that broke, so the interleaving is deterministic: BG-2's grant
/// takes the gate first, BG-1's revocation runs and is recorded, and only then is BG-2's grant outcome written.
/// </summary>
[Trait("Category", "EndToEnd")]
public class TeamBypassInterleavingTests : TeamBypassTest
{
    // Policy:BypassDuration stays an hour (the default): the outbox's own revocation of BG-2 is not due during the test.

    IStepHandler Handler(string kind) => Bot.Service<IEnumerable<IStepHandler>>().Single(h => h.Kind == kind);

    /// <summary>A change stored without outbox steps, so the bot's own outbox leaves it to the test.</summary>
    int Store(ChangeStatus status, Bypass? bypass)
    {
        var (change, _) = Bot.Store.Declare(new EmergencyChange { DeclaredBy = TestBot.Declarer, Summary = "fix", DeclaredAt = DateTimeOffset.UtcNow }, _ => []);
        Bot.Store.Update(change.Id, c => { c.Status = status; c.Bypass = bypass; return []; });
        return change.Id;
    }

    /// <summary>BG-1: declared, granted (the bot added hubot), then cancelled; its revocation has not run yet.</summary>
    int CancelledWithUnrevokedGrant()
    {
        GitHub.AddMember(Team, "hubot");
        var now = DateTimeOffset.UtcNow;
        return Store(ChangeStatus.Cancelled, new Bypass
        {
            Mode = "Team", Team = Team, Login = "hubot", WasAlreadyMember = false, MembershipState = "active",
            GrantedAt = now.AddMinutes(-1), ExpiresAt = now.AddMinutes(59),
        });
    }

    Task<StepOutcome> RunAsync(string kind, int id) =>
        Handler(kind).RunAsync(Change(id), new PendingStep { Kind = kind, Attempts = 1, NextAttemptAt = DateTimeOffset.UtcNow }, CancellationToken.None);

    /// <summary>Writes a step's outcome as the outbox does: the Done callback inside one store update.</summary>
    void Record(int id, StepOutcome outcome) =>
        Bot.Store.Update(id, c => Assert.IsType<StepOutcome.Done>(outcome).Apply?.Invoke(c) ?? []);

    [Fact]
    public async Task CancelAndRedeclareRemovesThePersonWhenTheSecondBypassEnds()
    {
        var first = CancelledWithUnrevokedGrant();
        var second = Store(ChangeStatus.Open, null);

        var grant = await RunAsync(GitHubStepKinds.BypassGrant, second); // takes the gate first: GitHub says hubot is active
        // BG-1's grant is cancelled but not revoked: hubot is in the team because of the bot, not a member from before.
        Assert.False(Change(second).Bypass!.WasAlreadyMember);
        Assert.Equal(first, Change(second).Bypass!.SharedWith);

        Record(first, await RunAsync(GitHubStepKinds.BypassRevoke, first)); // hands the removal over to BG-2
        Assert.Equal(second, Change(first).Bypass!.HandedOffTo);
        Record(second, grant); // BG-2's outcome is written after the hand-over
        Assert.False(Change(second).Bypass!.WasAlreadyMember);
        Assert.True(GitHub.IsMember(Team, "hubot"));
        Assert.Empty(GitHub.CallsTo("DELETE", MembershipPath));

        // BG-2's window ends: its revocation removes hubot.
        Record(second, await RunAsync(GitHubStepKinds.BypassRevoke, second));
        Assert.False(GitHub.IsMember(Team, "hubot"));
        Assert.Single(GitHub.CallsTo("DELETE", MembershipPath));
        Assert.Equal("true", Bot.Store.AuditTrail(second).Single(e => e.Type == GitHubAuditTypes.BypassRevoked).Data["removed"]);
    }

    [Fact]
    public async Task AHandOverWrittenBetweenTheGrantAndItsOutcomeIsKept()
    {
        // hubot really was a member before BG-1: the grant finds no bot grant to explain it and records a prior member.
        GitHub.AddMember(Team, "hubot");
        var id = Store(ChangeStatus.Open, null);
        var grant = await RunAsync(GitHubStepKinds.BypassGrant, id);
        Assert.True(Change(id).Bypass!.WasAlreadyMember);

        // Before the outcome is written, another change's revocation hands its removal over to this one (as BypassRevokeStep does).
        Bot.Store.Update(id, c => { c.Bypass!.WasAlreadyMember = false; return []; });
        Record(id, grant);

        var b = Change(id).Bypass!;
        Assert.False(b.WasAlreadyMember);
        Assert.NotEqual(default, b.GrantedAt);
        Assert.Contains(Change(id).Steps, s => s.Kind == GitHubStepKinds.BypassRevoke);
        var granted = Bot.Store.AuditTrail(id).Single(e => e.Type == GitHubAuditTypes.BypassGranted);
        Assert.Equal("false", granted.Data["was_already_member"]);
        Assert.Contains("handed the removal over", granted.Data["granted"]);

        Record(id, await RunAsync(GitHubStepKinds.BypassRevoke, id));
        Assert.False(GitHub.IsMember(Team, "hubot"));
    }
}
