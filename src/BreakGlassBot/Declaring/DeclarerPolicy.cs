using BreakGlassBot.Hosting;
using BreakGlassBot.Slack;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Declaring;

/// <summary>
/// Who may declare. Slack:Declarers lists user ids (U…, W…) and user groups (S…); admins always may. A user listed by id
/// (or an admin) is trusted without asking Slack, so an outage never stops a configured declarer. Anyone else (a group
/// member, or anyone at all when Slack:Declarers is empty, which only RecordOnly allows) must be a full member: users.info
/// says whether they are a guest (restricted or ultra-restricted); when Slack cannot say, the declaration is refused, since
/// they may be one. Group members and users.info answers are cached briefly; on a failure the last known answer stands.
/// </summary>
public sealed partial class DeclarerPolicy(IOptions<SlackOptions> options, ISlackApi slack, TimeProvider time, ILogger<DeclarerPolicy> log)
{
    static readonly TimeSpan CacheFor = TimeSpan.FromMinutes(5);
    /// <summary>How long a declaration waits for Slack (it must answer within 3 s); then the last known answer decides.</summary>
    internal static readonly TimeSpan SlackBudget = TimeSpan.FromSeconds(1);
    readonly Lock gate = new();
    readonly Dictionary<string, (DateTimeOffset At, IReadOnlyList<string> Members)> groups = [];
    readonly Dictionary<string, (DateTimeOffset At, SlackUserInfo User)> users = [];

    public static bool IsUserGroup(string id) => id.StartsWith('S');

    IEnumerable<string> Declarers => options.Value.Declarers.Where(d => !string.IsNullOrWhiteSpace(d)).Select(d => d.Trim());

    /// <summary>Null when <paramref name="user"/> may declare; otherwise the answer to show them (why, and whom to ask).</summary>
    public async Task<string?> RefusalAsync(string user, CancellationToken ct)
    {
        var o = options.Value;
        var declarers = Declarers.ToList();
        if (declarers.Contains(user) || o.Admins.Contains(user)) return null;
        if (declarers.Count > 0)
        {
            var member = false;
            foreach (var group in declarers.Where(IsUserGroup))
                if ((await GroupMembersAsync(group, ct)).Contains(user)) { member = true; break; }
            if (!member) return ":no_entry: Only the configured declarers may break the glass. Ask one of: " + WhomToAsk();
        }
        var info = await UserAsync(user, ct);
        if (info is null)
            return ":warning: BreakGlassBot could not confirm with Slack just now that you are a full member of this workspace "
                + "(guests may not declare), so nothing was declared. Try again in a moment, or ask one of: " + WhomToAsk();
        if (info.IsGuest || info.Deleted || info.IsBot)
            return ":no_entry: Guests (single- and multi-channel) may not break the glass. Ask one of: " + WhomToAsk();
        return null;
    }

    /// <summary>The declarers listed by id and group, then the admins, as mentions.</summary>
    string WhomToAsk()
    {
        var names = Declarers.Concat(options.Value.Admins).Distinct()
            .Select(id => IsUserGroup(id) ? $"<!subteam^{id}>" : Blocks.Mention(id)).ToList();
        return names.Count > 0 ? string.Join(", ", names) : "a Slack admin of this workspace";
    }

    async Task<SlackUserInfo?> UserAsync(string user, CancellationToken ct)
    {
        (DateTimeOffset At, SlackUserInfo User)? known;
        lock (gate) known = users.TryGetValue(user, out var k) ? k : null;
        if (known is { } fresh && time.GetUtcNow() - fresh.At < CacheFor) return fresh.User;
        try
        {
            var info = await slack.UserInfoAsync(user, ct).WaitAsync(SlackBudget, time, ct);
            lock (gate) users[user] = (time.GetUtcNow(), info);
            return info;
        }
        catch (Exception e) when (e is SlackApiException or TimeoutException)
        {
            LogUserFailed(log, user, e is SlackApiException s ? s.Error : "timeout");
            return known?.User;
        }
    }

    async Task<IReadOnlyList<string>> GroupMembersAsync(string group, CancellationToken ct)
    {
        (DateTimeOffset At, IReadOnlyList<string> Members)? known;
        lock (gate) known = groups.TryGetValue(group, out var k) ? k : null;
        if (known is { } fresh && time.GetUtcNow() - fresh.At < CacheFor) return fresh.Members;
        try
        {
            var members = await slack.GetUserGroupMembersAsync(group, ct).WaitAsync(SlackBudget, time, ct);
            lock (gate) groups[group] = (time.GetUtcNow(), members);
            return members;
        }
        catch (Exception e) when (e is SlackApiException or TimeoutException)
        {
            LogGroupFailed(log, group, e is SlackApiException s ? s.Error : "timeout");
            return known?.Members ?? [];
        }
    }

    [LoggerMessage(EventId = 2311, Level = LogLevel.Warning, Message = "Could not read Slack user {User} (users.info: {Error}) to check they are no guest")]
    static partial void LogUserFailed(ILogger logger, string user, string error);
    [LoggerMessage(EventId = 2312, Level = LogLevel.Warning, Message = "Could not read the Slack:Declarers user group {Group}: {Error}")]
    static partial void LogGroupFailed(ILogger logger, string group, string error);
}
