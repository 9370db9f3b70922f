using System.Data;
using LiteDB;
using Npgsql;

namespace BreakGlassBot.EmergencyChanges;

internal sealed partial class PostgresEngine
{
    /// <summary>The head row as locked by a write: the last BG number, the last audit sequence and its hash.</summary>
    sealed class Head
    {
        public int LastChange;
        public long LastSequence;
        public string? LastHash;
    }

    const string ChangeColumns =
        "doc, status, declared_by, declared_at, due_at, reviewed_at, next_step_at, next_check_at, open_due_at, announcement_channel, announcement_ts, "
        + "source_key, bypass_login, bypass_team, bypass_mode, bypass_granted_at, bypass_expires_at, bypass_revoked_at, bypass_problem, pull_request_numbers";

    /// <summary>
    /// The stored document and its query columns, all taken from the document as mapped (trimmed, "" as null), so a
    /// query compares what the embedded store's query would.
    /// </summary>
    object?[] ChangeValues(EmergencyChange change)
    {
        var doc = mapper.ToDocument(change);
        var bypass = doc["Bypass"];
        var numbers = doc["PullRequests"].IsArray ? doc["PullRequests"].AsArray.Select(p => At(p, "Number")).Where(n => n.IsNumber).Select(n => n.AsInt32).ToArray() : [];
        return
        [
            new Jsonb(Json(doc)), Text(doc["Status"]), Text(doc["DeclaredBy"]), Ticks(doc["DeclaredAt"]) ?? 0L, Ticks(doc["DueAt"]) ?? 0L,
            Ticks(doc["ReviewedAt"]), Ticks(doc["NextStepAt"]), Ticks(doc["NextCheckAt"]), Ticks(doc["OpenDueAt"]),
            Text(At(doc["Announcement"], "Channel")), Text(At(doc["Announcement"], "Ts")), Text(doc["SourceKey"]),
            Text(At(bypass, "Login"))?.ToLowerInvariant(), Text(At(bypass, "Team"))?.ToLowerInvariant(), Text(At(bypass, "Mode")),
            Ticks(At(bypass, "GrantedAt")), Ticks(At(bypass, "ExpiresAt")), Ticks(At(bypass, "RevokedAt")), Text(At(bypass, "Problem")), numbers,
        ];
    }

    static string Placeholders(int from, int count) => string.Join(", ", Enumerable.Range(from, count).Select(i => "@p" + i));

    void InsertChange(NpgsqlConnection conn, NpgsqlTransaction tx, EmergencyChange change)
    {
        var values = ChangeValues(change);
        using var cmd = Command(conn, tx, $"INSERT INTO changes (id, {ChangeColumns}) VALUES (@p0, {Placeholders(1, values.Length)})", [change.Id, .. values]);
        cmd.ExecuteNonQuery();
    }

    void UpdateChange(NpgsqlConnection conn, NpgsqlTransaction tx, EmergencyChange change)
    {
        var values = ChangeValues(change);
        var sets = string.Join(", ", ChangeColumns.Split(", ").Select((c, i) => $"{c} = @p{i + 1}"));
        using var cmd = Command(conn, tx, $"UPDATE changes SET {sets} WHERE id = @p0", [change.Id, .. values]);
        cmd.ExecuteNonQuery();
    }

    /// <summary>
    /// One write, through the writer thread's group commit: a transaction that first locks the head row, so writes from every
    /// replica are serialised, then saves the head as the writes left it. What <paramref name="work"/> throws fails its task
    /// only; the others of its group are written again without it.
    /// </summary>
    Task<T> WriteAsync<T>(Func<NpgsqlConnection, NpgsqlTransaction, Head, T> work)
    {
        var write = new PendingWrite<T>(work);
        try { writes.Add(write); }
        catch (InvalidOperationException) { throw new ObjectDisposedException(nameof(PostgresEngine)); }
        return write.Done.Task;
    }

    abstract class PendingWrite
    {
        public abstract void Run(NpgsqlConnection conn, NpgsqlTransaction tx, Head head);
        public abstract void Complete();
        public abstract void Fail(Exception e);
    }

    sealed class PendingWrite<T>(Func<NpgsqlConnection, NpgsqlTransaction, Head, T> work) : PendingWrite
    {
        T? result;
        public TaskCompletionSource<T> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public override void Run(NpgsqlConnection conn, NpgsqlTransaction tx, Head head) => result = work(conn, tx, head);
        public override void Complete() => Done.TrySetResult(result!);
        public override void Fail(Exception e) => Done.TrySetException(e);
    }

