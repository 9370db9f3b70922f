using System.Data;
using System.Data.Common;
using BreakGlassBot.Hosting;
using LiteDB;
using Npgsql;
using NpgsqlTypes;

namespace BreakGlassBot.EmergencyChanges;

/// <summary>
/// The engine on one PostgreSQL database shared by any number of replicas. Documents are stored as the embedded store
/// writes them (the same LiteDB mapper: UTC ticks, trimmed strings), as JSON in jsonb, beside the typed columns the
/// queries need. Every write locks the one head row first: BG numbers stay gap-free and the audit chain's order is the
/// commit order, whichever replica writes.
/// </summary>
internal sealed partial class PostgresEngine : StoreEngine
{
    readonly NpgsqlDataSource source;
    /// <summary>Named locks' connections: unpooled, so closing one really ends its session and whatever lock it held.</summary>
    readonly NpgsqlDataSource lockSource;
    readonly TimeProvider time;
    readonly BsonMapper mapper = ChangeStore.CreateMapper();
    readonly Lock mapLock = new();
    readonly HashSet<Type> mapped = [];

    /// <param name="upgrade">
    /// False for a reader that must not change what it reads (verify-audit, an auditor's read-only role): the schema is
    /// checked, never created or upgraded, and a database without it is refused rather than reported as an empty trail.
    /// </param>
    public PostgresEngine(string connectionString, TimeProvider time, bool upgrade = true)
    {
        this.time = time;
        var builder = WithDefaults(connectionString);
        source = NpgsqlDataSource.Create(builder.ConnectionString);
        lockSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(builder.ConnectionString) { Pooling = false }.ConnectionString);
        try { Unavailable(() => { if (upgrade) PostgresSchema.Upgrade(source); else PostgresSchema.Require(source); return 0; }); }
        catch
        {
            source.Dispose();
            lockSource.Dispose();
            throw;
        }
        writer = new Thread(RunWrites) { IsBackground = true, Name = "breakglass-pg-writer" };
        writer.Start();
    }

    readonly Thread writer;

    /// <summary>Finite waits unless the operator chose others: a database that does not answer fails a write, never hangs it.</summary>
    internal static NpgsqlConnectionStringBuilder WithDefaults(string connectionString)
    {
        var given = new DbConnectionStringBuilder { ConnectionString = connectionString };
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (!given.ContainsKey("Timeout")) builder.Timeout = 2; // Slack wants an answer within 3 s: an unreachable database must fail a declaration before that
        if (!given.ContainsKey("Command Timeout") && !given.ContainsKey("CommandTimeout")) builder.CommandTimeout = 30;
        // A database host that vanished (no reset, no FIN) is noticed in seconds, not after the kernel's two hours.
        if (!given.ContainsKey("Keepalive")) builder.KeepAlive = 5;
        return builder;
    }

    public override StoreKind Kind => StoreKind.PostgreSql;

    // ---- Serialisation: the embedded store's mapper, then LiteDB's JSON.

    string Json(BsonDocument doc) => LiteDB.JsonSerializer.Serialize(doc);
    static BsonDocument Bson(string json) => LiteDB.JsonSerializer.Deserialize(json).AsDocument;
    EmergencyChange ChangeFrom(string json) => mapper.ToObject<EmergencyChange>(Bson(json));
    AuditEvent EventFrom(string json) => mapper.ToObject<AuditEvent>(Bson(json));

    /// <summary>A feature type's mapper built completely before anyone uses it (see StoreFile.CreateMapper).</summary>
    BsonMapper MapperFor<T>()
    {
        lock (mapLock)
            if (mapped.Add(typeof(T))) StoreFile.MapAhead(mapper, typeof(T));
        return mapper;
    }

    static long? Ticks(BsonValue v) => v.IsNumber ? v.AsInt64 : null;
    static string? Text(BsonValue v) => v.IsString ? v.AsString : null;
    static BsonValue At(BsonValue v, string key) => v.IsDocument ? v.AsDocument[key] : BsonValue.Null;

    // ---- Connections and failures.

    /// <summary>Failures of the database itself (unreachable, shutting down, a read-only standby after failover), told from refusals of a write.</summary>
    static bool IsUnavailable(Exception e) => e switch
    {
        PostgresException p => p.SqlState.StartsWith("08", StringComparison.Ordinal) || p.SqlState is "57P01" or "57P02" or "57P03" or "25006" or "53300"
            // A lock not granted within Bounded's lock_timeout, a transaction ended by idle_in_transaction_session_timeout.
            or "55P03" or "25P03",
        NpgsqlException => true,
        TimeoutException => true,
        _ => false,
    };

    static T Unavailable<T>(Func<T> work)
    {
        try { return work(); }
        catch (Exception e) when (IsUnavailable(e)) { throw new StoreUnavailableException("The PostgreSQL store is unavailable: " + e.Message, e); }
    }

    static async Task<T> UnavailableAsync<T>(Func<Task<T>> work)
    {
        try { return await work(); }
        catch (Exception e) when (IsUnavailable(e)) { throw new StoreUnavailableException("The PostgreSQL store is unavailable: " + e.Message, e); }
    }

    static NpgsqlCommand Command(NpgsqlConnection conn, NpgsqlTransaction? tx, string sql, params object?[] args)
    {
        var cmd = new NpgsqlCommand(sql, conn, tx);
        for (var i = 0; i < args.Length; i++)
            cmd.Parameters.Add(args[i] switch
            {
                Jsonb j => new NpgsqlParameter { ParameterName = "p" + i, NpgsqlDbType = NpgsqlDbType.Jsonb, Value = j.Json },
                null => new NpgsqlParameter { ParameterName = "p" + i, Value = DBNull.Value },
                var v => new NpgsqlParameter("p" + i, v),
            });
        return cmd;
    }

    readonly record struct Jsonb(string Json);

    static object? Db<T>(T? v) where T : struct => v is { } x ? x : null;

    List<T> Read<T>(string sql, Func<NpgsqlDataReader, T> map, params object?[] args) => Unavailable(() =>
    {
        using var conn = source.OpenConnection();
        return ReadIn(conn, null, sql, map, args);
    });

    static List<T> ReadIn<T>(NpgsqlConnection conn, NpgsqlTransaction? tx, string sql, Func<NpgsqlDataReader, T> map, params object?[] args)
    {
        using var cmd = Command(conn, tx, sql, args);
        using var reader = cmd.ExecuteReader();
        var list = new List<T>();
        while (reader.Read()) list.Add(map(reader));
        return list;
    }

    static IEnumerable<T> Stream<T>(NpgsqlConnection conn, NpgsqlTransaction tx, string sql, Func<NpgsqlDataReader, T> map)
    {
        using var cmd = Command(conn, tx, sql);
        using var reader = cmd.ExecuteReader();
        while (reader.Read()) yield return map(reader);
    }

    int Execute(string sql, params object?[] args) => Unavailable(() =>
    {
        using var conn = source.OpenConnection();
        using var cmd = Command(conn, null, sql, args);
        return cmd.ExecuteNonQuery();
    });

    T InTransaction<T>(Func<NpgsqlConnection, NpgsqlTransaction, T> work, IsolationLevel isolation = IsolationLevel.ReadCommitted) => Unavailable(() =>
    {
        using var conn = source.OpenConnection();
        using var tx = conn.BeginTransaction(isolation);
        Bounded(conn, tx);
        var result = work(conn, tx);
        tx.Commit();
        return result;
    });

    /// <summary>
    /// Limits on the transaction: a lock (the head row, a document's key) not granted in 2 s fails the write, so a replica
    /// frozen while holding it stalls the others for seconds, not until TCP notices; and a transaction left idle for 10 s
    /// (its replica paused mid-write) is ended by the server, which releases what it held.
    /// </summary>
    static void Bounded(NpgsqlConnection conn, NpgsqlTransaction tx)
    {
        using var cmd = Command(conn, tx, "SET LOCAL lock_timeout = '2s'; SET LOCAL idle_in_transaction_session_timeout = '10s'");
        cmd.ExecuteNonQuery();
    }

    public override void Ping() => Read("SELECT 1", r => r.GetInt32(0));

    public override void Dispose()
    {
        writes.CompleteAdding();
        writer.Join(TimeSpan.FromSeconds(10));
        writes.Dispose();
        source.Dispose();
        lockSource.Dispose();
    }
}
