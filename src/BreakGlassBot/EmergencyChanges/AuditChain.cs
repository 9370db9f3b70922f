using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using LiteDB;

namespace BreakGlassBot.EmergencyChanges;

/// <summary>
/// The hash chain over the audit trail. Each event's hash covers its canonical form and its predecessor's hash,
/// so editing, removing or inserting an event breaks every link after it. The canonical form is a fixed-order,
/// length-prefixed UTF-8 text (not LiteDB's BSON, whose field order and types are not ours to fix):
/// <code>
/// breakglass-audit-v1
/// sequence:12
/// change:3
/// at:638876543210000000          (UTC ticks: 100 ns since 0001-01-01)
/// actor:10:U0DECLARER            (name:UTF-8 byte length:value)
/// type:8:approved
/// data:2                         (entries sorted by key, ordinal)
/// comment:3:lgtm
/// source:6:button
/// state:64:&lt;hex&gt;               (only on an event that seals its change's state: see ChangeState)
/// state_previous:64:&lt;hex&gt;      (0 bytes for a new change)
/// previous:64:&lt;hex&gt;
/// </code>
/// </summary>
public static class AuditChain
{
    /// <summary>The previous hash of the first event.</summary>
    public static readonly string Genesis = new('0', 64);
    /// <summary>The counters document that records that the trail is chained (existing events were migrated once).</summary>
    public const string MarkerId = "audit-chain";
    /// <summary>The counters document holding the last sequence and, since the chain, the last hash.</summary>
    public const string HeadId = "audit";

    public static string Canonical(AuditEvent e)
    {
        var b = new StringBuilder("breakglass-audit-v1\n");
        b.Append("sequence:").Append(e.Sequence.ToString(CultureInfo.InvariantCulture)).Append('\n');
        b.Append("change:").Append(e.ChangeNumber.ToString(CultureInfo.InvariantCulture)).Append('\n');
        b.Append("at:").Append(e.At.UtcTicks.ToString(CultureInfo.InvariantCulture)).Append('\n');
        Field(b, "actor", e.Actor);
        Field(b, "type", e.Type);
        b.Append("data:").Append(e.Data.Count.ToString(CultureInfo.InvariantCulture)).Append('\n');
        foreach (var (key, value) in e.Data.OrderBy(kv => kv.Key, StringComparer.Ordinal)) Field(b, key, value);
        // Only on events that seal a change's state, so every event written before the state existed hashes as it did.
        if (e.State is not null)
        {
            Field(b, "state", e.State);
            Field(b, "state_previous", e.PreviousState);
        }
        Field(b, "previous", e.PreviousHash ?? "");
        return b.ToString();
    }

    /// <summary>One <c>name:UTF-8 length:value</c> line: the encoding of the chain's canonical form and of a sealed change state.</summary>
    internal static void Field(StringBuilder b, string name, string? value)
    {
        value ??= "";
        b.Append(name).Append(':').Append(Encoding.UTF8.GetByteCount(value).ToString(CultureInfo.InvariantCulture)).Append(':').Append(value).Append('\n');
    }

