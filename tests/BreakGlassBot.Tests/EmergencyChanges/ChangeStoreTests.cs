using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.EmergencyChanges;

public class ChangeStoreTests : IDisposable
{
    readonly string path = Path.Combine(Path.GetTempPath(), "bgb-store-" + Guid.NewGuid().ToString("N"), "breakglass.db");
    readonly ChangeStore store;

    public ChangeStoreTests() => store = new ChangeStore(path);

    public void Dispose()
    {
        store.Dispose();
        Directory.Delete(Path.GetDirectoryName(path)!, true);
    }

    static EmergencyChange Draft(string summary = "x", DateTimeOffset? at = null) =>
        new() { Summary = summary, DeclaredBy = "U1", DeclaredAt = at ?? DateTimeOffset.UnixEpoch, DueAt = (at ?? DateTimeOffset.UnixEpoch).AddDays(2) };

    static EmergencyChange WithSource(EmergencyChange c, string key)
    {
        c.SourceKey = key;
        return c;
    }

    [Fact]
    public void TimesRoundTripToTheTickAndComeBackInUtc()
    {
        var at = new DateTimeOffset(2026, 3, 29, 1, 59, 59, TimeSpan.FromHours(2)).AddTicks(1234567);
        store.Declare(Draft(at: at), _ => []);
        using (store) { }
        using var reopened = new ChangeStore(path);
        var back = reopened.Get(1)!;
        Assert.Equal(at.UtcTicks, back.DeclaredAt.UtcTicks);
        Assert.Equal(TimeSpan.Zero, back.DeclaredAt.Offset);
        Assert.Equal(at.AddDays(2), back.DueAt);
    }

    [Fact]
    public async Task ConcurrentDeclarationsGetDistinctSequentialIdsAndOneAuditEventEach()
    {
        await Task.WhenAll(Enumerable.Range(0, 200).Select(i => Task.Run(() =>
            store.DeclareAsync(Draft($"change {i}"), c => [new AuditEvent { ChangeNumber = c.Id, Type = AuditTypes.Declared }]))));
        Assert.Equal(200, store.Count());
        Assert.Equal(Enumerable.Range(1, 200), Enumerable.Range(1, 200).Where(i => store.Get(i) is not null));
        Assert.Equal(200, store.AuditCount());
        Assert.All(Enumerable.Range(1, 200), i => Assert.Single(store.AuditTrail(i)));
    }

    [Fact]
    public async Task ConcurrentUpdatesToOneChangeAreNotLost()
    {
        store.Declare(Draft(), _ => []);
        await Task.WhenAll(Enumerable.Range(0, 300).Select(i => Task.Run(() =>
            store.Update(1, c => { c.Steps.Add(new PendingStep { Kind = "k" + i, State = StepState.Done }); return []; }))));
        Assert.Equal(300, store.Get(1)!.Steps.Count);
    }

    /// <summary>Found by the mutation fuzzer: a declaration the store refuses (an index key over LiteDB's 1,023 bytes) failed its whole group commit.</summary>
    [Fact]
    public async Task ADeclarationTheStoreRefusesFailsAloneNotTheOthersWrittenWithIt()
    {
        var tasks = new List<Task<(EmergencyChange Change, bool Created)>>();
        for (var i = 0; i < 20; i++)
            tasks.Add(store.DeclareAsync(i == 7 ? WithSource(Draft("refused"), new string('k', 2000)) : Draft($"ok {i}"), c => [new AuditEvent { ChangeNumber = c.Id, Type = AuditTypes.Declared }]));
        await Assert.ThrowsAsync<LiteDB.LiteException>(() => tasks[7]);
        var stored = new List<EmergencyChange>();
        for (var i = 0; i < tasks.Count; i++) if (i != 7) stored.Add((await tasks[i]).Change);
        Assert.Equal(19, stored.Select(c => c.Id).Distinct().Count());
        Assert.Equal(Enumerable.Range(1, 19), stored.Select(c => c.Id).Order());
        Assert.Equal(19, store.Count());
        Assert.Equal(19, store.AuditCount());
        Assert.True(store.VerifyAuditChain().Intact);
        Assert.Equal("ok 0", store.Get(1)!.Summary);
        Assert.Equal(20, (await store.DeclareAsync(Draft("after"), _ => [])).Change.Id); // the writer carries on
    }

