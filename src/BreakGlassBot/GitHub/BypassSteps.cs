using System.Globalization;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.GitHub;

/// <summary>
/// Grants the bypass by GitHub:BypassMode and schedules its end. RecordOnly and MergeByBot only record the
/// window; Team adds the declarer's GitHub login to GitHub:BypassTeam.
/// </summary>
internal sealed class BypassGrantStep(IGitHubGateway github, ChangeStore store, People people, IOptions<GitHubOptions> options,
    IOptions<PolicyOptions> policy, TimeProvider time) : IStepHandler
{
    public string Kind => GitHubStepKinds.BypassGrant;

    public string? Describe(EmergencyChange change, PendingStep step) => options.Value.BypassMode == BypassMode.Team
        ? $"grant the bypass: add the declarer's GitHub account to `{options.Value.BypassTeam}`"
        : null; // the other modes make no call that could fail

    public async Task<StepOutcome> RunAsync(EmergencyChange change, PendingStep step, CancellationToken ct)
    {
        if (change.Bypass is { GrantedAt: var g } && g != default) return new StepOutcome.Done(); // granted before a crash
        if (change.Status == ChangeStatus.Cancelled) return new StepOutcome.Done(); // withdrawn before the grant ran: grant nothing
        var o = options.Value;
        if (o.BypassMode != BypassMode.Team)
        {
            var now = time.GetUtcNow();
            var expires = now + policy.Value.BypassDuration;
            var granted = o.BypassMode == BypassMode.MergeByBot
                ? $"the bot may merge {Prs(change)} at the head SHA shown to the declarer, on the declarer's request, until {expires:O}"
                : "nothing by the bot (RecordOnly): an admin bypasses the branch rules by hand; the bot keeps the record";
            return Granted(now, expires, new Bypass { Mode = o.BypassMode.ToString() }, granted, scheduleEnd: o.BypassMode == BypassMode.MergeByBot);
        }

        var login = people.GitHubLogin(change.DeclaredBy);
        if (login is null)
            return new StepOutcome.GiveUp(
                // Thread notes escape this text, so it names no Slack mention; the declarer reads it in their own thread.
                "the bot does not know the declarer's GitHub login. Declarer: type `/breakglass link github <your-login>` "
                + "and the bypass is granted at once.",
                c =>
                {
                    c.Bypass = new Bypass { Mode = nameof(BypassMode.Team), Team = o.BypassTeam, Problem = "no GitHub login linked" };
                    return [];
                });
        var (org, slug) = SplitTeam(o.BypassTeam!);
        try
        {
            bool wasMember;
            TeamMembership before;
            if (change.Bypass is { Login: var l, Team: var t, Problem: null } pending && l == login && t == o.BypassTeam)
            {
                // Checked before an earlier attempt's PUT, which may have landed: trust that answer, not today's.
                wasMember = pending.WasAlreadyMember;
                before = wasMember ? TeamMembership.Active : TeamMembership.None;
            }
            else
            {
                before = await github.GetTeamMembershipAsync(org, slug, login, ct);
                wasMember = before != TeamMembership.None;
                store.Update(change.Id, c =>
                {
                    c.Bypass = new Bypass { Mode = nameof(BypassMode.Team), Team = o.BypassTeam, Login = login, WasAlreadyMember = wasMember };
                    return [];
                });
            }
            var state = wasMember ? before : await github.AddTeamMemberAsync(org, slug, login, ct);
            var now = time.GetUtcNow();
            var expires = now + policy.Value.BypassDuration;
            var what = wasMember
                ? $"nothing added: GitHub user {login} was already a member of {o.BypassTeam} and stays one"
                : $"GitHub user {login} added to team {o.BypassTeam} (role member, membership {state.ToString().ToLowerInvariant()}) until {expires:O}";
            return Granted(now, expires, new Bypass { Mode = nameof(BypassMode.Team), Team = o.BypassTeam, Login = login, WasAlreadyMember = wasMember },
                what, scheduleEnd: true, extra: new() { ["team"] = o.BypassTeam!, ["login"] = login, ["was_already_member"] = wasMember ? "true" : "false",
                    ["membership_state"] = state.ToString().ToLowerInvariant(), ["role"] = "member" });
        }
        catch (GitHubException e)
        {
            return GitHubOutcomes.For(e,
                onNotFound: $"GitHub answered 404 for team `{o.BypassTeam}` and user `{login}`: check that the team exists, that the bot may manage it "
                    + "(token scope admin:org, or the app's Members permission), and that the login is right (`/breakglass link github <login>`). "
                    + "Until then an admin must grant the bypass by hand.",
                onForbidden: $"The bot may not manage team `{o.BypassTeam}`: give it the admin:org scope (or the app's Members write permission). "
                    + "Until then an admin must grant the bypass by hand.");
        }
    }

    StepOutcome Granted(DateTimeOffset now, DateTimeOffset expires, Bypass bypass, string granted, bool scheduleEnd, Dictionary<string, string>? extra = null) =>
        new StepOutcome.Done(c =>
        {
            bypass.GrantedAt = now;
            bypass.ExpiresAt = expires;
            c.Bypass = bypass;
            if (scheduleEnd)
            {
                c.Steps.Add(Outbox.NewStep(GitHubStepKinds.BypassRevoke, expires));
                Outbox.Enqueue(c, StepKinds.ThreadNote, now, GitHubNotes.BypassGranted);
            }
            var data = new Dictionary<string, string>
            {
                ["mode"] = bypass.Mode, ["granted"] = granted, ["granted_at"] = now.ToString("O"), ["expires_at"] = expires.ToString("O"),
                ["pull_requests"] = Prs(c),
            };
            foreach (var (k, v) in extra ?? []) data[k] = v;
            return [new AuditEvent { ChangeNumber = c.Id, At = now, Actor = "bot", Type = GitHubAuditTypes.BypassGranted, Data = data }];
        });

    static string Prs(EmergencyChange c) => string.Join(' ', c.PullRequests.Select(p => p.Ref.ToString()));

    internal static (string Org, string Slug) SplitTeam(string team) => team.Split('/') is [var org, var slug] ? (org, slug) : (team, "");
}

