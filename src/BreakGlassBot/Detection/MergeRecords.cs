using BreakGlassBot.EmergencyChanges;

namespace BreakGlassBot.Detection;

/// <summary>What the bot concluded about a merge or push on a watched branch.</summary>
public static class Verdicts
{
    /// <summary>Found; not yet checked against GitHub (or the check failed and is retried: see <see cref="MergeRecord.LastError"/>).</summary>
    public const string Pending = "pending";
    /// <summary>Approved by someone other than its author before it was merged: no exception.</summary>
    public const string ReviewedBeforeMerge = "reviewed_before_merge";
    /// <summary>Merged or pushed by a Detection:IgnoreActors account (automation): counted, never chased.</summary>
    public const string Ignored = "ignored";
    /// <summary>A bypass: it needs a declaration, else a detected case once the grace period is over.</summary>
    public const string Unreviewed = "unreviewed";
}

/// <summary>
/// One merged change on a watched branch: a pull request merged, or a push with no pull request, as found by the webhooks,
/// GitHub's rule suites or the daily sweep. One record per change (its <see cref="Id"/>), whoever found it and however often;
/// the population the period export counts. Feature collection <see cref="MergeRecords.Collection"/>.
/// </summary>
public sealed class MergeRecord
{
    /// <summary>"pr:owner/repo#n" or "push:owner/repo@sha" (lower-case owner/repo and sha).</summary>
    public string Id { get; set; } = "";
    /// <summary><see cref="DetectedBypass.PullRequestKind"/> or <see cref="DetectedBypass.DirectPushKind"/>.</summary>
    public string Kind { get; set; } = "";
    public string Repository { get; set; } = "";
    public string? Branch { get; set; }
    public int? Number { get; set; }
    public string? Title { get; set; }
    /// <summary>The merge commit of a PR, or the last commit of a push.</summary>
    public string? Sha { get; set; }
    /// <summary>A push: its commits (at most 20 kept).</summary>
    public List<string> Commits { get; set; } = [];
    /// <summary>A push that rewrote the branch's history (GitHub's <c>forced</c>): a bypass whatever its commits are.</summary>
    public bool Forced { get; set; }
    /// <summary>Who merged or pushed (GitHub login and id).</summary>
    public string? Actor { get; set; }
    public long? ActorId { get; set; }
    /// <summary>The actor was read from a commit (the sweep), which its author writes: not trusted to excuse the change.</summary>
    public bool ActorFromCommit { get; set; }
    public string? AuthorLogin { get; set; }
    public long? AuthorId { get; set; }
    /// <summary>When it reached the branch (merged_at, or the push's time).</summary>
    public DateTimeOffset? MergedAt { get; set; }
    public DateTimeOffset FirstSeenAt { get; set; }
    /// <summary>"webhook", "rule_suite", "sweep": every source that reported it.</summary>
    public List<string> FoundBy { get; set; } = [];
    /// <summary>Rule suites that recorded a bypass of this change (deduplicated on their id).</summary>
    public List<long> RuleSuites { get; set; } = [];
    /// <summary>See <see cref="Verdicts"/>.</summary>
    public string Verdict { get; set; } = Verdicts.Pending;
    /// <summary>Why it is a bypass, or who approved it before the merge, in words.</summary>
    public string? Reason { get; set; }
    /// <summary>The approving review that counted (login, submitted_at) for a change reviewed before merge.</summary>
    public string? ApprovedBy { get; set; }
    public DateTimeOffset? ApprovedAt { get; set; }
    public DateTimeOffset? CheckedAt { get; set; }
    /// <summary>A declared change that links it (BG-n): no case, or the case it took over.</summary>
    public int? DeclaredAs { get; set; }
    /// <summary>The detected case opened for it (BG-n).</summary>
    public int? CaseId { get; set; }
    /// <summary>Failed checks (GitHub down): retried at <see cref="NextAttemptAt"/>; reported once after a few.</summary>
    public int Attempts { get; set; }
    public DateTimeOffset? NextAttemptAt { get; set; }
    public string? LastError { get; set; }
    public bool FailureReported { get; set; }

    public static string PullRequestId(string repository, int number) => $"pr:{repository.ToLowerInvariant()}#{number}";
    public static string PushId(string repository, string sha) => $"push:{repository.ToLowerInvariant()}@{sha.ToLowerInvariant()}";

    /// <summary>"owner/repo#n" or "owner/repo@abc1234", for people.</summary>
    public string Describe() => Kind == DetectedBypass.PullRequestKind ? $"{Repository}#{Number}" : $"{Repository}@{ApprovalCoverage.Short(Sha)}";
}

/// <summary>The merge records, in the store's feature documents; every write is a read-modify-write under the store's lock.</summary>
public sealed class MergeRecords(ChangeStore store)
{
    public const string Collection = "detection_merges";

    public MergeRecord? Get(string id) => store.Document<MergeRecord>(Collection, id);

    public IReadOnlyList<MergeRecord> All() => store.Documents<MergeRecord>(Collection);

    /// <summary>The records of changes that reached their branch in [from, to) (the period export's population).</summary>
    public IReadOnlyList<MergeRecord> MergedBetween(DateTimeOffset from, DateTimeOffset to) =>
        [.. All().Where(r => r.MergedAt is { } at && at >= from && at < to).OrderBy(r => r.MergedAt).ThenBy(r => r.Id, StringComparer.Ordinal)];

    /// <summary>Creates or changes one record; <paramref name="mutate"/> gets null when it does not exist yet.</summary>
    public MergeRecord Save(string id, Func<MergeRecord?, MergeRecord> mutate) => store.SaveDocument(Collection, id, mutate);
}
