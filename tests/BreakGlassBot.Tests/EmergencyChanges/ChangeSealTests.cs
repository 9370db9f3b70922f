using BreakGlassBot.EmergencyChanges;
using LiteDB;

namespace BreakGlassBot.Tests.EmergencyChanges;

/// <summary>The change record's state sealed into the audit trail: what it covers, and what an edit made outside the bot looks like.</summary>
public class ChangeSealTests : IDisposable
{
    readonly string path = Path.Combine(Path.GetTempPath(), "bgb-seal-" + Guid.NewGuid().ToString("N"), "breakglass.db");
    ChangeStore store;

    public ChangeSealTests() => store = new ChangeStore(path);

    public void Dispose()
    {
        store.Dispose();
        Directory.Delete(Path.GetDirectoryName(path)!, true);
    }

    static readonly DateTimeOffset At = new(2031, 3, 3, 10, 0, 0, TimeSpan.Zero);

    static EmergencyChange Draft() => new() { Summary = "Hotfix checkout", DeclaredBy = "U1", DeclaredAt = At, DueAt = At.AddDays(2) };

    static AuditEvent Declared(EmergencyChange c) => new() { ChangeNumber = c.Id, At = At, Actor = c.DeclaredBy, Type = AuditTypes.Declared };

    /// <summary>Edits the stored record as someone with the data file would: the bot stopped, LiteDB opened directly.</summary>
    void EditOutsideTheBot(Action<EmergencyChange> edit)
    {
        store.Dispose();
        using (var db = new LiteDatabase(new ConnectionString { Filename = path, Connection = ConnectionType.Direct }, ChangeStore.CreateMapper()))
        {
            var changes = db.GetCollection<EmergencyChange>("changes");
            var c = changes.FindById(1);
            edit(c);
            changes.Update(c);
        }
        store = new ChangeStore(path);
    }

    [Fact]
    public void TheDeclarationSealsTheStateAsStoredAndTheRecordVerifies()
    {
        store.Declare(Draft(), c => [Declared(c)]);
        var declared = Assert.Single(store.AuditTrail(1));
        Assert.Equal(ChangeState.Hash(store.Get(1)!), declared.State);
        Assert.Null(declared.PreviousState); // a new change: nothing before it
        var report = store.VerifyAuditChain();
        Assert.True(report.Trustworthy, report.Describe());
        Assert.Equal(0, report.UnsealedChanges);
    }

    [Fact]
    public void WorkAndReadTimesAreNotSealedButWhatHappenedIs()
    {
        var c = Draft();
        c.PullRequests = [new() { Owner = "acme", Repo = "pay", Number = 42, FetchedAt = At }];
        c.Evidence = [new() { Kind = "PullRequestApproved", Target = "acme/pay#42", CheckedAt = At }];
        var hash = ChangeState.Hash(c);

        c.Steps.Add(new PendingStep { Kind = "announce", NextAttemptAt = At });
        c.NextStepAt = At;
        c.NextCheckAt = At.AddHours(1);
        c.RefusalsNoted.Add("U9");
        c.PullRequests[0].FetchedAt = At.AddHours(1);
        c.PullRequests[0].ReviewCheckedAt = At.AddHours(1);
        c.Evidence[0].CheckedAt = At.AddHours(1);
        Assert.Equal(hash, ChangeState.Hash(c));

        foreach (var edit in new Action<EmergencyChange>[]
        {
            x => x.Summary = "Something else",
            x => x.Status = ChangeStatus.Reviewed,
            x => x.ReviewedAt = At,
            x => x.Approvals.Add(new Approval { Reviewer = "U2", At = At, Source = "button" }),
            x => x.PullRequests[0].ApprovedBy = "octocat",
            x => x.Evidence[0].Satisfied = true,
            x => x.Bypass = new Bypass { Mode = "Team", GrantedAt = At },
            x => x.DueAt = At.AddDays(30),
        })
        {
            var copy = ChangeStoreCopy(c);
            edit(copy);
            Assert.NotEqual(hash, ChangeState.Hash(copy));
        }
    }

