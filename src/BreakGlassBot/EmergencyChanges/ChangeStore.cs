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
    readonly StoreFile file;
    readonly ChangeWriter writer;
    readonly ChangeQueries queries;
    readonly EventInbox inbox;
    readonly FeatureDocuments documents;
    readonly AuditTrailReader auditTrail;

    public ChangeStore(IOptions<StorageOptions> options, TimeProvider time) : this(Path.Combine(options.Value.ResolvedDataDirectory, "breakglass.db"), time) { }

    /// <param name="time">The clock of the events the store adds itself (a change's state recorded without an event of its own).</param>
    public ChangeStore(string path, TimeProvider? time = null)
    {
        file = new StoreFile(path, time);
        writer = new ChangeWriter(file, time ?? TimeProvider.System);
        queries = new ChangeQueries(file);
        inbox = new EventInbox(file);
        documents = new FeatureDocuments(file);
        auditTrail = new AuditTrailReader(file);
    }

    public string FilePath => file.FilePath;

    /// <summary>A consistent copy of the store while the bot runs (see <see cref="StoreFile.CopyTo"/>).</summary>
    public BackupResult BackupTo(string destination) => file.CopyTo(destination);

    internal static BsonMapper CreateMapper() => StoreFile.CreateMapper();

    // Writes: each with its audit events in one transaction.
    public Task<(EmergencyChange Change, bool Created)> DeclareAsync(EmergencyChange draft, Func<EmergencyChange, IEnumerable<AuditEvent>> events) =>
        writer.DeclareAsync(draft, events);
    public (EmergencyChange Change, bool Created) Declare(EmergencyChange draft, Func<EmergencyChange, IEnumerable<AuditEvent>> events) =>
        writer.Declare(draft, events);
    public Task<EmergencyChange?> UpdateAsync(int id, Func<EmergencyChange, IEnumerable<AuditEvent>> mutate) => writer.UpdateAsync(id, mutate);
    public EmergencyChange? Update(int id, Func<EmergencyChange, IEnumerable<AuditEvent>> mutate) => writer.Update(id, mutate);
    public Task<(EmergencyChange? Change, T? Result)> UpdateAsync<T>(int id, Func<EmergencyChange, Decision<T>> decide) => writer.UpdateAsync(id, decide);
    public (EmergencyChange? Change, T? Result) Update<T>(int id, Func<EmergencyChange, Decision<T>> decide) => writer.Update(id, decide);
    public void Append(AuditEvent evt) => writer.Append(evt);

    // Reads.
    public EmergencyChange? Get(int id) => queries.Get(id);
    public IReadOnlyList<EmergencyChange> GetMany(IEnumerable<int> ids) => queries.GetMany(ids);
    public int Count() => queries.Count();
    public EmergencyChange? ByAnnouncement(string channel, string ts) => queries.ByAnnouncement(channel, ts);
    public IReadOnlyList<EmergencyChange> OpenChanges(int limit = int.MaxValue) => queries.OpenChanges(limit);
    public IReadOnlyList<EmergencyChange> OpenChangesOf(string user, int limit = 50) => queries.OpenChangesOf(user, limit);
    public IReadOnlyList<EmergencyChange> ChangesOf(string user, int limit = 50) => queries.ChangesOf(user, limit);
    public IReadOnlyList<EmergencyChange> Overdue(DateTimeOffset now, int limit = int.MaxValue) => queries.Overdue(now, limit);
    public int CountOverdue(DateTimeOffset now) => queries.CountOverdue(now);
    public IReadOnlyList<EmergencyChange> WithDueSteps(DateTimeOffset now, int limit = 100) => queries.WithDueSteps(now, limit);
    public IReadOnlyList<EmergencyChange> UntrackedOpenChanges(DateTimeOffset before, int limit = 1000) => queries.UntrackedOpenChanges(before, limit);
    public int CountOpenDue(DateTimeOffset from, DateTimeOffset to) => queries.CountOpenDue(from, to);
    public IReadOnlyList<EmergencyChange> FirstOpenDue(DateTimeOffset from, DateTimeOffset to, int take) => queries.FirstOpenDue(from, to, take);
    public IReadOnlyList<ChangeTimes> OpenDueTimes(DateTimeOffset from, DateTimeOffset to) => queries.OpenDueTimes(from, to);
    public IReadOnlyList<ChangeTimes> DeclaredOrReviewedTimesSince(DateTimeOffset since) => queries.DeclaredOrReviewedTimesSince(since);
    public IReadOnlyList<EmergencyChange> ReviewedSince(DateTimeOffset since) => queries.ReviewedSince(since);
    public IReadOnlyList<EmergencyChange> DeclaredOrReviewedSince(DateTimeOffset since) => queries.DeclaredOrReviewedSince(since);
    public IReadOnlyList<EmergencyChange> DeclaredBetween(DateTimeOffset from, DateTimeOffset to) => queries.DeclaredBetween(from, to);
    public IReadOnlyList<string> LinkedRepositoriesDeclaredBetween(DateTimeOffset from, DateTimeOffset to) => queries.LinkedRepositoriesDeclaredBetween(from, to);
    public IReadOnlyList<EmergencyChange> ChangesLinking(string owner, string repo, int number) => queries.ChangesLinking(owner, repo, number);
    public EmergencyChange? LatestOpenBypass(string mode, string team, string login, DateTimeOffset now, int except) =>
        queries.LatestOpenBypass(mode, team, login, now, except);
    public EmergencyChange? LatestUnrevokedBypass(string mode, string team, string login, int except) => queries.LatestUnrevokedBypass(mode, team, login, except);

    // The Slack event inbox.
    public bool MarkSeen(string key, DateTimeOffset at) => inbox.MarkSeen(key, at);
    public bool WasSeen(string key) => inbox.WasSeen(key);
    public int PruneSeen(DateTimeOffset before) => inbox.PruneSeen(before);
    public bool AcceptInbound(string eventId, string json, DateTimeOffset at) => inbox.AcceptInbound(eventId, json, at);
    public IReadOnlyList<(string EventId, string Json)> PendingInbound(int limit = 100) => inbox.PendingInbound(limit);
    public void CompleteInbound(string eventId) => inbox.CompleteInbound(eventId);

    // Feature documents and linked accounts.
    public void LinkAccount(string slackUser, string system, string account) => documents.LinkAccount(slackUser, system, account);
    public string? LinkedAccount(string slackUser, string system) => documents.LinkedAccount(slackUser, system);
    public bool UnlinkAccount(string slackUser, string system) => documents.UnlinkAccount(slackUser, system);
    public IReadOnlyList<(string SlackUser, string Account)> LinkedAccounts(string system) => documents.LinkedAccounts(system);
    public T? Document<T>(string collection, string id) where T : class => documents.Document<T>(collection, id);
    public T SaveDocument<T>(string collection, string id, Func<T?, T> mutate) where T : class => documents.SaveDocument(collection, id, mutate);
    public IReadOnlyList<T> Documents<T>(string collection) where T : class => documents.Documents<T>(collection);
    public void SaveDocuments<T>(string collection, IReadOnlyList<(string Id, T Document)> many) where T : class => documents.SaveDocuments(collection, many);
    public int DeleteDocumentsBelow<T>(string collection, string field, long below) where T : class => documents.DeleteDocumentsBelow<T>(collection, field, below);
    public bool DeleteDocument<T>(string collection, string id) where T : class => documents.DeleteDocument<T>(collection, id);

    // The audit trail.
    public IReadOnlyList<AuditEvent> AuditTrail(int changeNumber) => auditTrail.AuditTrail(changeNumber);
    public (EmergencyChange? Change, IReadOnlyList<AuditEvent> Trail) ChangeWithTrail(int changeNumber) => auditTrail.ChangeWithTrail(changeNumber);
    public long AuditCount() => auditTrail.AuditCount();
    public ChainReport VerifyAuditChain() => auditTrail.VerifyAuditChain();

    /// <summary>A cheap read that fails when the file is unusable; for /healthz.</summary>
    public void Ping() => file.Counters.FindById("change");

    public void Dispose()
    {
        writer.Dispose();
        file.Dispose();
    }
}

/// <summary>What a mutation decided (<paramref name="Result"/>), with the audit events to save alongside the change.</summary>
public sealed record Decision<T>(IEnumerable<AuditEvent> Events, T Result)
{
    public static Decision<T> Only(T result) => new([], result);
}