    /// <summary>
    /// Writes run on a thread of their own, not the pool (as the embedded writer does): callers blocked on a write must not
    /// starve the threads the write needs. Writes that arrive together share one transaction: one head lock and one commit
    /// (the disk flush) for the group, which is what lets the head lock serialise replicas without serialising every request.
    /// </summary>
    readonly System.Collections.Concurrent.BlockingCollection<PendingWrite> writes = [];
    const int MaxBatch = 256;

    void RunWrites()
    {
        var batch = new List<PendingWrite>(MaxBatch);
        foreach (var first in writes.GetConsumingEnumerable())
        {
            batch.Clear();
            batch.Add(first);
            while (batch.Count < MaxBatch && writes.TryTake(out var more)) batch.Add(more);
            WriteBatch(batch);
        }
    }

    void WriteBatch(List<PendingWrite> batch)
    {
        Exception? refused = null;
        try
        {
            Unavailable(() =>
            {
                using var conn = source.OpenConnection();
                using var tx = conn.BeginTransaction(IsolationLevel.ReadCommitted);
                Bounded(conn, tx);
                var head = LockHead(conn, tx);
                var (lastChange, lastSequence) = (head.LastChange, head.LastSequence);
                foreach (var write in batch)
                {
                    try { write.Run(conn, tx, head); }
                    catch (Exception e) when (!IsUnavailable(e))
                    {
                        // Refused on its merits: nothing of the group is kept, and the others are written again without it.
                        refused = e;
                        tx.Rollback();
                        return 0;
                    }
                }
                if (head.LastChange != lastChange || head.LastSequence != lastSequence)
                {
                    using var save = Command(conn, tx, "UPDATE head SET last_change = @p0, last_sequence = @p1, last_hash = @p2 WHERE id = 1",
                        head.LastChange, head.LastSequence, head.LastHash);
                    save.ExecuteNonQuery();
                }
                tx.Commit();
                return 0;
            });
        }
        catch (Exception e)
        {
            // The database failed the group (unreachable, a failover): nothing was committed, and every caller is told.
            foreach (var write in batch) write.Fail(e);
            return;
        }
        if (refused is null)
        {
            // Handed out after the commit: a caller never sees a write that could still roll back.
            foreach (var write in batch) write.Complete();
            return;
        }
        if (batch.Count == 1)
        {
            batch[0].Fail(refused);
            return;
        }
        // One refused write must not fail its group: nothing was committed, so write them one by one.
        foreach (var write in batch.ToList()) WriteBatch([write]);
    }

    static Head LockHead(NpgsqlConnection conn, NpgsqlTransaction tx)
    {
        using var cmd = Command(conn, tx, "SELECT last_change, last_sequence, last_hash FROM head WHERE id = 1 FOR UPDATE");
        using var r = cmd.ExecuteReader();
        if (!r.Read()) throw new InvalidOperationException("The PostgreSQL store has no head row: the schema was not created by the bot.");
        return new Head { LastChange = r.GetInt32(0), LastSequence = r.GetInt64(1), LastHash = r.IsDBNull(2) ? null : r.GetString(2) };
    }

    /// <summary>Appends at the head like <see cref="AuditChain.AppendLocked"/>: the next sequence, sealed after the head's hash.</summary>
    void AppendLocked(NpgsqlConnection conn, NpgsqlTransaction tx, Head head, IEnumerable<AuditEvent> events)
    {
        foreach (var e in events)
        {
            e.Sequence = head.LastSequence + 1;
            e.Id = e.Sequence;
            AuditChain.Seal(e, head.LastHash ?? AuditChain.Genesis);
            using var cmd = Command(conn, tx, "INSERT INTO audit (sequence, change_number, doc) VALUES (@p0, @p1, @p2)",
                e.Sequence, e.ChangeNumber, new Jsonb(Json(mapper.ToDocument(e))));
            cmd.ExecuteNonQuery();
            (head.LastSequence, head.LastHash) = (e.Sequence, e.Hash);
        }
    }

