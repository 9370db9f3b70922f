using System.Net;
using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Slack;
using Microsoft.Extensions.Options;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.Jira;

public static class JiraStepKinds
{
    /// <summary>Target: the key as linked. Fetch, label, comment.</summary>
    public const string Link = StepKinds.JiraLink;
    /// <summary>Target: Jira:ProjectKey. Create an issue when none was linked.</summary>
    public const string Create = StepKinds.JiraCreate;
    /// <summary>Target: "KEY|approvalIndex". Comment the approval, perform Jira:ReviewTransition.</summary>
    public const string Approval = StepKinds.JiraApproval;
}

public static class JiraAuditTypes
{
    public const string Linked = "jira_linked";
    public const string Created = "jira_created";
    public const string Commented = "jira_commented";
    public const string Transitioned = "jira_transitioned";
}

internal static class JiraOutcomes
{
    /// <summary>
    /// An answer that will not change by retrying (<see cref="JiraApiException.WillNotChange"/>) gives up once, saying what
    /// to do; anything else (401 an admin can fix, 408, 429, 5xx, timeouts) retries, after Jira's Retry-After when given.
    /// </summary>
    public static StepOutcome For(JiraApiException e, string advice, Func<EmergencyChange, IEnumerable<AuditEvent>>? onGiveUp = null) =>
        e.WillNotChange
            ? new StepOutcome.GiveUp($"{e.Reason.TrimEnd('.')}. {advice}", onGiveUp)
            : new StepOutcome.Retry(e.Reason, e.RetryAfter);

    /// <summary>Reading the issue itself says it does not exist or the bot may not see it: the key is never accepted.</summary>
    public static bool NotThere(JiraApiException e) =>
        e.Status is HttpStatusCode.NotFound or HttpStatusCode.Forbidden or HttpStatusCode.Gone;

    public static StepOutcome NotConfigured() =>
        new StepOutcome.GiveUp("Jira is no longer configured (Jira:BaseUrl and credentials), so nothing was recorded in Jira.");

    public static LinkedJiraIssue? Find(EmergencyChange c, string key) =>
        c.JiraIssues.FirstOrDefault(i => i.Key == key) ?? c.JiraIssues.FirstOrDefault(i => i.DeclaredKey == key);

    /// <summary>Text from Jira as the change stores it: valid UTF-16 (a lone surrogate becomes U+FFFD) and at most <paramref name="max"/> units.</summary>
    public static string Stored(string text, int max)
    {
        var chars = text.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (char.IsHighSurrogate(chars[i]) && i + 1 < chars.Length && char.IsLowSurrogate(chars[i + 1])) { i++; continue; }
            if (char.IsSurrogate(chars[i])) chars[i] = '\uFFFD';
        }
        return TextCut.Cut(new string(chars), max);
    }

    public static string? StoredOrNull(string? text, int max) => text is null ? null : Stored(text, max);

    public static AuditEvent Event(EmergencyChange c, DateTimeOffset at, string type, Dictionary<string, string> data) =>
        new() { ChangeNumber = c.Id, At = at, Actor = "bot", Type = type, Data = data };
}

/// <summary>Adds the Jira work to every new declaration: one link step per key, or one create step when none is linked.</summary>
internal sealed class JiraDeclarationSteps(IOptions<JiraOptions> options) : IDeclarationStepSource
{
    public IEnumerable<PendingStep> StepsFor(EmergencyChange change, DateTimeOffset now)
    {
        var o = options.Value;
        if (!o.IsConfigured) return [];
        if (change.JiraIssues.Count > 0) return LinkSteps(change.JiraIssues.Select(i => i.Key), now);
        return string.IsNullOrWhiteSpace(o.ProjectKey) ? [] : [OutboxQueue.NewStep(JiraStepKinds.Create, now, o.ProjectKey.Trim())];
    }

    /// <summary>An issue linked after the declaration gets the same step as a declared one (fetch, label, comment).</summary>
    public IEnumerable<PendingStep> StepsForAddedLinks(EmergencyChange change, IReadOnlyList<PullRequestRef> pullRequests, IReadOnlyList<string> jiraKeys, DateTimeOffset now) =>
        options.Value.IsConfigured ? LinkSteps(jiraKeys, now) : [];

