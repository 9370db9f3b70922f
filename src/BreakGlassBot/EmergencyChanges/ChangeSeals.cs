namespace BreakGlassBot.EmergencyChanges;

/// <summary>Something a change's document says that its sealed trail does not: the document was edited outside the bot.</summary>
public sealed record StateProblem(int ChangeNumber, long? Sequence, string Detail)
{
    public override string ToString() => $"BG-{ChangeNumber}: {Detail}";
}

/// <summary>
/// What one change's trail vouches for, read in sequence order: the chain of sealed states (each write's state before
/// must be the state the previous write sealed), and the facts a verdict rests on (reviewed, cancelled, each approval).
/// </summary>
public sealed class ChangeSealTracker(int changeNumber)
{
    public int ChangeNumber { get; } = changeNumber;
    /// <summary>The last sealed state and the event that sealed it; null while the trail seals none (a change from before sealing).</summary>
    public string? State { get; private set; }
    public long? StateSequence { get; private set; }
    /// <summary>The first event that sealed a state: later than the declaration for a change declared before sealing existed.</summary>
    public long? SealedFrom { get; private set; }
    public long? DeclaredAt { get; private set; }
    public bool FirstSealOfOlderChange { get; private set; }
    /// <summary>The data key of the seal a file from before sealing got at the upgrade.</summary>
    public const string TakenAsFound = "taken_as_found";
    readonly List<StateProblem> breaks = [];
    string? declaredDueAt;
    readonly Dictionary<string, int> approvedBy = new(StringComparer.Ordinal);
    bool reviewed, cancelled;

    public void Observe(AuditEvent e)
    {
        switch (e.Type)
        {
            case AuditTypes.Declared:
                DeclaredAt ??= e.Sequence;
                declaredDueAt ??= e.Data.GetValueOrDefault("due_at");
                break;
            case AuditTypes.Reviewed: reviewed = true; break;
            case AuditTypes.Cancelled: cancelled = true; break;
            case AuditTypes.Approved: approvedBy[e.Actor] = approvedBy.GetValueOrDefault(e.Actor) + 1; break;
        }
        if (e.State is null) return;
        var previous = e.PreviousState ?? "";
        if (State is null)
        {
            SealedFrom = e.Sequence;
            // A change declared before sealing was sealed at the upgrade (or its next write): what it held then is taken as found.
            FirstSealOfOlderChange = previous.Length > 0 || e.Data.ContainsKey(TakenAsFound);
        }
        else if (previous != State)
            breaks.Add(new(ChangeNumber, e.Sequence,
                $"the record was changed outside the bot between events #{StateSequence} and #{e.Sequence}: the bot found it in a state it had not sealed"));
        (State, StateSequence) = (e.State, e.Sequence);
    }

    /// <summary>Every disagreement between the trail and <paramref name="current"/> (null: the document is gone).</summary>
    public IReadOnlyList<StateProblem> Problems(EmergencyChange? current)
    {
        var problems = new List<StateProblem>(breaks);
        if (current is null)
        {
            if (DeclaredAt is { } d) problems.Add(new(ChangeNumber, d, $"the change was removed from the store (declared in event #{d})"));
            return problems;
        }
        if (DeclaredAt is null && StateSequence is null)
            problems.Add(new(ChangeNumber, null, "the change is in the store but not in the audit trail: it was not declared through the bot"));
        else if (State is not null && ChangeState.Hash(current) != State)
            problems.Add(new(ChangeNumber, StateSequence, $"the record differs from the state sealed in event #{StateSequence}: it was edited outside the bot since"));
        // The deadline was fixed at the declaration: a later due date makes a late review look on time.
        if (declaredDueAt is { Length: > 0 } due && DateTimeOffset.TryParse(due, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind, out var dueAt)
            && dueAt.UtcTicks != current.DueAt.UtcTicks)
            problems.Add(new(ChangeNumber, DeclaredAt, $"the record's review deadline ({current.DueAt:O}) is not the one declared ({due})"));
        if ((current.Status == ChangeStatus.Reviewed || current.ReviewedAt is not null) && !reviewed)
            problems.Add(new(ChangeNumber, null, "the record says reviewed, but the trail has no reviewed event"));
        if (current.Status == ChangeStatus.Cancelled && !cancelled)
            problems.Add(new(ChangeNumber, null, "the record says cancelled, but the trail has no cancelled event"));
        foreach (var group in current.Approvals.GroupBy(a => a.Reviewer, StringComparer.Ordinal))
            if (group.Count() > approvedBy.GetValueOrDefault(group.Key))
                problems.Add(new(ChangeNumber, null, $"the record lists an approval by {group.Key} that the trail does not record"));
        return problems;
    }
}

/// <summary>The seal checks over one change (a packet) or the whole store (a verification).</summary>
public static class ChangeSeals
{
    /// <summary>One change against its own trail (in sequence order), including each event's own hash.</summary>
    public static SealReport Check(int changeNumber, EmergencyChange? current, IReadOnlyList<AuditEvent> trail)
    {
        var tracker = new ChangeSealTracker(changeNumber);
        var problems = new List<StateProblem>();
        foreach (var e in trail)
        {
            if (e.Hash is null || e.Hash != AuditChain.HashOf(e))
                problems.Add(new(changeNumber, e.Sequence, $"event #{e.Sequence} ({e.Type}) was altered or not appended by the bot: its content does not match its hash"));
            tracker.Observe(e);
        }
        problems.AddRange(tracker.Problems(current));
        return new SealReport(problems, tracker.StateSequence, tracker.SealedFrom, tracker.FirstSealOfOlderChange, tracker.State is null);
    }
}

/// <param name="SealedAt">The event whose seal the record was compared with.</param>
/// <param name="Unsealed">The trail seals no state of this change (declared before sealing and not written since): only the facts were checked.</param>
public sealed record SealReport(IReadOnlyList<StateProblem> Problems, long? SealedAt, long? SealedFrom, bool FirstSealOfOlderChange, bool Unsealed)
{
    public bool Tampered => Problems.Count > 0;
}
