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

    public static EvidenceResult Evaluate(string target, PullRequestInfo pr, IReadOnlyList<ReviewInfo> reviews)
    {
        // Each reviewer's latest decisive review counts, as on GitHub: a later "request changes" replaces an approval,
        // and a dismissed approval shows as DISMISSED. Comments and pending (unsubmitted) reviews decide nothing.
        var latest = reviews
            .Where(r => r.SubmittedAt is not null && r.UserId is not null && r.State is Approved or ChangesRequested or Dismissed)
            .OrderBy(r => r.SubmittedAt).ThenBy(r => r.Id)
            .GroupBy(r => r.UserId!.Value)
            .Select(g => g.Last())
            .ToList();
        var others = latest.Where(r => r.UserId != pr.AuthorId).ToList();
        var mergedAt = pr.IsMerged ? pr.MergedAt : null;
        if (others.Any(r => r.State == Approved && (mergedAt is null || r.SubmittedAt > mergedAt)))
            return EvidenceResult.Yes(target);

        var missing = new List<string>();
        foreach (var r in others.Where(r => r.State == Approved))
            missing.Add($"{Who(r)} approved at {Utc(r.SubmittedAt!.Value)}, before it was merged at {Utc(mergedAt!.Value)}; the retrospective review needs an approval submitted after the merge");
        foreach (var r in others.Where(r => r.State == ChangesRequested))
            missing.Add($"{Who(r)} requested changes");
        foreach (var r in others.Where(r => r.State == Dismissed))
            missing.Add($"the review by {Who(r)} was dismissed");
        if (latest.Any(r => r.UserId == pr.AuthorId && r.State == Approved))
            missing.Add($"its author {pr.AuthorLogin} approved it, which does not count");
        var needed = $"an approving review from someone other than its author {pr.AuthorLogin}" + (pr.IsMerged ? ", submitted after the merge," : "") + " is needed";
        return EvidenceResult.No(target, missing.Count == 0
            ? $"{target} has no approving review yet: {needed}."
            : $"{target}: {string.Join("; ", missing)}. {char.ToUpperInvariant(needed[0])}{needed[1..]}.");
    }

    static string Who(ReviewInfo r) => r.UserLogin ?? $"user {r.UserId}";
    static string Utc(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
}

/// <summary>The deadline tracker's question to GitHub: is each linked PR retrospectively reviewed?</summary>
internal sealed class PullRequestEvidence(IGitHubGateway github, IOptions<GitHubOptions> options) : IEvidenceSource
{
    public EvidenceKind Kind => EvidenceKind.PullRequestApproved;

    public bool AppliesTo(EmergencyChange change) => options.Value.IsConfigured && change.PullRequests.Count > 0;

    /// <summary>Reads every PR fresh (author, merge time, all pages of reviews). Throws <see cref="GitHubException"/> while GitHub cannot answer: the tracker asks again later.</summary>
    public async Task<IReadOnlyList<EvidenceResult>> CheckAsync(EmergencyChange change, CancellationToken ct)
    {
        var results = new List<EvidenceResult>();
        foreach (var linked in change.PullRequests)
        {
            var target = linked.Ref.ToString();
            try
            {
                var pr = await github.GetPullRequestAsync(linked.Ref, ct);
                var reviews = await github.GetReviewsAsync(linked.Ref, ct);
                results.Add(ReviewRule.Evaluate(target, pr, reviews));
            }
            catch (GitHubException e) when (e.Failure is GitHubFailure.NotFound or GitHubFailure.Forbidden)
            {
                results.Add(EvidenceResult.No(target, $"{target} cannot be read by the bot ({e.Message}): check the link, or give the bot access to {linked.Owner}/{linked.Repo}."));
            }
        }
        return results;
    }
}
