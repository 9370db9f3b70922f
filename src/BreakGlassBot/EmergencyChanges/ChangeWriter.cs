using LiteDB;
using static BreakGlassBot.EmergencyChanges.StoreFile;

namespace BreakGlassBot.EmergencyChanges;

/// <summary>
/// The write path, with group commit: writes that arrive together share one transaction and disk flush. Runs on its
/// own thread, not the pool: callers may block on a declaration, and the writer must not wait for their pool threads.
/// </summary>
internal sealed class ChangeWriter : IDisposable
{
    readonly StoreFile file;
    readonly LiteDatabase db;
    readonly ILiteCollection<EmergencyChange> changes;
    readonly ILiteCollection<AuditEvent> audit;
    readonly ILiteCollection<BsonDocument> counters;
    readonly Lock writeLock;
    readonly System.Threading.Channels.Channel<PendingWrite> writes =
        System.Threading.Channels.Channel.CreateUnbounded<PendingWrite>(new() { SingleReader = true });
    readonly Thread writer;
    readonly TimeProvider time;
    /// <summary>
    /// The state each change was last sealed in by this process, under the write lock. Nothing else writes the file while the
    /// bot holds its directory, so a write need not hash the record it read again; the first write of each change after a
    /// start does, which is what catches an edit made while the bot was stopped. Set only after a commit.
    /// </summary>
    readonly Dictionary<int, SealedState> sealedStates = [];

    public ChangeWriter(StoreFile file, TimeProvider time)
    {
        this.file = file;
        this.time = time;
        (db, changes, audit, counters, writeLock) = (file.Db, file.Changes, file.Audit, file.Counters, file.WriteLock);
        writer = new Thread(WriteBatches) { IsBackground = true, Name = "breakglass-writer" };
        writer.Start();
    }

    abstract record PendingWrite
    {
        public abstract void Fail(Exception e);
    }

    sealed record PendingDeclaration(EmergencyChange Draft, Func<EmergencyChange, IEnumerable<AuditEvent>> Events,
        TaskCompletionSource<(EmergencyChange, bool)> Done) : PendingWrite
    {
        public override void Fail(Exception e) => Done.TrySetException(e);
    }

    sealed record PendingUpdate(int Id, Func<EmergencyChange, IEnumerable<AuditEvent>> Mutate, TaskCompletionSource<EmergencyChange?> Done) : PendingWrite
    {
        public override void Fail(Exception e) => Done.TrySetException(e);
    }

