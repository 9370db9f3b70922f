using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using LiteDB;

namespace BreakGlassBot.EmergencyChanges;

/// <summary>
/// The part of a change an auditor relies on (status, approvals, bypass, links and their review facts, deadlines,
/// cancellation), as a hash the audit chain can seal. The change document itself is covered by no hash; sealing this
/// state into the trail on every write lets a packet, an export and a verification tell an edited document from one the
/// bot wrote.
/// <para>
/// The form is the stored document (what LiteDB's mapper writes: trimmed strings, UTC ticks), flattened to sorted
/// <c>path:length:value</c> lines (a sub-document present adds <c>{}</c>, a list its count). Work in progress and bookkeeping are left out (the outbox, when the next check runs,
/// when a source was last read); empty values are omitted, so a property added later with a default value leaves the
/// hash of every existing change as it was. Renaming a sealed property needs a migration.
/// </para>
/// </summary>
public static class ChangeState
{
    const string Version = "breakglass-state-v1";

    /// <summary>Top-level properties that are work or bookkeeping, not what happened.</summary>
    static readonly HashSet<string> NotSealed = new(StringComparer.Ordinal)
    {
        "_id", nameof(EmergencyChange.Steps), nameof(EmergencyChange.NextStepAt), nameof(EmergencyChange.NextCheckAt),
        nameof(EmergencyChange.OpenDueAt), nameof(EmergencyChange.RefusalsNoted),
    };

    /// <summary>Nested properties that only say when a source was last read; a look that reads nothing new changes nothing sealed.</summary>
    static readonly HashSet<string> ReadTimes = new(StringComparer.Ordinal)
    {
        nameof(LinkedPullRequest.FetchedAt), nameof(LinkedPullRequest.ReviewCheckedAt), nameof(EvidenceCheck.CheckedAt),
    };

    static readonly BsonMapper Mapper = StoreFile.CreateMapper();

    /// <summary>The sealed properties of <paramref name="c"/> as stored, by path (<c>Approvals.0.Reviewer</c>), ordinal order.</summary>
    public static SortedDictionary<string, string> Flatten(EmergencyChange c)
    {
        var flat = new SortedDictionary<string, string>(StringComparer.Ordinal);
        // The outbox is the largest part of a change and never sealed: not mapped at all (the caller owns the change).
        var steps = c.Steps;
        c.Steps = [];
        BsonDocument document;
        try { document = Mapper.ToDocument(c); }
        finally { c.Steps = steps; }
        foreach (var (key, value) in document)
            if (!NotSealed.Contains(key)) Add(flat, key, key, value);
        return flat;
    }

    static void Add(SortedDictionary<string, string> flat, string path, string name, BsonValue value)
    {
        switch (value.Type)
        {
            case BsonType.Null or BsonType.MinValue or BsonType.MaxValue:
                return;
            case BsonType.Document:
                // Present, even when every value in it is empty: an added Cancellation {} or Bypass {} is an edit.
                flat[path] = "{}";
                foreach (var (key, inner) in value.AsDocument)
                    if (!ReadTimes.Contains(key)) Add(flat, path + "." + key, key, inner);
                return;
            case BsonType.Array:
                var items = value.AsArray;
                // The count, so an all-default item added at the end is an edit too (an empty list adds no line).
                if (items.Count > 0) flat[path] = "#" + items.Count.ToString(CultureInfo.InvariantCulture);
                for (var i = 0; i < items.Count; i++) Add(flat, path + "." + i.ToString(CultureInfo.InvariantCulture), name, items[i]);
                return;
            case BsonType.Boolean when !value.AsBoolean:
                return;
            case BsonType.Int32 or BsonType.Int64 when value.AsInt64 == 0:
                return;
            case BsonType.String when value.AsString.Length == 0:
                return;
            default:
                flat[path] = value.Type switch
                {
                    BsonType.String => value.AsString,
                    BsonType.Int32 or BsonType.Int64 => value.AsInt64.ToString(CultureInfo.InvariantCulture),
                    BsonType.Boolean => "true",
                    BsonType.Double => value.AsDouble.ToString("R", CultureInfo.InvariantCulture),
                    BsonType.Decimal => value.AsDecimal.ToString(CultureInfo.InvariantCulture),
                    BsonType.DateTime => value.AsDateTime.ToUniversalTime().Ticks.ToString(CultureInfo.InvariantCulture),
                    _ => value.ToString(),
                };
                return;
        }
    }

    public static string Hash(SortedDictionary<string, string> flat)
    {
        var b = new StringBuilder(Version).Append('\n');
        foreach (var (path, value) in flat) AuditChain.Field(b, path, value);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(b.ToString())));
    }

    public static string Hash(EmergencyChange c) => Hash(Flatten(c));

    /// <summary>The top-level properties whose sealed values differ (for the record of a change written without an event of its own).</summary>
    public static IReadOnlyList<string> Changed(SortedDictionary<string, string> before, SortedDictionary<string, string> after) =>
        [.. before.Where(kv => !after.TryGetValue(kv.Key, out var v) || v != kv.Value).Select(kv => kv.Key)
            .Concat(after.Keys.Where(k => !before.ContainsKey(k)))
            .Select(p => p.Split('.')[0]).Distinct().Order(StringComparer.Ordinal)];

    /// <summary>
    /// Seals the write of <paramref name="change"/> from <paramref name="before"/> (null: a new change) into the trail: the
    /// last of its own <paramref name="events"/> carries the state before and after; a write with no event of its own gets a
    /// <see cref="AuditTypes.StateRecorded"/> event naming what changed. Nothing sealed changed: nothing is added.
    /// </summary>
    public static (IReadOnlyList<AuditEvent> Events, SealedState After) Seal(SealedState? before, EmergencyChange change, IReadOnlyList<AuditEvent> events, DateTimeOffset now)
    {
        var after = SealedState.Of(change);
        var previous = before?.Hash ?? "";
        if (after.Hash == previous) return (events, after);
        if (events.LastOrDefault(e => e.ChangeNumber == change.Id) is { } own)
        {
            (own.State, own.PreviousState) = (after.Hash, previous);
            return (events, after);
        }
        var recorded = new AuditEvent
        {
            ChangeNumber = change.Id, At = now, Actor = "bot", Type = AuditTypes.StateRecorded, State = after.Hash, PreviousState = previous,
            Data = new() { ["changed"] = string.Join(' ', Changed(before?.Flat ?? [], after.Flat)) },
        };
        return ([.. events, recorded], after);
    }
}

/// <summary>A change's sealed state: its hash, and the flattened form the hash is over (to name what a later write changed).</summary>
public sealed record SealedState(string Hash, SortedDictionary<string, string> Flat)
{
    public static SealedState Of(EmergencyChange c)
    {
        var flat = ChangeState.Flatten(c);
        return new(ChangeState.Hash(flat), flat);
    }
}