    public override Task<(EmergencyChange Change, bool Created)> DeclareAsync(EmergencyChange draft, Func<EmergencyChange, IEnumerable<AuditEvent>> events) =>
        WriteAsync((conn, tx, head) =>
        {
            // Compared as stored (trimmed), the way the unique column holds it.
            if (Text(mapper.ToDocument(draft)["SourceKey"]) is { } key
                && ReadIn(conn, tx, "SELECT doc::text FROM changes WHERE source_key = @p0", r => r.GetString(0), key) is [var existing])
                return (ChangeFrom(existing), false);
            draft.Id = head.LastChange + 1;
            draft.RecomputeNextStep();
            InsertChange(conn, tx, draft);
            var (sealedEvents, _) = ChangeState.Seal(null, draft, [.. events(draft)], time.GetUtcNow());
            AppendLocked(conn, tx, head, sealedEvents);
            head.LastChange = draft.Id;
            return (draft, true);
        });

    EmergencyChange? UpdateLocked(NpgsqlConnection conn, NpgsqlTransaction tx, Head head, int id, Func<EmergencyChange, IEnumerable<AuditEvent>> mutate)
        {
            if (ReadIn(conn, tx, "SELECT doc::text FROM changes WHERE id = @p0 FOR UPDATE", r => r.GetString(0), id) is not [var json]) return null;
            var change = ChangeFrom(json);
            // Hashed from the record as read, never from what this replica last wrote: other replicas write too.
            var before = SealedState.Of(change);
            var events = mutate(change).ToList();
            change.RecomputeNextStep();
            UpdateChange(conn, tx, change);
            var (sealedEvents, _) = ChangeState.Seal(before, change, events, time.GetUtcNow());
            AppendLocked(conn, tx, head, sealedEvents);
            return change;
        }

    public override Task<EmergencyChange?> UpdateAsync(int id, Func<EmergencyChange, IEnumerable<AuditEvent>> mutate) => WriteAsync((conn, tx, head) => UpdateLocked(conn, tx, head, id, mutate));

    public override EmergencyChange? Update(int id, Func<EmergencyChange, IEnumerable<AuditEvent>> mutate) => UpdateAsync(id, mutate).GetAwaiter().GetResult();

    public override void Append(AuditEvent evt) => WriteAsync((conn, tx, head) =>
    {
        AppendLocked(conn, tx, head, [evt]);
        return true;
    }).GetAwaiter().GetResult();

    // ---- Outbox claims: leases in the database's time, so the replicas' clocks do not matter.

    public override IReadOnlyList<EmergencyChange> ClaimDueSteps(DateTimeOffset now, string owner, TimeSpan lease, int limit) =>
        [.. Read("""
            UPDATE changes SET claim_owner = @p0, claim_until = now() + @p1
            WHERE id IN (SELECT id FROM changes WHERE next_step_at BETWEEN 0 AND @p2 AND (claim_until IS NULL OR claim_until < now() OR claim_owner = @p0)
                         ORDER BY next_step_at, id LIMIT @p3 FOR UPDATE SKIP LOCKED)
            RETURNING doc::text
            """, r => ChangeFrom(r.GetString(0)), owner, lease, now.UtcTicks, limit)
            .OrderBy(c => c.NextStepAt).ThenBy(c => c.Id)];

    public override bool RenewStepClaim(int id, string owner, TimeSpan lease) =>
        Execute("UPDATE changes SET claim_until = now() + @p2 WHERE id = @p0 AND claim_owner = @p1", id, owner, lease) == 1;

    public override void ReleaseStepClaim(int id, string owner) =>
        Execute("UPDATE changes SET claim_owner = NULL, claim_until = NULL WHERE id = @p0 AND claim_owner = @p1", id, owner);

    // ---- The Slack event inbox.

    public override bool MarkSeen(string key, DateTimeOffset at) =>
        Execute("INSERT INTO seen (key, at) VALUES (@p0, @p1) ON CONFLICT DO NOTHING", key, at.UtcTicks) == 1;

    public override bool WasSeen(string key) => Read("SELECT 1 FROM seen WHERE key = @p0", r => true, key).Count > 0;

    public override int PruneSeen(DateTimeOffset before) => Execute("DELETE FROM seen WHERE at < @p0", before.UtcTicks);

