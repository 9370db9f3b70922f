using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Slack;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Reviewing;

/// <summary>An eligible reviewer's approval word in a change's thread approves; from anyone else it gets a note, once.</summary>
internal sealed partial class ThreadReplyApprovals(ChangeStore store, Approvals approvals, BotIdentity bot, IOptions<PolicyOptions> policy) : ISlackEventHandler
{
    public async Task HandleAsync(EventEnvelope envelope, CancellationToken ct)
    {
        if (envelope.Event is not { Type: "message" } e) return;
        // Edits, deletions, joins and bot posts have a subtype; a plain reply has none (a broadcast reply is still a reply).
        if (e.Subtype is not (null or "thread_broadcast") || e.BotId is not null || e.User is null) return;
        if (e.ThreadTs is null || e.ThreadTs == e.Ts || e.Channel is null) return;
        if (!IsApproval(e.Text, policy.Value.EffectiveApprovalWords)) return;
        if (await bot.IsBotAsync(e.User, ct)) return;
        var change = store.ByAnnouncement(e.Channel, e.ThreadTs);
        if (change is null) return;
        var result = await approvals.ApproveAsync(change.ChangeId, e.User, null, "thread-reply", e.Ts, e.Text, ct);
        if (result is ApprovalResult.Refused) approvals.NoteRefusalOnce(change.ChangeId, e.User);
        // No one waits on a thread reply: let the inbox try the event again once the reviewer group can be read.
        if (result is ApprovalResult.Unavailable) throw new ReviewerGroupUnavailableException("Slack:ReviewerUserGroup");
    }

    /// <summary>
    /// The reply *is* an approval: an approval word alone ("LGTM!", "👍🏽", "lgtm :+1:"), or followed by a remark after a
    /// separator ("approved - ship it", "lgtm, thanks"). Discussion is not: a question, a sentence that starts with the word
    /// ("approved by whom", "lgtm once CI passes"), a remark that makes it conditional or takes it back ("lgtm - not yet",
    /// "approved, but …"), or another emoji after it ("lgtm :thinking_face:", "lgtm ❌").
    /// </summary>
    public static bool IsApproval(string? text, IReadOnlyList<string> words)
    {
        if (string.IsNullOrWhiteSpace(text)) return false;
        var t = text.Trim();
        if (t.Contains('?')) return false;
        foreach (var word in words)
        {
            if (!t.StartsWith(word, StringComparison.OrdinalIgnoreCase)) continue;
            var rest = t[word.Length..];
            // Approval emoji after the word repeat it ("lgtm :+1:", "approved 👍🏽"); any other emoji may mean anything.
            foreach (var again in words) rest = rest.Replace(again, " ", StringComparison.OrdinalIgnoreCase);
            rest = SkinTone().Replace(rest, "");
            if (rest.All(ch => char.IsWhiteSpace(ch) || ch is '!' or '.')) return true;
            var remark = rest.TrimStart();
            if (remark.Length == 0 || remark[0] is not (',' or ';' or '-' or '–' or '—' or '.' or '!' or '&' or '+')) continue;
            var first = Word().Match(remark);
            if (!first.Success || !Conditions.Contains(first.Value)) return !remark.Contains(':') && !remark.Any(IsSymbol);
        }
        return false;
    }

    /// <summary>First words of a remark that make an approval conditional or take it back.</summary>
    static readonly HashSet<string> Conditions = new(StringComparer.OrdinalIgnoreCase)
        { "not", "but", "once", "after", "when", "if", "unless", "until", "pending", "by", "except", "no", "although", "though" };

    static bool IsSymbol(char c) => char.IsSurrogate(c) || char.GetUnicodeCategory(c) is System.Globalization.UnicodeCategory.OtherSymbol;

    [System.Text.RegularExpressions.GeneratedRegex(@"\p{L}+")]
    private static partial System.Text.RegularExpressions.Regex Word();

    [System.Text.RegularExpressions.GeneratedRegex("\uD83C[\uDFFB-\uDFFF]|:skin-tone-[2-6]:")]
    private static partial System.Text.RegularExpressions.Regex SkinTone();
}

/// <summary>The bot's own Slack ids (auth.test), fetched once and cached.</summary>
public sealed class BotIdentity(ISlackApi slack)
{
    (string UserId, string? BotId)? ids;

    public async Task<bool> IsBotAsync(string user, CancellationToken ct)
    {
        if (ids is null)
        {
            try { ids = await slack.AuthTestAsync(ct); }
            catch (SlackApiException) { return false; } // unknown for now; bot posts are caught by bot_id anyway
        }
        return ids.Value.UserId == user;
    }
}
