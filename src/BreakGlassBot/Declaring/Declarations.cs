using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using Microsoft.Extensions.Options;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.Declaring;

public sealed record DeclarationRequest(
    string UserId, string? UserName, string Summary, string? Justification, string? Service, string? Severity,
    IReadOnlyList<PullRequestRef> PullRequests, IReadOnlyList<JiraIssueKey> JiraKeys, string? SourceKey, string? Channel,
    string? DeclarerUnconfirmed = null);

/// <summary>
/// Declares a change: one durable write (the change, its audit event and its outgoing work), then a nudge
/// to the outbox. Nothing here talks to Slack, GitHub or Jira, so a declaration never waits on them.
/// </summary>
public sealed class Declarations(ChangeStore store, ReviewPolicy policy, OutboxQueue outbox, TimeProvider time, IEnumerable<IDeclarationStepSource> stepSources)
{
    public (EmergencyChange Change, bool Created) Declare(DeclarationRequest request) => DeclareAsync(request).GetAwaiter().GetResult();

    /// <param name="shape">Sets what a declaration by a person has not (a detected case's source), before the features add their steps.</param>
    /// <param name="data">More facts for the declared event.</param>
    public async Task<(EmergencyChange Change, bool Created)> DeclareAsync(DeclarationRequest request, Action<EmergencyChange>? shape = null,
        IReadOnlyDictionary<string, string>? data = null)
    {
        var now = time.GetUtcNow();
        var draft = new EmergencyChange
        {
            DeclaredBy = request.UserId,
            DeclaredByName = request.UserName,
            Summary = request.Summary,
            Justification = request.Justification,
            Service = request.Service,
            Severity = request.Severity,
            DeclaredAt = now,
            DueAt = policy.DueAt(now),
            SourceKey = request.SourceKey,
            DeclaredInChannel = request.Channel,
            PullRequests = [.. request.PullRequests.Select(p => new LinkedPullRequest { Host = p.Host, Owner = p.Owner, Repo = p.Repo, Number = p.Number })],
            JiraIssues = [.. request.JiraKeys.Select(k => new LinkedJiraIssue { Key = k.Value })],
        };
        draft.Steps.Add(OutboxQueue.NewStep(StepKinds.Announce, now));
        draft.Steps.Add(OutboxQueue.NewStep(StepKinds.ThreadDetails, now));
        shape?.Invoke(draft);
        foreach (var source in stepSources)
            draft.Steps.AddRange(source.StepsFor(draft, now));

        var result = await store.DeclareAsync(draft, c =>
        [
            new AuditEvent
            {
                ChangeNumber = c.Id, At = now, Actor = request.UserId, Type = AuditTypes.Declared,
                Data = new Dictionary<string, string>
                {
                    ["summary"] = c.Summary,
                    ["due_at"] = c.DueAt.ToString("O"),
                    ["policy"] = policy.Describe(),
                    ["pull_requests"] = string.Join(' ', c.PullRequests.Select(p => p.Ref.ToString())),
                    ["jira_issues"] = string.Join(' ', c.JiraIssues.Select(j => j.Key)),
                    ["source"] = request.SourceKey is { } key && !key.StartsWith(DeclareCommand.SourceKeyPrefix, StringComparison.Ordinal) ? key : "command",
                }.WithDeclarerCheck(request.DeclarerUnconfirmed).With(data),
            },
        ]);
        if (result.Created) outbox.Nudge();
        return result;
    }
}

/// <summary>Lets an integration (GitHub, Jira) add its own outgoing steps to every new declaration.</summary>
public interface IDeclarationStepSource
{
    IEnumerable<PendingStep> StepsFor(EmergencyChange change, DateTimeOffset now);

    /// <summary>
    /// The per-link steps for links added after the declaration: the same ones a declaration with those links would have had.
    /// </summary>
    IEnumerable<PendingStep> StepsForAddedLinks(EmergencyChange change, IReadOnlyList<PullRequestRef> pullRequests, IReadOnlyList<string> jiraKeys, DateTimeOffset now) => [];
}

static class DeclaredData
{
    /// <summary>Only when Slack could not say whether the declarer is a guest (see DeclarerPolicy): the record says so.</summary>
    public static Dictionary<string, string> WithDeclarerCheck(this Dictionary<string, string> data, string? unconfirmed)
    {
        if (unconfirmed is not null) data["declarer_check"] = "unconfirmed (" + unconfirmed + ")";
        return data;
    }

    public static Dictionary<string, string> With(this Dictionary<string, string> data, IReadOnlyDictionary<string, string>? more)
    {
        foreach (var (key, value) in more ?? new Dictionary<string, string>()) data[key] = value;
        return data;
    }
}

public sealed class Permissions(IOptions<SlackOptions> slack, People? people = null)
{
    public bool IsAdmin(string user) => slack.Value.Admins.Contains(user);
    public bool MayDeclare(string user) => slack.Value.Declarers.Count == 0 || slack.Value.Declarers.Contains(user) || IsAdmin(user);
    /// <summary>
    /// A detected case only by an admin who is not the person responsible for it: dismissing one's own undeclared bypass would
    /// be the very thing the case is there to catch.
    /// </summary>
    public bool MayCancel(string user, EmergencyChange change) => change.Detected is { } d
        ? IsAdmin(user) && user != change.DeclaredBy && !MayHaveMade(user, d)
        : change.DeclaredBy == user || IsAdmin(user);

    /// <summary>The user may be who merged or pushed it: their GitHub account is it, or the bot knows none of theirs to tell.</summary>
    bool MayHaveMade(string user, DetectedBypass d) =>
        people is null || people.TrustedGitHub(user) is null || d.Actor is { Length: > 0 } actor && people.IsAuthor(user, actor, d.ActorId);
}
