using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;

namespace BreakGlassBot.GitHub;

/// <summary>What the Team bypass does, decided from records alone: no GitHub call, no store, no clock.</summary>
public static class BypassDecisions
{
    /// <summary>
    /// Overlap at grant time: an active membership is the user's own only if no other change's unrevoked grant added it;
    /// otherwise this grant shares that one's <c>WasMember</c>.
    /// </summary>
    public static (bool WasMember, int? SharedWith) Overlap(TeamMembership before, int? otherId, Bypass? otherGrant) =>
        before == TeamMembership.Active && otherId is { } id && otherGrant is not null
            ? (otherGrant.WasAlreadyMember, id)
            : (before == TeamMembership.Active, null);

    /// <summary>A Team grant goes ahead only for an active organisation member: a team PUT invites anyone else into the organisation.</summary>
    public static bool MayGrant(TeamMembership organisation) => organisation == TeamMembership.Active;

    /// <summary>
    /// Whether a revocation also cancels the login's organisation invitations: unless GitHub answered the grant "active" (so the
    /// person was a member), its PUT may have sent one. Only invitations are cancelled, never a membership.
    /// </summary>
    public static bool WithdrawInvitations(string? membershipState) => membershipState != "active";

    public enum Revocation { KeepMember, HandOver, Remove }

    /// <summary>
    /// At the end of a window: a member from before keeps their membership; while another change's window for the same person is
    /// open the removal is handed over to it; otherwise the user is removed.
    /// </summary>
    public static Revocation Revoke(bool wasAlreadyMember, bool otherWindowOpen) =>
        wasAlreadyMember ? Revocation.KeepMember : otherWindowOpen ? Revocation.HandOver : Revocation.Remove;

    /// <summary>What a Team grant did, in the audit event's words.</summary>
    public static string Granted(string login, string team, bool wasMember, TeamMembership state, int? sharedWith, DateTimeOffset expires)
    {
        var what = wasMember
            ? $"nothing added: GitHub user {login} was already a member of {team} and stays one"
            : state == TeamMembership.Pending
                ? $"GitHub user {login} invited to team {team} (role member, membership pending: {login} must accept the invitation before the bypass applies) until {expires:O}"
                : $"GitHub user {login} added to team {team} (role member, membership {state.ToString().ToLowerInvariant()}) until {expires:O}";
        return sharedWith is { } shared
            ? what + $"; BG-{shared}'s bypass had already added them, and whichever of the two windows ends last removes them"
            : what;
    }

    /// <summary>How a bypass ended, in the audit event's words.</summary>
    /// <param name="removed">GitHub removed the user (false: nothing to remove, or not asked).</param>
    /// <param name="retried">An earlier attempt may have removed them already (its answer lost).</param>
    /// <param name="handedTo">The change whose open window now carries the removal.</param>
    /// <param name="recovered">The end was stored before a restart and its outcome was not: GitHub's answer is unknown.</param>
    public static string Revoked(Bypass b, bool removed, bool retried, EmergencyChange? handedTo, bool recovered)
    {
        if (b.Mode != nameof(BypassMode.Team)) return "the bot no longer merges for this change";
        if (b.WasAlreadyMember) return $"nothing removed: {b.Login} was a member of {b.Team} before the grant and stays one";
        if (handedTo is not null)
            return $"nothing removed yet: {b.Login} stays in {b.Team} while the bypass of {handedTo.ChangeId} is open "
                + $"(until {handedTo.Bypass!.ExpiresAt:O}); its revocation removes them";
        if (recovered)
            return $"GitHub user {b.Login} no longer in team {b.Team}: GitHub had accepted the bot's removal at {b.RevokedAt:O}, "
                + "before the bot stopped; recorded after the restart";
        if (!b.Granted)
            return removed
                ? $"GitHub user {b.Login} removed from team {b.Team}: the change was cancelled while the grant was under way, "
                    + "and the grant's request, whose answer was lost, may have added them"
                : $"nothing to remove: {b.Login} was not in {b.Team} (the change was cancelled while the grant was under way)";
        return $"GitHub user {b.Login} removed from team {b.Team}" + (removed ? "" : retried
            // A 404 on a retry is most likely the earlier DELETE, whose answer was lost: say so rather than imply someone else did it.
            ? " (already gone when the bot retried: most likely by its own earlier attempt, whose answer was lost)"
            : " (was no longer a member)");
    }

    /// <summary>Why the window ended: cancelled before it was granted or before it ran out, or its time was up.</summary>
    public static string EndReason(ChangeStatus status, Bypass b, DateTimeOffset revokedAt) =>
        status == ChangeStatus.Cancelled && (!b.Granted || revokedAt < b.ExpiresAt) ? "change cancelled" : "window ended";
}
