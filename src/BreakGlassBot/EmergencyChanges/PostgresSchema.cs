using Npgsql;

namespace BreakGlassBot.EmergencyChanges;

/// <summary>
/// The PostgreSQL engine's tables, created and upgraded at start-up in one transaction under an advisory lock, so replicas
/// starting together apply each step once.
/// <para>
/// Upgrades are additive: a step may add a table, a nullable column or an index, never drop, rename or retype what an
/// earlier version reads, so version N and N-1 run side by side during a rolling upgrade. A version finding a newer schema
/// than its own runs on it unchanged. Removing something takes two releases: stop reading it, then drop it.
/// </para>
/// </summary>
internal static class PostgresSchema
{
    /// <summary>The advisory lock key the schema upgrade runs under (fixed; named locks hash their names elsewhere in the key space).</summary>
    public const long UpgradeLockKey = 0x4247_5343_4845_4D41; // "BGSCHEMA"

    /// <summary>The steps in order; step i brings the schema to version i + 1. Append only.</summary>
    static readonly string[] Steps =
    [
        """
        CREATE TABLE changes (
            id integer PRIMARY KEY,
            doc jsonb NOT NULL,
            status text NOT NULL,
            declared_by text,
            declared_at bigint NOT NULL,
            due_at bigint NOT NULL,
            reviewed_at bigint,
            next_step_at bigint,
            next_check_at bigint,
            open_due_at bigint,
            announcement_channel text,
            announcement_ts text,
            source_key text UNIQUE,
            bypass_login text,
            bypass_team text,
            bypass_mode text,
            bypass_granted_at bigint,
            bypass_expires_at bigint,
            bypass_revoked_at bigint,
            bypass_problem text,
            pull_request_numbers integer[] NOT NULL DEFAULT '{}',
            claim_owner text,
            claim_until timestamptz
        );
        CREATE INDEX changes_status ON changes (status);
        CREATE INDEX changes_declared_by ON changes (declared_by);
        CREATE INDEX changes_declared_at ON changes (declared_at);
        CREATE INDEX changes_reviewed_at ON changes (reviewed_at);
        CREATE INDEX changes_next_step_at ON changes (next_step_at);
        CREATE INDEX changes_next_check_at ON changes (next_check_at);
        CREATE INDEX changes_open_due_at ON changes (open_due_at);
        CREATE INDEX changes_announcement_ts ON changes (announcement_ts);
        CREATE INDEX changes_bypass_login ON changes (bypass_login);
        CREATE INDEX changes_pull_request_numbers ON changes USING gin (pull_request_numbers);
        CREATE TABLE audit (
            sequence bigint PRIMARY KEY,
            change_number integer NOT NULL,
            doc jsonb NOT NULL
        );
        CREATE INDEX audit_change_number ON audit (change_number, sequence);
        CREATE TABLE head (
            id integer PRIMARY KEY CHECK (id = 1),
            last_change integer NOT NULL,
            last_sequence bigint NOT NULL,
            last_hash text,
            chain_version integer,
            chain_migrated bigint,
            chain_by text,
            chain_at text,
            chain_hashed_before bigint
        );
        INSERT INTO head (id, last_change, last_sequence, last_hash, chain_version, chain_migrated) VALUES (1, 0, 0, NULL, 1, 0);
        CREATE TABLE seen (key text PRIMARY KEY, at bigint NOT NULL);
        CREATE INDEX seen_at ON seen (at);
        CREATE TABLE inbox (
            event_id text PRIMARY KEY,
            json text NOT NULL,
            at bigint NOT NULL,
            failures integer NOT NULL DEFAULT 0,
            waits integer NOT NULL DEFAULT 0,
            due bigint,
            claim_owner text,
            claim_until timestamptz
        );
        CREATE TABLE people (system text NOT NULL, slack_user text NOT NULL, account text NOT NULL, PRIMARY KEY (system, slack_user));
        CREATE TABLE documents (collection text NOT NULL, id text NOT NULL, doc jsonb NOT NULL, PRIMARY KEY (collection, id));
        """,
    ];

    public static int Latest => Steps.Length;

    /// <summary>Brings the database to <see cref="Latest"/>; a database already newer is left as it is.</summary>
    public static void Upgrade(NpgsqlDataSource source)
    {
        using var conn = source.OpenConnection();
        using var tx = conn.BeginTransaction();
        Execute(conn, tx, $"SELECT pg_advisory_xact_lock({UpgradeLockKey})");
        Execute(conn, tx, "CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
        int current;
        using (var cmd = new NpgsqlCommand("SELECT coalesce(max(version), 0) FROM schema_version", conn, tx))
            current = Convert.ToInt32(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        for (var version = current + 1; version <= Steps.Length; version++)
        {
            Execute(conn, tx, Steps[version - 1]);
            Execute(conn, tx, $"INSERT INTO schema_version (version) VALUES ({version})");
        }
        tx.Commit();
    }

    /// <summary>Refuses a database the bot never created its schema in (a mistyped name, another application's database).</summary>
    public static void Require(NpgsqlDataSource source)
    {
        using var conn = source.OpenConnection();
        using var cmd = new NpgsqlCommand("SELECT to_regclass('schema_version') IS NOT NULL AND to_regclass('head') IS NOT NULL", conn);
        if (cmd.ExecuteScalar() is not true)
            throw new InvalidOperationException($"Database {conn.Database} holds no BreakGlassBot store (no schema_version and head tables): check Storage:ConnectionString.");
    }

    static void Execute(NpgsqlConnection conn, NpgsqlTransaction tx, string sql)
    {
        using var cmd = new NpgsqlCommand(sql, conn, tx);
        cmd.ExecuteNonQuery();
    }
}
