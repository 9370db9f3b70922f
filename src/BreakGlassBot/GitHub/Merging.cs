using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Slack;
using Microsoft.Extensions.Options;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.GitHub;

/// <summary>
/// MergeByBot: a merge asked for by the declarer, checked here (who, which window, which head) and then carried
/// out by <see cref="MergeStep"/> through the outbox, pinned to the head SHA the declarer was shown.
/// </summary>
internal sealed class MergeRequests(ChangeStore store, IGitHubGateway github, OutboxQueue outbox, IOptions<GitHubOptions> options, TimeProvider time,
    People people, Permissions permissions, MergeScope scope)
{
    static readonly TimeSpan LiveCheckBudget = TimeSpan.FromSeconds(2);

    /// <param name="pinnedPr">The PR of a "Merge now" button or named in the command; null: the one linked PR (the command).</param>
    /// <param name="pinnedSha">The head SHA the button showed.</param>
    public async Task<string> RequestAsync(string user, ChangeId id, string? pinnedPr, string? pinnedSha, CancellationToken ct)
    {
        if (options.Value.BypassMode != BypassMode.MergeByBot)
            return $":information_source: The bot merges only when GitHub:BypassMode is MergeByBot (here it is {options.Value.BypassMode}). Merge on GitHub as usual.";
        var change = store.Get(id.Number);
        if (change is null) return $":warning: There is no {id}. `/breakglass list mine` shows your changes.";
        var now = time.GetUtcNow();
        var declarer = change.DeclaredBy == user;
        // An admin other than the declarer may merge what the declarer may not: nobody extends their own bypass.
        var admin = !declarer && permissions.IsAdmin(user);
        if (!declarer && !admin)
            return Refuse(change, user, now, "not the declarer",
                $":no_entry: Only {Blocks.Mention(change.DeclaredBy)}, who declared {id}, or an admin may have the bot merge its pull requests.");
        if (change.CancelledOrWithdrawn)
            return Refuse(change, user, now, "cancelled", $":no_entry: {id} is {(change.Cancellation is { AfterUse: true } ? "withdrawn after use" : "cancelled")}; the bot merges nothing for it.");
        var b = change.Bypass;
        if (b is null || b.GrantedAt == default)
            return $":hourglass_flowing_sand: The bypass of {id} is not open yet; try again in a moment.";
        if (b.RevokedAt is not null || now >= b.ExpiresAt)
            return Refuse(change, user, now, "bypass window closed",
                $":lock: The bypass window of {id} closed {Blocks.Date(b.RevokedAt ?? b.ExpiresAt)}; the bot no longer merges for it. "
                + "Get the pull request reviewed and merge it the normal way, or ask an admin.");

        var targets = change.PullRequests.Where(p => pinnedPr is null || string.Equals(p.Ref.ToString(), pinnedPr, StringComparison.OrdinalIgnoreCase)).ToList();
        if (targets.Count == 0) return $":warning: {id} links no such pull request{(pinnedPr is null ? "" : $" ({Blocks.Escape(pinnedPr)})")}.";
        var open = targets.Where(p => !p.Merged).ToList();
        // One merge names one PR: several linked and none named, the declarer says which.
        if (pinnedPr is null && open.Count > 1)
            return $":question: {id} links several pull requests not merged yet: {string.Join(", ", open.Select(p => $"`{p.Ref}`"))}. "
                + $"Name the one to merge: `/breakglass merge {id} {open[0].Ref}`.";
        var lines = new List<string>();
        foreach (var pr in targets)
        {
            if (pr.Merged) { lines.Add($"{pr.Ref} is already merged."); continue; }
            if (pr.Problem is not null) { lines.Add($"{pr.Ref} cannot be read on GitHub: {Blocks.Escape(pr.Problem)}"); continue; }
            if (!scope.Allows(pr.Ref))
            {
                lines.Add(Refuse(change, user, now, "repository not in GitHub:MergeRepositories",
                    $":no_entry: The bot merges only in the repositories of GitHub:MergeRepositories, and {pr.Ref.Owner}/{pr.Ref.Repo} is not one of them; "
                    + $"nothing was merged. Merge {pr.Ref} the normal way.", pr.Ref));
                continue;
            }
            if (declarer && !MayMergeForDeclarer(change, pr))
            {
                lines.Add(Refuse(change, user, now, "linked later, not authored by the declarer",
                    $":no_entry: {pr.Ref} was linked after {id} was declared and is not by your verified GitHub account, so the bot merges it only when "
                    + "an admin (Slack:Admins) other than you presses merge. Nothing was merged.", pr.Ref));
                continue;
            }
            if (pr.HeadSha is null) { lines.Add($":hourglass_flowing_sand: {pr.Ref} has not been read from GitHub yet; try again in a moment."); continue; }
            var sha = pinnedSha ?? pr.HeadSha;
            if (sha != pr.HeadSha)
            {
                lines.Add($":warning: This button shows head `{GitHubOutcomes.Short(sha)}` of {pr.Ref}, but its head is now `{GitHubOutcomes.Short(pr.HeadSha)}`. "
                    + "Nothing was merged: use the newest *Merge now* button in the thread.");
                continue;
            }
            if (people.TrustedGitHub(user) is not { } account)
            {
                lines.Add(Refuse(change, user, now, "requester's GitHub account unknown",
                    $":no_entry: The bot merges for you only with your own write permission on {pr.Ref.Owner}/{pr.Ref.Repo}, and it does not know your GitHub "
                    + "account for sure: type `/breakglass link github`, then ask again. Nothing was merged.", pr.Ref));
                continue;
            }
            var (live, permission) = await LiveAsync(pr.Ref, account.Login, ct);
            if (permission is { } p0 && p0 < RepositoryPermission.Write)
            {
                lines.Add(Refuse(change, user, now, "no write permission",
                    $":no_entry: Your GitHub account `{Blocks.Escape(account.Login)}` may not write to {pr.Ref.Owner}/{pr.Ref.Repo} (GitHub says "
                    + $"{p0.ToString().ToLowerInvariant()}), so the bot does not merge {pr.Ref} for you. Nothing was merged.", pr.Ref));
                continue;
            }
            if (live is not null && !live.IsMerged && MergeChecks.Refusal(change, pr, live, options.Value) is { } no)
            {
                lines.Add(Refuse(change, user, now, no.Reason, $":no_entry: {Blocks.Escape(no.Why)} Nothing was merged.", pr.Ref));
                continue;
            }
            if (live is { } l && l.HeadSha != sha && !l.IsMerged)
            {
                store.Update(change.Id, c =>
                {
                    if (GitHubOutcomes.Find(c, pr.Ref.ToString()) is { } p) p.HeadSha = l.HeadSha;
                    OutboxQueue.Enqueue(c, GitHubStepKinds.MergeButton, now, $"{pr.Ref}@{l.HeadSha}");
                    return [Event(c, user, now, GitHubAuditTypes.MergeRefused, new() { ["pr"] = pr.Ref.ToString(), ["reason"] = "head moved",
                        ["shown_sha"] = sha, ["head_sha"] = l.HeadSha })];
                });
                outbox.Nudge();
                lines.Add($":warning: The head of {pr.Ref} moved from `{GitHubOutcomes.Short(sha)}` to `{GitHubOutcomes.Short(l.HeadSha)}` since it was shown to you; "
                    + "nothing was merged. Look at the new commits; a new *Merge now* button for the new head follows in the thread.");
                continue;
            }
            store.Update(change.Id, c =>
            {
                OutboxQueue.Enqueue(c, GitHubStepKinds.Merge, now, $"{pr.Ref}@{sha}");
                return [Event(c, user, now, GitHubAuditTypes.MergeRequested, new() { ["pr"] = pr.Ref.ToString(), ["head_sha"] = sha,
                    ["as"] = declarer ? "declarer" : "admin", ["github_login"] = account.Login })];
            });
            outbox.Nudge();
            lines.Add($":twisted_rightwards_arrows: Merging {pr.Ref} at head `{GitHubOutcomes.Short(sha)}`; the result follows in the thread.");
        }
        return string.Join('\n', lines);
    }

    /// <summary>The declarer's own authority: a PR linked at declaration, or one authored by their verified account (by numeric id).</summary>
    bool MayMergeForDeclarer(EmergencyChange change, LinkedPullRequest pr) =>
        !LinkedLater(change, pr.Ref) || (people.TrustedGitHub(change.DeclaredBy) is { Id: { } id } && pr.AuthorId == id);

    bool LinkedLater(EmergencyChange change, PullRequestRef pr) =>
        store.AuditTrail(change.Id).Any(e => e.Type == LinkAuditTypes.LinksAdded
            && e.Data.GetValueOrDefault("pull_requests") is { } added
            && added.Split(' ').Contains(pr.ToString(), StringComparer.OrdinalIgnoreCase));

    /// <summary>
    /// The live PR and the requester's permission, within the reply budget. Unknown (null) when GitHub is slow or down: the merge step
    /// checks both again before merging.
    /// </summary>
    async Task<(PullRequestInfo? Live, RepositoryPermission? Permission)> LiveAsync(PullRequestRef pr, string login, CancellationToken ct)
    {
        var live = github.GetPullRequestAsync(pr, ct);
        var permission = github.GetPermissionAsync(pr.Owner, pr.Repo, login, ct);
        return (await Within(live), await Within(permission));

        async Task<T?> Within<T>(Task<T> call) where T : notnull
        {
            try { return await call.WaitAsync(LiveCheckBudget, ct); }
            catch (Exception e) when (e is GitHubException or TimeoutException) { return default; }
        }
    }

    string Refuse(EmergencyChange change, string user, DateTimeOffset now, string reason, string reply, PullRequestRef? pr = null)
    {
        var data = new Dictionary<string, string> { ["reason"] = reason };
        if (pr is not null) data["pr"] = pr.ToString();
        store.Update(change.Id, c => [Event(c, user, now, GitHubAuditTypes.MergeRefused, data)]);
        return reply;
    }

    static AuditEvent Event(EmergencyChange c, string actor, DateTimeOffset at, string type, Dictionary<string, string> data) =>
        new() { ChangeNumber = c.Id, At = at, Actor = actor, Type = type, Data = data };
}