    public static string HashOf(AuditEvent e) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Canonical(e))));

    /// <summary>
    /// Links <paramref name="e"/> to <paramref name="previousHash"/> and sets its hash, over the values in their stored form,
    /// the same on every engine: the time in UTC ticks, strings trimmed (<see cref="string.Trim()"/>) with "" as null, as
    /// LiteDB's mapper stores them, so every hash written before is computed the same way (proved by AuditChainTests).
    /// </summary>
    public static void Seal(AuditEvent e, string previousHash)
    {
        e.At = new DateTimeOffset(e.At.UtcTicks, TimeSpan.Zero);
        // A null property is left out of the document and reads back as its default, ""; a blank one is stored as null.
        e.Actor = e.Actor is null ? "" : Stored(e.Actor)!;
        e.Type = e.Type is null ? "" : Stored(e.Type)!;
        e.Data = StoredData(e.Data);
        e.PreviousHash = previousHash;
        e.Hash = HashOf(e);
    }

    static string? Stored(string? value) => value?.Trim() is { Length: > 0 } trimmed ? trimmed : null;

    /// <summary>
    /// Keys as given (not trimmed), values trimmed with "" and null kept as null entries; keys that differ only in case are
    /// one entry, under the first key's spelling with the last value (LiteDB's documents compare keys ignoring case).
    /// </summary>
    static Dictionary<string, string> StoredData(Dictionary<string, string>? data)
    {
        var stored = new Dictionary<string, string>();
        if (data is null) return stored;
        var spelling = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in data)
        {
            if (!spelling.TryGetValue(key, out var first)) spelling[key] = first = key;
            stored[first] = Stored(value)!;
        }
        return stored;
    }

    /// <summary>
    /// At start-up: a new file gets the marker; a file with events but no marker is refused, never re-sealed. Deleting
    /// the marker (or every hash) must not let the bot chain an edited trail afresh; chaining is <see cref="MigrateFile"/>,
    /// run by an operator, on the record. The caller holds the write lock and a transaction.
    /// </summary>
    internal static void EnsureChainedLocked(ILiteCollection<AuditEvent> audit, ILiteCollection<BsonDocument> counters)
    {
        if (counters.FindById(MarkerId) is not null) return;
        var events = audit.LongCount();
        if (events > 0) throw new AuditChainUnsealedException(events, audit.LongCount(BsonExpression.Create("$.Hash != null")));
        counters.Insert(new BsonDocument { ["_id"] = MarkerId, ["version"] = 1, ["migrated"] = 0L });
    }

    /// <summary>
    /// Appends <paramref name="e"/> at the head: the next sequence, linked to and sealed after the head's hash, the head moved
    /// on, all in the caller's transaction (the caller holds the write lock).
    /// </summary>
    internal static void AppendLocked(ILiteCollection<AuditEvent> audit, ILiteCollection<BsonDocument> counters, AuditEvent e)
    {
        var head = counters.FindById(HeadId) ?? new BsonDocument { ["_id"] = HeadId, ["value"] = 0L };
        e.Sequence = head["value"].AsInt64 + 1;
        e.Id = e.Sequence;
        Seal(e, head["hash"].IsString ? head["hash"].AsString : Genesis);
        (head["value"], head["hash"]) = (e.Sequence, e.Hash);
        counters.Upsert(head);
        audit.Insert(e);
    }

    public const string MigratedType = "audit_chain_migrated";

    /// <summary>
    /// Chains every event of a stopped bot's file from genesis and appends an <see cref="MigratedType"/> event saying who
    /// did it, why, and how many events carried hashes before. Only for a file <see cref="EnsureChainedLocked"/> refused.
    /// </summary>
    public static long MigrateFile(string path, string actor, string reason, DateTimeOffset now)
    {
        using var db = new LiteDatabase(new ConnectionString { Filename = path, Connection = ConnectionType.Direct }, ChangeStore.CreateMapper());
        var audit = db.GetCollection<AuditEvent>("audit");
        var counters = db.GetCollection<BsonDocument>("counters");
        if (counters.FindById(MarkerId) is not null) throw new InvalidOperationException("The audit trail is already chained: there is nothing to migrate.");
        db.BeginTrans();
        var hashedBefore = audit.LongCount(BsonExpression.Create("$.Hash != null"));
        var migrated = MigrateLocked(audit, counters);
        var marker = counters.FindById(MarkerId);
        (marker["by"], marker["at"], marker["hashed_before"]) = (actor, now.UtcDateTime.ToString("u", CultureInfo.InvariantCulture), hashedBefore);
        counters.Update(marker);
        AppendLocked(audit, counters, new AuditEvent
        {
            ChangeNumber = 0, At = now, Actor = actor, Type = MigratedType,
            Data = new() { ["migrated"] = migrated.ToString(CultureInfo.InvariantCulture), ["hashed_before"] = hashedBefore.ToString(CultureInfo.InvariantCulture), ["reason"] = reason },
        });
        db.Commit();
        return migrated;
    }

    static long MigrateLocked(ILiteCollection<AuditEvent> audit, ILiteCollection<BsonDocument> counters)
    {
        var previous = Genesis;
        long count = 0;
        foreach (var e in audit.Find(Query.All(nameof(AuditEvent.Sequence), Query.Ascending)).ToList())
        {
            Seal(e, previous);
            audit.Update(e);
            previous = e.Hash!;
            count++;
        }
        var head = counters.FindById(HeadId) ?? new BsonDocument { ["_id"] = HeadId, ["value"] = 0L };
        head["hash"] = previous;
        counters.Upsert(head);
        counters.Insert(new BsonDocument { ["_id"] = MarkerId, ["version"] = 1, ["migrated"] = count });
        return count;
    }

    /// <summary>Walks the whole trail by sequence against the recorded head; stops at the first event that is not as appended.</summary>
    internal static ChainReport Verify(ILiteCollection<AuditEvent> audit, ILiteCollection<BsonDocument> counters, ILiteCollection<EmergencyChange>? changes = null)
    {
        var seals = changes is null ? null : new Dictionary<int, ChangeSealTracker>();
        var report = Verify(audit.Find(Query.All(nameof(AuditEvent.Sequence), Query.Ascending)), counters.FindById(HeadId), counters.FindById(MarkerId), seals);
        return seals is null ? report : WithRecords(report, seals, changes!.FindAll());
    }

    /// <summary>Walks the events against a head and marker read beforehand.</summary>
    internal static ChainReport Verify(IEnumerable<AuditEvent> bySequence, BsonDocument? head, BsonDocument? marker, Dictionary<int, ChangeSealTracker>? seals = null) =>
        Verify(bySequence, head?["value"].AsInt64 ?? 0, head is not null && head["hash"].IsString ? head["hash"].AsString : null,
            marker is null ? null : marker["migrated"].AsInt64, seals) with
        {
            // Chained afresh by an operator (migrate-audit): say so, and whether events already had hashes, rather than "upgraded".
            Rechained = marker is not null && marker["by"].IsString
                ? $"events #1–#{marker["migrated"].AsInt64} were chained afresh by migrate-audit ({marker["by"].AsString}, {marker["at"].AsString})"
                  + (marker["hashed_before"].AsInt64 > 0 ? $", {marker["hashed_before"].AsInt64} of which already had hashes: the chain marker had been removed; read the {MigratedType} event's reason" : "")
                : null,
        };

    public static ChainReport Verify(IEnumerable<AuditEvent> bySequence, long headSequence, string? headHash, long? migrated,
        Dictionary<int, ChangeSealTracker>? seals = null)
    {
        var previous = Genesis;
        long expected = 1, count = 0;
        AuditEvent? last = null;
        ChainReport Broken(ChainFault fault, long sequence, AuditEvent? e, string detail) =>
            new(false, count, headSequence, headHash, migrated, new ChainBreak(sequence, fault, detail, e?.ChangeNumber, e?.Type, e?.At));

        if (migrated is null)
            return Broken(ChainFault.NotChained, 0, null, "the trail is not chained (no chain marker): the bot refuses to start on it; see `migrate-audit`");
        foreach (var e in bySequence)
        {
            count++;
            if (last is not null && e.Sequence == last.Sequence)
                return Broken(ChainFault.Inserted, e.Sequence, e, $"a second event with sequence #{e.Sequence} (id {e.Id}) was inserted");
            if (e.Sequence > expected)
                return Broken(ChainFault.Removed, expected, null,
                    $"event #{expected} is missing: the trail jumps from #{expected - 1} to #{e.Sequence}" + (e.Sequence - expected > 1 ? $" (#{expected}–#{e.Sequence - 1} removed)" : ""));
            if (e.Sequence < expected)
                return Broken(ChainFault.Inserted, e.Sequence, e, $"event #{e.Sequence} is out of sequence (expected #{expected})");
            if (e.Sequence > headSequence)
                return Broken(ChainFault.Inserted, e.Sequence, e, $"event #{e.Sequence} lies beyond the recorded end of the trail (#{headSequence}): it was not appended by the bot");
            if (e.Hash is null)
                return Broken(ChainFault.Inserted, e.Sequence, e, $"event #{e.Sequence} has no hash: it was not appended by the bot");
            // The link first: an event renumbered to close a gap (or make room) fails both checks, and the link says more.
            if (e.PreviousHash != previous)
                return Broken(ChainFault.Relinked, e.Sequence, e,
                    $"event #{e.Sequence} does not follow #{e.Sequence - 1}: it records a different hash for its predecessor, so #{e.Sequence - 1} was replaced "
                    + $"(edited and re-hashed), or an event was inserted or removed before #{e.Sequence}");
            if (e.Hash != HashOf(e))
                return Broken(ChainFault.Altered, e.Sequence, e, $"event #{e.Sequence} was altered: its content no longer matches its hash");
            previous = e.Hash;
            last = e;
            if (seals is not null && e.ChangeNumber > 0)
            {
                if (!seals.TryGetValue(e.ChangeNumber, out var seal)) seals[e.ChangeNumber] = seal = new ChangeSealTracker(e.ChangeNumber);
                seal.Observe(e);
            }
            expected = e.Sequence + 1;
        }
        if (expected - 1 < headSequence)
            return Broken(ChainFault.Removed, expected, null, $"the trail ends at #{expected - 1} but the bot appended up to #{headSequence}: the last events were removed");
        if (headHash is not null && headHash != previous)
            return Broken(ChainFault.Altered, headSequence, last, $"event #{headSequence} is not the one the bot appended: the recorded last hash differs");
        return new ChainReport(true, count, headSequence, previous == Genesis ? null : previous, migrated, null);
    }

    /// <summary>
    /// Compares every change's record with what the walked trail sealed (<paramref name="seals"/>): edited records, records the
    /// trail never declared, declared changes that are gone. Only for a trail that verified: a broken chain vouches for nothing.
    /// </summary>
    internal static ChainReport WithRecords(ChainReport report, Dictionary<int, ChangeSealTracker> seals, IEnumerable<EmergencyChange> changes,
        Func<int, IReadOnlyList<StateProblem>?>? recheck = null)
    {
        if (!report.Intact) return report;
        var problems = new List<StateProblem>();
        var unsealed = 0;
        var present = new HashSet<int>();
        foreach (var change in changes)
        {
            present.Add(change.Id);
            var seal = seals.GetValueOrDefault(change.Id) ?? new ChangeSealTracker(change.Id);
            if (seal.State is null) unsealed++;
            var found = seal.Problems(change);
            // A write that landed after the walk looks like an edit: the caller looks again at that change alone, under its lock.
            if (found.Count > 0 && recheck?.Invoke(change.Id) is { } again) found = again;
            problems.AddRange(found);
        }
        foreach (var (number, seal) in seals)
            if (!present.Contains(number) && seal.DeclaredAt is not null)
                problems.AddRange(recheck?.Invoke(number) ?? seal.Problems(null));
        return report with { StateProblems = problems, UnsealedChanges = unsealed };
    }

    /// <summary>The stored hash of each of <paramref name="sequences"/> that still exists in a data file, read-only.</summary>
    public static IReadOnlyDictionary<long, string?> HashesFromFile(string path, IReadOnlyCollection<long> sequences)
    {
        using var db = new LiteDatabase(new ConnectionString { Filename = path, Connection = ConnectionType.Direct, ReadOnly = true }, ChangeStore.CreateMapper());
        var audit = db.GetCollection<AuditEvent>("audit");
        var found = new Dictionary<long, string?>();
        foreach (var sequence in sequences.Distinct())
            if (audit.FindOne(BsonExpression.Create("$.Sequence = @0", sequence)) is { } e) found[sequence] = e.Hash;
        return found;
    }

    /// <summary>Verifies a data file without the bot: opened read-only, so nothing is written (and nothing migrated).</summary>
    public static ChainReport VerifyFile(string path)
    {
        using var db = new LiteDatabase(new ConnectionString { Filename = path, Connection = ConnectionType.Direct, ReadOnly = true }, ChangeStore.CreateMapper());
        return Verify(db.GetCollection<AuditEvent>("audit"), db.GetCollection<BsonDocument>("counters"), db.GetCollection<EmergencyChange>("changes"));
    }
}

