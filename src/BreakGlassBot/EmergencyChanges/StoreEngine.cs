using BreakGlassBot.Hosting;

namespace BreakGlassBot.EmergencyChanges;

/// <summary>
/// What an engine under <see cref="ChangeStore"/> provides: the embedded LiteDB file (<see cref="LiteDbEngine"/>) or one
/// PostgreSQL database shared by any number of replicas (<see cref="PostgresEngine"/>). Features see only ChangeStore;
/// every guarantee written here holds on both engines, proved by the store contract suite that runs on each.
/// </summary>
internal abstract class StoreEngine : IDisposable
{
    public abstract StoreKind Kind { get; }

    // Writes: each with its audit events, the change and the chain head in one transaction; BG numbers gap-free and never reused.
    public abstract Task<(EmergencyChange Change, bool Created)> DeclareAsync(EmergencyChange draft, Func<EmergencyChange, IEnumerable<AuditEvent>> events);
    public abstract Task<EmergencyChange?> UpdateAsync(int id, Func<EmergencyChange, IEnumerable<AuditEvent>> mutate);
    public abstract EmergencyChange? Update(int id, Func<EmergencyChange, IEnumerable<AuditEvent>> mutate);
    public abstract void Append(AuditEvent evt);

    // Reads.
    public abstract EmergencyChange? Get(int id);
    public abstract IReadOnlyList<EmergencyChange> GetMany(IEnumerable<int> ids);
    public abstract int Count();
    public abstract EmergencyChange? ByAnnouncement(string channel, string ts);
    public abstract IReadOnlyList<EmergencyChange> OpenChanges(int limit);
    public abstract IReadOnlyList<EmergencyChange> OpenChangesOf(string user, int limit);
    public abstract IReadOnlyList<EmergencyChange> ChangesOf(string user, int limit);
    public abstract IReadOnlyList<EmergencyChange> WithDueSteps(DateTimeOffset now, int limit);
    public abstract IReadOnlyList<EmergencyChange> UntrackedOpenChanges(DateTimeOffset before, int limit);
    public abstract int CountOpenDue(DateTimeOffset from, DateTimeOffset to);
    public abstract IReadOnlyList<EmergencyChange> FirstOpenDue(DateTimeOffset from, DateTimeOffset to, int take);
    public abstract IReadOnlyList<ChangeTimes> OpenDueTimes(DateTimeOffset from, DateTimeOffset to);
    public abstract IReadOnlyList<ChangeTimes> DeclaredOrReviewedTimesSince(DateTimeOffset since);
    public abstract IReadOnlyList<EmergencyChange> ReviewedSince(DateTimeOffset since);
    public abstract IReadOnlyList<EmergencyChange> DeclaredOrReviewedSince(DateTimeOffset since);
    public abstract IReadOnlyList<EmergencyChange> DeclaredBetween(DateTimeOffset from, DateTimeOffset to);
    public abstract IReadOnlyList<string> LinkedRepositoriesDeclaredBetween(DateTimeOffset from, DateTimeOffset to);
    public abstract IReadOnlyList<EmergencyChange> ChangesLinking(string owner, string repo, int number);
    public abstract EmergencyChange? LatestOpenBypass(string mode, string team, string login, DateTimeOffset now, int except);
    public abstract EmergencyChange? LatestUnrevokedBypass(string mode, string team, string login, int except);

    // Outbox claims: a change's due steps run on one replica at a time, under a lease the runner renews; a lease that ends
    // (its replica died) lets another take the change over.
    public abstract IReadOnlyList<EmergencyChange> ClaimDueSteps(DateTimeOffset now, string owner, TimeSpan lease, int limit);
    /// <summary>False when the claim was lost (the lease ended and another replica took the change): stop running its steps.</summary>
    public abstract bool RenewStepClaim(int id, string owner, TimeSpan lease);
    public abstract void ReleaseStepClaim(int id, string owner);

    // The Slack event inbox and the ids already seen.
    public abstract bool MarkSeen(string key, DateTimeOffset at);
    public abstract bool WasSeen(string key);
    public abstract int PruneSeen(DateTimeOffset before);
    public abstract bool AcceptInbound(string eventId, string json, DateTimeOffset at);
    /// <summary>Inbound events due at <paramref name="now"/> and claimed by nobody else, claimed for <paramref name="owner"/>.</summary>
    public abstract IReadOnlyList<InboundEvent> ClaimInbound(DateTimeOffset now, string owner, TimeSpan lease, int limit);
    /// <summary>Records a failed or deferred attempt (stored, so any replica carries on the count) and releases the claim.</summary>
    public abstract void RetryInbound(string eventId, int failures, int waits, DateTimeOffset dueAt);
    public abstract void CompleteInbound(string eventId);
    public abstract IReadOnlyList<(string EventId, string Json)> PendingInbound(int limit);

