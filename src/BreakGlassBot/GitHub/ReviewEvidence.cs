using System.Globalization;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Reviewing;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.GitHub;

/// <summary>
/// DESIGN.md §2: a PR is retrospectively reviewed when someone other than its author (compared by user id:
/// logins can be renamed) has an APPROVED review that was not dismissed and, if the PR is merged, was submitted
/// after the merge. Pure: tested without a server.
/// </summary>
public static class ReviewRule
{
    public const string Approved = "APPROVED";
    public const string ChangesRequested = "CHANGES_REQUESTED";
    public const string Dismissed = "DISMISSED";

    /// <param name="declarerLogin">The declarer's GitHub login (People map): DESIGN.md §2, reviewers are never the declarer.</param>
    /// <param name="declarerId">The declarer's GitHub user id when verified or resolved: matched first, as a renamed login keeps it.</param>
    public static EvidenceResult Evaluate(string target, PullRequestInfo pr, IReadOnlyList<ReviewInfo> reviews, string? declarerLogin = null, long? declarerId = null)
    {
        var latest = Latest(reviews);
        var mergedAt = MergedAt(pr);
        var counting = Approving(pr, latest, declarerLogin, declarerId);
        if (counting is not null) return EvidenceResult.Yes(target);

        var others = latest.Where(r => r.UserId != pr.AuthorId && !IsDeclarer(r, pr, declarerLogin, declarerId)).ToList();
        var missing = new List<string>();
        foreach (var r in others.Where(r => r.State == Approved && !OnHead(r, pr) && (mergedAt is null || r.SubmittedAt > mergedAt)))
            missing.Add($"{Who(r)} approved commit {Short(r.CommitId)}, not {(pr.IsMerged ? "the head that was merged" : "its head")} {Short(pr.HeadSha)}");
        foreach (var r in others.Where(r => r.State == Approved && mergedAt is not null && r.SubmittedAt <= mergedAt))
            missing.Add($"{Who(r)} approved at {Utc(r.SubmittedAt!.Value)}, before it was merged at {Utc(mergedAt!.Value)}; the retrospective review needs an approval submitted after the merge");
        foreach (var r in others.Where(r => r.State == ChangesRequested))
            missing.Add($"{Who(r)} requested changes");
        foreach (var r in others.Where(r => r.State == Dismissed))
            missing.Add($"the review by {Who(r)} was dismissed");
        if (latest.Any(r => r.UserId == pr.AuthorId && r.State == Approved))
            missing.Add($"its author {pr.AuthorLogin} approved it, which does not count");
        else if (latest.Any(r => IsDeclarer(r, pr, declarerLogin, declarerId) && r.State == Approved))
            missing.Add($"the declarer of the change ({declarerLogin}) approved it, which does not count");
        var needed = $"an approving review from someone other than its author {pr.AuthorLogin}"
            + (declarerLogin is null || string.Equals(declarerLogin, pr.AuthorLogin, StringComparison.OrdinalIgnoreCase) ? "" : $" and the declarer {declarerLogin}")
            + (pr.IsMerged ? ", submitted after the merge," : "") + " is needed";
        return EvidenceResult.No(target, missing.Count == 0
            ? $"{target} has no approving review yet: {needed}."
            : $"{target}: {string.Join("; ", missing)}. {char.ToUpperInvariant(needed[0])}{needed[1..]}.");
    }

    /// <summary>The approving review that satisfies the rule (the earliest that counts), or null.</summary>
    public static ReviewInfo? Approving(PullRequestInfo pr, IReadOnlyList<ReviewInfo> reviews, string? declarerLogin = null, long? declarerId = null)
    {
        var mergedAt = MergedAt(pr);
        return Latest(reviews)
            .Where(r => r.UserId != pr.AuthorId && !IsDeclarer(r, pr, declarerLogin, declarerId))
            .Where(r => r.State == Approved && (mergedAt is null || r.SubmittedAt > mergedAt) && OnHead(r, pr))
            .OrderBy(r => r.SubmittedAt).ThenBy(r => r.Id)
            .FirstOrDefault();
    }

    // Each reviewer's latest decisive review counts, as on GitHub: a later "request changes" replaces an approval,
    // and a dismissed approval shows as DISMISSED. Comments and pending (unsubmitted) reviews decide nothing.
    static List<ReviewInfo> Latest(IReadOnlyList<ReviewInfo> reviews) => reviews
        .Where(r => r.SubmittedAt is not null && r.UserId is not null && r.State is Approved or ChangesRequested or Dismissed)
        .OrderBy(r => r.SubmittedAt).ThenBy(r => r.Id)
        .GroupBy(r => r.UserId!.Value)
        .Select(g => g.Last())
        .ToList();

    static DateTimeOffset? MergedAt(PullRequestInfo pr) => pr.IsMerged ? pr.MergedAt : null;

    /// <summary>
    /// An approval covers the commit it was given on: the PR's head now, which for a merged PR is the head that was merged.
    /// GitHub names that commit in commit_id; a review without one covers nothing that can be shown.
    /// </summary>
    static bool OnHead(ReviewInfo r, PullRequestInfo pr) => r.CommitId is { } sha && string.Equals(sha, pr.HeadSha, StringComparison.OrdinalIgnoreCase);

