using BreakGlassBot.Hosting;

namespace BreakGlassBot.EmergencyChanges;

/// <summary>
/// The embedded engine: one LiteDB file held by one process. The cluster protocols (step claims, inbox claims, named
/// locks) run in this process, since no other can open the file.
/// </summary>
internal sealed class LiteDbEngine : StoreEngine
{
    readonly StoreFile file;
    readonly ChangeWriter writer;
    readonly ChangeQueries queries;
    readonly EventInbox inbox;
    readonly FeatureDocuments documents;
    readonly AuditTrailReader auditTrail;
    readonly InProcessClaims stepClaims = new();
    readonly InProcessClaims inboxClaims = new();
    readonly InProcessLocks locks = new();

    public LiteDbEngine(string path, TimeProvider time)
    {
        file = new StoreFile(path, time);
        writer = new ChangeWriter(file, time);
        queries = new ChangeQueries(file);
        inbox = new EventInbox(file);
        documents = new FeatureDocuments(file);
        auditTrail = new AuditTrailReader(file);
    }

    public override StoreKind Kind => StoreKind.LiteDb;
    public StoreFile File => file;

    public override Task<(EmergencyChange Change, bool Created)> DeclareAsync(EmergencyChange draft, Func<EmergencyChange, IEnumerable<AuditEvent>> events) =>
        writer.DeclareAsync(draft, events);
    public override Task<EmergencyChange?> UpdateAsync(int id, Func<EmergencyChange, IEnumerable<AuditEvent>> mutate) => writer.UpdateAsync(id, mutate);
    public override EmergencyChange? Update(int id, Func<EmergencyChange, IEnumerable<AuditEvent>> mutate) => writer.Update(id, mutate);
    public override void Append(AuditEvent evt) => writer.Append(evt);

    public override EmergencyChange? Get(int id) => queries.Get(id);
    public override IReadOnlyList<EmergencyChange> GetMany(IEnumerable<int> ids) => queries.GetMany(ids);
    public override int Count() => queries.Count();
    public override EmergencyChange? ByAnnouncement(string channel, string ts) => queries.ByAnnouncement(channel, ts);
    public override IReadOnlyList<EmergencyChange> OpenChanges(int limit) => queries.OpenChanges(limit);
    public override IReadOnlyList<EmergencyChange> OpenChangesOf(string user, int limit) => queries.OpenChangesOf(user, limit);
    public override IReadOnlyList<EmergencyChange> ChangesOf(string user, int limit) => queries.ChangesOf(user, limit);
    public override IReadOnlyList<EmergencyChange> WithDueSteps(DateTimeOffset now, int limit) => queries.WithDueSteps(now, limit);
    public override IReadOnlyList<EmergencyChange> UntrackedOpenChanges(DateTimeOffset before, int limit) => queries.UntrackedOpenChanges(before, limit);
    public override int CountOpenDue(DateTimeOffset from, DateTimeOffset to) => queries.CountOpenDue(from, to);
    public override IReadOnlyList<EmergencyChange> FirstOpenDue(DateTimeOffset from, DateTimeOffset to, int take) => queries.FirstOpenDue(from, to, take);
    public override IReadOnlyList<ChangeTimes> OpenDueTimes(DateTimeOffset from, DateTimeOffset to) => queries.OpenDueTimes(from, to);
    public override IReadOnlyList<ChangeTimes> DeclaredOrReviewedTimesSince(DateTimeOffset since) => queries.DeclaredOrReviewedTimesSince(since);
    public override IReadOnlyList<EmergencyChange> ReviewedSince(DateTimeOffset since) => queries.ReviewedSince(since);
    public override IReadOnlyList<EmergencyChange> DeclaredOrReviewedSince(DateTimeOffset since) => queries.DeclaredOrReviewedSince(since);
    public override IReadOnlyList<EmergencyChange> DeclaredBetween(DateTimeOffset from, DateTimeOffset to) => queries.DeclaredBetween(from, to);
    public override IReadOnlyList<string> LinkedRepositoriesDeclaredBetween(DateTimeOffset from, DateTimeOffset to) => queries.LinkedRepositoriesDeclaredBetween(from, to);
    public override IReadOnlyList<EmergencyChange> ChangesLinking(string owner, string repo, int number) => queries.ChangesLinking(owner, repo, number);
    public override EmergencyChange? LatestOpenBypass(string mode, string team, string login, DateTimeOffset now, int except) =>
        queries.LatestOpenBypass(mode, team, login, now, except);
    public override EmergencyChange? LatestUnrevokedBypass(string mode, string team, string login, int except) => queries.LatestUnrevokedBypass(mode, team, login, except);

