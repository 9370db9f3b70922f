using BreakGlassBot.Hosting;
using LiteDB;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.EmergencyChanges;

/// <summary>
/// The bot's data in one LiteDB file. Exactly one instance per file per process: LiteDB's direct mode
/// takes no file lock on Linux, and two instances on one file corrupt it. All writes go through one
/// lock, so read-modify-write never loses an update and BG-n numbers are never reused.
/// </summary>
public sealed class ChangeStore : IDisposable
{
    readonly LiteDatabase db;
    readonly ILiteCollection<EmergencyChange> changes;
    readonly ILiteCollection<AuditEvent> audit;
    readonly ILiteCollection<BsonDocument> counters;
    readonly ILiteCollection<BsonDocument> seen;
    readonly ILiteCollection<BsonDocument> people;
    readonly ILiteCollection<BsonDocument> inbox;
    readonly Lock writeLock = new();
    readonly System.Threading.Channels.Channel<PendingWrite> writes =
        System.Threading.Channels.Channel.CreateUnbounded<PendingWrite>(new() { SingleReader = true });
    readonly Thread writer;
    readonly DataDirectoryLock? directoryLock;

    public ChangeStore(IOptions<StorageOptions> options) : this(Path.Combine(options.Value.ResolvedDataDirectory, "breakglass.db")) { }

    public ChangeStore(string path)
    {
        if (path != ":memory:") directoryLock = DataDirectoryLock.Take(Path.GetDirectoryName(Path.GetFullPath(path))!);
        FilePath = path;
        db = new LiteDatabase(new ConnectionString { Filename = path, Connection = ConnectionType.Direct }, CreateMapper());
        changes = db.GetCollection<EmergencyChange>("changes");
        audit = db.GetCollection<AuditEvent>("audit");
        counters = db.GetCollection<BsonDocument>("counters");
        seen = db.GetCollection<BsonDocument>("seen");
        people = db.GetCollection<BsonDocument>("people");
        inbox = db.GetCollection<BsonDocument>("inbox");
        changes.EnsureIndex(c => c.Status);
        changes.EnsureIndex(c => c.DeclaredBy);
        // No query reads DueAt over all changes any more (OpenDueAt serves the overdue and due-soon lists), and every index
        // costs each write and, measured (hot-paths), ~1.7 KB and a few µs on every query: drop it from older files.
        changes.DropIndex("DueAt");
        changes.EnsureIndex(c => c.DeclaredAt);
        // The digest's "declared or reviewed since" is an Or: without this index LiteDB scans every change for its ReviewedAt half.
        changes.EnsureIndex(c => c.ReviewedAt);
        changes.EnsureIndex(c => c.NextStepAt);
        changes.EnsureIndex(c => c.NextCheckAt);
        changes.EnsureIndex(c => c.Announcement!.Ts);
        changes.EnsureIndex(c => c.SourceKey);
        // Overdue and due-soon lists are one range scan over the open changes only, instead of loading every open change
        // (Status index) or all of history (DueAt index); counted from the index keys alone.
        changes.EnsureIndex(c => c.OpenDueAt);
        // A bypass team grant or revocation looks up other open bypasses of the same person: by login, not a scan of every change.
        changes.EnsureIndex(BypassLoginIndex, BypassLogin);
        audit.EnsureIndex(e => e.ChangeNumber);
        audit.EnsureIndex(e => e.Sequence, unique: true);
        lock (writeLock)
        {
            db.BeginTrans();
            AuditChain.MigrateLocked(audit, counters);
            StoreOpenDueAtLocked();
            db.Commit();
        }
        // A thread of its own, not the thread pool: callers may block on a declaration, and the writer must
        // never wait for a pool thread that those callers are holding.
        writer = new Thread(WriteBatches) { IsBackground = true, Name = "breakglass-writer" };
        writer.Start();
    }

    public string FilePath { get; }

    /// <summary>
    /// A query with its values as parameters. LiteDB's Query.EQ/LT/Between put the values into the expression text, and
    /// LiteDB parses and compiles every new text (~3 ms) and caches it for good: a query with the current time in it was
    /// compiled on every call and never freed. With parameters the text is fixed and parsed once; unlike a LINQ lambda,
    /// nothing is translated per call either.
    /// </summary>
    static BsonExpression Where(string template, params BsonValue[] args) => BsonExpression.Create(template, args);