/// <summary>
/// Ends the bypass when its time is up. Created with NextAttemptAt = ExpiresAt in the durable outbox, so it runs
/// after a restart too. A user who was a team member before the grant stays one.
/// </summary>
internal sealed class BypassRevokeStep(IGitHubGateway github, TimeProvider time) : IStepHandler
{
    public string Kind => GitHubStepKinds.BypassRevoke;

    public string? Describe(EmergencyChange change, PendingStep step) => change.Bypass is { Mode: nameof(BypassMode.Team), Login: { } login, Team: { } team }
        ? $"end the bypass: remove GitHub user `{login}` from `{team}`"
        : null;

    public async Task<StepOutcome> RunAsync(EmergencyChange change, PendingStep step, CancellationToken ct)
    {
        var b = change.Bypass;
        if (b is null || b.RevokedAt is not null) return new StepOutcome.Done();
        var removed = false;
        if (b is { Mode: nameof(BypassMode.Team), WasAlreadyMember: false, Login: { } login, Team: { } team })
        {
            var (org, slug) = BypassGrantStep.SplitTeam(team);
            try { removed = await github.RemoveTeamMemberAsync(org, slug, login, ct); }
            catch (GitHubException e)
            {
                return GitHubOutcomes.For(e,
                    onNotFound: $"GitHub cannot find team `{team}`. An admin must check by hand that `{login}` is no longer in it.",
                    onForbidden: $"The bot may no longer manage team `{team}`. An admin must remove `{login}` from it by hand now.");
            }
        }
        var now = time.GetUtcNow();
        var retried = step.Attempts > 1;
        return new StepOutcome.Done(c =>
        {
            if (c.Bypass is null) return [];
            c.Bypass.RevokedAt = now;
            Outbox.Enqueue(c, StepKinds.ThreadNote, now, GitHubNotes.BypassEnded);
            var revoked = c.Bypass.Mode == nameof(BypassMode.Team)
                ? c.Bypass.WasAlreadyMember
                    ? $"nothing removed: {c.Bypass.Login} was a member of {c.Bypass.Team} before the grant and stays one"
                    : $"GitHub user {c.Bypass.Login} removed from team {c.Bypass.Team}" + (removed ? "" : retried
                        // A 404 on a retry is most likely the earlier DELETE, whose answer was lost: say so rather than imply someone else did it.
                        ? " (already gone when the bot retried: most likely by its own earlier attempt, whose answer was lost)"
                        : " (was no longer a member)")
                : "the bot no longer merges for this change";
            return [new AuditEvent { ChangeNumber = c.Id, At = now, Actor = "bot", Type = GitHubAuditTypes.BypassRevoked, Data = new()
            {
                ["mode"] = c.Bypass.Mode, ["revoked"] = revoked, ["team"] = c.Bypass.Team ?? "", ["login"] = c.Bypass.Login ?? "",
                ["was_already_member"] = c.Bypass.WasAlreadyMember ? "true" : "false", ["removed"] = removed ? "true" : "false",
                ["granted_at"] = c.Bypass.GrantedAt.ToString("O"), ["expires_at"] = c.Bypass.ExpiresAt.ToString("O"),
                ["revoked_at"] = now.ToString("O", CultureInfo.InvariantCulture),
            } }];
        });
    }
}