/// <summary>MergeByBot's scope: the repositories of GitHub:MergeRepositories (else GitHub:Repositories). Also refuses other PRs at link time.</summary>
internal sealed class MergeScope(IOptions<GitHubOptions> options) : ILinkCheck
{
    public bool Allows(PullRequestRef pr) =>
        options.Value.MergeScope.Any(r => string.Equals(r.Trim(), $"{pr.Owner}/{pr.Repo}", StringComparison.OrdinalIgnoreCase));

    public LinkRefusal? Check(EmergencyChange change, string user, IReadOnlyList<PullRequestRef> pullRequests, DateTimeOffset now)
    {
        if (options.Value.BypassMode != BypassMode.MergeByBot) return null;
        var outside = pullRequests.Where(p => !Allows(p)).ToList();
        if (outside.Count == 0) return null;
        var names = string.Join(", ", outside.Select(p => $"{p.Owner}/{p.Repo}").Distinct(StringComparer.OrdinalIgnoreCase));
        return new LinkRefusal(
            $":no_entry: The bot merges only in the repositories of GitHub:MergeRepositories, and {names} is not one of them, so nothing was linked "
            + $"to {change.ChangeId}. Merge and get those reviewed the normal way, or ask an admin to add the repository to GitHub:MergeRepositories.",
            new AuditEvent { ChangeNumber = change.Id, At = now, Actor = user, Type = GitHubAuditTypes.LinkRefused, Data = new()
            {
                ["pull_requests"] = string.Join(' ', outside.Select(p => p.ToString())), ["reason"] = "repository not in GitHub:MergeRepositories",
            } });
    }
}