    static EmergencyChange ChangeStoreCopy(EmergencyChange c)
    {
        var mapper = ChangeStore.CreateMapper();
        return mapper.ToObject<EmergencyChange>(mapper.ToDocument(c));
    }

    [Fact]
    public void AWriteWithoutAnEventOfItsOwnIsRecordedAndOneThatChangesNothingSealedIsNot()
    {
        store.Declare(Draft(), c => [Declared(c)]);
        store.Update(1, c => { c.Steps.Add(new PendingStep { Kind = "k", NextAttemptAt = At }); return []; });
        Assert.Single(store.AuditTrail(1));

        store.Update(1, c => { c.OverdueAt = At.AddDays(2); return []; });
        var recorded = store.AuditTrail(1)[^1];
        Assert.Equal((AuditTypes.StateRecorded, "bot", "OverdueAt"), (recorded.Type, recorded.Actor, recorded.Data["changed"]));
        Assert.Equal(store.AuditTrail(1)[0].State, recorded.PreviousState);
        Assert.Equal(ChangeState.Hash(store.Get(1)!), recorded.State);
        Assert.True(store.VerifyAuditChain().Trustworthy);
    }

    [Fact]
    public void AForgedApprovalAndStatusAreReportedAsTampering()
    {
        store.Declare(Draft(), c => [Declared(c)]);
        EditOutsideTheBot(c =>
        {
            c.Approvals.Add(new Approval { Reviewer = "U0FRIEND", At = At.AddHours(1), Source = "button" });
            (c.Status, c.ReviewedAt) = (ChangeStatus.Reviewed, At.AddHours(1));
        });

        var report = store.VerifyAuditChain();
        Assert.True(report.Intact); // the chain itself was not touched
        Assert.False(report.Trustworthy);
        Assert.Equal(
            ["the record differs from the state sealed in event #1: it was edited outside the bot since",
             "the record says reviewed, but the trail has no reviewed event",
             "the record lists an approval by U0FRIEND that the trail does not record"],
            report.StateProblems.Select(p => p.Detail));
        Assert.Contains("TAMPERED", report.Describe());
        Assert.True(ChangeSeals.Check(1, store.Get(1), store.AuditTrail(1)).Tampered);
    }

    [Fact]
    public void AnEditTheBotWritesOverStillShowsAsABreakInTheSealedStates()
    {
        store.Declare(Draft(), c => [Declared(c)]);
        EditOutsideTheBot(c => c.DueAt = At.AddDays(30));
        // The bot's next write seals the record as it found it: the trail keeps that it was not the state it had sealed.
        store.Update(1, c => { c.OverdueAt = At.AddDays(31); return []; });

        var problem = Assert.Single(store.VerifyAuditChain().StateProblems);
        Assert.Equal("BG-1: the record was changed outside the bot between events #1 and #2: the bot found it in a state it had not sealed", problem.ToString());
    }

    [Fact]
    public void ARecordWithoutADeclarationAndADeclaredChangeThatIsGoneAreBothReported()
    {
        store.Declare(Draft(), c => [Declared(c)]);
        store.Dispose();
        using (var db = new LiteDatabase(new ConnectionString { Filename = path, Connection = ConnectionType.Direct }, ChangeStore.CreateMapper()))
        {
            var changes = db.GetCollection<EmergencyChange>("changes");
            var forged = Draft();
            forged.Id = 7;
            changes.Insert(forged);
            changes.Delete(1);
        }
        store = new ChangeStore(path);
        Assert.Equal(
            ["BG-7: the change is in the store but not in the audit trail: it was not declared through the bot",
             "BG-1: the change was removed from the store (declared in event #1)"],
            store.VerifyAuditChain().StateProblems.Select(p => p.ToString()));
    }

