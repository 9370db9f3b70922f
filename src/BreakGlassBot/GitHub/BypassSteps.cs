using System.Globalization;
using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Slack;
using Microsoft.Extensions.Options;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.GitHub;

/// <summary>
/// Grants the bypass by GitHub:BypassMode and schedules its end. RecordOnly and MergeByBot only record the
/// window; Team adds the declarer's GitHub login to GitHub:BypassTeam.
/// </summary>
internal sealed class BypassGrantStep(IGitHubGateway github, ChangeStore store, People people, IOptions<GitHubOptions> options,
    IOptions<PolicyOptions> policy, TimeProvider time, IdentityLinks identities, GitHubIdentityClient identityClient) : IStepHandler
{
    public string Kind => GitHubStepKinds.BypassGrant;

    public string? Describe(EmergencyChange change, PendingStep step) => options.Value.BypassMode == BypassMode.Team
        ? $"grant the bypass: add the declarer's GitHub account to `{options.Value.BypassTeam}`"
        : null; // the other modes make no call that could fail

    public async Task<StepOutcome> RunAsync(EmergencyChange change, PendingStep step, CancellationToken ct)
    {
        // Granted before a crash. A Team grant is recorded before its outcome, so it counts as done only with its end scheduled.
        if (change.Bypass is { GrantedAt: var g } b0 && g != default
            && (b0.Mode != nameof(BypassMode.Team) || change.Steps.Any(s => s.Kind == GitHubStepKinds.BypassRevoke)))
            return new StepOutcome.Done();
        // Withdrawn before the grant was recorded: grant nothing, but an earlier PUT may have landed, so schedule a revocation.
        if (change.CancelledOrWithdrawn) return new StepOutcome.Done(EndUnconfirmedGrant);
        var o = options.Value;
        if (o.BypassMode != BypassMode.Team) return GrantWithoutTeam(change, o);
        // Only an admin-configured or GitHub-verified account: anyone could type anyone's login.
        var account = people.TrustedGitHub(change.DeclaredBy);
        if (account is null)
            return new StepOutcome.GiveUp(
                // Thread notes escape this text, so it names no Slack mention; the declarer reads it in their own thread.
                "the bot does not know the declarer's GitHub account for sure (a typed login grants nothing). Declarer: type "
                + "`/breakglass link github`, confirm on GitHub, and the bypass is granted at once.",
                c =>
                {
                    c.Bypass = new Bypass { Mode = nameof(BypassMode.Team), Team = o.BypassTeam, Problem = "no GitHub login linked" };
                    return [];
                });
        return await GrantTeamAsync(change, await identities.CurrentLoginAsync(change.DeclaredBy, account, identityClient, ct), o, ct);
    }

    /// <summary>RecordOnly and MergeByBot: nothing to call, only the window to record (and, for MergeByBot, to end).</summary>
    StepOutcome GrantWithoutTeam(EmergencyChange change, GitHubOptions o)
    {
        var now = time.GetUtcNow();
        var expires = now + policy.Value.BypassDuration;
        var granted = o.BypassMode == BypassMode.MergeByBot
            ? $"the bot may merge {Prs(change)} at the head SHA shown to the declarer, on the declarer's request, until {expires:O}"
            : "nothing by the bot (RecordOnly): an admin bypasses the branch rules by hand; the bot keeps the record";
        return Granted(now, expires, new Bypass { Mode = o.BypassMode.ToString() }, granted, scheduleEnd: o.BypassMode == BypassMode.MergeByBot);
    }

    /// <summary>Team: add the declarer's login to the team, one grant or revocation at a time.</summary>
    async Task<StepOutcome> GrantTeamAsync(EmergencyChange change, string login, GitHubOptions o, CancellationToken ct)
    {
        var (org, slug) = SplitTeam(o.BypassTeam!);
        // One grant or revocation of this person's membership at a time, across every replica: each decides from the others' records.
        await using var gate = await BypassGate.LockAsync(store, o.BypassTeam!, login, ct);
        try
        {
            // Read again under the gate: a revocation that held it may have handed its removal over to this change.
            change = store.Get(change.Id) ?? change;
            // An invitation an earlier attempt's PUT sent and could not withdraw yet: withdraw it, grant nothing.
            if (change.Bypass is { MembershipState: "pending", Granted: false, Problem: null, Login: var pl, Team: var pt } && pl == login && pt == o.BypassTeam)
                return await WithdrawInvitationAsync(org, slug, login, o.BypassTeam!, ct);
            bool wasMember;
            int? sharedWith = null;
            if (change.Bypass is { Login: var l, Team: var t, Problem: null } pending && l == login && t == o.BypassTeam)
            {
                // Checked before an earlier attempt's PUT, which may have landed: trust that answer, not today's.
                wasMember = pending.WasAlreadyMember;
                sharedWith = pending.SharedWith;
            }
            else
            {
                // A team PUT for someone outside the organisation invites them into it: the bot grants only to members.
                var inOrg = await github.GetOrgMembershipAsync(org, login, ct);
                if (!BypassDecisions.MayGrant(inOrg)) return NotAMember(org, login, o.BypassTeam!, inOrg);
                // Only an active membership is one the user had (a pending invitation gives no bypass). Another change's grant
                // counts until revoked, even past its window: its revocation hands the removal over to this change.
                var before = await github.GetTeamMembershipAsync(org, slug, login, ct);
                var other = before == TeamMembership.Active ? BypassGate.UnrevokedGrant(store, change.Id, o.BypassTeam!, login, time.GetUtcNow()) : null;
                (wasMember, sharedWith) = BypassDecisions.Overlap(before, other?.Id, other?.Bypass);
                store.Update(change.Id, c =>
                {
                    c.Bypass = new Bypass { Mode = nameof(BypassMode.Team), Team = o.BypassTeam, Login = login, WasAlreadyMember = wasMember, SharedWith = sharedWith };
                    return [];
                });
            }
            // PUT also when another change's bypass added them: idempotent, and it makes sure they are in for this window.
            var state = wasMember ? TeamMembership.Active : await github.AddTeamMemberAsync(org, slug, login, ct);
            if (state == TeamMembership.Pending)
            {
                // They left the organisation since the check, so GitHub sent an invitation: that is no grant, and is withdrawn.
                store.Update(change.Id, c =>
                {
                    c.Bypass = new Bypass { Mode = nameof(BypassMode.Team), Team = o.BypassTeam, Login = login, MembershipState = "pending" };
                    return [];
                });
                return await WithdrawInvitationAsync(org, slug, login, o.BypassTeam!, ct);
            }
            var now = time.GetUtcNow();
            var expires = now + policy.Value.BypassDuration;
            var stateText = state.ToString().ToLowerInvariant();
            var what = BypassDecisions.Granted(login, o.BypassTeam!, wasMember, state, sharedWith, expires);
            var bypass = new Bypass { Mode = nameof(BypassMode.Team), Team = o.BypassTeam, Login = login, WasAlreadyMember = wasMember,
                MembershipState = stateText, SharedWith = sharedWith, GrantedAt = now, ExpiresAt = expires };
            // Recorded before the gate opens, so a revocation of another change for the same person sees this window.
            if (!await gate.StillHeldAsync(ct)) return BypassGate.LockLost(o.BypassTeam!, login);
            store.Update(change.Id, c => { Record(c, bypass); return []; });
            var extra = new Dictionary<string, string>
            {
                ["team"] = o.BypassTeam!, ["login"] = login, ["was_already_member"] = wasMember ? "true" : "false", ["membership_state"] = stateText, ["role"] = "member",
            };
            if (sharedWith is { } s2) extra["shared_with"] = $"BG-{s2}";
            return Granted(now, expires, bypass, what, scheduleEnd: true, extra);
        }
        catch (GitHubException e)
        {
            return GitHubOutcomes.For(e,
                onNotFound: $"GitHub answered 404 for team `{o.BypassTeam}` and user `{login}`: check that the team exists, that the bot may manage it "
                    + "(token scope admin:org, or the app's Members permission), and that the account is right (`/breakglass people`). "
                    + "Until then an admin must grant the bypass by hand.",
                onForbidden: $"The bot may not manage team `{o.BypassTeam}`: give it the admin:org scope (or the app's Members write permission). "
                    + "Until then an admin must grant the bypass by hand.");
        }
    }

    /// <summary>The declarer's account is not an active member of the organisation: nothing is asked of GitHub, and people are told.</summary>
    StepOutcome NotAMember(string org, string login, string team, TeamMembership inOrg)
    {
        var now = time.GetUtcNow();
        var why = inOrg == TeamMembership.Pending ? "has been invited to but is not yet a member of" : "is not a member of";
        return new StepOutcome.GiveUp(
            $"GitHub user `{login}` {why} the organisation `{org}`, and the bot adds only organisation members to `{team}` "
            + "(adding anyone else would invite them into the organisation). No bypass was granted: an organisation owner decides on membership, "
            + "and until then an admin must bypass by hand.",
            c =>
            {
                c.Bypass = new Bypass { Mode = nameof(BypassMode.Team), Team = team, Login = login, Problem = "not an organisation member" };
                return [Refused(c, now, team, login, org, inOrg == TeamMembership.Pending ? "invited, not a member" : "not a member", null)];
            });
    }

    /// <summary>
    /// Withdraws what a PUT answered "pending" set up: the pending team membership and the organisation invitation. Retried until
    /// done (the invitation must not stay), then the grant is refused.
    /// </summary>
    async Task<StepOutcome> WithdrawInvitationAsync(string org, string slug, string login, string team, CancellationToken ct)
    {
        int cancelled;
        try
        {
            await github.RemoveTeamMemberAsync(org, slug, login, ct);
            cancelled = await github.CancelOrgInvitationsAsync(org, login, ct);
        }
        catch (GitHubException e)
        {
            var why = $"{e.Message}; the bot keeps trying to withdraw the invitation GitHub sent `{login}` to `{org}`";
            return e.Failure == GitHubFailure.RateLimited ? new StepOutcome.Retry(why, e.RetryAfter) : new StepOutcome.Retry(why);
        }
        var now = time.GetUtcNow();
        return new StepOutcome.GiveUp(
            $"GitHub user `{login}` is no longer a member of the organisation `{org}`: GitHub answered the grant with an invitation, "
            + "which the bot withdrew. No bypass was granted; until an organisation owner decides on membership, an admin must bypass by hand.",
            c =>
            {
                c.Bypass = new Bypass { Mode = nameof(BypassMode.Team), Team = team, Login = login, MembershipState = "withdrawn", Problem = "invitation withdrawn" };
                return [Refused(c, now, team, login, org, "invitation withdrawn", cancelled)];
            });
    }

    static AuditEvent Refused(EmergencyChange c, DateTimeOffset now, string team, string login, string org, string reason, int? invitationsCancelled)
    {
        var data = new Dictionary<string, string> { ["team"] = team, ["login"] = login, ["org"] = org, ["reason"] = reason, ["granted"] = "nothing" };
        if (invitationsCancelled is { } n) data["invitations_withdrawn"] = n.ToString(CultureInfo.InvariantCulture);
        return new AuditEvent { ChangeNumber = c.Id, At = now, Actor = "bot", Type = GitHubAuditTypes.BypassRefused, Data = data };
    }

    StepOutcome Granted(DateTimeOffset now, DateTimeOffset expires, Bypass bypass, string granted, bool scheduleEnd, Dictionary<string, string>? extra = null) =>
        new StepOutcome.Done(c =>
        {
            // The gate opened before this outcome is written: another change's revocation may have handed its removal over meanwhile.
            var handedOver = Record(c, bypass);
            c.Bypass!.GrantedAt = now;
            c.Bypass.ExpiresAt = expires;
            if (scheduleEnd)
            {
                // Cancelled while the grant was under way: end it at once rather than at the window's end.
                c.Steps.Add(OutboxQueue.NewStep(GitHubStepKinds.BypassRevoke, c.CancelledOrWithdrawn ? now : expires));
                OutboxQueue.Enqueue(c, StepKinds.ThreadNote, now, GitHubNotes.BypassGranted);
            }
            var data = new Dictionary<string, string>
            {
                ["mode"] = bypass.Mode, ["granted"] = granted, ["granted_at"] = now.ToString("O"), ["expires_at"] = expires.ToString("O"),
                ["pull_requests"] = Prs(c),
            };
            foreach (var (k, v) in extra ?? []) data[k] = v;
            if (handedOver)
            {
                data["was_already_member"] = "false";
                data["granted"] += $"; another change's bypass ended meanwhile and handed the removal over: this change's end removes {c.Bypass.Login}";
            }
            return [new AuditEvent { ChangeNumber = c.Id, At = now, Actor = "bot", Type = GitHubAuditTypes.BypassGranted, Data = data }];
        });

    /// <summary>
    /// Stores <paramref name="bypass"/>, updating (not replacing) a Team record for the same login and team so a removal
    /// handed over to this change survives. True when one had been.
    /// </summary>
    static bool Record(EmergencyChange c, Bypass bypass)
    {
        if (bypass.Mode != nameof(BypassMode.Team) || c.Bypass is not { Problem: null } stored || stored.Mode != bypass.Mode
            || stored.Team != bypass.Team || stored.Login != bypass.Login)
        {
            c.Bypass = bypass;
            return false;
        }
        var handedOver = bypass.WasAlreadyMember && !stored.WasAlreadyMember;
        stored.WasAlreadyMember &= bypass.WasAlreadyMember;
        stored.MembershipState = bypass.MembershipState ?? stored.MembershipState;
        stored.SharedWith ??= bypass.SharedWith;
        if (bypass.Granted) (stored.GrantedAt, stored.ExpiresAt) = (bypass.GrantedAt, bypass.ExpiresAt);
        return handedOver;
    }

    IEnumerable<AuditEvent> EndUnconfirmedGrant(EmergencyChange c)
    {
        if (c.Bypass is { Mode: nameof(BypassMode.Team), Login: not null, Team: not null, WasAlreadyMember: false, Problem: null, RevokedAt: null }
            && !c.Steps.Any(s => s.Kind == GitHubStepKinds.BypassRevoke))
            c.Steps.Add(OutboxQueue.NewStep(GitHubStepKinds.BypassRevoke, time.GetUtcNow()));
        return [];
    }

    static string Prs(EmergencyChange c) => string.Join(' ', c.PullRequests.Select(p => p.Ref.ToString()));

    internal static (string Org, string Slug) SplitTeam(string team) => team.Split('/') is [var org, var slug] ? (org, slug) : (team, "");
}

