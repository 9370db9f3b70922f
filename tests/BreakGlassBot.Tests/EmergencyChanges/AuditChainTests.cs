using System.Security.Cryptography;
using System.Text;
using BreakGlassBot.EmergencyChanges;
using LiteDB;

namespace BreakGlassBot.Tests.EmergencyChanges;

public class AuditChainTests : IDisposable
{
    readonly string path = Path.Combine(Path.GetTempPath(), "bgb-chain-" + Guid.NewGuid().ToString("N"), "breakglass.db");

    public void Dispose()
    {
        try { Directory.Delete(Path.GetDirectoryName(path)!, true); } catch (IOException) { }
    }

    static readonly DateTimeOffset T0 = new(2026, 7, 1, 9, 0, 0, TimeSpan.Zero);

    static AuditEvent Event(int change, string type, int minute, Dictionary<string, string>? data = null) =>
        new() { ChangeNumber = change, At = T0.AddMinutes(minute), Actor = "U0DECLARER", Type = type, Data = data ?? [] };

    /// <summary>Two changes and six events, written through the store as the bot writes them.</summary>
    void WriteHistory()
    {
        using var store = new ChangeStore(path);
        store.Declare(new EmergencyChange { Summary = "a", DeclaredBy = "U0DECLARER", DeclaredAt = T0, DueAt = T0.AddDays(2) },
            c => [Event(c.Id, AuditTypes.Declared, 0, new() { ["summary"] = "a", ["policy"] = "2d 0h after declaration" })]);
        store.Update(1, c => [Event(c.Id, AuditTypes.Announced, 1, new() { ["ts"] = "1.1" })]);
        store.Declare(new EmergencyChange { Summary = "b", DeclaredBy = "U0DECLARER", DeclaredAt = T0, DueAt = T0.AddDays(2) },
            c => [Event(c.Id, AuditTypes.Declared, 2, new() { ["summary"] = "b" })]);
        store.Update(1, c => [Event(c.Id, AuditTypes.Approved, 3, new() { ["source"] = "button", ["comment"] = "lgtm" })]);
        store.Update(2, c => [Event(c.Id, AuditTypes.Cancelled, 4, new() { ["reason"] = "duplicate" }), Event(c.Id, AuditTypes.StepFailed, 5)]);
    }

    static LiteDatabase Raw(string path) => new(new ConnectionString { Filename = path, Connection = ConnectionType.Direct }, ChangeStore.CreateMapper());

    [Fact]
    public void EveryAppendedEventCarriesTheHashOfItsPredecessor()
    {
        WriteHistory();
        using var store = new ChangeStore(path);
        var events = Enumerable.Range(1, 2).SelectMany(store.AuditTrail).OrderBy(e => e.Sequence).ToList();
        Assert.Equal([1L, 2, 3, 4, 5, 6], events.Select(e => e.Sequence));
        Assert.Equal(AuditChain.Genesis, events[0].PreviousHash);
        for (var i = 1; i < events.Count; i++) Assert.Equal(events[i - 1].Hash, events[i].PreviousHash);
        Assert.All(events, e => Assert.Equal(AuditChain.HashOf(e), e.Hash));
        Assert.Equal(6, events.Select(e => e.Hash).Distinct().Count());

        var report = store.VerifyAuditChain();
        Assert.True(report.Intact, report.Describe());
        Assert.Equal(6, report.Events);
        Assert.Equal(6, report.HeadSequence);
        Assert.Equal(events[^1].Hash, report.HeadHash);
        Assert.Equal(0, report.Migrated);
    }

    [Fact]
    public void ValuesLiteDbNormalisesStillVerifyAfterTheRoundTrip()
    {
        // LiteDB's mapper trims strings and stores "" as null: what is hashed must be what is stored.
        using (var store = new ChangeStore(path))
            store.Append(new AuditEvent { ChangeNumber = 1, At = T0, Actor = " U0REV1 ", Type = AuditTypes.Approved, Data = new() { ["comment"] = "  lgtm\n", ["name"] = "", ["x"] = null! } });
        using (var store = new ChangeStore(path))
        {
            var report = store.VerifyAuditChain();
            Assert.True(report.Intact, report.Describe());
            var e = Assert.Single(store.AuditTrail(1));
            Assert.Equal("U0REV1", e.Actor);
            Assert.Equal("lgtm", e.Data["comment"]);
        }
    }

