using BreakGlassBot.EmergencyChanges;

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
