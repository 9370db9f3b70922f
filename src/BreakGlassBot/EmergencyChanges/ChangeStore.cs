using BreakGlassBot.Hosting;
using LiteDB;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.EmergencyChanges;

/// <summary>
/// The bot's data, and the one seam the features use: the write path (<see cref="ChangeWriter"/>), the queries
/// (<see cref="ChangeQueries"/>), the Slack event inbox, feature documents and the audit trail are separate types
/// over one <see cref="StoreFile"/>; this class only hands each call to the one that does it.
/// </summary>
public sealed class ChangeStore : IDisposable
{
    readonly StoreEngine engine;

    public ChangeStore(IOptions<StorageOptions> options, TimeProvider time) : this(Open(options.Value, time)) { }

    /// <param name="time">The clock of the events the store adds itself (a change's state recorded without an event of its own).</param>
    public ChangeStore(string path, TimeProvider? time = null) : this(new LiteDbEngine(path, time ?? TimeProvider.System)) { }

    internal ChangeStore(StoreEngine engine) => this.engine = engine;

    static StoreEngine Open(StorageOptions options, TimeProvider time) => options.Store == StoreKind.PostgreSql
        ? new PostgresEngine(options.ConnectionString!, time)
        : new LiteDbEngine(Path.Combine(options.ResolvedDataDirectory, "breakglass.db"), time);

    /// <summary>Which engine holds the data (/healthz says so).</summary>
    public StoreKind Kind => engine.Kind;

    /// <summary>The embedded file's path; null on PostgreSQL.</summary>
    public string? FilePath => (engine as LiteDbEngine)?.File.FilePath;

    /// <summary>A consistent copy of the store while the bot runs (see <see cref="StoreFile.CopyTo"/>); the embedded store only.</summary>
    public BackupResult BackupTo(string destination) => engine is LiteDbEngine lite
        ? lite.File.CopyTo(destination)
        : throw new NotSupportedException("The PostgreSQL store is backed up with the database's own tools (pg_dump, base backups), not by the bot.");

    internal StoreEngine Engine => engine;

    internal static BsonMapper CreateMapper() => StoreFile.CreateMapper();

    // Writes: each with its audit events in one transaction.
    public Task<(EmergencyChange Change, bool Created)> DeclareAsync(EmergencyChange draft, Func<EmergencyChange, IEnumerable<AuditEvent>> events) =>
        engine.DeclareAsync(draft, events);
    public (EmergencyChange Change, bool Created) Declare(EmergencyChange draft, Func<EmergencyChange, IEnumerable<AuditEvent>> events) =>
        engine.DeclareAsync(draft, events).GetAwaiter().GetResult();
    public Task<EmergencyChange?> UpdateAsync(int id, Func<EmergencyChange, IEnumerable<AuditEvent>> mutate) => engine.UpdateAsync(id, mutate);
    public EmergencyChange? Update(int id, Func<EmergencyChange, IEnumerable<AuditEvent>> mutate) => engine.Update(id, mutate);

    /// <summary><see cref="UpdateAsync(int, Func{EmergencyChange, IEnumerable{AuditEvent}})"/> for a mutation that decides something: the decision comes back with the saved change.</summary>
    public async Task<(EmergencyChange? Change, T? Result)> UpdateAsync<T>(int id, Func<EmergencyChange, Decision<T>> decide)
    {
        // The engine may run the mutation again on the change as stored: the last run is the one saved.
        T? result = default;
        var change = await engine.UpdateAsync(id, c => { var d = decide(c); result = d.Result; return d.Events; });
        return (change, change is null ? default : result);
    }

    /// <summary><see cref="Update"/> for a mutation that decides something: the decision comes back with the saved change.</summary>
    public (EmergencyChange? Change, T? Result) Update<T>(int id, Func<EmergencyChange, Decision<T>> decide)
    {
        T? result = default;
        var change = engine.Update(id, c => { var d = decide(c); result = d.Result; return d.Events; });
        return (change, change is null ? default : result);
    }

    public void Append(AuditEvent evt) => engine.Append(evt);