    /// <summary>The chain is walked outside the write lock: events appended during the walk are neither reported as inserted nor held up.</summary>
    [Fact]
    public async Task VerifyingWhileEventsAreAppendedReportsAnIntactTrail()
    {
        store.Declare(Draft(), _ => []);
        int appended = 0, verified = 0;
        // The writer keeps appending until five verifications have run, so every one of them overlaps appends.
        var writer = Task.Run(async () =>
        {
            while (Volatile.Read(ref verified) < 5 && appended < 100_000)
            {
                await store.UpdateAsync(1, c => [new AuditEvent { ChangeNumber = c.Id, Type = "test" }]);
                Interlocked.Increment(ref appended);
            }
        });
        await Eventually.Until(() => Volatile.Read(ref appended) > 0 || writer.IsCompleted, "the writer appended an event");
        var reports = new List<ChainReport>();
        while (!writer.IsCompleted)
        {
            reports.Add(store.VerifyAuditChain());
            Interlocked.Increment(ref verified);
        }
        await writer;
        Assert.True(reports.Count >= 5, $"{reports.Count} verification(s) while appending");
        Assert.All(reports, r => Assert.True(r.Intact, r.Describe()));
        Assert.True(store.VerifyAuditChain().Intact);
    }

    [Fact]
    public async Task GroupCommittedUpdatesMixedWithLockedOnesAndDeclarationsLoseNothing()
    {
        store.Declare(Draft(), _ => []);
        await Task.WhenAll(Enumerable.Range(0, 300).Select(i => Task.Run(async () =>
        {
            Func<EmergencyChange, IEnumerable<AuditEvent>> add = c =>
            {
                c.Steps.Add(new PendingStep { Kind = "k" + i, State = StepState.Done });
                return [new AuditEvent { ChangeNumber = c.Id, Type = "test" }];
            };
            if (i % 3 == 0) store.Update(1, add);
            else if (i % 3 == 1) Assert.NotNull(await store.UpdateAsync(1, add));
            else await store.DeclareAsync(Draft($"change {i}"), c => [new AuditEvent { ChangeNumber = c.Id, Type = AuditTypes.Declared }]);
        })));
        Assert.Equal(200, store.Get(1)!.Steps.Count);
        // One event per update, and the store's own record of the declaration made without an event (its sealed state).
        Assert.Equal(201, store.AuditTrail(1).Count);
        Assert.Equal(AuditTypes.StateRecorded, store.AuditTrail(1)[0].Type);
        Assert.Equal(101, store.Count());
        Assert.True(store.VerifyAuditChain().Intact);
    }

    [Fact]
    public async Task AnUpdateWhoseMutationThrowsSavesNothingOfItAndFailsAloneInItsBatch()
    {
        store.Declare(Draft(), _ => []);
        var tasks = Enumerable.Range(0, 50).Select(i => store.UpdateAsync(1, c =>
        {
            c.Steps.Add(new PendingStep { Kind = "k" + i });
            if (i % 5 == 0) throw new InvalidOperationException("boom " + i);
            return [new AuditEvent { ChangeNumber = c.Id, Type = "test" }];
        })).ToList();
        var failed = 0;
        foreach (var t in tasks)
        {
            try { await t; }
            catch (InvalidOperationException) { failed++; }
        }
        Assert.Equal(10, failed);
        var steps = store.Get(1)!.Steps.Select(st => st.Kind).ToList();
        Assert.Equal(Enumerable.Range(0, 50).Where(i => i % 5 != 0).Select(i => "k" + i), steps);
        Assert.Equal(40, store.AuditTrail(1).Count(e => e.Type == "test"));
        Assert.Equal(41, store.AuditTrail(1).Count); // and the declaration's sealed state
        Assert.Null(await store.UpdateAsync(99, _ => []));
    }

    [Fact]
    public void TheSameSourceKeyDeclaresOnce()
    {
        var first = store.Declare(WithSource(Draft(), "modal:V1"), _ => []);
        var second = store.Declare(WithSource(Draft(), "modal:V1"), _ => []);
        Assert.True(first.Created);
        Assert.False(second.Created);
        Assert.Equal(first.Change.Id, second.Change.Id);
        Assert.Equal(1, store.Count());
    }