public enum ChainFault
{
    /// <summary>An event's content does not match its hash.</summary>
    Altered,
    /// <summary>A sequence number is missing (or the trail ends before its recorded end).</summary>
    Removed,
    /// <summary>An event the bot did not append: a duplicate or out-of-order sequence, no hash, or past the recorded end.</summary>
    Inserted,
    /// <summary>An event whose previous hash is not its predecessor's: something before it was inserted, removed or replaced.</summary>
    Relinked,
    /// <summary>Events that predate the chain and were never migrated (the bot has not opened this file since the upgrade).</summary>
    NotChained,
}

public sealed record ChainBreak(long Sequence, ChainFault Fault, string Detail, int? ChangeNumber, string? Type, DateTimeOffset? At)
{
    public override string ToString() =>
        Detail + (ChangeNumber is { } n ? $" [BG-{n} {Type} at {At:yyyy-MM-ddTHH:mm:ss.fffZ}]" : "");
}

/// <summary>The outcome of a verification. <see cref="HeadHash"/> is worth recording: a later trail must still contain it.</summary>
public sealed record ChainReport(bool Intact, long Events, long HeadSequence, string? HeadHash, long? Migrated, ChainBreak? FirstBreak)
{
    /// <summary>Set when an operator chained the trail with migrate-audit: who, when, and whether it had hashes already.</summary>
    public string? Rechained { get; init; }
    /// <summary>Change records that say what their sealed trail does not (checked when the records were given and the chain is intact).</summary>
    public IReadOnlyList<StateProblem> StateProblems { get; init; } = [];
    /// <summary>Changes declared before state sealing and not written since: only their facts (reviewed, approvals) were checked.</summary>
    public int UnsealedChanges { get; init; }
    /// <summary>The chain is intact and every change record agrees with it: what an auditor may rely on.</summary>
    public bool Trustworthy => Intact && StateProblems.Count == 0;

