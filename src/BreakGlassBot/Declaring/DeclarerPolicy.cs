using BreakGlassBot.Hosting;
using BreakGlassBot.Slack;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Declaring;

/// <summary>Whether someone may declare: <see cref="Refusal"/> (what to tell them) or, when allowed without Slack confirming they are no guest, why.</summary>
public sealed record DeclarerCheck(string? Refusal, string? Unconfirmed = null);

/// <summary>
/// Who may declare. Slack:Declarers lists user ids (U…, W…) and user groups (S…); admins always may. A user listed by id
/// (or an admin) is trusted without asking Slack, so an outage never stops a configured declarer. Anyone else must be a full
/// member: users.info says whether they are a guest (restricted or ultra-restricted). A group member Slack cannot confirm is
/// refused (they may be a guest). With Slack:Declarers empty (only RecordOnly allows it: nothing is granted) a member Slack
/// cannot confirm still declares, since break-glass never waits on Slack, and the declaration's audit event says the check
/// was not made. Group members and users.info answers are cached briefly; on a failure the last known answer stands.
/// </summary>
public sealed partial class DeclarerPolicy(IOptions<SlackOptions> options, ISlackApi slack, TimeProvider time, ILogger<DeclarerPolicy> log)
{
    static readonly TimeSpan CacheFor = TimeSpan.FromMinutes(5);
    /// <summary>How long a declaration waits for Slack (it must answer within 3 s); then the last known answer decides.</summary>
    internal static readonly TimeSpan SlackBudget = TimeSpan.FromSeconds(1);
    readonly SlackReadCache<IReadOnlyList<string>> groups = new(time, CacheFor, SlackBudget);
    readonly SlackReadCache<SlackUserInfo> users = new(time, CacheFor, SlackBudget);

    public static bool IsUserGroup(string id) => id.StartsWith('S');

    IEnumerable<string> Declarers => options.Value.Declarers.Where(d => !string.IsNullOrWhiteSpace(d)).Select(d => d.Trim());

    /// <summary>Whether <paramref name="user"/> may declare; a refusal is the answer to show them (why, and whom to ask).</summary>
    public async Task<DeclarerCheck> CheckAsync(string user, CancellationToken ct)
    {
        var o = options.Value;
        var declarers = Declarers.ToList();
        if (declarers.Contains(user) || o.Admins.Contains(user)) return new(null);
        if (declarers.Count > 0)
        {
            var member = false;
            foreach (var group in declarers.Where(IsUserGroup))
                if ((await GroupMembersAsync(group, ct)).Contains(user)) { member = true; break; }
            if (!member) return new(":no_entry: Only the configured declarers may break the glass. Ask one of: " + WhomToAsk());
        }
        var (info, error) = await UserAsync(user, ct);
        if (info is null && declarers.Count > 0)
            return new(":warning: BreakGlassBot could not confirm with Slack just now that you are a full member of this workspace "
                + "(guests may not declare), so nothing was declared. Try again in a moment, or ask one of: " + WhomToAsk());
        if (info is null) return new(null, $"users.info: {error}");
        if (info.IsGuest || info.Deleted || info.IsBot)
            return new(":no_entry: Guests (single- and multi-channel) may not break the glass. Ask one of: " + WhomToAsk());
        return new(null);
    }

    /// <summary>The declarers listed by id and group, then the admins, as mentions.</summary>
    string WhomToAsk()
    {
        var names = Declarers.Concat(options.Value.Admins).Distinct()
            .Select(id => IsUserGroup(id) ? $"<!subteam^{id}>" : Blocks.Mention(id)).ToList();
        return names.Count > 0 ? string.Join(", ", names) : "a Slack admin of this workspace";
    }

    async Task<(SlackUserInfo? User, string? Error)> UserAsync(string user, CancellationToken ct)
    {
        var (info, error) = await users.GetAsync(user, c => slack.UserInfoAsync(user, c), ct);
        if (error is not null) LogUserFailed(log, user, error);
        return (info, error);
    }

    async Task<IReadOnlyList<string>> GroupMembersAsync(string group, CancellationToken ct)
    {
        var (members, error) = await groups.GetAsync(group, c => slack.GetUserGroupMembersAsync(group, c), ct);
        if (error is not null) LogGroupFailed(log, group, error);
        return members ?? [];
    }

    [LoggerMessage(EventId = 2311, Level = LogLevel.Warning, Message = "Could not read Slack user {User} (users.info: {Error}) to check they are no guest")]
    static partial void LogUserFailed(ILogger logger, string user, string error);
    [LoggerMessage(EventId = 2312, Level = LogLevel.Warning, Message = "Could not read the Slack:Declarers user group {Group}: {Error}")]
    static partial void LogGroupFailed(ILogger logger, string group, string error);
}