    public override IReadOnlyList<EmergencyChange> ClaimDueSteps(DateTimeOffset now, string owner, TimeSpan lease, int limit)
    {
        // One claimer at a time, so the claims held are counted as they are: reading that many more due changes than the
        // limit still fills it.
        lock (claiming)
            return [.. queries.WithDueSteps(now, limit + stepClaims.Held)
                .Where(c => stepClaims.TryClaim(c.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), owner, lease)).Take(limit)];
    }

    readonly Lock claiming = new();
    public override bool RenewStepClaim(int id, string owner, TimeSpan lease) => stepClaims.Renew(id.ToString(System.Globalization.CultureInfo.InvariantCulture), owner, lease);
    public override void ReleaseStepClaim(int id, string owner) => stepClaims.Release(id.ToString(System.Globalization.CultureInfo.InvariantCulture), owner);

    public override bool MarkSeen(string key, DateTimeOffset at) => inbox.MarkSeen(key, at);
    public override bool WasSeen(string key) => inbox.WasSeen(key);
    public override int PruneSeen(DateTimeOffset before) => inbox.PruneSeen(before);
    public override bool AcceptInbound(string eventId, string json, DateTimeOffset at) => inbox.AcceptInbound(eventId, json, at);
    public override IReadOnlyList<InboundEvent> ClaimInbound(DateTimeOffset now, string owner, TimeSpan lease, int limit) =>
        [.. inbox.DueInbound(now).Where(e => inboxClaims.TryClaim(e.EventId, owner, lease)).Take(limit)];
    public override void RetryInbound(string eventId, int failures, int waits, DateTimeOffset dueAt)
    {
        inbox.RetryInbound(eventId, failures, waits, dueAt);
        inboxClaims.Forget(eventId);
    }
    public override void CompleteInbound(string eventId)
    {
        inbox.CompleteInbound(eventId);
        inboxClaims.Forget(eventId);
    }
    public override IReadOnlyList<(string EventId, string Json)> PendingInbound(int limit) => inbox.PendingInbound(limit);

    public override void LinkAccount(string slackUser, string system, string account) => documents.LinkAccount(slackUser, system, account);
    public override string? LinkedAccount(string slackUser, string system) => documents.LinkedAccount(slackUser, system);
    public override bool UnlinkAccount(string slackUser, string system) => documents.UnlinkAccount(slackUser, system);
    public override IReadOnlyList<(string SlackUser, string Account)> LinkedAccounts(string system) => documents.LinkedAccounts(system);
    public override T? Document<T>(string collection, string id) where T : class => documents.Document<T>(collection, id);
    public override T SaveDocument<T>(string collection, string id, Func<T?, T> mutate) where T : class => documents.SaveDocument(collection, id, mutate);
    public override IReadOnlyList<T> Documents<T>(string collection) where T : class => documents.Documents<T>(collection);
    public override void SaveDocuments<T>(string collection, IReadOnlyList<(string Id, T Document)> many) where T : class => documents.SaveDocuments(collection, many);
    public override int DeleteDocumentsBelow<T>(string collection, string field, long below) where T : class => documents.DeleteDocumentsBelow<T>(collection, field, below);
    public override bool DeleteDocument<T>(string collection, string id) where T : class => documents.DeleteDocument<T>(collection, id);

    public override IReadOnlyList<AuditEvent> AuditTrail(int changeNumber) => auditTrail.AuditTrail(changeNumber);
    public override (EmergencyChange? Change, IReadOnlyList<AuditEvent> Trail) ChangeWithTrail(int changeNumber) => auditTrail.ChangeWithTrail(changeNumber);
    public override long AuditCount() => auditTrail.AuditCount();
    public override ChainReport VerifyAuditChain() => auditTrail.VerifyAuditChain();

    public override Task<StoreLock> LockAsync(string name, CancellationToken ct) => locks.LockAsync(name, ct);

    public override void Ping() => file.Counters.FindById("change");

    public override void Dispose()
    {
        writer.Dispose();
        file.Dispose();
    }
}

/// <summary>Claims with a lease, held in this process: the embedded store's form of the replicas' claims in the database.</summary>
internal sealed class InProcessClaims
{
    readonly Dictionary<string, (string Owner, long Until)> held = [];

    static long Now => Environment.TickCount64;

    public int Held
    {
        get { lock (held) return held.Count; }
    }

    public bool TryClaim(string key, string owner, TimeSpan lease)
    {
        lock (held)
        {
            if (held.TryGetValue(key, out var h) && h.Owner != owner && h.Until > Now) return false;
            held[key] = (owner, Now + (long)lease.TotalMilliseconds);
            return true;
        }
    }

    public bool Renew(string key, string owner, TimeSpan lease)
    {
        lock (held)
        {
            if (!held.TryGetValue(key, out var h) || h.Owner != owner) return false;
            held[key] = (owner, Now + (long)lease.TotalMilliseconds);
            return true;
        }
    }

    public void Release(string key, string owner)
    {
        lock (held)
            if (held.TryGetValue(key, out var h) && h.Owner == owner) held.Remove(key);
    }

    public void Forget(string key)
    {
        lock (held) held.Remove(key);
    }
}

/// <summary>Named locks in this process, each a semaphore made on first use.</summary>
internal sealed class InProcessLocks
{
    readonly Dictionary<string, SemaphoreSlim> gates = [];

    public async Task<StoreLock> LockAsync(string name, CancellationToken ct)
    {
        SemaphoreSlim gate;
        lock (gates)
            if (!gates.TryGetValue(name, out gate!)) gates[name] = gate = new SemaphoreSlim(1, 1);
        await gate.WaitAsync(ct);
        return new Releaser(gate);
    }

    sealed class Releaser(SemaphoreSlim gate) : StoreLock
    {
        int released;

        /// <summary>Nothing outside this process can take it away.</summary>
        public override ValueTask<bool> StillHeldAsync(CancellationToken ct = default) => ValueTask.FromResult(Volatile.Read(ref released) == 0);

        public override ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref released, 1) == 0) gate.Release();
            return ValueTask.CompletedTask;
        }
    }
}