    [Fact]
    public void TheCanonicalFormIsFixedTextWithSortedDataAndUtcTicks()
    {
        var e = new AuditEvent
        {
            Sequence = 7, ChangeNumber = 3, At = new DateTimeOffset(2026, 7, 1, 11, 0, 0, TimeSpan.FromHours(2)), Actor = "U0REV1", Type = "approved",
            Data = new() { ["source"] = "button", ["comment"] = "grüß", ["a"] = "" }, PreviousHash = new string('a', 64),
        };
        var expected = "breakglass-audit-v1\nsequence:7\nchange:3\nat:" + new DateTime(2026, 7, 1, 9, 0, 0).Ticks + "\n"
            + "actor:6:U0REV1\ntype:8:approved\ndata:3\na:0:\ncomment:6:grüß\nsource:6:button\nprevious:64:" + new string('a', 64) + "\n";
        Assert.Equal(expected, AuditChain.Canonical(e));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(expected))), AuditChain.HashOf(e));

        // The same facts in another insertion order and offset hash the same: nothing depends on LiteDB's field order.
        var reordered = new AuditEvent
        {
            Sequence = 7, ChangeNumber = 3, At = e.At.ToUniversalTime(), Actor = "U0REV1", Type = "approved",
            Data = new() { ["a"] = "", ["comment"] = "grüß", ["source"] = "button" }, PreviousHash = new string('a', 64),
        };
        Assert.Equal(AuditChain.HashOf(e), AuditChain.HashOf(reordered));
        // Length prefixes keep field boundaries: moving text from one value into a key changes the hash.
        reordered.Data = new() { ["a"] = "", ["comment"] = "grüß\nsource:6:button" };
        Assert.NotEqual(AuditChain.HashOf(e), AuditChain.HashOf(reordered));
    }

    public static TheoryData<string, long, ChainFault> Tamperings => new()
    {
        { "edit the data of #4", 4, ChainFault.Altered },
        { "edit the time of #2", 2, ChainFault.Altered },
        { "edit the hash of #3 to match its edited data", 4, ChainFault.Relinked },
        { "delete #3", 3, ChainFault.Removed },
        { "delete #3 and renumber the rest", 3, ChainFault.Relinked },
        { "delete the last event", 6, ChainFault.Removed },
        { "insert an event without a hash at #3, renumbering the rest", 3, ChainFault.Inserted },
        { "insert an event with a recomputed hash at #3, renumbering the rest", 4, ChainFault.Relinked },
        { "append an event without a hash", 7, ChainFault.Inserted },
    };

    [Theory]
    [MemberData(nameof(Tamperings))]
    public void TamperingWithTheFileIsReportedAtTheFirstBadEvent(string tampering, long firstBad, ChainFault fault)
    {
        WriteHistory();
        Tamper(path, tampering);

        var offline = AuditChain.VerifyFile(path);
        Assert.False(offline.Intact);
        Assert.Equal(firstBad, offline.FirstBreak!.Sequence);
        Assert.Equal(fault, offline.FirstBreak.Fault);

        using var store = new ChangeStore(path); // reopening must not "repair" anything
        var report = store.VerifyAuditChain();
        Assert.Equal(offline, report);
        Assert.Contains($"#{firstBad}", report.Describe());
    }

    /// <summary>What someone with write access to the data file might do, with a second LiteDatabase while the bot is stopped.</summary>
    internal static void Tamper(string path, string tampering)
    {
        using var db = Raw(path);
        var audit = db.GetCollection<AuditEvent>("audit");
        var counters = db.GetCollection<BsonDocument>("counters");
        AuditEvent Get(long seq) => audit.FindOne(e => e.Sequence == seq);
        void Shift(long from, int by)
        {
            var moved = audit.Find(e => e.Sequence >= from).OrderBy(e => by > 0 ? -e.Sequence : e.Sequence).ToList();
            foreach (var e in moved)
            {
                audit.Delete(e.Id);
                e.Sequence += by;
                e.Id = e.Sequence;
                audit.Insert(e);
            }
            var head = counters.FindById("audit");
            head["value"] = head["value"].AsInt64 + by;
            counters.Update(head);
        }
        AuditEvent Forged(long seq) => new()
        {
            Id = seq, Sequence = seq, ChangeNumber = 2, At = T0.AddMinutes(2.5), Actor = "U0REV1", Type = AuditTypes.Approved,
            Data = new() { ["source"] = "button" },
        };
        switch (tampering)
        {
            case "edit the data of #4":
                var approved = Get(4);
                approved.Data["comment"] = "reviewed the diff carefully";
                audit.Update(approved);
                break;
            case "edit the time of #2":
                var announced = Get(2);
                announced.At = announced.At.AddHours(-1);
                audit.Update(announced);
                break;
            case "edit the hash of #3 to match its edited data":
                var declared = Get(3);
                declared.Data["summary"] = "something else";
                declared.Hash = AuditChain.HashOf(declared);
                audit.Update(declared);
                break;
            case "delete #3":
                audit.Delete(3);
                break;
            case "delete #3 and renumber the rest":
                audit.Delete(3);
                Shift(4, -1);
                break;
            case "delete the last event":
                audit.Delete(6);
                break;
            case "insert an event without a hash at #3, renumbering the rest":
                Shift(3, +1);
                audit.Insert(Forged(3));
                break;
            case "insert an event with a recomputed hash at #3, renumbering the rest":
                Shift(3, +1);
                var forged = Forged(3);
                AuditChain.Seal(forged, Get(2).Hash!);
                audit.Insert(forged);
                break;
            case "append an event without a hash":
                audit.Insert(Forged(7));
                var head = counters.FindById("audit");
                head["value"] = 7L;
                counters.Update(head);
                break;
            default: throw new ArgumentException(tampering);
        }
    }

    [Fact]
    public void AFileWhoseChainMarkerWasDeletedIsRefusedNotResealed()
    {
        using (var store = new ChangeStore(path))
            for (var i = 1; i <= 3; i++) store.Append(Event(1, AuditTypes.Announced, i));
        using (var db = Raw(path)) // edit an event, then delete the marker so a re-seal would hide the edit
        {
            var audit = db.GetCollection<AuditEvent>("audit");
            var second = audit.FindOne(e => e.Sequence == 2);
            second.Actor = "U0SOMEONE_ELSE";
            audit.Update(second);
            db.GetCollection<BsonDocument>("counters").Delete(AuditChain.MarkerId);
        }

        var refused = Assert.Throws<AuditChainUnsealedException>(() => new ChangeStore(path));
        Assert.Equal((3, 3), (refused.Events, refused.Hashed));
        Assert.Contains("marker was deleted", refused.Message);
        Assert.Contains("migrate-audit", refused.Message);
        // Nothing was written: the edited event still fails its own hash once the marker is back.
        using (var db = Raw(path))
        {
            var audit = db.GetCollection<AuditEvent>("audit");
            Assert.NotEqual(audit.FindOne(e => e.Sequence == 2).Hash, AuditChain.HashOf(audit.FindOne(e => e.Sequence == 2)));
        }
        // And the refusal let go of the directory: the operator's migration can take it.
        Assert.Equal(3, AuditChain.MigrateFile(path, "operator:test", "investigated: the edit was a test", T0.AddDays(1)));
        using var reopened = new ChangeStore(path);
        var record = Assert.Single(reopened.AuditTrail(0));
        Assert.Equal((4L, AuditChain.MigratedType, "3"), (record.Sequence, record.Type, record.Data["hashed_before"]));
        Assert.Equal("investigated: the edit was a test", record.Data["reason"]);
        var report = reopened.VerifyAuditChain();
        Assert.True(report.Intact);
        // Intact again, but never quietly: the report says the trail was chained afresh over events that had hashes.
        Assert.Contains("3 of which already had hashes: the chain marker had been removed", report.Describe());
    }

    [Fact]
    public void EventsFromBeforeTheChainAreChainedOnlyOnTheRecordAndLaterUnhashedEventsAreNotLaundered()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using (var db = Raw(path)) // a data file written by the previous version: events without hashes, no marker
        {
            var audit = db.GetCollection<AuditEvent>("audit");
            for (var i = 1; i <= 3; i++) audit.Insert(new AuditEvent { Id = i, Sequence = i, ChangeNumber = 1, At = T0.AddMinutes(i), Actor = "bot", Type = AuditTypes.Announced });
            db.GetCollection<BsonDocument>("counters").Insert(new BsonDocument { ["_id"] = "audit", ["value"] = 3L });
        }
        Assert.Equal(ChainFault.NotChained, AuditChain.VerifyFile(path).FirstBreak!.Fault);
        var refused = Assert.Throws<AuditChainUnsealedException>(() => new ChangeStore(path));
        Assert.Equal((3, 0), (refused.Events, refused.Hashed));
        Assert.Contains("predates the hash chain", refused.Message);
        Assert.Equal(3, AuditChain.MigrateFile(path, "operator:test", "upgrade", T0.AddDays(1)));

        using (var store = new ChangeStore(path))
        {
            var migrated = store.VerifyAuditChain();
            Assert.True(migrated.Intact, migrated.Describe());
            Assert.Equal(3, migrated.Migrated);
            Assert.Contains("events #1–#3 were chained afresh by migrate-audit (operator:test", migrated.Describe());
            Assert.DoesNotContain("already had hashes", migrated.Describe());
            Assert.Equal(AuditChain.MigratedType, Assert.Single(store.AuditTrail(0)).Type); // #4: who chained it, and why
            store.Append(Event(1, AuditTypes.Approved, 10));
            Assert.Equal(5, store.VerifyAuditChain().Events);
            Assert.Equal(store.AuditTrail(0)[0].Hash, store.AuditTrail(1)[3].PreviousHash);
        }
        using (var db = Raw(path)) // an old-style event slipped in afterwards
        {
            db.GetCollection<AuditEvent>("audit").Insert(new AuditEvent { Id = 6, Sequence = 6, ChangeNumber = 1, At = T0.AddMinutes(11), Actor = "U0X", Type = AuditTypes.Approved });
            var head = db.GetCollection<BsonDocument>("counters").FindById("audit");
            head["value"] = 6L;
            db.GetCollection<BsonDocument>("counters").Update(head);
        }
        using (var store = new ChangeStore(path))
        {
            var report = store.VerifyAuditChain();
            Assert.False(report.Intact);
            Assert.Equal(6, report.FirstBreak!.Sequence);
            Assert.Equal(ChainFault.Inserted, report.FirstBreak.Fault);
        }
    }
}
