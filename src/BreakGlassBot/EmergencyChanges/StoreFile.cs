using System.Reflection;
using LiteDB;

namespace BreakGlassBot.EmergencyChanges;

/// <summary>A backup copy of the store: where, how big, what it holds (read back from the copy), and how long writes waited for it.</summary>
public sealed record BackupResult(string Path, long Bytes, long Changes, long AuditEvents, TimeSpan WritesPaused);

/// <summary>
/// The bot's LiteDB file: its collections, indexes and the one write lock. Exactly one instance per file per process:
/// LiteDB's direct mode takes no file lock on Linux, and two instances on one file corrupt it.
/// </summary>
internal sealed class StoreFile : IDisposable
{
    readonly DataDirectoryLock? directoryLock;

    public StoreFile(string path, TimeProvider? time = null)
    {
        if (path != ":memory:") directoryLock = DataDirectoryLock.Take(Path.GetDirectoryName(Path.GetFullPath(path))!);
        FilePath = path;
        Db = new LiteDatabase(new ConnectionString { Filename = path, Connection = ConnectionType.Direct }, CreateMapper());
        Changes = Db.GetCollection<EmergencyChange>("changes");
        Audit = Db.GetCollection<AuditEvent>("audit");
        Counters = Db.GetCollection<BsonDocument>("counters");
        Seen = Db.GetCollection<BsonDocument>("seen");
        People = Db.GetCollection<BsonDocument>("people");
        Inbox = Db.GetCollection<BsonDocument>("inbox");
        Changes.EnsureIndex(c => c.Status);
        Changes.EnsureIndex(c => c.DeclaredBy);
        // Nothing reads DueAt over all changes (OpenDueAt does), and every index costs each write: drop it from older files.
        Changes.DropIndex("DueAt");
        Changes.EnsureIndex(c => c.DeclaredAt);
        // The digest's "declared or reviewed since" is an Or: without this index LiteDB scans every change for its ReviewedAt half.
        Changes.EnsureIndex(c => c.ReviewedAt);
        Changes.EnsureIndex(c => c.NextStepAt);
        Changes.EnsureIndex(c => c.NextCheckAt);
        Changes.EnsureIndex(c => c.Announcement!.Ts);
        Changes.EnsureIndex(c => c.SourceKey);
        // Overdue and due-soon lists: one range scan over open changes only, counted from the index keys alone.
        Changes.EnsureIndex(c => c.OpenDueAt);
        // A bypass team grant or revocation looks up other open bypasses of the same person: by login, not a scan of every change.
        Changes.EnsureIndex(ChangeQueries.BypassLoginIndex, ChangeQueries.BypassLogin);
        // Detection looks up the declarations that link a merged PR.
        Changes.EnsureIndex(ChangeQueries.LinkedNumberIndex, ChangeQueries.LinkedNumber);
        Seen.EnsureIndex("at");
        Audit.EnsureIndex(e => e.ChangeNumber);
        Audit.EnsureIndex(e => e.Sequence, unique: true);
        try
        {
            lock (WriteLock)
            {
                Db.BeginTrans();
                AuditChain.EnsureChainedLocked(Audit, Counters);
                StoreOpenDueAtLocked();
                SealRecordsOnceLocked((time ?? TimeProvider.System).GetUtcNow());
                Db.Commit();
            }
        }
        catch
        {
            // Refused at opening: release the file and the directory, so the operator's migrate-audit can take them.
            Db.Dispose();
            directoryLock?.Dispose();
            throw;
        }
    }

    public string FilePath { get; }
    public LiteDatabase Db { get; }
    public ILiteCollection<EmergencyChange> Changes { get; }
    public ILiteCollection<AuditEvent> Audit { get; }
    public ILiteCollection<BsonDocument> Counters { get; }
    public ILiteCollection<BsonDocument> Seen { get; }
    public ILiteCollection<BsonDocument> People { get; }
    public ILiteCollection<BsonDocument> Inbox { get; }
    /// <summary>Every write takes it, so read-modify-write never loses an update.</summary>
    public Lock WriteLock { get; } = new();

    /// <summary>Runs <paramref name="write"/> in one transaction under the write lock; never leaves the thread's transaction open.</summary>
    public T InTransaction<T>(Func<T> write)
    {
        lock (WriteLock)
        {
            Db.BeginTrans();
            try
            {
                var result = write();
                Db.Commit();
                return result;
            }
            catch
            {
                // An open transaction would swallow this thread's next write, which would then never commit.
                Db.Rollback();
                throw;
            }
        }
    }

    /// <summary>
    /// A query with its values as parameters: LiteDB compiles and caches for good every new expression text, so values
    /// inlined by Query.EQ/LT/Between would be compiled on every call and never freed.
    /// </summary>
    public static BsonExpression Where(string template, params BsonValue[] args) => BsonExpression.Create(template, args);


    public const string IsOpen = "$.Status = 'Open'";

