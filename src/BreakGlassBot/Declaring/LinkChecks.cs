using BreakGlassBot.EmergencyChanges;

namespace BreakGlassBot.Declaring;

/// <summary>Why a link was refused: the reply, and the audit event that records the refusal.</summary>
public sealed record LinkRefusal(string Reply, AuditEvent Event);

/// <summary>
/// A rule on what may be linked to a change after it was declared (MergeByBot: only PRs in repositories the bot may merge in).
/// Decides from the change as stored alone, as the link's write may run again.
/// </summary>
public interface ILinkCheck
{
    LinkRefusal? Check(EmergencyChange change, string user, IReadOnlyList<PullRequestRef> pullRequests, DateTimeOffset now);
}