/// <summary>
/// Ends the bypass when its time is up (or at once on cancel); a durable outbox step, so it survives restarts. A failed
/// removal is retried for good, and after a refusal or a few failures the admins are asked once to remove the user by hand.
/// </summary>
internal sealed class BypassRevokeStep(IGitHubGateway github, ChangeStore store, IOptions<SlackOptions> slack, TimeProvider time) : IStepHandler
{
    /// <summary>Failed attempts after which a person is asked to act (a refusal asks at once); the bot keeps retrying either way.</summary>
    internal const int AttemptsBeforeAskingAdmins = 3;

    public string Kind => GitHubStepKinds.BypassRevoke;

    public string? Describe(EmergencyChange change, PendingStep step) => change.Bypass is { Mode: nameof(BypassMode.Team), Login: { } login, Team: { } team }
        ? $"end the bypass: remove GitHub user `{login}` from `{team}`"
        : null;

    public async Task<StepOutcome> RunAsync(EmergencyChange change, PendingStep step, CancellationToken ct)
    {
        var b = change.Bypass;
        if (b is null) return new StepOutcome.Done();
        if (b.RevokedAt is not null)
        {
            // The removal was stored but not this step's outcome (a crash): finish the audit event and thread note, unless done.
            if (store.AuditTrail(change.Id).Any(e => e.Type == GitHubAuditTypes.BypassRevoked)) return new StepOutcome.Done();
            return Ended(removed: false, step, b.HandedOffTo is { } to && store.Get(to) is { Bypass: not null } h ? h : null, recovered: true);
        }
        if (b is not { Mode: nameof(BypassMode.Team), Login: { } login, Team: { } team }) return Ended(false, step, null);

        await using var gate = await BypassGate.LockAsync(store, team, login, ct);
        {
            var now = time.GetUtcNow();
            // Read again under the gate: another change's revocation that held it may have handed its removal over to this one.
            var wasAlreadyMember = (store.Get(change.Id)?.Bypass ?? b).WasAlreadyMember;
            var other = wasAlreadyMember ? null : BypassGate.OpenGrant(store, change.Id, team, login, now);
            var decision = BypassDecisions.Revoke(wasAlreadyMember, otherWindowOpen: other is not null);
            if (decision == BypassDecisions.Revocation.KeepMember) return Ended(false, step, null);
            if (decision == BypassDecisions.Revocation.HandOver && other is not null)
            {
                if (!await gate.StillHeldAsync(ct)) return BypassGate.LockLost(team, login);
                // Another change's window for the same person is still open: removing them now would end that bypass too,
                // so that change's revocation removes them instead.
                var from = change.ChangeId.ToString();
                var handedBefore = store.AuditTrail(other.Id).Any(e => e.Type == GitHubAuditTypes.BypassRemovalHandedOver && e.Data.GetValueOrDefault("from") == from);
                store.Update(other.Id, c =>
                {
                    if (c.Bypass is null) return [];
                    c.Bypass.WasAlreadyMember = false;
                    if (handedBefore) return [];
                    return [new AuditEvent { ChangeNumber = c.Id, At = now, Actor = "bot", Type = GitHubAuditTypes.BypassRemovalHandedOver, Data = new()
                    {
                        ["from"] = from, ["team"] = team, ["login"] = login, ["expires_at"] = c.Bypass.ExpiresAt.ToString("O"),
                        ["duty"] = $"this change's revocation removes {login} from {team}, as {change.ChangeId}'s window ended while this one was open",
                    } }];
                });
                store.Update(change.Id, c => { if (c.Bypass is not null) { c.Bypass.HandedOffTo = other.Id; c.Bypass.RevokedAt = now; } return []; });
                return Ended(false, step, other);
            }
            var (org, slug) = BypassGrantStep.SplitTeam(team);
            bool removed;
            var withdrawn = 0;
            try
            {
                removed = await github.RemoveTeamMemberAsync(org, slug, login, ct);
                // Unless GitHub answered the grant "active", its PUT may have sent an organisation invitation: withdraw that too.
                // Only invitations: an organisation member is never removed from the organisation.
                if (BypassDecisions.WithdrawInvitations((store.Get(change.Id)?.Bypass ?? b).MembershipState)) withdrawn = await github.CancelOrgInvitationsAsync(org, login, ct);
            }
            catch (GitHubException e)
            {
                // Never given up: the user would keep bypass rights for good. Retry, and ask a person to act meanwhile.
                var refused = e.Failure is GitHubFailure.Forbidden or GitHubFailure.Invalid or GitHubFailure.NotFound;
                if (refused || step.Attempts >= AttemptsBeforeAskingAdmins) AskAdminsOnce(change.Id, login, team, e.Message, now);
                return e.Failure == GitHubFailure.RateLimited
                    ? new StepOutcome.Retry(e.Message, e.RetryAfter)
                    : new StepOutcome.Retry(refused ? $"{e.Message}; the bot keeps retrying, and a person must remove `{login}` from `{team}` by hand" : e.Message);
            }
            // Recorded before the gate opens, so a grant for the same person that follows sees this window closed.
            if (!await gate.StillHeldAsync(ct)) return BypassGate.LockLost(team, login);
            store.Update(change.Id, c => { if (c.Bypass is not null) c.Bypass.RevokedAt = now; return []; });
            return Ended(removed, step, null, invitationsWithdrawn: withdrawn);
        }
    }