    [Fact]
    public void AChangeFromBeforeSealingIsCheckedOnItsFacts()
    {
        // Events as an older bot wrote them: chained, with no state.
        var trail = new List<AuditEvent>();
        var previous = AuditChain.Genesis;
        foreach (var (type, actor) in new[] { (AuditTypes.Declared, "U1"), (AuditTypes.Approved, "U2") })
        {
            var e = new AuditEvent { Sequence = trail.Count + 1, ChangeNumber = 1, At = At, Actor = actor, Type = type };
            AuditChain.Seal(e, previous);
            previous = e.Hash!;
            trail.Add(e);
        }
        var c = Draft();
        c.Id = 1;
        c.Approvals.Add(new Approval { Reviewer = "U2", At = At, Source = "button" });
        var clean = ChangeSeals.Check(1, c, trail);
        Assert.Equal((false, true), (clean.Tampered, clean.Unsealed));

        c.Status = ChangeStatus.Reviewed;
        c.Approvals.Add(new Approval { Reviewer = "U3", At = At, Source = "button" });
        Assert.Equal(
            ["the record says reviewed, but the trail has no reviewed event", "the record lists an approval by U3 that the trail does not record"],
            ChangeSeals.Check(1, c, trail).Problems.Select(p => p.Detail));

        trail[1].Actor = "U9"; // and an event edited without re-hashing
        Assert.Contains(ChangeSeals.Check(1, c, trail).Problems, p => p.Detail.StartsWith("event #2 (approved) was altered", StringComparison.Ordinal));
    }
    [Fact]
    public void AFileFromBeforeSealingIsSealedOnceAtOpeningAndEditsAfterThatShow()
    {
        store.Declare(Draft(), c => [Declared(c)]);
        store.Dispose();
        // Make it a file an older bot wrote: no seals on any event, no sealing marker.
        using (var db = new LiteDatabase(new ConnectionString { Filename = path, Connection = ConnectionType.Direct }, ChangeStore.CreateMapper()))
        {
            var audit = db.GetCollection<AuditEvent>("audit");
            var e = audit.FindById(1);
            (e.State, e.PreviousState) = (null, null);
            AuditChain.Seal(e, AuditChain.Genesis);
            audit.Update(e);
            var head = db.GetCollection("counters").FindById(AuditChain.HeadId);
            head["hash"] = e.Hash;
            db.GetCollection("counters").Update(head);
            db.GetCollection("counters").Delete("state-seal");
        }
        store = new ChangeStore(path);
        var trail = store.AuditTrail(1);
        Assert.Equal([AuditTypes.Declared, AuditTypes.StateRecorded], trail.Select(e => e.Type));
        Assert.True(trail[1].Data.ContainsKey(ChangeSealTracker.TakenAsFound));
        var seal = ChangeSeals.Check(1, store.Get(1), trail);
        Assert.Equal((false, false, true), (seal.Tampered, seal.Unsealed, seal.FirstSealOfOlderChange));
        store.Dispose();
        store = new ChangeStore(path);
        Assert.Equal(2, store.AuditTrail(1).Count); // once

        EditOutsideTheBot(c => c.Summary = "Something harmless");
        Assert.Single(store.VerifyAuditChain().StateProblems);
    }

    [Fact]
    public void AnEmptyCancellationAddedOutsideTheBotIsAnEdit()
    {
        store.Declare(Draft(), c => [Declared(c)]);
        EditOutsideTheBot(c => c.Cancellation = new Cancellation());
        Assert.Contains(store.VerifyAuditChain().StateProblems, p => p.Detail.Contains("differs from the state sealed", StringComparison.Ordinal));
    }

    [Fact]
    public void AReviewDeadlineMovedLaterIsCaughtEvenWhereTheRecordWasSealedAfterTheEdit()
    {
        store.Declare(Draft(), c => [new AuditEvent { ChangeNumber = c.Id, At = At, Actor = c.DeclaredBy, Type = AuditTypes.Declared,
            Data = new() { ["due_at"] = c.DueAt.ToString("O") } }]);
        EditOutsideTheBot(c => c.DueAt = At.AddDays(30));
        Assert.Contains(store.VerifyAuditChain().StateProblems, p => p.Detail.StartsWith("the record's review deadline", StringComparison.Ordinal));
    }
}