    const string IsOpen = "$.Status = 'Open'";

    /// <summary>
    /// LiteDB cuts DateTimeOffset to milliseconds and drops its offset, and reads DateTime back as Local:
    /// store UTC ticks instead, so times round-trip exactly.
    /// </summary>
    internal static BsonMapper CreateMapper()
    {
        var mapper = new BsonMapper { EnumAsInteger = false };
        mapper.RegisterType(d => new BsonValue(d.UtcTicks), b => new DateTimeOffset(b.AsInt64, TimeSpan.Zero));
        // LiteDB 5.0.21 builds a type's mapper on first use and publishes it before its members are filled in
        // (litedb-org/LiteDB#2536, #2565): a second thread then throws "Collection was modified", or reads a document
        // with fields missing and writes it back. Build every mapper now, on this one thread, before anyone shares it.
        var sample = new EmergencyChange
        {
            PullRequests = [new()], JiraIssues = [new()], Announcement = new(), Bypass = new(), Approvals = [new()],
            ChangeRequests = [new()], Evidence = [new()], Cancellation = new(), Steps = [new()],
        };
        mapper.ToObject<EmergencyChange>(mapper.ToDocument(sample));
        mapper.ToObject<AuditEvent>(mapper.ToDocument(new AuditEvent { Data = new() { ["warm"] = "up" } }));
        return mapper;
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
    /// <see cref="EmergencyChange.SourceKey"/> exists. Declarations that arrive together share one transaction
    /// (group commit): a commit is one disk flush, so a burst of declarations costs a few flushes, not one each.
    /// </summary>
    public Task<(EmergencyChange Change, bool Created)> DeclareAsync(EmergencyChange draft, Func<EmergencyChange, IEnumerable<AuditEvent>> events)
    {
        var done = new TaskCompletionSource<(EmergencyChange, bool)>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!writes.Writer.TryWrite(new PendingDeclaration(draft, events, done)))
            throw new ObjectDisposedException(nameof(ChangeStore));
        return done.Task;
    }

    public (EmergencyChange Change, bool Created) Declare(EmergencyChange draft, Func<EmergencyChange, IEnumerable<AuditEvent>> events) =>
        DeclareAsync(draft, events).GetAwaiter().GetResult();

    /// <summary><see cref="UpdateAsync(int, Func{EmergencyChange, IEnumerable{AuditEvent}})"/> for a mutation that decides something: the decision comes back with the saved change.</summary>
    public async Task<(EmergencyChange? Change, T? Result)> UpdateAsync<T>(int id, Func<EmergencyChange, Decision<T>> decide)
    {
        // The group commit may run the mutation again on the change as stored: the last run is the one saved.
        T? result = default;
        var change = await UpdateAsync(id, c => { var d = decide(c); result = d.Result; return d.Events; });
        return (change, change is null ? default : result);
    }

    /// <summary><see cref="Update"/> for a mutation that decides something: the decision comes back with the saved change.</summary>
    public (EmergencyChange? Change, T? Result) Update<T>(int id, Func<EmergencyChange, Decision<T>> decide)
    {
        T? result = default;
        var change = Update(id, c => { var d = decide(c); result = d.Result; return d.Events; });
        return (change, change is null ? default : result);
    }