    [Fact]
    public void OnlyChangesWithDueStepsAreSwept()
    {
        var now = DateTimeOffset.UnixEpoch.AddDays(1);
        var due = Draft();
        due.Steps.Add(new PendingStep { Kind = "a", NextAttemptAt = now.AddSeconds(-1) });
        var later = Draft();
        later.Steps.Add(new PendingStep { Kind = "a", NextAttemptAt = now.AddMinutes(5) });
        var done = Draft();
        done.Steps.Add(new PendingStep { Kind = "a", State = StepState.Done, NextAttemptAt = now.AddSeconds(-10) });
        store.Declare(due, _ => []);
        store.Declare(later, _ => []);
        store.Declare(done, _ => []);
        Assert.Equal([1], store.WithDueSteps(now).Select(c => c.Id));
        Assert.Null(store.Get(3)!.NextStepAt);
    }


    [Fact]
    public void OverdueIsOpenAndPastItsDueTime()
    {
        var now = DateTimeOffset.UnixEpoch.AddDays(3);
        store.Declare(Draft(at: DateTimeOffset.UnixEpoch), _ => []);               // due day 2: overdue
        store.Declare(Draft(at: DateTimeOffset.UnixEpoch.AddDays(2)), _ => []);    // due day 4: not yet
        var cancelled = Draft(at: DateTimeOffset.UnixEpoch);
        cancelled.Status = ChangeStatus.Cancelled;
        store.Declare(cancelled, _ => []);
        Assert.Equal([1], store.Overdue(now).Select(c => c.Id));
    }
}

/// <summary>The due-time index and the times projection give exactly what loading every change and filtering it gives.</summary>
public class ChangeStoreIndexedQueryTests : IDisposable
{
    static readonly DateTimeOffset Now = new(2026, 3, 16, 9, 0, 0, TimeSpan.Zero);
    readonly string path = Path.Combine(Path.GetTempPath(), "bgb-store-" + Guid.NewGuid().ToString("N"), "breakglass.db");
    readonly ChangeStore store;

    public ChangeStoreIndexedQueryTests() => store = new ChangeStore(path);

    public void Dispose()
    {
        store.Dispose();
        Directory.Delete(Path.GetDirectoryName(path)!, true);
    }

    /// <summary>400 changes over ten weeks: due times on a coarse grid (many ties), all statuses, some reviewed late.</summary>
    void Seed()
    {
        var random = new Random(7);
        for (var i = 0; i < 400; i++)
        {
            var declared = Now - TimeSpan.FromHours(random.Next(0, 24 * 70));
            var status = (ChangeStatus)random.Next(0, 4);
            store.Declare(new EmergencyChange
            {
                DeclaredBy = "U" + random.Next(0, 5), Summary = "change " + i, DeclaredAt = declared,
                DueAt = Now + TimeSpan.FromHours(6 * random.Next(-60, 60)),
                Status = status,
                ReviewedAt = status == ChangeStatus.Reviewed ? declared + TimeSpan.FromHours(random.Next(1, 24 * 20)) : null,
            }, _ => []);
        }
        // Status changes after the insert must move a change out of the index too.
        for (var id = 1; id <= 400; id += 9)
            store.Update(id, c => { if (c.Status == ChangeStatus.Open) { c.Status = ChangeStatus.Reviewed; c.ReviewedAt = Now; } return []; });
    }

    List<EmergencyChange> All() => Enumerable.Range(1, store.Count()).Select(id => store.Get(id)!).ToList();

    [Theory]
    [InlineData(-1000, 0)]      // overdue, and exactly now
    [InlineData(0, 168)]        // due in the coming week
    [InlineData(-168, 0)]
    [InlineData(-100000, 100000)]
    public void OpenDueQueriesFindExactlyTheOpenChangesDueInTheRangeSoonestFirstTiesById(int fromHours, int toHours)
    {
        Seed();
        var from = Now + TimeSpan.FromHours(fromHours);
        var to = Now + TimeSpan.FromHours(toHours);
        var expected = All().Where(c => c.Status == ChangeStatus.Open && c.DueAt >= from && c.DueAt <= to).OrderBy(c => c.DueAt).ThenBy(c => c.Id).ToList();
        Assert.True(expected.Count > 15, "the seed gives more than a page");
        Assert.Equal(expected.Count, store.CountOpenDue(from, to));
        Assert.Equal(expected.Select(c => c.Id).Order(), store.OpenDueTimes(from, to).Select(t => t.Id).Order());
        foreach (var take in new[] { 0, 1, 7, 15, expected.Count + 3 })
            Assert.Equal(expected.Take(take).Select(c => c.Id), store.FirstOpenDue(from, to, take).Select(c => c.Id));
    }