    void AskAdminsOnce(int id, string login, string team, string error, DateTimeOffset now) =>
        store.Update(id, c =>
        {
            if (c.Steps.Any(s => s.Kind == StepKinds.ThreadNote && s.Target == BypassNotes.RemovalStuck)) return [];
            OutboxQueue.Enqueue(c, StepKinds.ThreadNote, now, BypassNotes.RemovalStuck);
            foreach (var admin in slack.Value.Admins.Distinct())
                OutboxQueue.Enqueue(c, StepKinds.DirectMessage, now, DirectMessageStep.Target(admin, BypassNotes.RemovalStuck));
            return [new AuditEvent { ChangeNumber = c.Id, At = now, Actor = "bot", Type = GitHubAuditTypes.BypassRemovalStuck, Data = new()
            {
                ["team"] = team, ["login"] = login, ["error"] = error, ["told"] = string.Join(' ', slack.Value.Admins.Distinct()),
                ["action"] = $"an admin must remove {login} from {team} by hand; the bot keeps retrying",
            } }];
        });

    /// <param name="recovered">The removal was stored before a restart and its outcome was not: GitHub's answer (removed or 404) is not known.</param>
    StepOutcome Ended(bool removed, PendingStep step, EmergencyChange? handedTo, bool recovered = false, int invitationsWithdrawn = 0)
    {
        var now = time.GetUtcNow();
        var retried = step.Attempts > 1;
        return new StepOutcome.Done(c =>
        {
            if (c.Bypass is null) return [];
            c.Bypass.RevokedAt ??= now;
            var at = c.Bypass.RevokedAt.Value;
            OutboxQueue.Enqueue(c, StepKinds.ThreadNote, at, GitHubNotes.BypassEnded);
            var revoked = BypassDecisions.Revoked(c.Bypass, removed, retried, handedTo, recovered);
            var data = new Dictionary<string, string>
            {
                ["mode"] = c.Bypass.Mode, ["revoked"] = revoked, ["team"] = c.Bypass.Team ?? "", ["login"] = c.Bypass.Login ?? "",
                ["was_already_member"] = c.Bypass.WasAlreadyMember ? "true" : "false", ["removed"] = recovered && handedTo is null ? "unknown" : removed ? "true" : "false",
                // Empty when the change was cancelled before the grant's outcome was recorded: no window was ever confirmed.
                ["granted_at"] = c.Bypass.Granted ? c.Bypass.GrantedAt.ToString("O") : "",
                ["expires_at"] = c.Bypass.Granted ? c.Bypass.ExpiresAt.ToString("O") : "",
                ["revoked_at"] = at.ToString("O", CultureInfo.InvariantCulture),
                ["reason"] = c.Cancellation is { AfterUse: true } && at < c.Bypass.ExpiresAt ? "withdrawn after use" : BypassDecisions.EndReason(c.Status, c.Bypass, at),
            };
            if (handedTo is not null) data["handed_to"] = handedTo.ChangeId.ToString();
            if (invitationsWithdrawn > 0) data["invitations_withdrawn"] = invitationsWithdrawn.ToString(CultureInfo.InvariantCulture);
            return [new AuditEvent { ChangeNumber = c.Id, At = at, Actor = "bot", Type = GitHubAuditTypes.BypassRevoked, Data = data }];
        });
    }
}

