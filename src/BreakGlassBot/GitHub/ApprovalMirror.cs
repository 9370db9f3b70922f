using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Reviewing;
using Microsoft.Extensions.Options;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.GitHub;

/// <summary>An approval given in Slack is mirrored as a comment on every linked PR (the PR's history then shows it).</summary>
internal sealed class ApprovalMirror(IOptions<GitHubOptions> options) : IApprovalFollowUps
{
    public IEnumerable<PendingStep> StepsFor(EmergencyChange change, Approval approval, int approvalIndex, DateTimeOffset now)
    {
        if (!options.Value.IsConfigured) yield break;
        foreach (var pr in change.PullRequests.Where(p => p.Problem is null))
            yield return OutboxQueue.NewStep(GitHubStepKinds.ApprovalComment, now, $"{pr.Ref}|{approvalIndex}");
    }
}

/// <summary>
/// Comments "Approved retrospectively by …" once: the comment's marker is looked for first. Not for an approval that does
/// not count (its approver wrote a linked PR), and not before that is known (see <see cref="Reviewers.FollowUpHold"/>).
/// </summary>
internal sealed class ApprovalCommentStep(IGitHubGateway github, Reviewers reviewers, TimeProvider time) : IStepHandler
{
    public string Kind => GitHubStepKinds.ApprovalComment;
    public bool NeedsThread => true;

    // Waiting for GitHub to name a PR's author is not a failure to report in the thread.
    public string? Describe(EmergencyChange change, PendingStep step) =>
        Split(step.Target).Index is var i && i >= 0 && i < change.Approvals.Count && reviewers.FollowUpWaits(change, change.Approvals[i])
            ? null
            : $"note the Slack approval on {Split(step.Target).Pr}";

    static (string Pr, int Index) Split(string? target)
    {
        var t = target ?? "";
        var bar = t.LastIndexOf('|');
        return bar < 0 || !int.TryParse(t.AsSpan(bar + 1), out var i) ? (t, -1) : (t[..bar], i);
    }

    public static string Marker(EmergencyChange change, int index) => $"<!-- breakglass:{change.ChangeId}:approval:{index} -->";

    public async Task<StepOutcome> RunAsync(EmergencyChange change, PendingStep step, CancellationToken ct)
    {
        var (prText, index) = Split(step.Target);
        var linked = GitHubOutcomes.Find(change, prText);
        if (linked is null || index < 0 || index >= change.Approvals.Count) return new StepOutcome.Done();
        var approval = change.Approvals[index];
        if (reviewers.FollowUpHold(change, step, approval) is { } hold) return hold;
        var marker = Marker(change, index);
        var link = change.Announcement?.Permalink;
        try
        {
            var comments = await github.GetCommentsAsync(linked.Ref, ct);
            if (!comments.Any(c => c.Body.Contains(marker, StringComparison.Ordinal)))
            {
                var name = PullRequestStep.Quiet(approval.ReviewerName ?? approval.Reviewer);
                var comment = string.IsNullOrWhiteSpace(approval.Comment) ? "" : $"\n\n> {PullRequestStep.Quiet(approval.Comment)}";
                await github.CreateCommentAsync(linked.Ref,
                    $"{marker}\n:white_check_mark: Approved retrospectively by {name} in Slack ({(link is null ? "the change's thread" : link)}) "
                    + $"for break-glass change {change.ChangeId}.{comment}", ct);
            }
            var at = time.GetUtcNow();
            return new StepOutcome.Done(c => [new AuditEvent { ChangeNumber = c.Id, At = at, Actor = "bot", Type = GitHubAuditTypes.ApprovalMirrored,
                Data = new() { ["pr"] = linked.Ref.ToString(), ["approval"] = index.ToString(System.Globalization.CultureInfo.InvariantCulture), ["reviewer"] = approval.Reviewer } }]);
        }
        catch (GitHubException e)
        {
            return GitHubOutcomes.For(e,
                onNotFound: $"GitHub no longer shows {linked.Ref} to the bot; the approval is recorded in Slack, but not on the PR.",
                onForbidden: $"Give the bot write access to pull requests in {linked.Owner}/{linked.Repo} to mirror approvals; the approval itself is recorded.");
        }
    }
}