    public override bool AcceptInbound(string eventId, string json, DateTimeOffset at) => InTransaction((conn, tx) =>
    {
        using (var seen = Command(conn, tx, "INSERT INTO seen (key, at) VALUES (@p0, @p1) ON CONFLICT DO NOTHING", "event:" + eventId, at.UtcTicks))
            if (seen.ExecuteNonQuery() == 0) return false;
        using var insert = Command(conn, tx, "INSERT INTO inbox (event_id, json, at) VALUES (@p0, @p1, @p2) ON CONFLICT DO NOTHING", eventId, json, at.UtcTicks);
        insert.ExecuteNonQuery();
        return true;
    });

    public override IReadOnlyList<InboundEvent> ClaimInbound(DateTimeOffset now, string owner, TimeSpan lease, int limit) =>
        [.. Read("""
            UPDATE inbox SET claim_owner = @p0, claim_until = now() + @p1
            WHERE event_id IN (SELECT event_id FROM inbox WHERE (due IS NULL OR due <= @p2) AND (claim_until IS NULL OR claim_until < now() OR claim_owner = @p0)
                               ORDER BY at, event_id LIMIT @p3 FOR UPDATE SKIP LOCKED)
            RETURNING event_id, json, failures, waits, at
            """, r => (Event: new InboundEvent(r.GetString(0), r.GetString(1), r.GetInt32(2), r.GetInt32(3)), At: r.GetInt64(4)), owner, lease, now.UtcTicks, limit)
            .OrderBy(e => e.At).ThenBy(e => e.Event.EventId, StringComparer.Ordinal).Select(e => e.Event)];

    public override void RetryInbound(string eventId, int failures, int waits, DateTimeOffset dueAt) =>
        Execute("UPDATE inbox SET failures = @p1, waits = @p2, due = @p3, claim_owner = NULL, claim_until = NULL WHERE event_id = @p0",
            eventId, failures, waits, dueAt.UtcTicks);

    public override void CompleteInbound(string eventId) => Execute("DELETE FROM inbox WHERE event_id = @p0", eventId);

    public override IReadOnlyList<(string EventId, string Json)> PendingInbound(int limit) =>
        Read("SELECT event_id, json FROM inbox ORDER BY at, event_id LIMIT @p0", r => (r.GetString(0), r.GetString(1)), limit);

    // ---- Linked accounts and feature documents.

    public override void LinkAccount(string slackUser, string system, string account) =>
        Execute("INSERT INTO people (system, slack_user, account) VALUES (@p0, @p1, @p2) ON CONFLICT (system, slack_user) DO UPDATE SET account = excluded.account",
            system, slackUser, account);

    public override string? LinkedAccount(string slackUser, string system) =>
        Read("SELECT account FROM people WHERE system = @p0 AND slack_user = @p1", r => r.GetString(0), system, slackUser).FirstOrDefault();

    public override bool UnlinkAccount(string slackUser, string system) =>
        Execute("DELETE FROM people WHERE system = @p0 AND slack_user = @p1", system, slackUser) > 0;

    public override IReadOnlyList<(string SlackUser, string Account)> LinkedAccounts(string system) =>
        Read("SELECT slack_user, account FROM people WHERE system = @p0 ORDER BY slack_user", r => (r.GetString(0), r.GetString(1)), system);

    Jsonb DocumentJson<T>(string id, T document) where T : class
    {
        var doc = MapperFor<T>().ToDocument(document);
        doc["_id"] = id;
        return new Jsonb(Json(doc));
    }

    T DocumentFrom<T>(string json) where T : class => MapperFor<T>().ToObject<T>(Bson(json));

    public override T? Document<T>(string collection, string id) where T : class =>
        Read("SELECT doc::text FROM documents WHERE collection = @p0 AND id = @p1", r => r.GetString(0), collection, id) is [var json] ? DocumentFrom<T>(json) : null;

    public override IReadOnlyList<T> Documents<T>(string collection) where T : class =>
        [.. Read("SELECT doc::text FROM documents WHERE collection = @p0 ORDER BY id", r => r.GetString(0), collection).Select(DocumentFrom<T>)];

    const string UpsertDocument =
        "INSERT INTO documents (collection, id, doc) VALUES (@p0, @p1, @p2) ON CONFLICT (collection, id) DO UPDATE SET doc = excluded.doc";