    [Fact]
    public void OverdueListAndCountMatchIsOverdue()
    {
        Seed();
        var expected = All().Where(c => c.IsOverdue(Now)).OrderBy(c => c.DueAt).ThenBy(c => c.Id).Select(c => c.Id).ToList();
        Assert.Equal(expected, store.Overdue(Now).Select(c => c.Id));
        Assert.Equal(expected.Count, store.CountOverdue(Now));
    }

    [Fact]
    public void TimesAreTheChangesOwnFieldsAndCoverWhatWasDeclaredOrReviewedSince()
    {
        Seed();
        var since = Now - TimeSpan.FromDays(35);
        var expected = All().Where(c => c.DeclaredAt >= since || c.ReviewedAt >= since).Select(ChangeTimes.Of).OrderBy(t => t.Id).ToList();
        Assert.Equal(expected, store.DeclaredOrReviewedTimesSince(since).OrderBy(t => t.Id));
        Assert.Equal(store.DeclaredOrReviewedSince(since).Select(c => c.Id).Order(), store.DeclaredOrReviewedTimesSince(since).Select(t => t.Id).Order());
    }

    [Fact]
    public void AFileWrittenBeforeTheDueIndexGetsItsOpenChangesIndexedOnOpen()
    {
        var dir = Path.Combine(Path.GetTempPath(), "bgb-store-" + Guid.NewGuid().ToString("N"));
        var oldPath = Path.Combine(dir, "breakglass.db");
        Directory.CreateDirectory(dir);
        // What an older version wrote: the change document without OpenDueAt.
        using (var old = new LiteDB.LiteDatabase(oldPath, ChangeStore.CreateMapper()))
        {
            var doc = old.Mapper.ToDocument(new EmergencyChange { Id = 1, Summary = "old", DeclaredBy = "U1", DeclaredAt = Now - TimeSpan.FromDays(3), DueAt = Now - TimeSpan.FromDays(1) });
            doc.Remove(nameof(EmergencyChange.OpenDueAt));
            old.GetCollection("changes").Insert(doc);
            old.GetCollection("counters").Insert(new LiteDB.BsonDocument { ["_id"] = "change", ["value"] = 1 });
        }
        try
        {
            using var reopened = new ChangeStore(oldPath);
            Assert.Equal([1], reopened.Overdue(Now).Select(c => c.Id));
            Assert.Equal(1, reopened.CountOverdue(Now));
        }
        finally { Directory.Delete(dir, true); }
    }
}

/// <summary>LiteDB's expression cache is one per process: counted alone, so another test's first queries do not add to it.</summary>
[Collection(SerialCollection.Name)]
public class ExpressionCacheTests
{
    [Fact]
    public void QueriesWithTheTimeInThemAreParsedOnceNotOncePerCall()
    {
        // LiteDB 5.0.21 compiles every expression text it has not seen and keeps the delegate for good; a value written
        // into the text made each call a new entry (and a ~3 ms compile). Parameters keep the text fixed.
        int Compiled() => new[] { "_cacheScalar", "_cacheEnumerable" }.Sum(name => ((System.Collections.ICollection)typeof(LiteDB.BsonExpression)
            .GetField(name, System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!.GetValue(null)!).Count);
        var path = Path.Combine(Path.GetTempPath(), "bgb-store-" + Guid.NewGuid().ToString("N"), "breakglass.db");
        using var store = new ChangeStore(path);
        store.Declare(new EmergencyChange { Summary = "x", DeclaredBy = "U1", DeclaredAt = DateTimeOffset.UnixEpoch, DueAt = DateTimeOffset.UnixEpoch.AddDays(2) }, _ => []);
        void Sweep(int i)
        {
            var now = DateTimeOffset.UnixEpoch.AddMinutes(i);
            store.WithDueSteps(now);
            store.UntrackedOpenChanges(now);
            store.Overdue(now);
            store.CountOverdue(now);
            store.DeclaredOrReviewedSince(now);
            store.DeclaredOrReviewedTimesSince(now);
            store.DeclaredBetween(now, now.AddDays(1));
            store.OpenChangesOf("U" + i);
            store.ByAnnouncement("C1", i.ToString());
            store.AuditTrail(i);
        }
        Sweep(0);
        var before = Compiled();
        for (var i = 1; i <= 50; i++) Sweep(i);
        Assert.True(Compiled() - before < 5, $"LiteDB compiled {Compiled() - before} new expressions in 50 sweeps");
    }
}