    static List<PendingStep> LinkSteps(IEnumerable<string> keys, DateTimeOffset now) =>
        [.. keys.Select(key => OutboxQueue.NewStep(JiraStepKinds.Link, now, key))];
}

/// <summary>
/// Fetches a linked issue (keeping the key Jira answers with), labels it and comments the change. Safe to repeat: the
/// label is added with "update/add", the comment only when none carries the change's marker.
/// </summary>
internal sealed class JiraLinkStep(IJiraApi jira, IOptions<JiraOptions> options, TimeProvider time) : IStepHandler
{
    public string Kind => JiraStepKinds.Link;
    public bool NeedsThread => true; // the comment links the Slack thread

    public string? Describe(EmergencyChange change, PendingStep step) => $"record {change.ChangeId} on Jira issue {step.Target}";

    public async Task<StepOutcome> RunAsync(EmergencyChange change, PendingStep step, CancellationToken ct)
    {
        if (!options.Value.IsConfigured) return JiraOutcomes.NotConfigured();
        var declared = step.Target ?? "";
        if (JiraOutcomes.Find(change, declared) is not { Problem: null }) return new StepOutcome.Done();
        JiraIssue issue;
        try { issue = await jira.GetIssueAsync(declared, ct); }
        catch (JiraApiException e) { return Unreadable(declared, e); }

        var key = issue.Key;
        string? labelProblem = null;
        JiraComment? comment = null, existing = null;
        JiraApiException? refused = null;
        try
        {
            if (!issue.Labels.Contains(JiraTexts.Label))
            {
                // A screen without the labels field answers 400; the comment matters more than the label, so go on.
                try { await jira.AddLabelAsync(key, JiraTexts.Label, ct); }
                catch (JiraApiException e) when (e.WillNotChange) { labelProblem = e.Reason; }
            }
            var marker = JiraTexts.DeclarationMarker(change);
            existing = (await jira.GetCommentsAsync(key, ct)).FirstOrDefault(c => c.Text.Contains(marker, StringComparison.Ordinal));
            comment = existing ?? await jira.AddCommentAsync(key, JiraTexts.DeclarationComment(change), ct);
        }
        catch (JiraApiException e) when (e.WillNotChange) { refused = e; }
        catch (JiraApiException e) { return new StepOutcome.Retry(e.Reason, e.RetryAfter); }

        var result = new LinkResult(declared, issue, time.GetUtcNow(), labelProblem, comment, existing, refused);
        IEnumerable<AuditEvent> Record(EmergencyChange c) => RecordLink(c, result);
        // A refused comment is reported once, but the issue is readable: it is linked and still counts as evidence (by its status).
        return refused is null
            ? new StepOutcome.Done(Record)
            : new StepOutcome.GiveUp($"{refused.Reason.TrimEnd('.')}. The issue stays linked and its review status still counts; "
                + $"give the bot's Jira account permission to comment on {key} if the change should be recorded there.", Record);
    }

    StepOutcome Unreadable(string declared, JiraApiException e)
    {
        if (!JiraOutcomes.NotThere(e))
            return JiraOutcomes.For(e, $"Check the key {declared} and the bot's Jira access. The change itself stands; the issue's review status is still checked.");
        // Only reading the issue itself can say the key is never accepted: then it is no evidence at all.
        var at = time.GetUtcNow();
        return new StepOutcome.GiveUp($"{e.Reason.TrimEnd('.')}. Check the key {declared}, and that the bot's Jira account may see it. The change itself stands; this key is not retried.",
            c =>
            {
                if (JiraOutcomes.Find(c, declared) is { } linked) linked.Problem = e.Reason;
                CreateWhenNoneIsLeft(c, at);
                return [];
            });
    }

    sealed record LinkResult(string Declared, JiraIssue Issue, DateTimeOffset Now, string? LabelProblem, JiraComment? Comment, JiraComment? Existing, JiraApiException? Refused);

