using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using Microsoft.Extensions.Options;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.GitHub;

public static class GitHubStepKinds
{
    /// <summary>Per linked PR: fetch it, add the label, comment once. Target: "owner/repo#n".</summary>
    public const string PullRequest = StepKinds.GitHubPullRequest;
    public const string BypassGrant = StepKinds.GitHubBypassGrant;
    /// <summary>Created with NextAttemptAt = the bypass's end: the durable outbox is the scheduler, so it fires after a restart too.</summary>
    public const string BypassRevoke = StepKinds.GitHubBypassRevoke;
    /// <summary>MergeByBot: the thread message with the "Merge now" button for one PR at one head SHA. Target: "owner/repo#n@sha".</summary>
    public const string MergeButton = StepKinds.GitHubMergeButton;
    /// <summary>MergeByBot: merge one PR pinned to a head SHA. Target: "owner/repo#n@sha".</summary>
    public const string Merge = StepKinds.GitHubMerge;
    /// <summary>Mirror a Slack approval as a PR comment. Target: "owner/repo#n|approval index".</summary>
    public const string ApprovalComment = StepKinds.GitHubApprovalComment;
}

public static class GitHubAuditTypes
{
    public const string PullRequestLinked = "pr_linked";
    public const string BypassGranted = "bypass_granted";
    public const string BypassRevoked = "bypass_revoked";
    /// <summary>Team: no grant, as the declarer's account is not an organisation member (or GitHub answered with an invitation, withdrawn).</summary>
    public const string BypassRefused = "bypass_refused";
    /// <summary>Another change's bypass for the same person ended while this one was open: this change's revocation removes them.</summary>
    public const string BypassRemovalHandedOver = "bypass_removal_handed_over";
    /// <summary>The bot could not remove someone from the bypass team; the admins were asked to do it by hand (the bot keeps retrying).</summary>
    public const string BypassRemovalStuck = "bypass_removal_stuck";
    public const string MergeRequested = "merge_requested";
    public const string MergeRefused = "merge_refused";
    /// <summary>MergeByBot: a PR outside GitHub:MergeRepositories was not linked.</summary>
    public const string LinkRefused = "link_refused";
    public const string PullRequestMerged = "pr_merged";
    public const string ApprovalMirrored = "approval_mirrored";
    public const string AccountLinked = "github_account_linked";
}

/// <summary>Adds the GitHub steps to every declaration, when GitHub is configured.</summary>
internal sealed class GitHubDeclarationSteps(IOptions<GitHubOptions> options) : IDeclarationStepSource
{
    public IEnumerable<PendingStep> StepsFor(EmergencyChange change, DateTimeOffset now)
    {
        if (!options.Value.IsConfigured) yield break;
        // The grant first: it needs no Slack thread, so the bypass is there even while Slack is down. A detected case was
        // never asked for: the bypass already happened, and nothing more is granted.
        if (change.Detected is null) yield return OutboxQueue.NewStep(GitHubStepKinds.BypassGrant, now);
        foreach (var step in PullRequestSteps(change.PullRequests.Select(p => p.Ref), now))
            yield return step;
    }

    /// <summary>A PR linked after the declaration gets the same step (fetch, label, comment); the bypass is per change and not repeated.</summary>
    public IEnumerable<PendingStep> StepsForAddedLinks(EmergencyChange change, IReadOnlyList<PullRequestRef> pullRequests, IReadOnlyList<string> jiraKeys, DateTimeOffset now) =>
        options.Value.IsConfigured ? PullRequestSteps(pullRequests, now) : [];

    static IEnumerable<PendingStep> PullRequestSteps(IEnumerable<PullRequestRef> pullRequests, DateTimeOffset now) =>
        pullRequests.Select(pr => OutboxQueue.NewStep(GitHubStepKinds.PullRequest, now, pr.ToString()));
}

internal static class GitHubOutcomes
{
    /// <summary>
    /// 5xx, timeouts, rate limits and 401 are retried (a rate limit after the wait GitHub asked for); 404, 403,
    /// 422 and merge refusals will not pass by waiting, so a person is told what to do.
    /// </summary>
    public static StepOutcome For(GitHubException e, string onNotFound, string onForbidden, Func<EmergencyChange, string, IEnumerable<AuditEvent>>? onGiveUp = null)
    {
        StepOutcome GiveUp(string problem) =>
            new StepOutcome.GiveUp(problem, onGiveUp is null ? null : c => onGiveUp(c, problem));
        return e.Failure switch
        {
            GitHubFailure.RateLimited => new StepOutcome.Retry(e.Message, e.RetryAfter),
            GitHubFailure.Unavailable => new StepOutcome.Retry(e.Message),
            GitHubFailure.Unauthorized => new StepOutcome.Retry(e.Message + ": check GitHub:Token, or the GitHub App's key and installation"),
            GitHubFailure.NotFound => GiveUp(onNotFound),
            GitHubFailure.Forbidden => GiveUp($"{e.Message}. {onForbidden}"),
            _ => GiveUp($"{e.Message}. GitHub will not accept this as it is: do it by hand, and ask an admin to check the bot's GitHub settings."),
        };
    }

    public static LinkedPullRequest? Find(EmergencyChange change, string? target) =>
        change.PullRequests.FirstOrDefault(p => string.Equals(p.Ref.ToString(), target, StringComparison.OrdinalIgnoreCase));

    /// <summary>"owner/repo#n@sha" → ("owner/repo#n", "sha").</summary>
    public static (string Pr, string Sha) SplitPinned(string? target)
    {
        var at = (target ?? "").LastIndexOf('@');
        return at < 0 ? (target ?? "", "") : (target![..at], target[(at + 1)..]);
    }

    public static string Short(string? sha) => ApprovalCoverage.Short(sha);
}
