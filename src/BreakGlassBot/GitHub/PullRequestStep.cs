using System.Text;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using Microsoft.Extensions.Options;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.GitHub;

/// <summary>
/// For one linked PR: read it (author, head, base, merged: stored on the change), add the break-glass label,
/// and comment once. Safe to run twice: adding a label is idempotent, and the comment carries a marker that
/// is looked for before commenting.
/// </summary>
internal sealed class PullRequestStep(IGitHubGateway github, IOptions<GitHubOptions> options, IOptions<PolicyOptions> policy, TimeProvider time,
    People people, MergeScope scope)
    : IStepHandler
{
    public string Kind => GitHubStepKinds.PullRequest;
    // The comment links the Slack thread.
    public bool NeedsThread => true;

    public string? Describe(EmergencyChange change, PendingStep step) =>
        $"link {step.Target} on GitHub (the `{options.Value.Label}` label and a comment)";

    public static string Marker(EmergencyChange change) => $"<!-- breakglass:{change.ChangeId} -->";

    public async Task<StepOutcome> RunAsync(EmergencyChange change, PendingStep step, CancellationToken ct)
    {
        var linked = GitHubOutcomes.Find(change, step.Target);
        if (linked is null) return new StepOutcome.Done();
        var pr = linked.Ref;
        try
        {
            var info = await github.GetPullRequestAsync(pr, ct);
            // A private repository's title goes into Slack only if the declarer may read it there themselves.
            var title = info.Private && !await DeclarerMayReadAsync(change, pr, ct) ? null : info.Title;
            await github.AddLabelAsync(pr, options.Value.Label, ct);
            var marker = Marker(change);
            var comments = await github.GetCommentsAsync(pr, ct);
            var commented = false;
            if (!comments.Any(c => c.Body.Contains(marker, StringComparison.Ordinal)))
            {
                await github.CreateCommentAsync(pr, Comment(change, info), ct);
                commented = true;
            }
            var at = time.GetUtcNow();
            var mode = options.Value.BypassMode;
            return new StepOutcome.Done(c =>
            {
                var p = GitHubOutcomes.Find(c, step.Target);
                if (p is null) return [];
                // The author decides whether approvals recorded meanwhile count: have them counted now, not at the next planned check.
                if (p.AuthorLogin is null && c.Approvals.Count > 0) OutboxQueue.Enqueue(c, Reviewing.ReevaluateStep.StepKind, at);
                p.Title = title;
                p.AuthorLogin = info.AuthorLogin;
                p.AuthorId = info.AuthorId;
                p.HeadSha = info.HeadSha;
                p.BaseRef = info.BaseRef;
                p.Merged = info.IsMerged;
                p.MergedAt = info.MergedAt;
                p.FetchedAt = at;
                p.Problem = null;
                if (mode == BypassMode.MergeByBot && !info.IsMerged && scope.Allows(pr))
                    OutboxQueue.Enqueue(c, GitHubStepKinds.MergeButton, at, $"{pr}@{info.HeadSha}");
                return [new AuditEvent { ChangeNumber = c.Id, At = at, Actor = "bot", Type = GitHubAuditTypes.PullRequestLinked, Data = new()
                {
                    ["pr"] = pr.ToString(), ["url"] = pr.Url, ["title"] = title ?? "(not shown: private repository the declarer cannot read)", ["author"] = info.AuthorLogin,
                    ["author_id"] = info.AuthorId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["head_sha"] = info.HeadSha, ["base"] = info.BaseRef, ["merged"] = info.IsMerged ? "true" : "false",
                    ["merged_at"] = info.MergedAt?.ToString("O") ?? "", ["label"] = options.Value.Label,
                    ["comment"] = commented ? "created" : "already present",
                } }];
            });
        }
        catch (GitHubException e)
        {
            return GitHubOutcomes.For(e,
                onNotFound: $"GitHub has no pull request {pr} that the bot can see ({e.Message}). Check the link; if the repository is private, "
                    + $"give the bot's token or GitHub App access to {pr.Owner}/{pr.Repo}. The declaration stands; label and comment the PR by hand.",
                onForbidden: $"Give the bot's token or GitHub App write access to issues and pull requests in {pr.Owner}/{pr.Repo}; "
                    + "until then, label and comment the PR by hand. The declaration stands.",
                onGiveUp: (c, problem) =>
                {
                    if (GitHubOutcomes.Find(c, step.Target) is { } p) p.Problem = problem;
                    // Approvals that waited for this PR's author count without it now.
                    if (c.Approvals.Count > 0) OutboxQueue.Enqueue(c, Reviewing.ReevaluateStep.StepKind, time.GetUtcNow());
                    return [];
                });
        }
    }

    async Task<bool> DeclarerMayReadAsync(EmergencyChange change, PullRequestRef pr, CancellationToken ct) =>
        people.TrustedGitHub(change.DeclaredBy) is { } account
        && await github.GetPermissionAsync(pr.Owner, pr.Repo, account.Login, ct) >= RepositoryPermission.Read;

    string Comment(EmergencyChange change, PullRequestInfo info)
    {
        var o = options.Value;
        var sb = new StringBuilder();
        sb.AppendLine(Marker(change));
        sb.AppendLine($"### :rotating_light: Break-glass emergency change {change.ChangeId}");
        sb.AppendLine();
        sb.AppendLine("This pull request is part of an emergency change made without up-front review. It must be reviewed retrospectively.");
        sb.AppendLine();
        sb.AppendLine($"- **Change:** {change.ChangeId}");
        sb.AppendLine($"- **Summary:** {Quiet(change.Summary)}");
        sb.AppendLine($"- **Declared by:** {Quiet(change.DeclaredByName ?? change.DeclaredBy)} (Slack `{change.DeclaredBy}`) at {Utc(change.DeclaredAt)}");
        sb.AppendLine($"- **Retrospective review due:** {Utc(change.DueAt)}");
        sb.AppendLine($"- **Slack thread:** {(change.Announcement?.Permalink is { } link ? link : "see the announcement in Slack")}");
        sb.AppendLine($"- **Bypass:** {BypassWords(o, policy.Value.BypassDuration, info)}");
        sb.AppendLine();
        sb.Append($"The review counts when someone other than the author (@{info.AuthorLogin}) submits an **Approve** review")
          .AppendLine(info.IsMerged ? " after the merge." : " (after the merge, once it is merged).");
        return sb.ToString();
    }

    static string BypassWords(GitHubOptions o, TimeSpan duration, PullRequestInfo info) => o.BypassMode switch
    {
        BypassMode.Team => $"the declarer joins `{o.BypassTeam}` (a bypass actor of the ruleset) for {ReviewPolicy.Format(duration)}",
        BypassMode.MergeByBot => $"the bot merges this PR at head `{GitHubOutcomes.Short(info.HeadSha)}` when the declarer asks, within {ReviewPolicy.Format(duration)}",
        _ => "recorded only: an admin bypasses the branch rules by hand; the bot keeps the record",
    };

    static string Utc(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// User text in a GitHub comment, shown as typed: no @mentions (they would notify people), no HTML (a comment could fake
    /// the marker); "&amp;" is left alone unless it would start an entity. A Slack mention reads "@U…".
    /// </summary>
    internal static string Quiet(string text) =>
        System.Text.RegularExpressions.Regex.Replace(BreakGlassBot.Slack.SlackFormatting.Plain(text), "&(?=#?[A-Za-z0-9]+;)", "&amp;")
            .Replace("<", "&lt;", StringComparison.Ordinal).Replace("@", "@\u200b", StringComparison.Ordinal).ReplaceLineEndings(" ");
}
