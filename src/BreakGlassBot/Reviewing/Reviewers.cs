using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Slack;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Reviewing;

/// <summary>
/// Who may review a change: Slack:ReviewerUserGroup members (cached briefly) and Slack:Reviewers, never the
/// declarer, never the author of a linked PR (matched through the People map / linked GitHub logins).
/// </summary>
public sealed partial class Reviewers(ISlackApi slack, IOptions<SlackOptions> options, People people, TimeProvider time, ILogger<Reviewers> log)
{
    static readonly TimeSpan CacheFor = TimeSpan.FromMinutes(5);
    readonly SemaphoreSlim refresh = new(1, 1);
    (DateTimeOffset At, IReadOnlyList<string> Members)? cache;

    /// <summary>Everyone configured as a reviewer, before per-change exclusions.</summary>
    public async Task<IReadOnlyList<string>> ConfiguredAsync(CancellationToken ct)
    {
        var all = new List<string>(options.Value.Reviewers);
        var group = options.Value.ReviewerUserGroup;
        if (!string.IsNullOrWhiteSpace(group))
            foreach (var m in await GroupMembersAsync(group, ct))
                if (!all.Contains(m)) all.Add(m);
        return all;
    }

    public async Task<IReadOnlyList<string>> ForChangeAsync(EmergencyChange change, CancellationToken ct) =>
        [.. (await ConfiguredAsync(ct)).Where(u => Exclusion(change, u) is null)];

    /// <summary>Why <paramref name="user"/> may not review <paramref name="change"/>, or null when they may.</summary>
    public async Task<string?> RefusalAsync(EmergencyChange change, string user, CancellationToken ct)
    {
        if (Exclusion(change, user) is { } reason) return reason;
        return (await ConfiguredAsync(ct)).Contains(user) ? null : "only configured reviewers may approve emergency changes";
    }

    string? Exclusion(EmergencyChange change, string user)
    {
        if (user == change.DeclaredBy) return "you declared this change; someone else must review it";
        var login = people.GitHubLogin(user);
        if (login is not null && change.PullRequests.FirstOrDefault(p => string.Equals(p.AuthorLogin, login, StringComparison.OrdinalIgnoreCase)) is { } pr)
            return $"you authored {pr.Ref}; someone else must review it";
        return null;
    }

    async Task<IReadOnlyList<string>> GroupMembersAsync(string group, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        if (cache is { } c && now - c.At < CacheFor) return c.Members;
        await refresh.WaitAsync(ct);
        try
        {
            if (cache is { } again && now - again.At < CacheFor) return again.Members;
            var members = await slack.GetUserGroupMembersAsync(group, ct);
            cache = (now, members);
            return members;
        }
        catch (SlackApiException e)
        {
            // Keep going with the last known members (or the listed reviewers): a Slack hiccup must not stop reminders.
            LogGroupFailed(log, group, e.Error);
            return cache?.Members ?? [];
        }
        finally { refresh.Release(); }
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Could not resolve reviewer user group {Group}: {Error}")]
    static partial void LogGroupFailed(ILogger logger, string group, string error);
}

/// <summary>The Slack half of the completion rule: enough distinct eligible approvals in the thread.</summary>
public sealed class SlackApprovalEvidence(IOptions<PolicyOptions> policy) : IEvidenceSource
{
    public EvidenceKind Kind => EvidenceKind.SlackApproval;
    public bool AppliesTo(EmergencyChange change) => true;

    public Task<IReadOnlyList<EvidenceResult>> CheckAsync(EmergencyChange change, CancellationToken ct)
    {
        var required = policy.Value.RequiredApprovals;
        var approvers = change.Approvals.Select(a => a.Reviewer).Distinct().Count();
        IReadOnlyList<EvidenceResult> result = [approvers >= required
            ? EvidenceResult.Yes(null)
            : EvidenceResult.No(null, required == 1 ? "an approval from a reviewer in the Slack thread" : $"{required - approvers} more reviewer approval(s) in Slack ({approvers} of {required})")];
        return Task.FromResult(result);
    }
}