/// <summary>Serialises Team grants and revocations, and finds another change's open bypass for the same person and team.</summary>
internal static class BypassGate
{
    /// <summary>
    /// The lock on one person's membership of one team, held across every replica (a database lock on PostgreSQL): a bad
    /// interleave of a grant and a revocation would leave someone in the bypass team.
    /// </summary>
    public static Task<StoreLock> LockAsync(ChangeStore store, string team, string login, CancellationToken ct) =>
        store.LockAsync($"github-team-bypass:{team.ToLowerInvariant()}:{login.ToLowerInvariant()}", ct);

    /// <summary>
    /// The step's outcome when the lock was lost before its decision could be recorded (its database session ended): another
    /// replica may have decided meanwhile, so nothing is recorded and the step decides again.
    /// </summary>
    public static StepOutcome.Retry LockLost(string team, string login) =>
        new($"the lock on {login}'s membership of {team} was lost (database session ended); deciding again");

    /// <summary>
    /// Another change whose Team bypass for <paramref name="login"/> in <paramref name="team"/> the bot granted and whose window is
    /// still open; the one that ends last.
    /// </summary>
    public static EmergencyChange? OpenGrant(ChangeStore store, int except, string team, string login, DateTimeOffset now) =>
        store.LatestOpenBypass(nameof(BypassMode.Team), team, login, now, except);

