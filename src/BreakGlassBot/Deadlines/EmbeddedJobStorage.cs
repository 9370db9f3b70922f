using Hangfire.Storage;
using Hangfire.Storage.SQLite;

namespace BreakGlassBot.Deadlines;

/// <summary>
/// Hangfire.Storage.SQLite with its locks held in-process: its DistributedLock table (0.4.3) stalls jobs under load, and
/// the store already belongs to one process (<see cref="EmergencyChanges.DataDirectoryLock"/>), so this is as strong.
/// </summary>
public sealed class EmbeddedJobStorage(string databasePath, SQLiteStorageOptions storageOptions) : SQLiteStorage(databasePath, storageOptions)
{
    readonly ProcessLocks locks = new();
    readonly SQLiteStorageOptions options = storageOptions;

    public override IStorageConnection GetConnection() => new Connection(CreateAndOpenConnection(), options, QueueProviders, locks);

    sealed class Connection(HangfireDbContext db, SQLiteStorageOptions options, PersistentJobQueueProviderCollection queues, ProcessLocks locks)
        : HangfireSQLiteConnection(db, options, queues)
    {
        public override IDisposable AcquireDistributedLock(string resource, TimeSpan timeout) => locks.Acquire(resource, timeout);
    }
}

/// <summary>
/// Named locks for one process, re-entrant on the thread that holds them (as Hangfire expects of a distributed
/// lock), released from any thread, and forgotten once nobody holds or waits for them (job locks are per job).
/// </summary>
public sealed class ProcessLocks
{
    readonly Dictionary<string, Entry> entries = new(StringComparer.Ordinal);

    sealed class Entry
    {
        public readonly SemaphoreSlim Gate = new(1, 1);
        public int Owner;
        public int Depth;
        public int References;
    }

    public IDisposable Acquire(string resource, TimeSpan timeout)
    {
        var me = Environment.CurrentManagedThreadId;
        Entry entry;
        lock (entries)
        {
            if (!entries.TryGetValue(resource, out entry!)) entries[resource] = entry = new Entry();
            entry.References++;
            if (entry.Depth > 0 && entry.Owner == me)
            {
                entry.Depth++;
                return new Holder(this, resource, entry);
            }
        }
        if (!entry.Gate.Wait(timeout))
        {
            lock (entries) Forget(resource, entry);
            throw new DistributedLockTimeoutException(resource);
        }
        lock (entries)
        {
            entry.Owner = me;
            entry.Depth = 1;
        }
        return new Holder(this, resource, entry);
    }

    /// <summary>How many locks are remembered (held or waited for): for tests.</summary>
    public int Count
    {
        get { lock (entries) return entries.Count; }
    }

    void Release(string resource, Entry entry)
    {
        lock (entries)
        {
            if (--entry.Depth == 0)
            {
                entry.Owner = 0;
                entry.Gate.Release();
            }
            Forget(resource, entry);
        }
    }

    void Forget(string resource, Entry entry)
    {
        if (--entry.References == 0) entries.Remove(resource);
    }

    sealed class Holder(ProcessLocks owner, string resource, Entry entry) : IDisposable
    {
        int released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref released, 1) == 0) owner.Release(resource, entry);
        }
    }
}