    static List<AuditEvent> RecordLink(EmergencyChange c, LinkResult r)
    {
        var (issue, now) = (r.Issue, r.Now);
        var key = issue.Key;
        var linked = JiraOutcomes.Find(c, r.Declared);
        if (linked is null) return [];
        var moved = key != linked.Key;
        if (moved)
        {
            linked.DeclaredKey ??= linked.Key;
            linked.Key = key;
            // The announcement and the thread show the key Jira uses now.
            OutboxQueue.Enqueue(c, StepKinds.ThreadNote, now, JiraNotes.Moved(linked.DeclaredKey));
            OutboxQueue.Enqueue(c, StepKinds.RefreshAnnouncement, now);
        }
        // Jira's text as the change stores it: cut and valid, so recording the link cannot fail on what Jira answered.
        linked.Summary = JiraOutcomes.StoredOrNull(issue.Summary, 255);
        linked.Status = JiraOutcomes.StoredOrNull(issue.StatusName, 100);
        linked.StatusCategory = JiraOutcomes.StoredOrNull(issue.StatusCategoryKey, 50);
        linked.FetchedAt = now;
        if (r.Refused is not null) linked.CommentProblem = r.Refused.Reason;
        var data = new Dictionary<string, string>
        {
            ["key"] = key, ["issue_id"] = issue.Id, ["status"] = issue.StatusName ?? "", ["status_category"] = issue.StatusCategoryKey ?? "",
            ["label"] = r.LabelProblem is null ? JiraTexts.Label : "not added: " + r.LabelProblem,
        };
        if (linked.DeclaredKey is not null) data["declared_key"] = linked.DeclaredKey;
        if (r.Refused is not null) data["comment"] = "not added: " + r.Refused.Reason;
        List<AuditEvent> events = [JiraOutcomes.Event(c, now, JiraAuditTypes.Linked, data)];
        if (r.Comment is not null)
            events.Add(JiraOutcomes.Event(c, now, JiraAuditTypes.Commented, new()
            {
                ["key"] = key, ["comment_id"] = r.Comment.Id, ["about"] = "declared", ["found_existing"] = (r.Existing is not null).ToString().ToLowerInvariant(),
            }));
        return events;
    }

    /// <summary>Every linked key turned out not to exist: with Jira:ProjectKey set, the bot creates the issue as if none had been linked.</summary>
    void CreateWhenNoneIsLeft(EmergencyChange c, DateTimeOffset at)
    {
        var project = options.Value.ProjectKey;
        if (string.IsNullOrWhiteSpace(project) || c.JiraIssues.Any(i => i.Problem is null || i.CreatedByBot)) return;
        if (c.Steps.Any(s => s.Kind == JiraStepKinds.Create)) return;
        c.Steps.Add(OutboxQueue.NewStep(JiraStepKinds.Create, at, project.Trim()));
    }
}

