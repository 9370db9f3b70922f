using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Reviewing;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Jira;

/// <summary>
/// An issue is reviewed when its status category key is <c>done</c> (the same in every language and workflow), or its
/// status name is one of Jira:ReviewedStatuses (names differ, so they count only when configured).
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
internal sealed class JiraReviewEvidence(IJiraApi jira, IOptions<JiraOptions> options, TimeProvider time) : IEvidenceSource
{
    public EvidenceKind Kind => EvidenceKind.JiraReviewed;

    public bool IsConfigured => options.Value.IsConfigured;

    public bool AppliesTo(EmergencyChange change) => options.Value.IsConfigured && change.JiraIssues.Any(i => i.Problem is null);

    public string NotApplicable(EmergencyChange change)
    {
        if (!options.Value.IsConfigured)
            return $"Jira is not configured, so the Jira review that the policy requires for {change.ChangeId} cannot be checked";
        var unknown = change.JiraIssues.Where(i => i.Problem is not null).Select(i => i.Key).ToList();
        return unknown.Count == 0
            ? $"policy requires a reviewed Jira issue, but no Jira issue is linked to {change.ChangeId} (link one: /breakglass link {change.ChangeId} <JIRA-KEY>)"
            : $"policy requires a reviewed Jira issue, but Jira does not know the issue(s) linked to {change.ChangeId} ({string.Join(", ", unknown)}): link an existing one";
    }

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
            catch (JiraApiException e) when (e.WillNotChange)
            {
                // Jira's answer will be the same next time: say what it is rather than "could not be checked just now" forever.
                results.Add(EvidenceResult.No(linked.Key, $"Jira issue {linked.Key} cannot be checked by the bot ({e.Reason})."));
                continue;
            }
            var missing = JiraReviewRule.Missing(linked.Key, issue, options.Value.ReviewedStatuses);
            var at = time.GetUtcNow();
            var key = linked.Key;
            // Each check keeps the status it read; the status at review time is the one read when the issue first counted.
            results.Add((missing is null ? EvidenceResult.Yes(key) : EvidenceResult.No(key, missing)) with
            {
                Record = c =>
                {
                    if (c.JiraIssues.FirstOrDefault(i => i.Key == key) is not { } l) return;
                    (l.Status, l.StatusCategory, l.FetchedAt) = (issue.StatusName, issue.StatusCategoryKey, at);
                    if (missing is not null) (l.StatusAtReview, l.StatusCategoryAtReview, l.StatusAtReviewAsOf) = (null, null, null);
                    else if (l.StatusAtReviewAsOf is null) (l.StatusAtReview, l.StatusCategoryAtReview, l.StatusAtReviewAsOf) = (issue.StatusName, issue.StatusCategoryKey, at);
                },
            });
        }
        return results;
    }
}