    /// <summary>
    /// Another change's Team bypass for the same person and team, granted (or begun) and not yet revoked, even past its
    /// window; an open one first (see <see cref="OpenGrant"/>).
    /// </summary>
    public static EmergencyChange? UnrevokedGrant(ChangeStore store, int except, string team, string login, DateTimeOffset now) =>
        OpenGrant(store, except, team, login, now) ?? store.LatestUnrevokedBypass(nameof(BypassMode.Team), team, login, except);
}

/// <summary>The thread note and the admins' direct message when the bot cannot remove someone from the bypass team.</summary>
internal sealed class BypassNotes : IThreadNoteSource, IDirectMessageSource
{
    // "escalation…": DirectMessageStep records the DM as an escalation_sent audit event.
    public const string RemovalStuck = "escalation-bypass-removal";
    const string MergedElsewherePrefix = "github-merged-elsewhere:";
    public IReadOnlyCollection<string> Names => [RemovalStuck, "github-merged-elsewhere"];

    /// <summary>MergeByBot: the PR the declarer asked the bot to merge was merged by someone else.</summary>
    public static string MergedElsewhere(string pr) => MergedElsewherePrefix + pr;

    public string? Render(EmergencyChange change, string key)
    {
        if (key == RemovalStuck && change.Bypass is { Login: { } login, Team: { } team, RevokedAt: null })
            return $":rotating_light: The bot cannot remove `{login}` from `{team}` ({Blocks.Escape(LastError(change))}), so the bypass is still in effect. "
                + $"An admin must remove `{login}` from `{team}` on GitHub by hand now; the bot keeps retrying and says here when it is gone.";
        if (key.StartsWith(MergedElsewherePrefix, StringComparison.Ordinal) && GitHubOutcomes.Find(change, key[MergedElsewherePrefix.Length..]) is { Merged: true } pr)
            return $":twisted_rightwards_arrows: {Blocks.Link(pr.Ref.Url, pr.Ref.ToString())} was merged on GitHub by someone else, not by the bot; "
                + "the bot merged nothing. The audit trail records GitHub's merge commit and who merged it.";
        return null;
    }