/// <summary>Jira:SearchSettle: how long Jira's search may take to show an issue just created (its search is eventually consistent).</summary>
public sealed class JiraCreateOptions
{
    public TimeSpan SearchSettle { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>
/// Creates the review issue when none was linked and Jira:ProjectKey is set. Never twice: it first searches for a
/// break-glass issue whose summary starts with "[BG-n] ", in case an earlier attempt created one whose outcome was not
/// recorded (a lost answer, a crash, a save that failed). Jira's search may not show an issue created moments ago, so a
/// retry that finds nothing waits Jira:SearchSettle once and searches again before it creates.
/// </summary>
internal sealed class JiraCreateStep(IJiraApi jira, IOptions<JiraOptions> options, IOptions<JiraCreateOptions> createOptions, TimeProvider time) : IStepHandler
{
    public string Kind => JiraStepKinds.Create;
    public bool NeedsThread => true; // the description links the thread, and the thread is told

    /// <summary>The retry that lets Jira's search catch up with attempt <paramref name="attempt"/>; persisted as the step's LastError.</summary>
    internal static string Settling(int attempt) =>
        $"an earlier attempt may have created the issue, and Jira's search may not show it yet: looking again before creating (attempt {attempt})";

    public string? Describe(EmergencyChange change, PendingStep step) => $"create a Jira issue in {step.Target} for {change.ChangeId}";

    public async Task<StepOutcome> RunAsync(EmergencyChange change, PendingStep step, CancellationToken ct)
    {
        var o = options.Value;
        if (!o.IsConfigured) return JiraOutcomes.NotConfigured();
        // An issue linked since this step was planned (/breakglass link, while the thread was not there yet): nothing to create.
        if (change.JiraIssues.Any(i => i.CreatedByBot || i.Problem is null)) return new StepOutcome.Done();
        var project = step.Target ?? o.ProjectKey ?? "";
        var prefix = JiraTexts.CreatedSummaryPrefix(change);
        try
        {
            // Not by label: in a project without a Labels field the issue is created unlabelled, and must still be found.
            var jql = $"project = \"{project}\" AND summary ~ \"\\\"{change.ChangeId}\\\"\"";
            // Summary search is fuzzy ("BG-1" also finds "BG-12"): keep only the exact prefix.
            var found = (await jira.SearchAsync(jql, ct: ct)).FirstOrDefault(i => i.Summary?.StartsWith(prefix, StringComparison.Ordinal) == true);
            // Any attempt before this one may have created the issue without its outcome being saved. Unless the last
            // attempt was itself this wait, give the search time to show it rather than create a second one.
            if (found is null && step.Attempts > 1 && step.LastError != Settling(step.Attempts - 1))
                return new StepOutcome.Retry(Settling(step.Attempts), createOptions.Value.SearchSettle);
            var summary = JiraTexts.CreatedSummary(change);
            var key = found?.Key ?? await CreateAsync(new JiraNewIssue(project, o.IssueType, summary, JiraTexts.CreatedDescription(change), [JiraTexts.Label]), ct);
            var at = time.GetUtcNow();
            // What Jira answered is stored on the change: cut and made valid text, so the outcome can always be saved.
            var stored = (Key: JiraOutcomes.Stored(key, 100), Summary: JiraOutcomes.Stored(found?.Summary ?? summary, 255),
                Status: JiraOutcomes.StoredOrNull(found?.StatusName, 100), Category: JiraOutcomes.StoredOrNull(found?.StatusCategoryKey, 50));
            return new StepOutcome.Done(c =>
            {
                if (c.JiraIssues.Any(i => i.Key == stored.Key)) return [];
                c.JiraIssues.Add(new LinkedJiraIssue { Key = stored.Key, CreatedByBot = true, Summary = stored.Summary,
                    Status = stored.Status, StatusCategory = stored.Category, FetchedAt = at });
                OutboxQueue.Enqueue(c, StepKinds.ThreadNote, at, JiraNotes.Created(stored.Key));
                OutboxQueue.Enqueue(c, StepKinds.RefreshAnnouncement, at);
                return [JiraOutcomes.Event(c, at, JiraAuditTypes.Created, new()
                {
                    ["key"] = stored.Key, ["project"] = project, ["issue_type"] = o.IssueType, ["found_existing"] = (found is not null).ToString().ToLowerInvariant(),
                })];
            });
        }
        catch (JiraApiException e)
        {
            return JiraOutcomes.For(e, $"An admin should check Jira:ProjectKey ({project}), Jira:IssueType ({o.IssueType}) and the bot's permission to create issues there; "
                + "meanwhile link an issue by hand. The change itself stands.");
        }
    }

    /// <summary>
    /// A project whose create screen has no Labels field refuses <c>fields.labels</c> (HTTP 400 naming "labels"): create the
    /// issue without it, then label it, rather than leave the change without an issue.
    /// </summary>
    async Task<string> CreateAsync(JiraNewIssue issue, CancellationToken ct)
    {
        try { return (await jira.CreateIssueAsync(issue, ct)).Key; }
        catch (JiraApiException e) when (e.Status == System.Net.HttpStatusCode.BadRequest && issue.Labels.Count > 0
            && e.Details?.Contains("labels:", StringComparison.Ordinal) == true)
        {
            var key = (await jira.CreateIssueAsync(issue with { Labels = [] }, ct)).Key;
            // The issue exists now: a label Jira refuses as well must not make the step create another.
            foreach (var label in issue.Labels)
                try { await jira.AddLabelAsync(key, label, ct); }
                catch (JiraApiException) { }
            return key;
        }
    }
}

/// <summary>
/// Mirrors a Slack approval to one linked issue: a comment, then Jira:ReviewTransition when set. Transition ids differ
/// between workflows, so the id is looked up by name for that issue.
/// </summary>
internal sealed class JiraApprovalStep(IJiraApi jira, IOptions<JiraOptions> options, IReevaluation tracker, Reviewers reviewers, TimeProvider time) : IStepHandler
{
    public string Kind => JiraStepKinds.Approval;
    public bool NeedsThread => true;

    public static string Target(string key, int approvalIndex) => $"{key}|{approvalIndex}";

    static (string Key, int Index) Parse(string? target)
    {
        var bar = target?.LastIndexOf('|') ?? -1;
        return bar > 0 && int.TryParse(target.AsSpan(bar + 1), out var index) ? (target![..bar], index) : (target ?? "", -1);
    }

    // Waiting for GitHub to name a PR's author is not a failure to report in the thread.
    public string? Describe(EmergencyChange change, PendingStep step) =>
        Parse(step.Target).Index is var i && i >= 0 && i < change.Approvals.Count && reviewers.FollowUpWaits(change, change.Approvals[i])
            ? null
            : $"mirror the approval of {change.ChangeId} to Jira issue {Parse(step.Target).Key}";

    public async Task<StepOutcome> RunAsync(EmergencyChange change, PendingStep step, CancellationToken ct)
    {
        var o = options.Value;
        if (!o.IsConfigured) return JiraOutcomes.NotConfigured();
        var (target, index) = Parse(step.Target);
        if (index < 0 || index >= change.Approvals.Count) return new StepOutcome.Done(); // nothing to mirror
        var linked = JiraOutcomes.Find(change, target);
        if (linked?.Problem is not null) return new StepOutcome.Done();
        var key = linked?.Key ?? target;
        var approval = change.Approvals[index];
        // A PR author's own approval must neither be announced in Jira nor move the issue to reviewed.
        if (reviewers.FollowUpHold(change, step, approval) is { } hold) return hold;
        var events = new List<(string Type, Dictionary<string, string> Data)>();
        try
        {
            var marker = JiraTexts.ApprovalMarker(change, approval);
            var existing = (await jira.GetCommentsAsync(key, ct)).FirstOrDefault(c => c.Text.Contains(marker, StringComparison.Ordinal));
            var comment = existing ?? await jira.AddCommentAsync(key, JiraTexts.ApprovalComment(change, approval), ct);
            events.Add((JiraAuditTypes.Commented, new()
            {
                ["key"] = key, ["comment_id"] = comment.Id, ["about"] = "approval", ["reviewer"] = approval.Reviewer,
                ["found_existing"] = (existing is not null).ToString().ToLowerInvariant(),
            }));

            if (!string.IsNullOrWhiteSpace(o.ReviewTransition) && await TransitionAsync(key, o, step, events, ct) is { } refusal) return refusal;
            // The transition may have completed the review: the tracker looks again now rather than at its next check.
            tracker.Reevaluate(change.Id);
            return new StepOutcome.Done(Apply(events));
        }
        catch (JiraApiException e)
        {
            return JiraOutcomes.For(e, $"Check the bot's Jira permissions on {key} (comment, transition). The approval itself stands.", Apply(events));
        }
    }

    /// <summary>Performs Jira:ReviewTransition on <paramref name="key"/>; a give-up when the workflow does not offer it.</summary>
    async Task<StepOutcome?> TransitionAsync(string key, JiraOptions o, PendingStep step, List<(string Type, Dictionary<string, string> Data)> events, CancellationToken ct)
    {
        var wanted = o.ReviewTransition!.Trim();
        var transitions = await jira.GetTransitionsAsync(key, ct);
        var transition = transitions.FirstOrDefault(t => string.Equals(t.Name.Trim(), wanted, StringComparison.OrdinalIgnoreCase));
        if (transition is not null)
        {
            await jira.TransitionAsync(key, transition.Id, ct);
            events.Add((JiraAuditTypes.Transitioned, new() { ["key"] = key, ["transition"] = transition.Name, ["transition_id"] = transition.Id, ["to"] = transition.ToStatus ?? "" }));
            return null;
        }
        // Not offered: maybe an earlier attempt (or a person) already moved the issue on.
        var issue = await jira.GetIssueAsync(key, ct);
        var alreadyThere = string.Equals(issue.StatusName, wanted, StringComparison.OrdinalIgnoreCase) || JiraReviewRule.IsReviewed(issue, o.ReviewedStatuses);
        // On a retry the move is most likely the earlier attempt's, whose answer was lost: the trail must still show it.
        if (alreadyThere && step.Attempts > 1)
            events.Add((JiraAuditTypes.Transitioned, new() { ["key"] = key, ["transition"] = wanted, ["to"] = issue.StatusName ?? "", ["found_existing"] = "true" }));
        if (alreadyThere) return null;
        var offered = transitions.Count == 0 ? "none" : string.Join(", ", transitions.Select(t => $"'{t.Name}'"));
        return new StepOutcome.GiveUp(
            $"Jira issue {key} (status '{issue.StatusName}') offers no transition named '{wanted}'; it offers: {offered}. "
            + "An admin should set Jira:ReviewTransition to a transition this workflow has, or move the issue by hand. The approval itself stands.",
            Apply(events));
    }

    Func<EmergencyChange, IEnumerable<AuditEvent>> Apply(List<(string Type, Dictionary<string, string> Data)> events)
    {
        var at = time.GetUtcNow();
        return c => events.Select(e => JiraOutcomes.Event(c, at, e.Type, e.Data)).ToList();
    }
}

/// <summary>After an approval in Slack: one mirroring step per linked issue that Jira accepted.</summary>
internal sealed class JiraApprovalFollowUps(IOptions<JiraOptions> options) : IApprovalFollowUps
{
    public IEnumerable<PendingStep> StepsFor(EmergencyChange change, Approval approval, int approvalIndex, DateTimeOffset now) =>
        options.Value.IsConfigured
            ? [.. change.JiraIssues.Where(i => i.Problem is null).Select(i => OutboxQueue.NewStep(JiraStepKinds.Approval, now, JiraApprovalStep.Target(i.Key, approvalIndex)))]
            : [];

}

/// <summary>Thread notes: the issue the bot created, and a linked issue that Jira now knows under another key.</summary>
internal sealed class JiraNotes(ChangeMessages messages) : IThreadNoteSource
{
    public IReadOnlyCollection<string> Names => ["jira-created", "jira-moved"];
    const string CreatedPrefix = "jira-created:";
    const string MovedPrefix = "jira-moved:";
    public static string Created(string key) => CreatedPrefix + key;
    public static string Moved(string declaredKey) => MovedPrefix + declaredKey;

    public string? Render(EmergencyChange change, string key)
    {
        if (key.StartsWith(CreatedPrefix, StringComparison.Ordinal))
        {
            var created = key[CreatedPrefix.Length..];
            var why = change.JiraIssues.Any(i => i.Problem is not null) ? "None of the linked Jira issues could be found" : "No Jira issue was linked";
            return $":ticket: {why}, so the bot created {messages.JiraLink(created)} for {change.ChangeId}'s retrospective review.";
        }
        if (key.StartsWith(MovedPrefix, StringComparison.Ordinal))
        {
            var declared = key[MovedPrefix.Length..];
            var now = change.JiraIssues.FirstOrDefault(i => i.DeclaredKey == declared)?.Key;
            return now is null ? null
                : $":arrow_right: Jira issue {Blocks.Escape(declared)} has moved to {messages.JiraLink(now)}; the bot follows it there.";
        }
        return null;
    }
}