    /// <summary>
    /// <see cref="Update"/> through the group commit: updates (and declarations) that arrive together share one
    /// transaction and one disk flush. For callers that can wait asynchronously, such as the outbox, whose several
    /// writes per step would otherwise each cost a flush under the write lock, competing with declarations.
    /// When <paramref name="mutate"/> throws, nothing of that update is saved and the task fails; the others in the batch stand.
    /// </summary>
    public Task<EmergencyChange?> UpdateAsync(int id, Func<EmergencyChange, IEnumerable<AuditEvent>> mutate)
    {
        var done = new TaskCompletionSource<EmergencyChange?>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!writes.Writer.TryWrite(new PendingUpdate(id, mutate, done)))
            throw new ObjectDisposedException(nameof(ChangeStore));
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
                    AppendLocked(declaration.Events(draft));
                    if (draft.SourceKey is { } k) bySource[k] = draft;
                    completions.Add(() => declaration.Done.TrySetResult((draft, true)));
                }
                counter["value"] = next;
                counters.Upsert(counter);
                db.Commit();
            }
            catch (Exception e)
            {
                db.Rollback();
                // One write the store refuses (say a declaration with an over-long index key) must not take the others
                // of its group down with it: write them one by one, so only the refused one fails. Nothing of the
                // group was committed, so each update's mutation runs again on the document as stored.
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
    void SaveLocked(EmergencyChange change, IReadOnlyList<AuditEvent> events)
    {
        change.RecomputeNextStep();
        changes.Update(change);
        AppendLocked(events);
    }

    /// <summary>One update inside the batch's transaction. Reading inside it sees the batch's earlier writes to the same change.</summary>
    Action UpdateLocked(PendingUpdate update)
    {
        var change = changes.FindById(update.Id);
        if (change is null) return () => update.Done.TrySetResult(null);
        List<AuditEvent> events;
        try { events = update.Mutate(change).ToList(); }
        catch (Exception e) { return () => update.Done.TrySetException(e); }
        SaveLocked(change, events);
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
            db.BeginTrans();
            try
            {
                SaveLocked(change, mutate(change).ToList());
                db.Commit();
                return change;
            }
            catch
            {
                db.Rollback();
                throw;
            }
        }
    }

    public void Append(AuditEvent evt)
    {
        lock (writeLock)
        {
            db.BeginTrans();
            try
            {
                AppendLocked([evt]);
                db.Commit();
            }
            catch
            {
                db.Rollback();
                throw;
            }
        }
    }

    void AppendLocked(IEnumerable<AuditEvent> events)
    {
        foreach (var evt in events)
        {
            var counter = counters.FindById(AuditChain.HeadId) ?? new BsonDocument { ["_id"] = AuditChain.HeadId, ["value"] = 0L };
            evt.Sequence = counter["value"].AsInt64 + 1;
            evt.Id = evt.Sequence;
            // The head hash lives beside the sequence counter, in the same transaction as the event it seals.
            AuditChain.Seal(evt, counter["hash"].IsString ? counter["hash"].AsString : AuditChain.Genesis);
            counter["value"] = evt.Sequence;
            counter["hash"] = evt.Hash;
            counters.Upsert(counter);
            audit.Insert(evt);
        }
    }

    /// <summary>
    /// Recomputes the audit trail's hash chain without holding the write lock for the walk (a long trail must not stall
    /// declarations): the head is read under the lock, the events are walked outside it. An event appended during the walk
    /// lies past the head that was read; then the head is read again and the walk repeated, and only a last attempt holds
    /// the lock throughout.
    /// </summary>
    public ChainReport VerifyAuditChain()
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            BsonDocument? head, marker;
            lock (writeLock) (head, marker) = (counters.FindById(AuditChain.HeadId), counters.FindById(AuditChain.MarkerId));
            var report = AuditChain.Verify(audit.Find(Query.All(nameof(AuditEvent.Sequence), Query.Ascending)), head, marker);
            if (report.Intact || report.FirstBreak is not { Fault: ChainFault.Inserted } b || b.Sequence <= report.HeadSequence) return report;
            long now;
            lock (writeLock) now = counters.FindById(AuditChain.HeadId)?["value"].AsInt64 ?? 0;
            if (now < b.Sequence) return report; // still past the end after re-reading: it was not appended by the bot
        }
        lock (writeLock) return AuditChain.Verify(audit, counters);
    }

    /// <summary>Every change declared in [<paramref name="from"/>, <paramref name="to"/>), oldest first.</summary>
    public IReadOnlyList<EmergencyChange> DeclaredBetween(DateTimeOffset from, DateTimeOffset to) =>
        changes.Find(Where("$.DeclaredAt >= @0 AND $.DeclaredAt < @1", from.UtcTicks, to.UtcTicks))
            .OrderBy(c => c.DeclaredAt).ThenBy(c => c.Id).ToList();

    /// <summary>
    /// The owner/repo of every pull request linked to a change declared in [from, to) that is not cancelled (repeats kept):
    /// only those two fields are read, not whole changes.
    /// </summary>
    public IReadOnlyList<string> LinkedRepositoriesDeclaredBetween(DateTimeOffset from, DateTimeOffset to) =>
        changes.Query().Where(Where("$.DeclaredAt >= @0 AND $.DeclaredAt < @1 AND $.Status != 'Cancelled'", from.UtcTicks, to.UtcTicks))
            .Select(LinkedRepositoryFields).ToEnumerable()
            .SelectMany(d => d["r"].IsArray ? d["r"].AsArray.Select(v => v.AsString) : [])
            .ToList();

    static readonly BsonExpression LinkedRepositoryFields = BsonExpression.Create("{ r: MAP($.PullRequests[*] => (@.Owner + '/' + @.Repo)) }");

    /// <summary>Records that an external id (Slack event, view) was handled; false if it was seen before.</summary>
    public bool MarkSeen(string key, DateTimeOffset at)
    {
        lock (writeLock)
        {
            if (seen.FindById(key) is not null) return false;
            seen.Insert(new BsonDocument { ["_id"] = key, ["at"] = at.UtcTicks });
            return true;
        }
    }

    /// <summary>
    /// Saves an inbound Slack event before it is acknowledged, unless its id was seen before (Slack retries with
    /// the same event_id). Processed later by the inbox worker; kept until done, so a crash loses nothing.
    /// </summary>
    public bool AcceptInbound(string eventId, string json, DateTimeOffset at)
    {
        lock (writeLock)
        {
            var key = "event:" + eventId;
            if (seen.FindById(key) is not null) return false;
            db.BeginTrans();
            try
            {
                seen.Insert(new BsonDocument { ["_id"] = key, ["at"] = at.UtcTicks });
                inbox.Insert(new BsonDocument { ["_id"] = eventId, ["json"] = json, ["at"] = at.UtcTicks });
                db.Commit();
            }
            catch
            {
                // Never leave the thread's transaction open: the next write on this thread would join it and never commit.
                db.Rollback();
                throw;
            }
            return true;
        }
    }

    public IReadOnlyList<(string EventId, string Json)> PendingInbound(int limit = 100) =>
        inbox.FindAll().Take(limit).Select(d => (d["_id"].AsString, d["json"].AsString)).ToList();

    public void CompleteInbound(string eventId)
    {
        lock (writeLock) inbox.Delete(eventId);
    }

    public EmergencyChange? ByAnnouncement(string channel, string ts) =>
        changes.FindOne(Where("$.Announcement.Ts = @0", ts)) is { } c && c.Announcement?.Channel == channel ? c : null;

    /// <summary>A Slack user's account elsewhere ("github", "jira"), as set with /breakglass link.</summary>
    public void LinkAccount(string slackUser, string system, string account)
    {
        lock (writeLock) people.Upsert(new BsonDocument { ["_id"] = $"{system}:{slackUser}", ["account"] = account });
    }

    public string? LinkedAccount(string slackUser, string system) => people.FindById($"{system}:{slackUser}")?["account"].AsString;

    public EmergencyChange? Get(int id) => changes.FindById(id);

    public IReadOnlyList<EmergencyChange> OpenChanges(int limit = int.MaxValue) =>
        changes.Find(Where(IsOpen), limit: limit).ToList();

    public IReadOnlyList<EmergencyChange> OpenChangesOf(string user, int limit = 50) =>
        changes.Find(Where("$.DeclaredBy = @0 AND " + IsOpen, user), limit: limit).ToList();

    public IReadOnlyList<EmergencyChange> ChangesOf(string user, int limit = 50) =>
        changes.Query().Where(Where("$.DeclaredBy = @0", user)).OrderByDescending(BsonExpression.Create("$._id")).Limit(limit).ToList();

    /// <summary>Overdue changes in full (<see cref="EmergencyChange.IsOverdue"/>), most overdue first, ties by id.</summary>
    public IReadOnlyList<EmergencyChange> Overdue(DateTimeOffset now, int limit = int.MaxValue) => FirstOpenDue(DateTimeOffset.MinValue, now.AddTicks(-1), limit);

    public int CountOverdue(DateTimeOffset now) => CountOpenDue(DateTimeOffset.MinValue, now.AddTicks(-1));

    public IReadOnlyList<EmergencyChange> WithDueSteps(DateTimeOffset now, int limit = 100) =>
        // Between, not LTE: BSON orders null below numbers, and changes with nothing pending have a null NextStepAt.
        changes.Find(Where("$.NextStepAt BETWEEN @0 AND @1", 0L, now.UtcTicks), limit: limit).ToList();

    const string BypassLoginIndex = "BypassLogin";
    const string BypassLogin = "LOWER($.Bypass.Login)";

    /// <summary>
    /// The change other than <paramref name="except"/>, not cancelled, whose granted <paramref name="mode"/> bypass for <paramref name="login"/>
    /// in <paramref name="team"/> (both case-insensitive) is open at <paramref name="now"/>: not revoked, not expired; the one that ends last.
    /// Reads only the changes with a bypass for that login (an index), however many changes there are.
    /// </summary>
    public EmergencyChange? LatestOpenBypass(string mode, string team, string login, DateTimeOffset now, int except) =>
        LatestBypass("$.Bypass.GrantedAt != 0 AND $.Bypass.ExpiresAt > @4 AND $.Status != 'Cancelled'", mode, team, login, except, now.UtcTicks);

    /// <summary>
    /// The change other than <paramref name="except"/> whose <paramref name="mode"/> bypass for <paramref name="login"/> in <paramref name="team"/>
    /// the bot has granted (or begun to grant) and not yet revoked, whatever the change's status and even past its window; the one that ends last.
    /// </summary>
    public EmergencyChange? LatestUnrevokedBypass(string mode, string team, string login, int except) =>
        LatestBypass("$.Bypass.Problem = null", mode, team, login, except);

    /// <summary>The unrevoked bypass of the same person, team and mode on another change that also meets <paramref name="condition"/> (parameters from @4); the one that ends last.</summary>
    EmergencyChange? LatestBypass(string condition, string mode, string team, string login, int except, params BsonValue[] more) =>
        changes.Query()
            .Where(Where(BypassLogin + " = @0 AND LOWER($.Bypass.Team) = @1 AND $.Bypass.Mode = @2 AND $._id != @3 AND $.Bypass.RevokedAt = null AND " + condition,
                [login.ToLowerInvariant(), team.ToLowerInvariant(), mode, except, .. more]))
            .OrderByDescending("$.Bypass.ExpiresAt")
            .FirstOrDefault();

    /// <summary>Open changes whose tracking check is overdue by more than the grace (or was never set): their job may be lost.</summary>
    public IReadOnlyList<EmergencyChange> UntrackedOpenChanges(DateTimeOffset before, int limit = 1000) =>
        changes.Find(Where("($.NextCheckAt = null OR $.NextCheckAt BETWEEN @0 AND @1) AND " + IsOpen, 0L, before.UtcTicks), limit: limit).ToList();

    const string OpenDueAtMarker = "open-due-at";

    /// <summary>Files written before <see cref="EmergencyChange.OpenDueAt"/> existed: store it on every open change, once.</summary>
    void StoreOpenDueAtLocked()
    {
        if (counters.FindById(OpenDueAtMarker) is not null) return;
        foreach (var change in changes.Find(Where(IsOpen)).ToList()) changes.Update(change);
        counters.Insert(new BsonDocument { ["_id"] = OpenDueAtMarker, ["version"] = 1 });
    }

    static BsonExpression OpenDueIn(DateTimeOffset from, DateTimeOffset to) => Where("$.OpenDueAt BETWEEN @0 AND @1", from.UtcTicks, to.UtcTicks);

    /// <summary>How many open changes are due in [<paramref name="from"/>, <paramref name="to"/>]: read from the index keys, no document is loaded.</summary>
    public int CountOpenDue(DateTimeOffset from, DateTimeOffset to) =>
        changes.Query().Where(OpenDueIn(from, to)).Select(nameof(EmergencyChange.OpenDueAt)).ToEnumerable().Count();

    /// <summary>
    /// The first <paramref name="take"/> open changes due in [<paramref name="from"/>, <paramref name="to"/>] in full, soonest
    /// first, ties by id. Reads the index in due order and stops after the last change that ties with the take-th.
    /// </summary>
    public IReadOnlyList<EmergencyChange> FirstOpenDue(DateTimeOffset from, DateTimeOffset to, int take)
    {
        var first = new List<ChangeTimes>();
        if (take <= 0) return [];
        foreach (var t in changes.Query().Where(OpenDueIn(from, to)).OrderBy(nameof(EmergencyChange.OpenDueAt)).Select(ChangeTimes.Fields)
                     .ToEnumerable().Select(ChangeTimes.From))
        {
            if (first.Count >= take && t.DueAt != first[^1].DueAt) break;
            first.Add(t);
        }
        return GetMany(first.OrderBy(t => t.DueAt).ThenBy(t => t.Id).Take(take).Select(t => t.Id));
    }

    /// <summary>The times of every open change due in [<paramref name="from"/>, <paramref name="to"/>] (five fields each, not whole changes).</summary>
    public IReadOnlyList<ChangeTimes> OpenDueTimes(DateTimeOffset from, DateTimeOffset to) =>
        changes.Query().Where(OpenDueIn(from, to)).Select(ChangeTimes.Fields).ToEnumerable().Select(ChangeTimes.From).ToList();

    /// <summary>The times of the changes declared or reviewed at or after <paramref name="since"/>, without loading them whole.</summary>
    public IReadOnlyList<ChangeTimes> DeclaredOrReviewedTimesSince(DateTimeOffset since)
    {
        var found = changes.Query().Where(Where("$.DeclaredAt >= @0", since.UtcTicks)).Select(ChangeTimes.Fields).ToEnumerable()
            .Select(ChangeTimes.From).ToList();
        var ids = found.Select(c => c.Id).ToHashSet();
        found.AddRange(changes.Query().Where(Where("$.ReviewedAt >= @0", since.UtcTicks)).Select(ChangeTimes.Fields).ToEnumerable()
            .Select(ChangeTimes.From).Where(c => ids.Add(c.Id)));
        return found;
    }

    /// <summary>The changes with these ids, in the order given (an id without a change is skipped).</summary>
    public IReadOnlyList<EmergencyChange> GetMany(IEnumerable<int> ids) => ids.Select(id => changes.FindById(id)).OfType<EmergencyChange>().ToList();

    /// <summary>Changes declared or reviewed at or after <paramref name="since"/> (the weekly digest's numbers; a scan once a week is cheap).</summary>
    public IReadOnlyList<EmergencyChange> DeclaredOrReviewedSince(DateTimeOffset since)
    {
        // Two index range scans merged by id: LiteDB runs Query.Or of the two several times slower than the two on their own.
        // BSON orders null below numbers, so a change not yet reviewed does not match the ReviewedAt half.
        var found = changes.Find(Where("$.DeclaredAt >= @0", since.UtcTicks)).ToList();
        var ids = found.Select(c => c.Id).ToHashSet();
        found.AddRange(changes.Find(Where("$.ReviewedAt >= @0", since.UtcTicks)).Where(c => ids.Add(c.Id)));
        return found;
    }

    /// <summary>One document of a feature's own small collection (e.g. the weekly digest's delivery record), or null.</summary>
    public T? Document<T>(string collection, string id) where T : class => db.GetCollection<T>(collection).FindById(id);

    /// <summary>
    /// Read-modify-write of one document of a feature's own collection under the write lock, so concurrent writers
    /// lose nothing. <paramref name="mutate"/> gets null when the document does not exist yet, and returns what to save.
    /// </summary>
    public T SaveDocument<T>(string collection, string id, Func<T?, T> mutate) where T : class
    {
        lock (writeLock)
        {
            var documents = db.GetCollection<T>(collection);
            var document = mutate(documents.FindById(id));
            documents.Upsert(id, document);
            return document;
        }
    }

    public IReadOnlyList<AuditEvent> AuditTrail(int changeNumber) =>
        audit.Find(Where("$.ChangeNumber = @0", changeNumber)).OrderBy(e => e.Sequence).ToList();

    public long AuditCount() => audit.LongCount();
    public int Count() => changes.Count();

    /// <summary>A cheap read that fails when the file is unusable; for /healthz.</summary>
    public void Ping() => counters.FindById("change");

    public void Dispose()
    {
        writes.Writer.TryComplete();
        writer.Join(TimeSpan.FromSeconds(10));
        db.Dispose();
        directoryLock?.Dispose();
    }
}

/// <summary>What a mutation decided (<paramref name="Result"/>), with the audit events to save alongside the change.</summary>
public sealed record Decision<T>(IEnumerable<AuditEvent> Events, T Result)
{
    public static Decision<T> Only(T result) => new([], result);
}