/// <summary>What the live PR must still be for the bot to merge it: the base it was linked with, and its head not from a fork.</summary>
internal static class MergeChecks
{
    public static (string Reason, string Why)? Refusal(EmergencyChange change, LinkedPullRequest linked, PullRequestInfo live, GitHubOptions o)
    {
        // Reviewed means reviewed at one head: any other was never seen by the approvers.
        if (change.Status == ChangeStatus.Reviewed && ApprovalCoverage.ApprovedHead(change, linked.Ref) is var approved
            && !string.Equals(approved, live.HeadSha, StringComparison.OrdinalIgnoreCase))
            return ("head not the reviewed one", $"{change.ChangeId} was reviewed with {linked.Ref} at "
                + (approved is null ? "no one head" : $"`{ApprovalCoverage.Short(approved)}`") + $", and its head is now `{ApprovalCoverage.Short(live.HeadSha)}`: "
                + "the bot merges only what was reviewed. Declare a new change for the new commits.");
        if (linked.BaseRef is { } shown && !string.Equals(live.BaseRef, shown, StringComparison.Ordinal))
            return ("base changed", $"{linked.Ref} now targets `{live.BaseRef}`, not `{shown}` as when it was linked, "
                + "so the bot does not merge it. Link it again in a new change, or merge it the normal way.");
        if (live.FromFork && !o.AllowForkMerges)
            return ("head from a fork", $"The head of {linked.Ref} is in another repository ({live.HeadRepository ?? "deleted"}), "
                + "and the bot merges no fork's code (GitHub:AllowForkMerges is off).");
        return null;
    }
}