    public SlackMessage? Render(EmergencyChange change, string key, string user, DateTimeOffset now)
    {
        if (key != RemovalStuck || change.Bypass is not { Login: { } login, Team: { } team } || change.Bypass.RevokedAt is not null) return null;
        var text = $":rotating_light: *{change.ChangeId}*: the bot cannot end the GitHub bypass ({Blocks.Escape(LastError(change))}). "
            + $"Please remove `{login}` from the team `{team}` on GitHub by hand now. The bot keeps retrying; the change's thread says when it is gone.";
        return new SlackMessage(text, Blocks.List(Blocks.Section(text)));
    }

    static string LastError(EmergencyChange c) =>
        c.Steps.LastOrDefault(s => s.Kind == GitHubStepKinds.BypassRevoke)?.LastError ?? "GitHub refused";
}

/// <summary>/breakglass cancel: a cancelled change's bypass ends now, not when its window would have.</summary>
internal sealed class EndBypassOnCancel : IChangeCancellation
{
    public void Cancelled(EmergencyChange change, DateTimeOffset now)
    {
        foreach (var step in change.Steps.Where(s => s.Kind == GitHubStepKinds.BypassRevoke && s.State == StepState.Pending && s.NextAttemptAt > now))
            step.NextAttemptAt = now;
    }
}