    /// <summary>
    /// Stores a new change with the next BG number and its audit events, unless one with the same
    /// <see cref="EmergencyChange.SourceKey"/> exists.
    /// </summary>
    public Task<(EmergencyChange Change, bool Created)> DeclareAsync(EmergencyChange draft, Func<EmergencyChange, IEnumerable<AuditEvent>> events)
    {
        var done = new TaskCompletionSource<(EmergencyChange, bool)>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!writes.Writer.TryWrite(new PendingDeclaration(draft, events, done)))
            throw new ObjectDisposedException(nameof(ChangeWriter));
        return done.Task;
    }

    /// <summary>
    /// <see cref="Update"/> through the group commit, for callers that can wait asynchronously.
    /// When <paramref name="mutate"/> throws, nothing of that update is saved and the task fails; the others in the batch stand.
    /// </summary>
    public Task<EmergencyChange?> UpdateAsync(int id, Func<EmergencyChange, IEnumerable<AuditEvent>> mutate)
    {
        var done = new TaskCompletionSource<EmergencyChange?>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!writes.Writer.TryWrite(new PendingUpdate(id, mutate, done)))
            throw new ObjectDisposedException(nameof(ChangeWriter));
        return done.Task;
    }

    void WriteBatches()
    {
        var batch = new List<PendingWrite>(MaxBatch);
        while (writes.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            batch.Clear();
            while (batch.Count < MaxBatch && writes.Reader.TryRead(out var pending)) batch.Add(pending);
            WriteBatch(batch);
        }
    }

    const int MaxBatch = 256;

    void WriteBatch(List<PendingWrite> batch)
    {
        // Results are handed out after the commit, outside the lock: a caller never sees a write that could still roll back.
        var completions = new List<Action>(batch.Count);
        lock (writeLock)
        {
            committedStates.Clear();
            db.BeginTrans();
            try
            {
                var counter = counters.FindById("change") ?? new BsonDocument { ["_id"] = "change", ["value"] = 0 };
                var next = counter["value"].AsInt32;
                var bySource = new Dictionary<string, EmergencyChange>();
                foreach (var pending in batch)
                {
                    if (pending is PendingUpdate update)
                    {
                        completions.Add(UpdateLocked(update));
                        continue;
                    }
                    var declaration = (PendingDeclaration)pending;
                    var draft = declaration.Draft;
                    if (draft.SourceKey is { } key
                        && (bySource.GetValueOrDefault(key) ?? changes.FindOne(Where("$.SourceKey = @0", key))) is { } existing)
                    {
                        completions.Add(() => declaration.Done.TrySetResult((existing, false)));
                        continue;
                    }
                    draft.Id = ++next;
                    draft.RecomputeNextStep();
                    changes.Insert(draft);
                    var (events, sealedState) = ChangeState.Seal(null, draft, [.. declaration.Events(draft)], time.GetUtcNow());
                    AppendLocked(events);
                    committedStates.Add((draft.Id, sealedState));
                    if (draft.SourceKey is { } k) bySource[k] = draft;
                    completions.Add(() => declaration.Done.TrySetResult((draft, true)));
                }
                counter["value"] = next;
                counters.Upsert(counter);
                db.Commit();
                foreach (var (id, state) in committedStates) sealedStates[id] = state;
                committedStates.Clear();
            }
            catch (Exception e)
            {
                db.Rollback();
                committedStates.Clear();
                // One refused write must not fail its whole group: nothing was committed, so write them one by one.
                if (batch.Count > 1)
                {
                    foreach (var p in batch) WriteBatch([p]);
                    return;
                }
                foreach (var p in batch) p.Fail(e);
                return;
            }
        }
        foreach (var complete in completions) complete();
    }

    /// <summary>A mutated change and the events it produced, inside the caller's transaction (Update and the group commit alike).</summary>
    SealedState SaveLocked(SealedState before, EmergencyChange change, IReadOnlyList<AuditEvent> events)
    {
        change.RecomputeNextStep();
        changes.Update(change);
        var (sealedEvents, after) = ChangeState.Seal(before, change, events, time.GetUtcNow());
        AppendLocked(sealedEvents);
        return after;
    }

    /// <summary>
    /// The state the record was in when read: as this process last sealed it (earlier in the batch being written, else in a
    /// committed write), else hashed from the record.
    /// </summary>
    SealedState StateAsRead(EmergencyChange change) =>
        committedStates.FindLast(s => s.Id == change.Id).State
        ?? (sealedStates.TryGetValue(change.Id, out var known) ? known : SealedState.Of(change));

    /// <summary>States sealed in the batch being written, kept once it commits.</summary>
    readonly List<(int Id, SealedState State)> committedStates = [];

    /// <summary>One update inside the batch's transaction. Reading inside it sees the batch's earlier writes to the same change.</summary>
    Action UpdateLocked(PendingUpdate update)
    {
        var change = changes.FindById(update.Id);
        if (change is null) return () => update.Done.TrySetResult(null);
        // The state as read, sealed against the trail's last: a document edited outside the bot shows as a break there.
        var before = StateAsRead(change);
        List<AuditEvent> events;
        try { events = update.Mutate(change).ToList(); }
        catch (Exception e) { return () => update.Done.TrySetException(e); }
        committedStates.Add((change.Id, SaveLocked(before, change, events)));
        return () => update.Done.TrySetResult(change);
    }

    /// <summary>
    /// Reloads the change, applies <paramref name="mutate"/> and saves it with the audit events it returns,
    /// in one transaction. Returns null when no such change exists.
    /// </summary>
    public EmergencyChange? Update(int id, Func<EmergencyChange, IEnumerable<AuditEvent>> mutate)
    {
        lock (writeLock)
        {
            var change = changes.FindById(id);
            if (change is null) return null;
            var before = StateAsRead(change);
            SealedState? after = null;
            var saved = file.InTransaction(() =>
            {
                after = SaveLocked(before, change, mutate(change).ToList());
                return change;
            });
            if (after is not null) sealedStates[change.Id] = after;
            return saved;
        }
    }

    public void Append(AuditEvent evt) => file.InTransaction(() =>
    {
        AppendLocked([evt]);
        return true;
    });

    void AppendLocked(IEnumerable<AuditEvent> events)
    {
        // The head hash lives beside the sequence counter, in the same transaction as the event it seals.
        foreach (var evt in events) AuditChain.AppendLocked(audit, counters, evt);
    }

    public void Dispose()
    {
        writes.Writer.TryComplete();
        writer.Join(TimeSpan.FromSeconds(10));
    }
}
