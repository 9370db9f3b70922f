using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;

namespace BreakGlassBot.Reviewing;

/// <summary>One answer from an evidence source about one target (a PR, a Jira issue, or the Slack approvals).</summary>
public sealed record EvidenceResult(string? Target, bool Satisfied, string? Missing)
{
    /// <summary>Facts read while checking, written onto the change in the tracker's store write.</summary>
    public Action<EmergencyChange>? Record { get; init; }

    public static EvidenceResult Yes(string? target) => new(target, true, null);
    public static EvidenceResult No(string? target, string missing) => new(target, false, missing);
}

/// <summary>A source of review evidence (DESIGN.md §2). Throws when it cannot answer now; the tracker asks again later.</summary>
public interface IEvidenceSource
{
    EvidenceKind Kind { get; }
    /// <summary>Whether this source is configured and the change links something it can check.</summary>
    bool AppliesTo(EmergencyChange change);
    /// <summary>Whether the integration is configured at all; start-up warns when the policy requires it and it is not.</summary>
    bool IsConfigured => true;
    /// <summary>Why the source does not apply to the change, for a reviewer; asked when the policy requires it.</summary>
    string NotApplicable(EmergencyChange change) => $"policy requires {Kind}, but it cannot be checked for {change.ChangeId}";
    Task<IReadOnlyList<EvidenceResult>> CheckAsync(EmergencyChange change, CancellationToken ct);
}

/// <summary>Outgoing work that follows an approval recorded in Slack (mirroring to GitHub and Jira).</summary>
public interface IApprovalFollowUps
{
    IEnumerable<PendingStep> StepsFor(EmergencyChange change, Approval approval, int approvalIndex, DateTimeOffset now);
}

/// <summary>What other features do, inside the write that marks a change reviewed (e.g. end its bypass now).</summary>
public interface IReviewCompletion
{
    void Reviewed(EmergencyChange change, DateTimeOffset now);
}
