using LiteDB;
using static BreakGlassBot.EmergencyChanges.StoreFile;

namespace BreakGlassBot.EmergencyChanges;

/// <summary>Reading the audit trail: one change's events, and the check of the whole hash chain.</summary>
internal sealed class AuditTrailReader(StoreFile file)
{
    readonly ILiteCollection<AuditEvent> audit = file.Audit;
    readonly ILiteCollection<BsonDocument> counters = file.Counters;
    readonly ILiteCollection<EmergencyChange> changes = file.Changes;
    readonly Lock writeLock = file.WriteLock;

    /// <summary>
    /// Recomputes the hash chain, walking outside the write lock so a long trail does not stall declarations; if an
    /// event was appended meanwhile the walk is repeated, and only the last attempt holds the lock throughout.
    /// </summary>
    public ChainReport VerifyAuditChain()
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            BsonDocument? head, marker;
            lock (writeLock) (head, marker) = (counters.FindById(AuditChain.HeadId), counters.FindById(AuditChain.MarkerId));
            var seals = new Dictionary<int, ChangeSealTracker>();
            var report = AuditChain.Verify(audit.Find(Query.All(nameof(AuditEvent.Sequence), Query.Ascending)), head, marker, seals);
            if (report.Intact) return AuditChain.WithRecords(report, seals, changes.FindAll(), n => RecheckLocked(n, report.HeadSequence));
            if (report.FirstBreak is not { Fault: ChainFault.Inserted } b || b.Sequence <= report.HeadSequence) return report;
            long now;
            lock (writeLock) now = counters.FindById(AuditChain.HeadId)?["value"].AsInt64 ?? 0;
            if (now < b.Sequence) return report; // still past the end after re-reading: it was not appended by the bot
        }
        lock (writeLock) return AuditChain.Verify(audit, counters, changes);
    }

    /// <summary>
    /// One change and its trail read together under the write lock, so a write made during the walk is not taken for an
    /// edit; null (the walk's finding stands) when nothing was appended since the walk.
    /// </summary>
    IReadOnlyList<StateProblem>? RecheckLocked(int number, long walkedHead)
    {
        lock (writeLock)
        {
            if ((counters.FindById(AuditChain.HeadId)?["value"].AsInt64 ?? 0) == walkedHead) return null;
            return ChangeSeals.Check(number, changes.FindById(number), AuditTrail(number)).Problems;
        }
    }

    /// <summary>A change and its trail as of one moment (under the write lock): a write between two reads would look like an edit.</summary>
    public (EmergencyChange? Change, IReadOnlyList<AuditEvent> Trail) ChangeWithTrail(int changeNumber)
    {
        lock (writeLock) return (changes.FindById(changeNumber), AuditTrail(changeNumber));
    }

    public IReadOnlyList<AuditEvent> AuditTrail(int changeNumber) =>
        audit.Find(Where("$.ChangeNumber = @0", changeNumber)).OrderBy(e => e.Sequence).ToList();

    public long AuditCount() => audit.LongCount();
}
