using System.Data;
using LiteDB;
using Npgsql;

namespace BreakGlassBot.EmergencyChanges;

/// <summary>The reads, each with the results and order of its <see cref="ChangeQueries"/> counterpart.</summary>
internal sealed partial class PostgresEngine
{
    List<EmergencyChange> Changes(string where, params object?[] args) =>
        Read("SELECT doc::text FROM changes WHERE " + where, r => ChangeFrom(r.GetString(0)), args);

    const string TimesColumns = "id, status, declared_at, due_at, reviewed_at";

    static ChangeTimes TimesFrom(NpgsqlDataReader r) => new(
        r.GetInt32(0), Enum.Parse<ChangeStatus>(r.GetString(1)), new DateTimeOffset(r.GetInt64(2), TimeSpan.Zero), new DateTimeOffset(r.GetInt64(3), TimeSpan.Zero),
        r.IsDBNull(4) ? null : new DateTimeOffset(r.GetInt64(4), TimeSpan.Zero));

    List<ChangeTimes> Times(string where, params object?[] args) => Read($"SELECT {TimesColumns} FROM changes WHERE " + where, TimesFrom, args);

    public override EmergencyChange? Get(int id) => Changes("id = @p0", id).FirstOrDefault();

    public override IReadOnlyList<EmergencyChange> GetMany(IEnumerable<int> ids)
    {
        var wanted = ids.ToList();
        if (wanted.Count == 0) return [];
        var found = Changes("id = ANY(@p0)", wanted.Distinct().ToArray()).ToDictionary(c => c.Id);
        return [.. wanted.Where(found.ContainsKey).Select(id => found[id])];
    }

    public override int Count() => Read("SELECT count(*) FROM changes", r => (int)r.GetInt64(0))[0];

    public override EmergencyChange? ByAnnouncement(string channel, string ts) =>
        Changes("announcement_ts = @p0 ORDER BY id LIMIT 1", ts).FirstOrDefault() is { } c && c.Announcement?.Channel == channel ? c : null;

    public override IReadOnlyList<EmergencyChange> OpenChanges(int limit) => Changes("status = 'Open' ORDER BY id LIMIT @p0", limit);

    public override IReadOnlyList<EmergencyChange> OpenChangesOf(string user, int limit) =>
        Changes("declared_by = @p0 AND status = 'Open' ORDER BY id LIMIT @p1", user, limit);

    public override IReadOnlyList<EmergencyChange> ChangesOf(string user, int limit) => Changes("declared_by = @p0 ORDER BY id DESC LIMIT @p1", user, limit);

    public override IReadOnlyList<EmergencyChange> WithDueSteps(DateTimeOffset now, int limit) =>
        Changes("next_step_at BETWEEN 0 AND @p0 ORDER BY next_step_at, id LIMIT @p1", now.UtcTicks, limit);

    public override IReadOnlyList<EmergencyChange> UntrackedOpenChanges(DateTimeOffset before, int limit) =>
        Changes("(next_check_at IS NULL OR next_check_at BETWEEN 0 AND @p0) AND status = 'Open' ORDER BY id LIMIT @p1", before.UtcTicks, limit);

    /// <summary>A count over the index: no document is read.</summary>
    public override int CountOpenDue(DateTimeOffset from, DateTimeOffset to) =>
        Read("SELECT count(*) FROM changes WHERE open_due_at BETWEEN @p0 AND @p1", r => (int)r.GetInt64(0), from.UtcTicks, to.UtcTicks)[0];

    public override IReadOnlyList<EmergencyChange> FirstOpenDue(DateTimeOffset from, DateTimeOffset to, int take) =>
        take <= 0 ? [] : Changes("open_due_at BETWEEN @p0 AND @p1 ORDER BY open_due_at, id LIMIT @p2", from.UtcTicks, to.UtcTicks, take);

    public override IReadOnlyList<ChangeTimes> OpenDueTimes(DateTimeOffset from, DateTimeOffset to) =>
        Times("open_due_at BETWEEN @p0 AND @p1 ORDER BY open_due_at, id", from.UtcTicks, to.UtcTicks);

    public override IReadOnlyList<ChangeTimes> DeclaredOrReviewedTimesSince(DateTimeOffset since)
    {
        var found = Times("declared_at >= @p0 ORDER BY declared_at, id", since.UtcTicks);
        var ids = found.Select(c => c.Id).ToHashSet();
        found.AddRange(Times("reviewed_at >= @p0 ORDER BY reviewed_at, id", since.UtcTicks).Where(c => ids.Add(c.Id)));
        return found;
    }

    public override IReadOnlyList<EmergencyChange> ReviewedSince(DateTimeOffset since) => Changes("reviewed_at >= @p0 ORDER BY reviewed_at, id", since.UtcTicks);

    public override IReadOnlyList<EmergencyChange> DeclaredOrReviewedSince(DateTimeOffset since)
    {
        var found = Changes("declared_at >= @p0 ORDER BY declared_at, id", since.UtcTicks);
        var ids = found.Select(c => c.Id).ToHashSet();
        found.AddRange(Changes("reviewed_at >= @p0 ORDER BY reviewed_at, id", since.UtcTicks).Where(c => ids.Add(c.Id)));
        return found;
    }

    public override IReadOnlyList<EmergencyChange> DeclaredBetween(DateTimeOffset from, DateTimeOffset to) =>
        Changes("declared_at >= @p0 AND declared_at < @p1 ORDER BY declared_at, id", from.UtcTicks, to.UtcTicks);