/// <summary>/breakglass merge BG-n: merge the change's PRs at the head SHAs shown in the thread.</summary>
internal sealed class MergeCommand(MergeRequests merges) : ISubCommand
{
    public string Name => "merge";
    public string Usage => "`/breakglass merge BG-n` (with several PRs linked: `/breakglass merge BG-n owner/repo#n`) have the bot merge your change's pull request at the head shown in the thread (bypass mode MergeByBot)";

    public async Task<CommandReply> RunAsync(SlashCommand command, string arguments, CancellationToken ct)
    {
        var words = arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (!ChangeId.TryParse(words.FirstOrDefault(), out var id))
            return new CommandReply(":warning: Which change? Type `/breakglass merge BG-42`.");
        return new CommandReply(await merges.RequestAsync(command.UserId, id, words.Length > 1 ? PullRequestName(words[1]) : null, null, ct));
    }

    /// <summary>"owner/repo#n" as typed, or the same from a PR URL (Slack wraps links in &lt;…&gt;).</summary>
    static string PullRequestName(string word)
    {
        var w = word.Trim('<', '>').Split('|')[0];
        var m = System.Text.RegularExpressions.Regex.Match(w, @"^https?://[^/]+/(?<o>[^/]+)/(?<r>[^/]+)/pull/(?<n>\d+)");
        return m.Success ? $"{m.Groups["o"].Value}/{m.Groups["r"].Value}#{m.Groups["n"].Value}" : w;
    }
}

/// <summary>The "Merge now" button: value "BG-n|owner/repo#n|sha".</summary>
internal sealed class MergeButton(MergeRequests merges, ISlackApi slack, IHostApplicationLifetime lifetime, ILogger<MergeButton> log) : IBlockActionHandler
{
    public const string ActionId = "github_merge_now";
    public IReadOnlyCollection<string> ActionIds => [ActionId];

    public static string Value(ChangeId id, string pr, string sha) => $"{id}|{pr}|{sha}";

