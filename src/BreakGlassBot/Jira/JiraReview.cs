using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Reviewing;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Jira;

/// <summary>
/// The Jira part of the completion rule: an issue is reviewed when its status category key is <c>done</c>, or its
/// status name is one of Jira:ReviewedStatuses. The category key is the same in every language and workflow; the
/// names are not ("Done", "Erledigt", "Closed"), so names only count when configured.
/// </summary>
public static class JiraReviewRule
{
    public const string DoneCategory = "done";

    public static bool IsReviewed(JiraIssue issue, IReadOnlyCollection<string> reviewedStatuses) =>
        string.Equals(issue.StatusCategoryKey, DoneCategory, StringComparison.OrdinalIgnoreCase)
        || (issue.StatusName is { } name && reviewedStatuses.Any(s => string.Equals(s.Trim(), name.Trim(), StringComparison.OrdinalIgnoreCase)));

    /// <summary>What is missing, in words a reviewer understands; null when reviewed.</summary>
    public static string? Missing(string key, JiraIssue issue, IReadOnlyCollection<string> reviewedStatuses)
    {
        if (IsReviewed(issue, reviewedStatuses)) return null;
        var status = issue.StatusName is null ? "no status" : $"status '{issue.StatusName}'";
        var category = issue.StatusCategoryName ?? issue.StatusCategoryKey;
        var names = reviewedStatuses.Where(s => !string.IsNullOrWhiteSpace(s)).ToList();
        return $"Jira issue {key} is in {status}{(category is null ? "" : $" ({category})")}; it counts as reviewed once it reaches a status in the Done category"
            + (names.Count > 0 ? $" or one of: {string.Join(", ", names)}" : "") + ".";
    }
}

/// <summary>Review evidence from Jira: every linked issue (that Jira accepted) must be in a reviewed status.</summary>
internal sealed class JiraReviewEvidence(IJiraApi jira, IOptions<JiraOptions> options) : IEvidenceSource
{
    public EvidenceKind Kind => EvidenceKind.JiraReviewed;

    public bool AppliesTo(EmergencyChange change) => options.Value.IsConfigured && change.JiraIssues.Any(i => i.Problem is null);

    /// <summary>Throws <see cref="JiraApiException"/> when Jira cannot answer right now; the caller asks again later.</summary>
    public async Task<IReadOnlyList<EvidenceResult>> CheckAsync(EmergencyChange change, CancellationToken ct)
    {
        var results = new List<EvidenceResult>();
        foreach (var linked in change.JiraIssues.Where(i => i.Problem is null))
        {
            JiraIssue issue;
            try { issue = await jira.GetIssueAsync(linked.Key, ct); }
            catch (JiraApiException e) when (e.Status is System.Net.HttpStatusCode.NotFound or System.Net.HttpStatusCode.Forbidden)
            {
                // Deleted, or the bot lost access since the link was made: a definite "no", not an outage.
                results.Add(EvidenceResult.No(linked.Key, $"Jira issue {linked.Key} can no longer be read by the bot ({e.Reason})."));
                continue;
            }
            var missing = JiraReviewRule.Missing(linked.Key, issue, options.Value.ReviewedStatuses);
            results.Add(missing is null ? EvidenceResult.Yes(linked.Key) : EvidenceResult.No(linked.Key, missing));
        }
        return results;
    }
}