    public override T SaveDocument<T>(string collection, string id, Func<T?, T> mutate) where T : class => InTransaction((conn, tx) =>
    {
        // The row may not exist yet, so a row lock cannot serialise two first writers: a transaction lock on the key does.
        using (var gate = Command(conn, tx, "SELECT pg_advisory_xact_lock(@p0)", LockKey("document:" + collection + "/" + id)))
            gate.ExecuteNonQuery();
        var found = ReadIn(conn, tx, "SELECT doc::text FROM documents WHERE collection = @p0 AND id = @p1", r => r.GetString(0), collection, id);
        var document = mutate(found is [var json] ? DocumentFrom<T>(json) : null);
        using var save = Command(conn, tx, UpsertDocument, collection, id, DocumentJson(id, document));
        save.ExecuteNonQuery();
        return document;
    });

    public override void SaveDocuments<T>(string collection, IReadOnlyList<(string Id, T Document)> many) where T : class
    {
        if (many.Count == 0) return;
        InTransaction((conn, tx) =>
        {
            foreach (var (id, document) in many)
            {
                using var save = Command(conn, tx, UpsertDocument, collection, id, DocumentJson(id, document));
                save.ExecuteNonQuery();
            }
            return many.Count;
        });
    }

    /// <summary>Compared as the embedded store's <c>$.field &lt; below</c> is (BSON order: a missing field counts as below), read then deleted in one transaction.</summary>
    public override int DeleteDocumentsBelow<T>(string collection, string field, long below) where T : class => InTransaction((conn, tx) =>
    {
        var limit = new BsonValue(below);
        var ids = ReadIn(conn, tx, "SELECT id, doc::text FROM documents WHERE collection = @p0 FOR UPDATE", r => (Id: r.GetString(0), Doc: Bson(r.GetString(1))), collection)
            .Where(d => d.Doc[field].CompareTo(limit) < 0).Select(d => d.Id).ToArray();
        if (ids.Length == 0) return 0;
        using var delete = Command(conn, tx, "DELETE FROM documents WHERE collection = @p0 AND id = ANY(@p1)", collection, ids);
        return delete.ExecuteNonQuery();
    });

    public override bool DeleteDocument<T>(string collection, string id) where T : class =>
        Execute("DELETE FROM documents WHERE collection = @p0 AND id = @p1", collection, id) > 0;

    // ---- Named locks.

    /// <summary>A stable 64-bit advisory lock key for a name: the first 8 bytes of its SHA-256.</summary>
    internal static long LockKey(string name) =>
        BitConverter.ToInt64(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes("breakglass-lock:" + name)), 0);

    /// <summary>
    /// Held by a session of its own until disposed. If the connection dies (the replica crashed, the network broke),
    /// PostgreSQL ends the session and the lock is released with it.
    /// </summary>
    public override async Task<StoreLock> LockAsync(string name, CancellationToken ct)
    {
        var key = LockKey(name);
        var conn = lockSource.CreateConnection();
        try
        {
            await UnavailableAsync(async () =>
            {
                await conn.OpenAsync(ct);
                // No command timeout: waiting for the holder is the point; the caller's token bounds the wait.
                await using var cmd = new NpgsqlCommand("SELECT pg_advisory_lock(@k)", conn) { CommandTimeout = 0 };
                cmd.Parameters.AddWithValue("k", key);
                await cmd.ExecuteNonQueryAsync(ct);
                return true;
            });
            return new AdvisoryLock(conn, key);
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }
    }

    sealed class AdvisoryLock(NpgsqlConnection conn, long key) : StoreLock
    {
        int released;

        /// <summary>A session lock lasts as long as its session: while the session answers, the lock is this replica's.</summary>
        public override async ValueTask<bool> StillHeldAsync(CancellationToken ct = default)
        {
            if (Volatile.Read(ref released) != 0) return false;
            try
            {
                await using var cmd = new NpgsqlCommand("SELECT 1", conn) { CommandTimeout = 5 };
                await cmd.ExecuteScalarAsync(ct);
                return true;
            }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException or TimeoutException) { return false; }
        }

        public override async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref released, 1) != 0) return;
            try
            {
                await using var cmd = new NpgsqlCommand("SELECT pg_advisory_unlock(@k)", conn);
                cmd.Parameters.AddWithValue("k", key);
                await cmd.ExecuteNonQueryAsync();
            }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
            {
                // The session is gone or going (the connection broke): closing it below releases the lock all the same.
            }
            finally
            {
                await conn.DisposeAsync();
            }
        }
    }
}