    public Task<IResult> ActAsync(InteractionPayload payload, ActionPayload action, CancellationToken ct)
    {
        if (action.Value?.Split('|') is not [var idText, var pr, var sha] || !ChangeId.TryParse(idText, out var id))
            return Task.FromResult(Results.Ok());
        // Ack now (Slack wants it within 3 s); the checks and the reply go through response_url.
        _ = Task.Run(async () =>
        {
            try
            {
                var text = await merges.RequestAsync(payload.User.Id, id, pr, sha, lifetime.ApplicationStopping);
                var message = new SlackMessage(text, Blocks.List(Blocks.Section(text)));
                if (payload.ResponseUrl is { Length: > 0 } url) await slack.RespondAsync(url, message, ephemeral: true, ct: lifetime.ApplicationStopping);
                else if ((payload.Channel?.Id ?? payload.Container?.ChannelId) is { } channel) await slack.PostEphemeralAsync(channel, payload.User.Id, message, lifetime.ApplicationStopping);
            }
            catch (Exception e) when (e is not OperationCanceledException) { log.LogError(e, "Merge button for {ChangeId} failed", id.ToString()); }
        });
        return Task.FromResult(Results.Ok());
    }
}

/// <summary>Posts "Merge now" for one PR at one head SHA into the thread (once, found again by its metadata after a crash).</summary>
internal sealed class MergeButtonStep(ISlackApi slack, ChangeMessages messages, IOptions<GitHubOptions> options) : IStepHandler
{
    public string Kind => GitHubStepKinds.MergeButton;
    public bool NeedsThread => true;

    public async Task<StepOutcome> RunAsync(EmergencyChange change, PendingStep step, CancellationToken ct)
    {
        var (prText, sha) = GitHubOutcomes.SplitPinned(step.Target);
        var pr = GitHubOutcomes.Find(change, prText);
        if (pr is null || pr.Merged || change.Status != ChangeStatus.Open || options.Value.BypassMode != BypassMode.MergeByBot
            || change.Bypass?.RevokedAt is not null)
            return new StepOutcome.Done();
        var text = $"*{Blocks.Link(pr.Ref.Url, pr.Ref.ToString())}* {Blocks.Escape(pr.Title ?? "")}\n"
            + $"Head `{GitHubOutcomes.Short(sha)}` by {Blocks.Escape(pr.AuthorLogin ?? "?")} into `{Blocks.Escape(pr.BaseRef ?? "?")}`. "
            + (change.Bypass is { GrantedAt: var g, ExpiresAt: var until } && g != default ? $"The bot may merge it until {Blocks.Date(until)}." : "");
        var note = messages.Note(change, "github-merge-button:" + step.Target, text);
        var blocks = Blocks.List(Blocks.Section(text),
            Blocks.Actions("github_merge", Blocks.Button($"Merge now at {GitHubOutcomes.Short(sha)}", MergeButton.ActionId,
                MergeButton.Value(change.ChangeId, pr.Ref.ToString(), sha), "danger")));
        try
        {
            var a = change.Announcement!;
            await SlackPosting.PostThreadReplyOnceAsync(slack, a, note with { Blocks = blocks }, step, ct);
            return new StepOutcome.Done();
        }
        catch (SlackApiException e) { return SlackPosting.RetryFor(e); }
    }
}

