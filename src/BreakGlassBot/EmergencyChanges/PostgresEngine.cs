using BreakGlassBot.Hosting;

namespace BreakGlassBot.EmergencyChanges;

/// <summary>Placeholder until the PostgreSQL engine lands.</summary>
internal sealed class PostgresEngine(string connectionString, TimeProvider time) : StoreEngine
{
    readonly string cs = connectionString;
    readonly TimeProvider clock = time;
    static NotImplementedException Todo() => new("PostgreSQL store not built yet");
    public override StoreKind Kind => StoreKind.PostgreSql;
    public override Task<(EmergencyChange Change, bool Created)> DeclareAsync(EmergencyChange draft, Func<EmergencyChange, IEnumerable<AuditEvent>> events) => throw Todo();
    public override Task<EmergencyChange?> UpdateAsync(int id, Func<EmergencyChange, IEnumerable<AuditEvent>> mutate) => throw Todo();
    public override EmergencyChange? Update(int id, Func<EmergencyChange, IEnumerable<AuditEvent>> mutate) => throw Todo();
    public override void Append(AuditEvent evt) => throw Todo();
    public override EmergencyChange? Get(int id) => throw Todo();
    public override IReadOnlyList<EmergencyChange> GetMany(IEnumerable<int> ids) => throw Todo();
    public override int Count() => throw Todo();
    public override EmergencyChange? ByAnnouncement(string channel, string ts) => throw Todo();
    public override IReadOnlyList<EmergencyChange> OpenChanges(int limit) => throw Todo();
    public override IReadOnlyList<EmergencyChange> OpenChangesOf(string user, int limit) => throw Todo();
    public override IReadOnlyList<EmergencyChange> ChangesOf(string user, int limit) => throw Todo();
    public override IReadOnlyList<EmergencyChange> WithDueSteps(DateTimeOffset now, int limit) => throw Todo();
    public override IReadOnlyList<EmergencyChange> UntrackedOpenChanges(DateTimeOffset before, int limit) => throw Todo();
    public override int CountOpenDue(DateTimeOffset from, DateTimeOffset to) => throw Todo();
    public override IReadOnlyList<EmergencyChange> FirstOpenDue(DateTimeOffset from, DateTimeOffset to, int take) => throw Todo();
    public override IReadOnlyList<ChangeTimes> OpenDueTimes(DateTimeOffset from, DateTimeOffset to) => throw Todo();
    public override IReadOnlyList<ChangeTimes> DeclaredOrReviewedTimesSince(DateTimeOffset since) => throw Todo();
    public override IReadOnlyList<EmergencyChange> ReviewedSince(DateTimeOffset since) => throw Todo();
    public override IReadOnlyList<EmergencyChange> DeclaredOrReviewedSince(DateTimeOffset since) => throw Todo();
    public override IReadOnlyList<EmergencyChange> DeclaredBetween(DateTimeOffset from, DateTimeOffset to) => throw Todo();
    public override IReadOnlyList<string> LinkedRepositoriesDeclaredBetween(DateTimeOffset from, DateTimeOffset to) => throw Todo();
    public override IReadOnlyList<EmergencyChange> ChangesLinking(string owner, string repo, int number) => throw Todo();
    public override EmergencyChange? LatestOpenBypass(string mode, string team, string login, DateTimeOffset now, int except) => throw Todo();
    public override EmergencyChange? LatestUnrevokedBypass(string mode, string team, string login, int except) => throw Todo();
    public override IReadOnlyList<EmergencyChange> ClaimDueSteps(DateTimeOffset now, string owner, TimeSpan lease, int limit) => throw Todo();
    public override bool RenewStepClaim(int id, string owner, TimeSpan lease) => throw Todo();
    public override void ReleaseStepClaim(int id, string owner) => throw Todo();
    public override bool MarkSeen(string key, DateTimeOffset at) => throw Todo();
    public override bool WasSeen(string key) => throw Todo();
    public override int PruneSeen(DateTimeOffset before) => throw Todo();
    public override bool AcceptInbound(string eventId, string json, DateTimeOffset at) => throw Todo();
    public override IReadOnlyList<InboundEvent> ClaimInbound(DateTimeOffset now, string owner, TimeSpan lease, int limit) => throw Todo();
    public override void RetryInbound(string eventId, int failures, int waits, DateTimeOffset dueAt) => throw Todo();
    public override void CompleteInbound(string eventId) => throw Todo();
    public override IReadOnlyList<(string EventId, string Json)> PendingInbound(int limit) => throw Todo();
    public override void LinkAccount(string slackUser, string system, string account) => throw Todo();
    public override string? LinkedAccount(string slackUser, string system) => throw Todo();
    public override bool UnlinkAccount(string slackUser, string system) => throw Todo();
    public override IReadOnlyList<(string SlackUser, string Account)> LinkedAccounts(string system) => throw Todo();
    public override T? Document<T>(string collection, string id) where T : class => throw Todo();
    public override T SaveDocument<T>(string collection, string id, Func<T?, T> mutate) where T : class => throw Todo();
    public override IReadOnlyList<T> Documents<T>(string collection) where T : class => throw Todo();
    public override void SaveDocuments<T>(string collection, IReadOnlyList<(string Id, T Document)> many) where T : class => throw Todo();
    public override int DeleteDocumentsBelow<T>(string collection, string field, long below) where T : class => throw Todo();
    public override bool DeleteDocument<T>(string collection, string id) where T : class => throw Todo();
    public override IReadOnlyList<AuditEvent> AuditTrail(int changeNumber) => throw Todo();
    public override (EmergencyChange? Change, IReadOnlyList<AuditEvent> Trail) ChangeWithTrail(int changeNumber) => throw Todo();
    public override long AuditCount() => throw Todo();
    public override ChainReport VerifyAuditChain() => throw Todo();
    public override Task<IAsyncDisposable> LockAsync(string name, CancellationToken ct) => throw Todo();
    public override void Ping() => _ = (cs, clock);
    public override void Dispose() { }
}