    /// <summary>Only the linked pull requests' owner and repo are read, not whole changes.</summary>
    public override IReadOnlyList<string> LinkedRepositoriesDeclaredBetween(DateTimeOffset from, DateTimeOffset to) =>
        Read("""
            SELECT coalesce(p.pr ->> 'Owner', '') || '/' || coalesce(p.pr ->> 'Repo', '')
            FROM changes c CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(c.doc -> 'PullRequests') = 'array' THEN c.doc -> 'PullRequests' ELSE '[]'::jsonb END)
                 WITH ORDINALITY AS p(pr, n)
            WHERE c.declared_at >= @p0 AND c.declared_at < @p1 AND c.status <> 'Cancelled'
            ORDER BY c.declared_at, c.id, p.n
            """, r => r.GetString(0), from.UtcTicks, to.UtcTicks);

    public override IReadOnlyList<EmergencyChange> ChangesLinking(string owner, string repo, int number) =>
        [.. Changes("pull_request_numbers @> ARRAY[@p0]::integer[] ORDER BY id", number)
            .Where(c => c.PullRequests.Any(p => p.Number == number && string.Equals(p.Owner, owner, StringComparison.OrdinalIgnoreCase)
                && string.Equals(p.Repo, repo, StringComparison.OrdinalIgnoreCase)))];

    public override EmergencyChange? LatestOpenBypass(string mode, string team, string login, DateTimeOffset now, int except) =>
        LatestBypass("bypass_granted_at <> 0 AND bypass_expires_at > @p4 AND status <> 'Cancelled'", mode, team, login, except, now.UtcTicks);

    public override EmergencyChange? LatestUnrevokedBypass(string mode, string team, string login, int except) =>
        LatestBypass("bypass_problem IS NULL", mode, team, login, except);

    EmergencyChange? LatestBypass(string condition, string mode, string team, string login, int except, params object?[] more) =>
        Changes("bypass_login = @p0 AND bypass_team = @p1 AND bypass_mode = @p2 AND id <> @p3 AND bypass_revoked_at IS NULL AND " + condition
            + " ORDER BY bypass_expires_at DESC, id LIMIT 1", [login.ToLowerInvariant(), team.ToLowerInvariant(), mode, except, .. more]).FirstOrDefault();

    // ---- The audit trail.

    public override IReadOnlyList<AuditEvent> AuditTrail(int changeNumber) =>
        Read("SELECT doc::text FROM audit WHERE change_number = @p0 ORDER BY sequence", r => EventFrom(r.GetString(0)), changeNumber);

    /// <summary>Both read in one snapshot: a write between two reads would look like an edit.</summary>
    public override (EmergencyChange? Change, IReadOnlyList<AuditEvent> Trail) ChangeWithTrail(int changeNumber) => InTransaction((conn, tx) =>
    {
        var change = ReadIn(conn, tx, "SELECT doc::text FROM changes WHERE id = @p0", r => ChangeFrom(r.GetString(0)), changeNumber).FirstOrDefault();
        IReadOnlyList<AuditEvent> trail = ReadIn(conn, tx, "SELECT doc::text FROM audit WHERE change_number = @p0 ORDER BY sequence", r => EventFrom(r.GetString(0)), changeNumber);
        return (change, trail);
    }, IsolationLevel.RepeatableRead);

    public override long AuditCount() => Read("SELECT count(*) FROM audit", r => r.GetInt64(0))[0];

    /// <summary>
    /// The head, the whole trail and every change read in one snapshot, so an append committed during the walk is neither
    /// seen in part nor taken for tampering.
    /// </summary>
    public override ChainReport VerifyAuditChain() => InTransaction((conn, tx) =>
    {
        var (head, marker) = ReadIn(conn, tx,
            "SELECT last_sequence, last_hash, chain_migrated, chain_by, chain_at, chain_hashed_before FROM head WHERE id = 1", r =>
            {
                var head = new BsonDocument { ["_id"] = AuditChain.HeadId, ["value"] = r.GetInt64(0) };
                if (!r.IsDBNull(1)) head["hash"] = r.GetString(1);
                if (r.IsDBNull(2)) return (head, (BsonDocument?)null);
                var marker = new BsonDocument { ["_id"] = AuditChain.MarkerId, ["version"] = 1, ["migrated"] = r.GetInt64(2) };
                if (!r.IsDBNull(3)) (marker["by"], marker["at"], marker["hashed_before"]) = (r.GetString(3), r.IsDBNull(4) ? "" : r.GetString(4), r.IsDBNull(5) ? 0L : r.GetInt64(5));
                return (head, marker);
            }).FirstOrDefault();
        var seals = new Dictionary<int, ChangeSealTracker>();
        var report = AuditChain.Verify(Stream(conn, tx, "SELECT doc::text FROM audit ORDER BY sequence", r => EventFrom(r.GetString(0))), head, marker, seals);
        return AuditChain.WithRecords(report, seals, Stream(conn, tx, "SELECT doc::text FROM changes ORDER BY id", r => ChangeFrom(r.GetString(0))));
    }, IsolationLevel.RepeatableRead);

    /// <summary>For /healthz: counted in the database from the pending steps' fields, no change document read.</summary>
    public override OutboxSummary SummarizeOutbox()
    {
        var changes = Read("SELECT count(*) FROM changes WHERE next_step_at IS NOT NULL", r => r.GetInt64(0))[0];
        var steps = Read("""
            SELECT s->>'Kind', (s->>'LastError') IS NOT NULL, s->>'ParkedOn', coalesce((s->>'Attempts')::int, 0)
            FROM changes, jsonb_array_elements(doc->'Steps') s
            WHERE next_step_at IS NOT NULL AND s->>'State' = 'Pending'
            """, r => (r.GetString(0), r.GetBoolean(1), r.IsDBNull(2) ? null : r.GetString(2), r.GetInt32(3)));
        return OutboxSummary.Of((int)changes, steps);
    }
}
