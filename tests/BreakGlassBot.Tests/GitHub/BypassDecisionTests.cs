using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>The Team bypass's decisions as tables: overlap at grant time, hand-over or removal at the end, and how each end is worded.</summary>
public sealed class BypassDecisionTests
{
    static readonly DateTimeOffset Granted = new(2025, 3, 4, 10, 0, 0, TimeSpan.Zero);
    static readonly DateTimeOffset Expires = Granted.AddHours(2);

    [Theory]
    [InlineData(TeamMembership.None, null, false, false, null)]        // not a member: nothing shared
    [InlineData(TeamMembership.Pending, 7, false, false, null)]        // an invitation is no membership, whatever else is open
    [InlineData(TeamMembership.Active, null, false, true, null)]       // a member of their own
    [InlineData(TeamMembership.Active, 7, false, false, 7)]            // active because BG-7's grant added them
    [InlineData(TeamMembership.Active, 7, true, true, 7)]              // BG-7 found them a member from before: so were they
    public void OverlapAtGrantTime(TeamMembership before, int? otherId, bool otherFoundMember, bool wasMember, int? sharedWith)
    {
        var other = otherId is null ? null : new Bypass { Mode = "Team", WasAlreadyMember = otherFoundMember };
        Assert.Equal((wasMember, sharedWith), BypassDecisions.Overlap(before, otherId, other));
    }

    [Theory]
    [InlineData(true, true, BypassDecisions.Revocation.KeepMember)]
    [InlineData(true, false, BypassDecisions.Revocation.KeepMember)]
    [InlineData(false, true, BypassDecisions.Revocation.HandOver)]
    [InlineData(false, false, BypassDecisions.Revocation.Remove)]
    public void RevocationAtTheEndOfAWindow(bool wasAlreadyMember, bool otherWindowOpen, BypassDecisions.Revocation expected) =>
        Assert.Equal(expected, BypassDecisions.Revoke(wasAlreadyMember, otherWindowOpen));

    public static TheoryData<string, bool, bool, bool, bool, bool, bool, string> Ends() => new()
    {
        // mode, granted, wasMember, removed, retried, handedTo, recovered, the words that say what happened
        { "MergeByBot", true, false, false, false, false, false, "the bot no longer merges for this change" },
        { "Team", true, true, false, false, false, false, "nothing removed: hubot was a member of acme/bg before the grant and stays one" },
        { "Team", true, false, false, false, true, false, "nothing removed yet: hubot stays in acme/bg while the bypass of BG-9 is open" },
        { "Team", true, false, false, false, false, true, "GitHub had accepted the bot's removal" },
        { "Team", false, false, true, false, false, false, "removed from team acme/bg: the change was cancelled while the grant was under way" },
        { "Team", false, false, false, false, false, false, "nothing to remove: hubot was not in acme/bg" },
        { "Team", true, false, true, false, false, false, "GitHub user hubot removed from team acme/bg" },
        { "Team", true, false, false, true, false, false, "already gone when the bot retried" },
        { "Team", true, false, false, false, false, false, "(was no longer a member)" },
    };

    [Theory]
    [MemberData(nameof(Ends))]
    public void EveryEndIsWordedForWhatHappened(string mode, bool granted, bool wasMember, bool removed, bool retried, bool handed, bool recovered, string words)
    {
        var bypass = new Bypass
        {
            Mode = mode, Team = "acme/bg", Login = "hubot", WasAlreadyMember = wasMember, RevokedAt = Granted.AddHours(1),
            GrantedAt = granted ? Granted : default, ExpiresAt = granted ? Expires : default,
        };
        var handedTo = handed ? new EmergencyChange { Id = 9, Bypass = new Bypass { Mode = "Team", ExpiresAt = Expires.AddHours(1) } } : null;
        Assert.Contains(words, BypassDecisions.Revoked(bypass, removed, retried, handedTo, recovered));
    }

    [Theory]
    [InlineData(ChangeStatus.Open, true, 3, "window ended")]
    [InlineData(ChangeStatus.Reviewed, true, 1, "window ended")]
    [InlineData(ChangeStatus.Cancelled, true, 1, "change cancelled")]   // cancelled before the window ran out
    [InlineData(ChangeStatus.Cancelled, true, 3, "window ended")]       // cancelled after it had run out anyway
    [InlineData(ChangeStatus.Cancelled, false, 0, "change cancelled")]  // cancelled before the grant was confirmed
    public void WhyAWindowEnded(ChangeStatus status, bool granted, int revokedAfterHours, string reason)
    {
        var bypass = new Bypass { Mode = "Team", GrantedAt = granted ? Granted : default, ExpiresAt = granted ? Expires : default };
        Assert.Equal(reason, BypassDecisions.EndReason(status, bypass, Granted.AddHours(revokedAfterHours)));
    }

    [Theory]
    [InlineData(TeamMembership.Active, true)]
    [InlineData(TeamMembership.Pending, false)] // invited, not yet a member
    [InlineData(TeamMembership.None, false)]
    public void OnlyAnOrganisationMemberIsGranted(TeamMembership organisation, bool granted) =>
        Assert.Equal(granted, BypassDecisions.MayGrant(organisation));

    [Theory]
    [InlineData("active", false)]   // a member when granted: nothing of theirs to cancel
    [InlineData("pending", true)]   // the grant's PUT sent an invitation
    [InlineData(null, true)]        // the PUT's answer was lost: it may have sent one
    public void ARevocationCancelsInvitationsUnlessTheGrantWasAnsweredActive(string? membershipState, bool cancel) =>
        Assert.Equal(cancel, BypassDecisions.WithdrawInvitations(membershipState));

    [Theory]
    [InlineData(true, TeamMembership.Active, null, "nothing added: GitHub user hubot was already a member of acme/bg and stays one")]
    [InlineData(false, TeamMembership.Pending, null, "invited to team acme/bg (role member, membership pending")]
    [InlineData(false, TeamMembership.Active, null, "added to team acme/bg (role member, membership active)")]
    [InlineData(false, TeamMembership.Active, 7, "BG-7's bypass had already added them, and whichever of the two windows ends last removes them")]
    public void EveryGrantIsWordedForWhatItDid(bool wasMember, TeamMembership state, int? sharedWith, string words) =>
        Assert.Contains(words, BypassDecisions.Granted("hubot", "acme/bg", wasMember, state, sharedWith, Expires));
}
