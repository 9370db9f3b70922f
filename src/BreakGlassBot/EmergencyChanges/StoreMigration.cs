using LiteDB;

namespace BreakGlassBot.EmergencyChanges;

/// <summary>Everything an embedded data file holds, read as stored: what <c>migrate-store</c> copies verbatim.</summary>
internal sealed record StoreSnapshot(
    IReadOnlyList<EmergencyChange> Changes,
    int LastChange,
    IReadOnlyList<AuditEvent> Audit,
    long HeadSequence,
    string? HeadHash,
    BsonDocument? ChainMarker,
    IReadOnlyList<(string Key, long At)> Seen,
    IReadOnlyList<(string EventId, string Json, long At, int Failures, int Waits, long? Due)> Inbox,
    IReadOnlyList<(string System, string SlackUser, string Account)> People,
    IReadOnlyList<(string Collection, string Id, BsonDocument Document)> Documents)
{
    /// <summary>The collections of the file that are not feature documents.</summary>
    static readonly HashSet<string> Own = ["changes", "audit", "counters", "seen", "inbox", "people"];

    /// <summary>Reads a stopped bot's file, read-only.</summary>
    public static StoreSnapshot Read(string path)
    {
        using var db = new LiteDatabase(new ConnectionString { Filename = path, Connection = ConnectionType.Direct, ReadOnly = true }, ChangeStore.CreateMapper());
        var counters = db.GetCollection<BsonDocument>("counters");
        var head = counters.FindById(AuditChain.HeadId);
        var documents = new List<(string, string, BsonDocument)>();
        foreach (var name in db.GetCollectionNames().Where(n => !Own.Contains(n)).Order(StringComparer.Ordinal))
            foreach (var d in db.GetCollection<BsonDocument>(name).FindAll())
                documents.Add((name, d["_id"].IsString ? d["_id"].AsString : d["_id"].ToString(), d));
        return new StoreSnapshot(
            [.. db.GetCollection<EmergencyChange>("changes").Find(Query.All(Query.Ascending))],
            counters.FindById("change")?["value"].AsInt32 ?? 0,
            [.. db.GetCollection<AuditEvent>("audit").Find(Query.All(nameof(AuditEvent.Sequence), Query.Ascending))],
            head?["value"].AsInt64 ?? 0,
            head is not null && head["hash"].IsString ? head["hash"].AsString : null,
            counters.FindById(AuditChain.MarkerId),
            [.. db.GetCollection<BsonDocument>("seen").FindAll().Select(d => (d["_id"].AsString, d["at"].AsInt64))],
            [.. db.GetCollection<BsonDocument>("inbox").FindAll().Select(d => (d["_id"].AsString, d["json"].AsString, d["at"].AsInt64,
                d["failures"].IsNumber ? d["failures"].AsInt32 : 0, d["waits"].IsNumber ? d["waits"].AsInt32 : 0, d["due"].IsNumber ? (long?)d["due"].AsInt64 : null))],
            [.. db.GetCollection<BsonDocument>("people").FindAll().Select(d => d["_id"].AsString.Split(':', 2) is [var system, var user]
                ? (system, user, d["account"].AsString) : (d["_id"].AsString, "", d["account"].AsString))],
            documents);
    }
}

/// <summary>
/// <c>migrate-store</c>: copies a stopped bot's data file into an empty PostgreSQL database verbatim, then verifies the
/// chain on both sides and compares what each holds. The copy stands only if both verify alike.
/// </summary>
internal static class StoreMigration
{
    public sealed record Result(ChainReport Source, ChainReport Target, StoreCounts SourceCounts, StoreCounts TargetCounts, IReadOnlyList<string> Differences)
    {
        public bool Matches => Differences.Count == 0;
    }

    public static Result Migrate(string path, string connectionString, TimeProvider time)
    {
        var source = AuditChain.VerifyFile(path);
        // A trail that does not verify is evidence of tampering: moving it would only bury the finding under a new store.
        if (!source.Trustworthy) throw new InvalidOperationException($"{path}: {source.Describe()}. Migrate only a trail that verifies.");
        var snapshot = StoreSnapshot.Read(path);
        using var engine = new PostgresEngine(connectionString, time);
        engine.Import(snapshot);
        var target = engine.VerifyAuditChain();
        var sourceCounts = new StoreCounts(snapshot.Changes.Count, snapshot.Audit.Count, snapshot.Documents.Count, snapshot.People.Count, snapshot.Seen.Count,
            snapshot.Inbox.Count, snapshot.LastChange);
        var targetCounts = engine.Counts();
        var differences = new List<string>();
        if (sourceCounts != targetCounts) differences.Add($"the copy holds {targetCounts}, the file {sourceCounts}");
        if (!target.Trustworthy) differences.Add("the copy does not verify: " + target.Describe());
        if ((target.HeadSequence, target.HeadHash, target.Events) != (source.HeadSequence, source.HeadHash, source.Events))
            differences.Add($"the copy ends at #{target.HeadSequence} {target.HeadHash}, the file at #{source.HeadSequence} {source.HeadHash}");
        return new Result(source, target, sourceCounts, targetCounts, differences);
    }
}