    public string Describe() => !Intact
        ? $"audit trail NOT intact: {FirstBreak}"
        : StateProblems.Count > 0
        ? $"audit trail intact, but {StateProblems.Select(p => p.ChangeNumber).Distinct().Count()} change record(s) were TAMPERED with: "
          + string.Join("; ", StateProblems.Take(20)) + (StateProblems.Count > 20 ? $"; and {StateProblems.Count - 20} more" : "")
        : $"audit trail intact: {Events} event(s), last #{HeadSequence}, last hash {HeadHash ?? "(none)"}"
          + (Rechained is not null ? "; " + Rechained : Migrated > 0 ? $"; events #1–#{Migrated} predate the chain and were chained once when the bot was upgraded" : "")
          + (UnsealedChanges > 0 ? $"; {UnsealedChanges} change(s) predate state sealing (their facts were checked, not their whole record)" : "");
}

/// <summary>A data file whose audit trail has events but no chain marker: the bot will not start on it.</summary>
public sealed class AuditChainUnsealedException(long events, long hashed) : Exception(hashed > 0
    ? $"The audit trail's chain marker is missing, but {hashed} of its {events} events carry hashes: the marker was deleted, and chaining the trail "
      + "again now would seal any edit made to it. The bot will not start on this file. Restore breakglass.db from a backup, or, once an "
      + "investigation finds the trail sound, chain it on the record with the bot stopped: dotnet BreakGlassBot.dll migrate-audit --reason \"<why>\"."
    : $"The audit trail ({events} events) predates the hash chain. Chain it once, on the record, with the bot stopped: "
      + "dotnet BreakGlassBot.dll migrate-audit --reason \"<why>\"; then start the bot.")
{
    public long Events { get; } = events;
    public long Hashed { get; } = hashed;
}