    // Feature documents and linked accounts.
    public abstract void LinkAccount(string slackUser, string system, string account);
    public abstract string? LinkedAccount(string slackUser, string system);
    public abstract bool UnlinkAccount(string slackUser, string system);
    public abstract IReadOnlyList<(string SlackUser, string Account)> LinkedAccounts(string system);
    public abstract T? Document<T>(string collection, string id) where T : class;
    public abstract T SaveDocument<T>(string collection, string id, Func<T?, T> mutate) where T : class;
    public abstract IReadOnlyList<T> Documents<T>(string collection) where T : class;
    public abstract void SaveDocuments<T>(string collection, IReadOnlyList<(string Id, T Document)> many) where T : class;
    public abstract int DeleteDocumentsBelow<T>(string collection, string field, long below) where T : class;
    public abstract bool DeleteDocument<T>(string collection, string id) where T : class;

    // The audit trail.
    public abstract IReadOnlyList<AuditEvent> AuditTrail(int changeNumber);
    public abstract (EmergencyChange? Change, IReadOnlyList<AuditEvent> Trail) ChangeWithTrail(int changeNumber);
    public abstract long AuditCount();
    public abstract ChainReport VerifyAuditChain();

    /// <summary>
    /// A lock held across the cluster until the returned handle is disposed (a Team grant or revocation, a digest run): on
    /// the embedded store a semaphore in this process, on PostgreSQL an advisory lock held by a connection of its own.
    /// </summary>
    public abstract Task<StoreLock> LockAsync(string name, CancellationToken ct);

    /// <summary>What the outbox owes and how it fails, in counts (for /healthz): from the steps of the changes with any pending.</summary>
    public virtual OutboxSummary SummarizeOutbox()
    {
        var pending = WithDueSteps(DateTimeOffset.MaxValue, 1000);
        return OutboxSummary.Of(pending.Count, pending.SelectMany(c => c.Steps).Where(st => st.State == StepState.Pending)
            .Select(st => (st.Kind, st.LastError is not null, st.ParkedOn, st.Attempts)));
    }

    /// <summary>A cheap read that fails when the store is unusable; for /healthz and /readyz.</summary>
    public abstract void Ping();

    public abstract void Dispose();
}

/// <summary>The outbox in counts: changes with pending steps, failing steps by kind, parked steps by Slack error.</summary>
public sealed record OutboxSummary(int ChangesWithPendingSteps, int FailingSteps, IReadOnlyDictionary<string, int> FailingKinds, int MostAttempts,
    int ParkedSteps, IReadOnlyDictionary<string, int> ParkedErrors)
{
    /// <summary>From each pending step's kind, whether it has an error, what it is parked on, and its attempts.</summary>
    public static OutboxSummary Of(int changes, IEnumerable<(string Kind, bool Failing, string? ParkedOn, int Attempts)> pendingSteps)
    {
        var steps = pendingSteps.ToList();
        var failing = steps.Where(st => st.Failing).ToList();
        var parked = steps.Where(st => st.ParkedOn is not null).ToList();
        return new(changes, failing.Count, failing.GroupBy(st => st.Kind).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count()),
            failing.Count == 0 ? 0 : failing.Max(st => st.Attempts), parked.Count,
            parked.GroupBy(st => st.ParkedOn!).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count()));
    }
}

/// <summary>An inbound Slack event as claimed: its failed attempts and waits so far, stored with it.</summary>
public sealed record InboundEvent(string EventId, string Json, int Failures, int Waits);

/// <summary>
/// A lock held across the cluster until disposed. On PostgreSQL it lives in a database session, which can end behind the
/// holder's back (a failover, a cut connection) and free the lock for another replica: a decision that relies on the lock
/// asks <see cref="StillHeldAsync"/> before it is recorded.
/// </summary>
public abstract class StoreLock : IAsyncDisposable
{
    public abstract ValueTask<bool> StillHeldAsync(CancellationToken ct = default);
    public abstract ValueTask DisposeAsync();
}
