using System.Data;
using Npgsql;
using NpgsqlTypes;

namespace BreakGlassBot.EmergencyChanges;

internal sealed partial class PostgresEngine
{
    /// <summary>What the database holds, counted (migrate-store compares these with the file's).</summary>
    public StoreCounts Counts() => Read("""
        SELECT (SELECT count(*) FROM changes), (SELECT count(*) FROM audit), (SELECT count(*) FROM documents), (SELECT count(*) FROM people),
               (SELECT count(*) FROM seen), (SELECT count(*) FROM inbox), (SELECT last_change FROM head WHERE id = 1)
        """, r => new StoreCounts(r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4), r.GetInt64(5), r.GetInt32(6)))[0];

    /// <summary>The stored hash of each of <paramref name="sequences"/> that exists (for verify-audit's anchors).</summary>
    public IReadOnlyDictionary<long, string?> AuditHashes(IReadOnlyCollection<long> sequences) =>
        Read("SELECT sequence, doc->>'Hash' FROM audit WHERE sequence = ANY(@p0)", r => (r.GetInt64(0), r.IsDBNull(1) ? null : r.GetString(1)), sequences.Distinct().ToArray())
            .ToDictionary(x => x.Item1, x => x.Item2);

    /// <summary>
    /// Copies an embedded file's contents into this empty database as they are: the same BG numbers, audit sequences, hashes
    /// and chain marker, in one transaction (a failure leaves the database empty). Refuses a database that holds anything.
    /// </summary>
    public void Import(StoreSnapshot snapshot) => InTransaction((conn, tx) =>
    {
        var head = LockHead(conn, tx);
        var counts = ReadIn(conn, tx, "SELECT (SELECT count(*) FROM changes) + (SELECT count(*) FROM audit) + (SELECT count(*) FROM documents) "
            + "+ (SELECT count(*) FROM people) + (SELECT count(*) FROM seen) + (SELECT count(*) FROM inbox)", r => r.GetInt64(0))[0];
        if (counts > 0 || head.LastChange != 0 || head.LastSequence != 0)
            throw new StoreNotEmptyException($"The target database is not empty ({counts} row(s), last BG-{head.LastChange}, last audit event #{head.LastSequence}): "
                + "migrate-store copies into an empty database only, and never merges two trails.");
        foreach (var change in snapshot.Changes) InsertChange(conn, tx, change);
        using (var copy = conn.BeginBinaryImport("COPY audit (sequence, change_number, doc) FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var e in snapshot.Audit)
            {
                copy.StartRow();
                copy.Write(e.Sequence, NpgsqlDbType.Bigint);
                copy.Write(e.ChangeNumber, NpgsqlDbType.Integer);
                copy.Write(Json(mapper.ToDocument(e)), NpgsqlDbType.Jsonb);
            }
            copy.Complete();
        }
        var marker = snapshot.ChainMarker;
        using (var save = Command(conn, tx, """
            UPDATE head SET last_change = @p0, last_sequence = @p1, last_hash = @p2, chain_version = @p3, chain_migrated = @p4,
                chain_by = @p5, chain_at = @p6, chain_hashed_before = @p7 WHERE id = 1
            """,
            snapshot.LastChange, snapshot.HeadSequence, snapshot.HeadHash,
            marker is null ? null : marker["version"].AsInt32, marker is null ? null : marker["migrated"].AsInt64,
            marker is not null && marker["by"].IsString ? marker["by"].AsString : null, marker is not null && marker["at"].IsString ? marker["at"].AsString : null,
            marker is not null && marker["hashed_before"].IsNumber ? marker["hashed_before"].AsInt64 : null))
            save.ExecuteNonQuery();
        foreach (var (key, at) in snapshot.Seen) Insert(conn, tx, "INSERT INTO seen (key, at) VALUES (@p0, @p1)", key, at);
        foreach (var e in snapshot.Inbox)
            Insert(conn, tx, "INSERT INTO inbox (event_id, json, at, failures, waits, due) VALUES (@p0, @p1, @p2, @p3, @p4, @p5)", e.EventId, e.Json, e.At, e.Failures, e.Waits, e.Due);
        foreach (var (system, user, account) in snapshot.People)
            Insert(conn, tx, "INSERT INTO people (system, slack_user, account) VALUES (@p0, @p1, @p2)", system, user, account);
        foreach (var (collection, id, document) in snapshot.Documents)
            Insert(conn, tx, "INSERT INTO documents (collection, id, doc) VALUES (@p0, @p1, @p2)", collection, id, new Jsonb(Json(document)));
        return 0;
    }, IsolationLevel.Serializable);

    static void Insert(NpgsqlConnection conn, NpgsqlTransaction tx, string sql, params object?[] args)
    {
        using var cmd = Command(conn, tx, sql, args);
        cmd.ExecuteNonQuery();
    }

    /// <summary>Where the database is, for messages: host(s) and database, never the password.</summary>
    public static string Describe(string connectionString)
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString);
        return $"postgresql://{b.Host}{(b.Port != NpgsqlConnection.DefaultPort ? ":" + b.Port : "")}/{b.Database ?? b.Username}";
    }
}

/// <summary>What a store holds, counted.</summary>
internal sealed record StoreCounts(long Changes, long AuditEvents, long Documents, long People, long Seen, long Inbox, int LastChange);

/// <summary>migrate-store's target already holds data.</summary>
internal sealed class StoreNotEmptyException(string message) : Exception(message);