    /// <summary>
    /// LiteDB cuts DateTimeOffset to milliseconds and drops its offset, and reads DateTime back as Local:
    /// store UTC ticks instead, so times round-trip exactly.
    /// </summary>
    internal static BsonMapper CreateMapper()
    {
        var mapper = new BsonMapper { EnumAsInteger = false };
        mapper.RegisterType(d => new BsonValue(d.UtcTicks), b => new DateTimeOffset(b.AsInt64, TimeSpan.Zero));
        // LiteDB publishes a type's mapper before its members are filled in (litedb-org/LiteDB#2536): build every
        // mapper now, on one thread, before another can read a half-built one.
        MapAhead(mapper, typeof(EmergencyChange));
        MapAhead(mapper, typeof(AuditEvent));
        return mapper;
    }

    static readonly MethodInfo EntityMethod = typeof(BsonMapper).GetMethod(nameof(BsonMapper.Entity))!;

    /// <summary>
    /// Builds the mapper of <paramref name="type"/> and of every type its members hold, so none is built on first use;
    /// the caller makes sure nobody else uses the mapper for these types meanwhile.
    /// </summary>
    internal static void MapAhead(BsonMapper mapper, Type type, HashSet<Type>? done = null)
    {
        done ??= [];
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type.IsArray) type = type.GetElementType()!;
        else if (type.IsGenericType && type.GetInterfaces().Append(type).FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>)) is { } sequence)
        {
            // A list holds its items; a dictionary its values.
            var item = sequence.GetGenericArguments()[0];
            MapAhead(mapper, item.IsGenericType && item.GetGenericTypeDefinition() == typeof(KeyValuePair<,>) ? item.GetGenericArguments()[1] : item, done);
            return;
        }
        if (type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(DateTime) || type == typeof(DateTimeOffset)
            || type == typeof(TimeSpan) || type == typeof(Guid) || type == typeof(object) || typeof(BsonValue).IsAssignableFrom(type) || type == typeof(ObjectId)
            || !done.Add(type)) return;
        EntityMethod.MakeGenericMethod(type).Invoke(mapper, null);
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanRead && p.GetIndexParameters().Length == 0))
            MapAhead(mapper, property.PropertyType, done);
    }

    const string StateSealMarker = "state-seal";

    /// <summary>
    /// A file from before records were sealed: seal every change as found, once, so an edit after the upgrade shows. What
    /// was edited before it cannot be told; the seal's event says the state was taken as found.
    /// </summary>
    void SealRecordsOnceLocked(DateTimeOffset now)
    {
        if (Counters.FindById(StateSealMarker) is not null) return;
        long sealedCount = 0;
        foreach (var change in Changes.FindAll().ToList())
        {
            AuditChain.AppendLocked(Audit, Counters, new AuditEvent
            {
                ChangeNumber = change.Id, At = now, Actor = "bot", Type = AuditTypes.StateRecorded,
                State = ChangeState.Hash(change), PreviousState = "",
                Data = new() { ["changed"] = "all", [ChangeSealTracker.TakenAsFound] = "sealed when the bot was upgraded: the record as found then" },
            });
            sealedCount++;
        }
        Counters.Insert(new BsonDocument { ["_id"] = StateSealMarker, ["version"] = 1, ["sealed"] = sealedCount });
    }

    const string OpenDueAtMarker = "open-due-at";

    /// <summary>Files written before <see cref="EmergencyChange.OpenDueAt"/> existed: store it on every open change, once.</summary>
    void StoreOpenDueAtLocked()
    {
        if (Counters.FindById(OpenDueAtMarker) is not null) return;
        foreach (var change in Changes.Find(Where(IsOpen)).ToList()) Changes.Update(change);
        Counters.Insert(new BsonDocument { ["_id"] = OpenDueAtMarker, ["version"] = 1 });
    }


    /// <summary>
    /// A consistent copy of the file while the bot runs: under the write lock no transaction is open, and a checkpoint
    /// moves LiteDB's write-ahead log into the data file, so the data file alone holds every committed write.
    /// The copy is opened read-only before it takes <paramref name="destination"/>'s name: a copy that cannot be read is no backup.
    /// </summary>
    public BackupResult CopyTo(string destination)
    {
        var temporary = destination + ".partial";
        var paused = System.Diagnostics.Stopwatch.StartNew();
        lock (WriteLock)
        {
            paused.Restart();
            Db.Checkpoint();
            File.Copy(FilePath, temporary, overwrite: true);
            paused.Stop();
        }
        long changes, events;
        try
        {
            // On disk before it takes the backup's name: a crash must not leave a name over a half-written copy.
            using (var written = new FileStream(temporary, FileMode.Open, FileAccess.ReadWrite)) written.Flush(flushToDisk: true);
            using (var copy = new LiteDatabase(new ConnectionString { Filename = temporary, Connection = ConnectionType.Direct, ReadOnly = true }, CreateMapper()))
            {
                changes = copy.GetCollection("changes").LongCount();
                events = copy.GetCollection("audit").LongCount();
            }
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
        File.Move(temporary, destination, overwrite: true);
        return new BackupResult(destination, new FileInfo(destination).Length, changes, events, paused.Elapsed);
    }

    public void Dispose()
    {
        Db.Dispose();
        directoryLock?.Dispose();
    }
}