    // Reads.
    public EmergencyChange? Get(int id) => engine.Get(id);
    public IReadOnlyList<EmergencyChange> GetMany(IEnumerable<int> ids) => engine.GetMany(ids);
    public int Count() => engine.Count();
    public EmergencyChange? ByAnnouncement(string channel, string ts) => engine.ByAnnouncement(channel, ts);
    public IReadOnlyList<EmergencyChange> OpenChanges(int limit = int.MaxValue) => engine.OpenChanges(limit);
    public IReadOnlyList<EmergencyChange> OpenChangesOf(string user, int limit = 50) => engine.OpenChangesOf(user, limit);
    public IReadOnlyList<EmergencyChange> ChangesOf(string user, int limit = 50) => engine.ChangesOf(user, limit);
    /// <summary>Overdue changes in full (<see cref="EmergencyChange.IsOverdue"/>), most overdue first, ties by id.</summary>
    public IReadOnlyList<EmergencyChange> Overdue(DateTimeOffset now, int limit = int.MaxValue) => engine.FirstOpenDue(DateTimeOffset.MinValue, now.AddTicks(-1), limit);
    public int CountOverdue(DateTimeOffset now) => engine.CountOpenDue(DateTimeOffset.MinValue, now.AddTicks(-1));
    public IReadOnlyList<EmergencyChange> WithDueSteps(DateTimeOffset now, int limit = 100) => engine.WithDueSteps(now, limit);
    public IReadOnlyList<EmergencyChange> UntrackedOpenChanges(DateTimeOffset before, int limit = 1000) => engine.UntrackedOpenChanges(before, limit);
    public int CountOpenDue(DateTimeOffset from, DateTimeOffset to) => engine.CountOpenDue(from, to);
    public IReadOnlyList<EmergencyChange> FirstOpenDue(DateTimeOffset from, DateTimeOffset to, int take) => engine.FirstOpenDue(from, to, take);
    public IReadOnlyList<ChangeTimes> OpenDueTimes(DateTimeOffset from, DateTimeOffset to) => engine.OpenDueTimes(from, to);
    public IReadOnlyList<ChangeTimes> DeclaredOrReviewedTimesSince(DateTimeOffset since) => engine.DeclaredOrReviewedTimesSince(since);
    public IReadOnlyList<EmergencyChange> ReviewedSince(DateTimeOffset since) => engine.ReviewedSince(since);
    public IReadOnlyList<EmergencyChange> DeclaredOrReviewedSince(DateTimeOffset since) => engine.DeclaredOrReviewedSince(since);
    public IReadOnlyList<EmergencyChange> DeclaredBetween(DateTimeOffset from, DateTimeOffset to) => engine.DeclaredBetween(from, to);
    public IReadOnlyList<string> LinkedRepositoriesDeclaredBetween(DateTimeOffset from, DateTimeOffset to) => engine.LinkedRepositoriesDeclaredBetween(from, to);
    public IReadOnlyList<EmergencyChange> ChangesLinking(string owner, string repo, int number) => engine.ChangesLinking(owner, repo, number);
    public EmergencyChange? LatestOpenBypass(string mode, string team, string login, DateTimeOffset now, int except) =>
        engine.LatestOpenBypass(mode, team, login, now, except);
    public EmergencyChange? LatestUnrevokedBypass(string mode, string team, string login, int except) => engine.LatestUnrevokedBypass(mode, team, login, except);

    // Outbox claims (see StoreEngine).
    public IReadOnlyList<EmergencyChange> ClaimDueSteps(DateTimeOffset now, string owner, TimeSpan lease, int limit = 200) => engine.ClaimDueSteps(now, owner, lease, limit);
    public bool RenewStepClaim(int id, string owner, TimeSpan lease) => engine.RenewStepClaim(id, owner, lease);
    public void ReleaseStepClaim(int id, string owner) => engine.ReleaseStepClaim(id, owner);

    // The Slack event inbox.
    public bool MarkSeen(string key, DateTimeOffset at) => engine.MarkSeen(key, at);
    public bool WasSeen(string key) => engine.WasSeen(key);
    public int PruneSeen(DateTimeOffset before) => engine.PruneSeen(before);
    public bool AcceptInbound(string eventId, string json, DateTimeOffset at) => engine.AcceptInbound(eventId, json, at);
    public IReadOnlyList<(string EventId, string Json)> PendingInbound(int limit = 100) => engine.PendingInbound(limit);
    public IReadOnlyList<InboundEvent> ClaimInbound(DateTimeOffset now, string owner, TimeSpan lease, int limit = 100) => engine.ClaimInbound(now, owner, lease, limit);
    public void RetryInbound(string eventId, int failures, int waits, DateTimeOffset dueAt) => engine.RetryInbound(eventId, failures, waits, dueAt);
    public void CompleteInbound(string eventId) => engine.CompleteInbound(eventId);

    // Feature documents and linked accounts.
    public void LinkAccount(string slackUser, string system, string account) => engine.LinkAccount(slackUser, system, account);
    public string? LinkedAccount(string slackUser, string system) => engine.LinkedAccount(slackUser, system);
    public bool UnlinkAccount(string slackUser, string system) => engine.UnlinkAccount(slackUser, system);
    public IReadOnlyList<(string SlackUser, string Account)> LinkedAccounts(string system) => engine.LinkedAccounts(system);
    public T? Document<T>(string collection, string id) where T : class => engine.Document<T>(collection, id);
    public T SaveDocument<T>(string collection, string id, Func<T?, T> mutate) where T : class => engine.SaveDocument(collection, id, mutate);
    public IReadOnlyList<T> Documents<T>(string collection) where T : class => engine.Documents<T>(collection);
    public void SaveDocuments<T>(string collection, IReadOnlyList<(string Id, T Document)> many) where T : class => engine.SaveDocuments(collection, many);
    public int DeleteDocumentsBelow<T>(string collection, string field, long below) where T : class => engine.DeleteDocumentsBelow<T>(collection, field, below);
    public bool DeleteDocument<T>(string collection, string id) where T : class => engine.DeleteDocument<T>(collection, id);

    // The audit trail.
    public IReadOnlyList<AuditEvent> AuditTrail(int changeNumber) => engine.AuditTrail(changeNumber);
    public (EmergencyChange? Change, IReadOnlyList<AuditEvent> Trail) ChangeWithTrail(int changeNumber) => engine.ChangeWithTrail(changeNumber);
    public long AuditCount() => engine.AuditCount();
    public ChainReport VerifyAuditChain() => engine.VerifyAuditChain();

    /// <summary>A lock across every replica until disposed (see <see cref="StoreEngine.LockAsync"/>).</summary>
    public Task<StoreLock> LockAsync(string name, CancellationToken ct = default) => engine.LockAsync(name, ct);

    public OutboxSummary SummarizeOutbox() => engine.SummarizeOutbox();

    /// <summary>A cheap read that fails when the store is unusable; for /healthz.</summary>
    public void Ping() => engine.Ping();

    public void Dispose() => engine.Dispose();
}

/// <summary>What a mutation decided (<paramref name="Result"/>), with the audit events to save alongside the change.</summary>
public sealed record Decision<T>(IEnumerable<AuditEvent> Events, T Result)
{
    public static Decision<T> Only(T result) => new([], result);
}