    static string Short(string? sha) => sha is null ? "(none named)" : ApprovalCoverage.Short(sha);

    /// <summary>
    /// The People map gives the declarer's login, not their id: when that login is the PR author's, the author's id decides
    /// (a renamed login still matches); otherwise logins are compared, case-insensitively as GitHub does.
    /// </summary>
    static bool IsDeclarer(ReviewInfo r, PullRequestInfo pr, string? declarerLogin, long? declarerId) =>
        (declarerId is { } id && r.UserId == id) || declarerLogin is not null && (string.Equals(declarerLogin, pr.AuthorLogin, StringComparison.OrdinalIgnoreCase)
            ? r.UserId == pr.AuthorId
            : string.Equals(r.UserLogin, declarerLogin, StringComparison.OrdinalIgnoreCase));

    static string Who(ReviewInfo r) => r.UserLogin ?? $"user {r.UserId}";
    static string Utc(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
}

/// <summary>The deadline tracker's question to GitHub: is each linked PR retrospectively reviewed?</summary>
internal sealed class PullRequestEvidence(IGitHubGateway github, IOptions<GitHubOptions> options, People people, TimeProvider time) : IEvidenceSource
{
    public EvidenceKind Kind => EvidenceKind.PullRequestApproved;

    public bool IsConfigured => options.Value.IsConfigured;

    public bool AppliesTo(EmergencyChange change) => options.Value.IsConfigured && change.PullRequests.Count > 0;

    public string NotApplicable(EmergencyChange change) => !options.Value.IsConfigured
        ? $"GitHub is not configured, so the PR review that the policy requires for {change.ChangeId} cannot be checked"
        : $"policy requires an approved PR review, but no pull request is linked to {change.ChangeId} (link one: /breakglass link {change.ChangeId} <PR URL>)";

    /// <summary>Reads every PR fresh (author, merge time, all pages of reviews). Throws <see cref="GitHubException"/> while GitHub cannot answer: the tracker asks again later.</summary>
    public async Task<IReadOnlyList<EvidenceResult>> CheckAsync(EmergencyChange change, CancellationToken ct)
    {
        var results = new List<EvidenceResult>();
        // Any account known for the declarer, a typed hint too: excluding their review is the safe side.
        var account = people.AnyGitHub(change.DeclaredBy);
        var (declarer, declarerId) = (account?.Login, account?.Id);
        foreach (var linked in change.PullRequests)
        {
            var target = linked.Ref.ToString();
            try
            {
                var pr = await github.GetPullRequestAsync(linked.Ref, ct);
                var reviews = await github.GetReviewsAsync(linked.Ref, ct);
                // A detected case: whoever merged or pushed it bypassed the review, and may not give it afterwards either,
                // whoever is named responsible (who is excluded as the declarer).
                if (change.Detected is { Actor: { Length: > 0 } actor } d)
                    reviews = [.. reviews.Where(r => !(d.ActorId is { } id && r.UserId is { } u ? id == u : string.Equals(r.UserLogin, actor, StringComparison.OrdinalIgnoreCase)))];
                var approving = ReviewRule.Approving(pr, reviews, declarer, declarerId);
                var at = time.GetUtcNow();
                // What was read is kept: the packet shows who approved and when, and a merge no webhook reported.
                results.Add(ReviewRule.Evaluate(target, pr, reviews, declarer, declarerId) with
                {
                    Record = c =>
                    {
                        if (c.PullRequests.FirstOrDefault(p => p.Ref == linked.Ref) is not { } p) return;
                        (p.ApprovedBy, p.ApprovedById, p.ApprovedAt) = (approving?.UserLogin, approving?.UserId, approving?.SubmittedAt);
                        // A new head is recorded here; the tracker then voids the Slack approvals not given on it.
                        (p.HeadSha, p.BaseRef) = (pr.HeadSha, pr.BaseRef);
                        p.Merged = pr.IsMerged;
                        p.MergedAt = pr.IsMerged ? pr.MergedAt : null;
                        p.ReviewCheckedAt = at;
                    },
                });
            }
            catch (GitHubException e) when (e.Failure is GitHubFailure.NotFound or GitHubFailure.Forbidden)
            {
                results.Add(EvidenceResult.No(target, $"{target} cannot be read by the bot ({e.Message}): check the link, or give the bot access to {linked.Owner}/{linked.Repo}."));
            }
        }
        return results;
    }
}

/// <summary>A Team bypass ends when its change is reviewed: the revocation planned for its expiry runs now.</summary>
internal sealed class EndBypassOnReview : IReviewCompletion
{
    public void Reviewed(EmergencyChange change, DateTimeOffset now)
    {
        foreach (var step in change.Steps.Where(s => s.Kind == GitHubStepKinds.BypassRevoke && s.State == StepState.Pending && s.NextAttemptAt > now))
            step.NextAttemptAt = now;
    }
}