/// <summary>
/// Merges one PR pinned to a head SHA (GitHub answers 409 if the head moved). Refuses once the window has closed, unless
/// an earlier attempt may already have merged: a retry records what GitHub says happened.
/// </summary>
internal sealed class MergeStep(IGitHubGateway github, IOptions<GitHubOptions> options, TimeProvider time, ChangeStore store, People people, MergeScope scope)
    : IStepHandler
{
    public string Kind => GitHubStepKinds.Merge;

    public string? Describe(EmergencyChange change, PendingStep step)
    {
        var (pr, sha) = GitHubOutcomes.SplitPinned(step.Target);
        return $"merge {pr} at head `{GitHubOutcomes.Short(sha)}`";
    }

    public async Task<StepOutcome> RunAsync(EmergencyChange change, PendingStep step, CancellationToken ct)
    {
        var (prText, sha) = GitHubOutcomes.SplitPinned(step.Target);
        var linked = GitHubOutcomes.Find(change, prText);
        if (linked is null || linked.Merged) return new StepOutcome.Done();
        var pr = linked.Ref;
        try
        {
            // Read just before merging. An earlier attempt may have merged before the bot crashed or the answer was lost: GitHub's
            // record decides, before the window check, so a merge that happened in time is not reported as "nothing was merged".
            var info = await github.GetPullRequestAsync(pr, ct);
            if (info.IsMerged) return await AlreadyMergedAsync(change, prText, sha, info, earlierAttempt: step.Attempts > 1, ct);
            var now = time.GetUtcNow();
            if (change.CancelledOrWithdrawn)
                return new StepOutcome.GiveUp("the change was withdrawn before the merge could run; nothing was merged.");
            if (change.Bypass is not { } b || b.RevokedAt is not null || now >= b.ExpiresAt)
                return new StepOutcome.GiveUp("the bypass window closed before the merge could run; nothing was merged. "
                    + "Get the pull request reviewed and merge it the normal way, or ask an admin.");
            if (await RefusalAsync(change, linked, info, sha, ct) is { } refused) return refused;
            var merged = await github.MergeAsync(pr, sha, $"{linked.Title ?? pr.ToString()} ({change.ChangeId}, break-glass)", options.Value.MergeMethod, ct);
            return Recorded(prText, sha, merged.Sha, mergedBy: null, byBot: true, time.GetUtcNow(), mergedAt: null);
        }
        catch (GitHubException e) when (e.Failure == GitHubFailure.Conflict)
        {
            return new StepOutcome.GiveUp($"the head of {pr} moved away from `{GitHubOutcomes.Short(sha)}` before the merge, so nothing was merged. "
                + $"Look at the new commits, then type `/breakglass merge {change.ChangeId}` to see the new head and merge it.");
        }
        catch (GitHubException e) when (e.Failure == GitHubFailure.NotMergeable)
        {
            // 405 also answers a PR someone merged meanwhile: record that merge rather than a refusal.
            try
            {
                var info = await github.GetPullRequestAsync(pr, ct);
                if (info.IsMerged) return await AlreadyMergedAsync(change, prText, sha, info, earlierAttempt: false, ct);
            }
            catch (GitHubException) { }
            return new StepOutcome.GiveUp($"GitHub will not merge {pr}: {e.Message}. Check that the bot is a bypass actor of the repository's ruleset "
                + "and that the branch has no conflicts; then merge by hand or ask an admin.");
        }
        catch (GitHubException e)
        {
            return GitHubOutcomes.For(e,
                onNotFound: $"GitHub no longer shows {pr} to the bot; nothing was merged. Merge by hand or ask an admin.",
                onForbidden: $"The bot may not merge in {pr.Owner}/{pr.Repo}: give it Contents write access and make it a bypass actor of the ruleset.");
        }
    }

    /// <summary>
    /// What was checked when the merge was asked for, checked again on GitHub's answer of now: the scope, the base the PR was linked
    /// with, no fork, and the requester's own write permission.
    /// </summary>
    async Task<StepOutcome?> RefusalAsync(EmergencyChange change, LinkedPullRequest linked, PullRequestInfo info, string sha, CancellationToken ct)
    {
        var pr = linked.Ref;
        var requested = store.AuditTrail(change.Id).LastOrDefault(e => e.Type == GitHubAuditTypes.MergeRequested
            && string.Equals(e.Data.GetValueOrDefault("pr"), pr.ToString(), StringComparison.OrdinalIgnoreCase) && e.Data.GetValueOrDefault("head_sha") == sha);
        var requester = requested?.Actor ?? change.DeclaredBy;
        (string Reason, string Why)? no = !scope.Allows(pr)
            ? ("repository not in GitHub:MergeRepositories", $"{pr.Owner}/{pr.Repo} is not in GitHub:MergeRepositories (any more), so nothing was merged.")
            : MergeChecks.Refusal(change, linked, info, options.Value) is { } r ? (r.Reason, r.Why + " Nothing was merged.")
            : null;
        if (no is null)
        {
            var account = people.TrustedGitHub(requester);
            var permission = account is null ? RepositoryPermission.None : await github.GetPermissionAsync(pr.Owner, pr.Repo, account.Login, ct);
            if (permission < RepositoryPermission.Write)
                no = ("no write permission", $"the GitHub account of the person who asked ({account?.Login ?? "unknown"}) may not write to "
                    + $"{pr.Owner}/{pr.Repo}, so nothing was merged.");
        }
        if (no is not { } refusal) return null;
        var now = time.GetUtcNow();
        return new StepOutcome.GiveUp(refusal.Why, c => [new AuditEvent { ChangeNumber = c.Id, At = now, Actor = "bot", Type = GitHubAuditTypes.MergeRefused, Data = new()
        {
            ["pr"] = pr.ToString(), ["reason"] = refusal.Reason, ["head_sha"] = sha, ["requested_by"] = requester,
            ["base"] = info.BaseRef, ["linked_base"] = linked.BaseRef ?? "", ["head_repository"] = info.HeadRepository ?? "deleted",
        } }]);
    }

    /// <summary>
    /// The PR is merged though this step has no answer to its own merge. By the bot when merged_by is the bot's login, or,
    /// when that is unknown (a GitHub App), if an earlier attempt may have merged it at the pinned head.
    /// </summary>
    async Task<StepOutcome> AlreadyMergedAsync(EmergencyChange change, string prText, string sha, PullRequestInfo info, bool earlierAttempt, CancellationToken ct)
    {
        string? own = null;
        try { own = await github.GetOwnLoginAsync(ct); } catch (GitHubException) { }
        var byBot = info.MergedByLogin is { } by && own is not null
            ? string.Equals(by, own, StringComparison.OrdinalIgnoreCase)
            : earlierAttempt && info.HeadSha == sha;
        return Recorded(prText, byBot ? sha : info.HeadSha, info.MergeCommitSha ?? "", info.MergedByLogin, byBot, time.GetUtcNow(), info.MergedAt,
            pinnedSha: sha);
    }

    static StepOutcome Recorded(string prText, string headSha, string mergeSha, string? mergedBy, bool byBot, DateTimeOffset at, DateTimeOffset? mergedAt,
        string? pinnedSha = null) =>
        new StepOutcome.Done(c =>
        {
            var p = GitHubOutcomes.Find(c, prText);
            if (p is null) return [];
            p.Merged = true;
            p.MergedAt = mergedAt ?? at;
            if (byBot && c.Bypass is not null) { c.Bypass.PullRequest = prText; c.Bypass.HeadSha = headSha; }
            OutboxQueue.Enqueue(c, StepKinds.ThreadNote, at, byBot ? GitHubNotes.Merged(prText) : BypassNotes.MergedElsewhere(prText));
            var data = new Dictionary<string, string>
            {
                ["pr"] = prText, ["head_sha"] = headSha, ["merge_commit_sha"] = mergeSha, ["requested_by"] = c.DeclaredBy,
                ["source"] = byBot ? "bot" : "someone else", ["merged_by"] = mergedBy ?? (byBot ? "bot" : "unknown"),
            };
            if (pinnedSha is not null) data["pinned_sha"] = pinnedSha;
            if (mergedAt is { } m) data["merged_at"] = m.ToString("O");
            return [new AuditEvent { ChangeNumber = c.Id, At = at, Actor = "bot", Type = GitHubAuditTypes.PullRequestMerged, Data = data }];
        });
}
