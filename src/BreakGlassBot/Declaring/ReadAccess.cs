using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Slack;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Declaring;

/// <summary>Whether someone is a configured reviewer (Slack:Reviewers or the reviewer group); Reviewing knows, and answers fast.</summary>
public interface IReviewerRoster
{
    Task<bool> IsReviewerAsync(string user, CancellationToken ct);
}

/// <summary>
/// Who may read which change (<c>Slack:Readers</c>). Empty: everyone. Otherwise the readers (user ids, or members of the user
/// groups listed), admins, managers and configured reviewers read every change; anyone else only the changes they declared
/// or approved. A refusal never says whether the change exists.
/// </summary>
public sealed partial class ReadAccess(IOptions<SlackOptions> options, ISlackApi slack, TimeProvider time, ILogger<ReadAccess> log,
    IReviewerRoster? reviewers = null)
{
    static readonly TimeSpan CacheFor = TimeSpan.FromMinutes(5);
    /// <summary>How long a command waits for a Readers user group (Slack wants an answer within 3 s); then the last known members answer.</summary>
    internal static readonly TimeSpan GroupBudget = TimeSpan.FromSeconds(1);
    readonly SlackReadCache<IReadOnlyList<string>> groups = new(time, CacheFor, GroupBudget);

    public bool Restricted => options.Value.Readers.Any(r => !string.IsNullOrWhiteSpace(r));

    public static string Refusal(ChangeId id) => $":no_entry: You are not allowed to read {id}; ask an admin to add you to Slack:Readers.";
    public const string RefusalOfAll = ":no_entry: You are not allowed to read other people's emergency changes; ask an admin to add you to Slack:Readers.";

    /// <summary>Whether <paramref name="user"/> may read every change (and so learn which exist).</summary>
    public async Task<bool> MayReadAllAsync(string user, CancellationToken ct)
    {
        if (!Restricted) return true;
        var o = options.Value;
        if (o.Readers.Contains(user) || o.Admins.Contains(user) || o.Managers.Contains(user)) return true;
        foreach (var group in o.Readers.Where(IsUserGroup))
            if ((await GroupMembersAsync(group, ct)).Contains(user)) return true;
        return reviewers is not null && await reviewers.IsReviewerAsync(user, ct);
    }

    /// <summary>Whether <paramref name="user"/> may read <paramref name="change"/>: their own (declared or approved) always.</summary>
    public async Task<bool> MayReadAsync(string user, EmergencyChange change, CancellationToken ct) =>
        change.DeclaredBy == user || change.Approvals.Any(a => a.Reviewer == user) || await MayReadAllAsync(user, ct);

    static bool IsUserGroup(string id) => id.StartsWith('S');

    /// <summary>
    /// The group's members, cached briefly; a slow or failed read answers with the last known members, or none: a
    /// reader not recognised just now is refused and can ask again, while reading never holds up a declaration.
    /// </summary>
    async Task<IReadOnlyList<string>> GroupMembersAsync(string group, CancellationToken ct)
    {
        var (members, error) = await groups.GetAsync(group, c => slack.GetUserGroupMembersAsync(group, c), ct);
        if (error is not null) LogGroupFailed(log, group, error);
        return members ?? [];
    }

    [LoggerMessage(EventId = 2301, Level = LogLevel.Warning, Message = "Could not read the Slack:Readers user group {Group}: {Error}")]
    static partial void LogGroupFailed(ILogger logger, string group, string error);
}
