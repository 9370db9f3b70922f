using BreakGlassBot.Hosting;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Support;
using Npgsql;

namespace BreakGlassBot.Tests.EmergencyChanges;

/// <summary>
/// What every store engine guarantees (issue 20, item 2 and the claims of item 3), run on each engine. <see cref="First"/>
/// and <see cref="Second"/> are two replicas on the same data: two stores on one PostgreSQL database; on the embedded
/// file, which one process holds, the same store twice.
/// </summary>
public abstract class StoreContract : IAsyncLifetime
{
    protected ChangeStore First { get; set; } = null!;
    protected ChangeStore Second { get; set; } = null!;
    ChangeStore Replica(int i) => i % 2 == 0 ? First : Second;

    public abstract Task InitializeAsync();
    public abstract Task DisposeAsync();

    /// <summary>Edits what an audit event says, behind the bot's back.</summary>
    protected abstract void EditAuditComment(long sequence, string comment);
    protected abstract void DeleteAuditEvent(long sequence);
    /// <summary>Edits a change's stored summary, behind the bot's back.</summary>
    protected abstract void EditChangeSummary(int id, string summary);

    protected static readonly DateTimeOffset T0 = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    protected static EmergencyChange Draft(string summary = "x", string by = "U1", DateTimeOffset? at = null, TimeSpan? due = null) =>
        new() { Summary = summary, DeclaredBy = by, DeclaredAt = at ?? T0, DueAt = (at ?? T0) + (due ?? TimeSpan.FromDays(2)) };

    protected static IEnumerable<AuditEvent> Declared(EmergencyChange c) => [new AuditEvent { ChangeNumber = c.Id, At = T0, Actor = c.DeclaredBy, Type = AuditTypes.Declared }];

    [Fact]
    public async Task ConcurrentDeclarationsOnTwoReplicasGetGapFreeNumbers()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 120).Select(i => Task.Run(() => Replica(i).DeclareAsync(Draft($"change {i}"), Declared))));
        Assert.Equal(Enumerable.Range(1, 120), results.Select(r => r.Change.Id).Order());
        Assert.All(results, r => Assert.True(r.Created));
        Assert.Equal(120, Second.Count());
        Assert.Equal(120, First.AuditCount());
        Assert.All(Enumerable.Range(1, 120), id => Assert.Equal(AuditTypes.Declared, Assert.Single(Second.AuditTrail(id)).Type));
        var report = First.VerifyAuditChain();
        Assert.True(report.Trustworthy, report.Describe());
        Assert.Equal(120, (await Second.DeclareAsync(Draft("after"), Declared)).Change.Id - 1);
    }

    [Fact]
    public async Task ConcurrentUpdatesOfOneChangeOnTwoReplicasAreNotLost()
    {
        var id = (await First.DeclareAsync(Draft(), Declared)).Change.Id;
        await Task.WhenAll(Enumerable.Range(0, 100).Select(i => Task.Run(async () =>
        {
            if (i % 3 == 0) Replica(i).Update(id, c => { c.Reminders.Add(new Reminder { User = "U" + i, Kind = "reminder", At = T0 }); return []; });
            else await Replica(i).UpdateAsync(id, c =>
            {
                c.Reminders.Add(new Reminder { User = "U" + i, Kind = "reminder", At = T0 });
                return [new AuditEvent { ChangeNumber = id, At = T0, Actor = "bot", Type = AuditTypes.ReminderSent, Data = new() { ["to"] = "U" + i } }];
            });
        })));
        Assert.Equal(100, First.Get(id)!.Reminders.Select(r => r.User).Distinct().Count());
        var report = Second.VerifyAuditChain();
        Assert.True(report.Trustworthy, report.Describe());
        // Each write sealed the state it read: the trail's states follow one another with no gap.
        var states = First.AuditTrail(id).Where(e => e.State is not null).ToList();
        Assert.Equal(101, states.Count);
        for (var i = 1; i < states.Count; i++) Assert.Equal(states[i - 1].State, states[i].PreviousState);
    }

    [Fact]
    public async Task AMutationThatThrowsSavesNothing()
    {
        var id = (await First.DeclareAsync(Draft("before"), Declared)).Change.Id;
        var events = First.AuditCount();
        await Assert.ThrowsAsync<InvalidOperationException>(() => Second.UpdateAsync(id, c => { c.Summary = "after"; throw new InvalidOperationException("no"); }));
        Assert.Throws<InvalidOperationException>(() => Second.Update(id, c => { c.Summary = "after"; throw new InvalidOperationException("no"); }));
        Assert.Equal("before", First.Get(id)!.Summary);
        Assert.Equal(events, First.AuditCount());
        Assert.Null(await First.UpdateAsync(999, c => []));
    }

    [Fact]
    public async Task ADeclarationWithAKnownSourceKeyReturnsTheExistingChangeOnEitherReplica()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 30).Select(i => Task.Run(() =>
            Replica(i).DeclareAsync(new EmergencyChange { Summary = $"try {i}", DeclaredBy = "U1", DeclaredAt = T0, DueAt = T0, SourceKey = "modal:V1" }, Declared))));
        Assert.Single(results, r => r.Created);
        Assert.Single(results.Select(r => r.Change.Id).Distinct());
        Assert.Equal(1, Second.Count());
        Assert.Equal(1, First.AuditCount());
    }

    [Fact]
    public async Task AnEventIdOrSeenKeyIsAcceptedOnceAcrossReplicas()
    {
        var seen = await Task.WhenAll(Enumerable.Range(0, 30).Select(i => Task.Run(() => Replica(i).MarkSeen("view:V1", T0))));
        Assert.Single(seen, s => s);
        Assert.True(Second.WasSeen("view:V1"));
        var accepted = await Task.WhenAll(Enumerable.Range(0, 30).Select(i => Task.Run(() => Replica(i).AcceptInbound("Ev1", "{\"i\":" + i + "}", T0))));
        Assert.Single(accepted, a => a);
        Assert.Single(First.PendingInbound());
        Assert.True(First.WasSeen("event:Ev1"));
        Assert.Equal(2, First.PruneSeen(T0.AddTicks(1)));
        Assert.False(Second.WasSeen("view:V1"));
    }

    [Fact]
    public async Task TheAuditChainFollowsCommitOrder()
    {
        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Task.Run(async () =>
        {
            var id = (await Replica(i).DeclareAsync(Draft($"c{i}"), Declared)).Change.Id;
            await Replica(i + 1).UpdateAsync(id, c => { c.Summary += " edited"; return [new AuditEvent { ChangeNumber = id, At = T0, Actor = "U2", Type = AuditTypes.Approved }]; });
            Replica(i).Append(new AuditEvent { ChangeNumber = 0, At = T0, Actor = "bot", Type = AuditTypes.DetectionSwept });
        })));
        var trails = Enumerable.Range(1, 40).Select(id => First.AuditTrail(id)).ToList();
        Assert.All(trails, t => Assert.Equal([AuditTypes.Declared, AuditTypes.Approved], t.Select(e => e.Type)));
        Assert.Equal(Enumerable.Range(1, 120).Select(i => (long)i), trails.SelectMany(t => t).Select(e => e.Sequence)
            .Concat(Enumerable.Range(1, 120).Select(i => (long)i).Except(trails.SelectMany(t => t).Select(e => e.Sequence))).Order());
        var report = Second.VerifyAuditChain();
        Assert.True(report.Trustworthy, report.Describe());
        Assert.Equal(120, report.HeadSequence);
        Assert.Equal(120, report.Events);
    }

    async Task<ChainReport> Seeded()
    {
        for (var i = 0; i < 3; i++)
        {
            var id = (await Replica(i).DeclareAsync(Draft($"c{i}"), Declared)).Change.Id;
            await Replica(i).UpdateAsync(id, c => [new AuditEvent { ChangeNumber = id, At = T0, Actor = "U2", Type = AuditTypes.Approved, Data = new() { ["comment"] = "lgtm " + i } }]);
        }
        var report = First.VerifyAuditChain();
        Assert.True(report.Trustworthy, report.Describe());
        return report;
    }

    [Fact]
    public async Task AnEditedAuditEventIsDetected()
    {
        await Seeded();
        EditAuditComment(4, "edited");
        var report = Second.VerifyAuditChain();
        Assert.False(report.Intact);
        Assert.Equal(ChainFault.Altered, report.FirstBreak!.Fault);
        Assert.Equal(4, report.FirstBreak.Sequence);
    }

    [Fact]
    public async Task ADeletedAuditEventIsDetected()
    {
        await Seeded();
        DeleteAuditEvent(3);
        var report = Second.VerifyAuditChain();
        Assert.False(report.Intact);
        Assert.Equal(ChainFault.Removed, report.FirstBreak!.Fault);
        Assert.Equal(3, report.FirstBreak.Sequence);
    }

    [Fact]
    public async Task AnEditedChangeRecordIsDetected()
    {
        await Seeded();
        EditChangeSummary(2, "nothing to see");
        var report = Second.VerifyAuditChain();
        Assert.True(report.Intact);
        Assert.False(report.Trustworthy);
        Assert.Contains(report.StateProblems, p => p.ChangeNumber == 2);
    }

    [Fact]
    public async Task TimesRoundTripToTheTickAndTheStateHashIsKept()
    {
        var at = new DateTimeOffset(2026, 3, 29, 1, 59, 59, TimeSpan.FromHours(2)).AddTicks(1234567);
        var draft = Draft(" spaced summary ", at: at);
        draft.Justification = "";
        draft.PullRequests.Add(new LinkedPullRequest { Owner = "Acme", Repo = "Api", Number = 7, MergedAt = at.AddTicks(3), Title = "Ünïcødé 😀 \"q\" \\ \n tab\t" });
        draft.Bypass = new Bypass { Mode = "Team", Team = "acme/ops", Login = "Dev", GrantedAt = at, ExpiresAt = at.AddHours(1).AddTicks(1) };
        draft.Steps.Add(new PendingStep { Kind = "announce", NextAttemptAt = at.AddTicks(9) });
        var written = (await First.DeclareAsync(draft, Declared)).Change;
        var back = Second.Get(written.Id)!;
        Assert.Equal(at.UtcTicks, back.DeclaredAt.UtcTicks);
        Assert.Equal(TimeSpan.Zero, back.DeclaredAt.Offset);
        Assert.Equal(at.AddTicks(3).UtcTicks, back.PullRequests[0].MergedAt!.Value.UtcTicks);
        Assert.Equal(at.AddHours(1).AddTicks(1), back.Bypass!.ExpiresAt);
        Assert.Equal(at.AddTicks(9), back.NextStepAt);
        Assert.Equal("spaced summary", back.Summary);
        Assert.Null(back.Justification);
        Assert.Equal("Ünïcødé 😀 \"q\" \\ \n tab", back.PullRequests[0].Title); // trimmed, as the embedded store does
        Assert.Equal(ChangeState.Hash(written), ChangeState.Hash(back));
        Assert.Equal(Second.AuditTrail(written.Id).Last().State, ChangeState.Hash(back));
        var (change, trail) = Second.ChangeWithTrail(written.Id);
        Assert.Equal(ChangeState.Hash(back), ChangeState.Hash(change!));
        Assert.Single(trail);
    }

    /// <summary>A varied set of changes, seeded through the store's own writes, the same on every engine.</summary>
    static async Task Seed(ChangeStore store)
    {
        var random = new Random(7);
        for (var i = 0; i < 60; i++)
        {
            var at = T0.AddHours(random.Next(0, 24 * 20));
            var draft = Draft($"c{i}", by: "U" + random.Next(1, 4), at: at, due: TimeSpan.FromHours(random.Next(0, 4) * 24));
            if (random.Next(3) > 0)
                draft.PullRequests.Add(new LinkedPullRequest { Owner = random.Next(2) == 0 ? "acme" : "ACME", Repo = random.Next(2) == 0 ? "api" : "web", Number = random.Next(1, 6) });
            if (random.Next(4) == 0) draft.PullRequests.Add(new LinkedPullRequest { Owner = "other", Repo = "api", Number = random.Next(1, 6) });
            if (random.Next(3) == 0) draft.Announcement = new Announcement { Channel = "C" + random.Next(2), Ts = "1700000000." + i, PostedAt = at };
            if (random.Next(2) == 0) draft.Steps.Add(new PendingStep { Kind = "announce", NextAttemptAt = T0.AddHours(random.Next(0, 24 * 20)) });
            if (random.Next(3) == 0) draft.NextCheckAt = T0.AddHours(random.Next(0, 24 * 20));
            if (random.Next(2) == 0)
                draft.Bypass = new Bypass
                {
                    Mode = random.Next(4) == 0 ? "MergeByBot" : "Team", Team = random.Next(2) == 0 ? "acme/Ops" : "acme/ops", Login = random.Next(2) == 0 ? "Dev" : "dev",
                    GrantedAt = random.Next(5) == 0 ? default : at, ExpiresAt = at.AddHours(random.Next(1, 48)),
                    RevokedAt = random.Next(4) == 0 ? at.AddHours(1) : null, Problem = random.Next(6) == 0 ? "failed" : null,
                };
            var id = (await store.DeclareAsync(draft, Declared)).Change.Id;
            var fate = random.Next(5);
            var reviewedAt = at.AddHours(random.Next(1, 72));
            if (fate == 0) await store.UpdateAsync(id, c => { (c.Status, c.ReviewedAt) = (ChangeStatus.Reviewed, reviewedAt); return []; });
            if (fate == 1) await store.UpdateAsync(id, c => { c.Status = ChangeStatus.Cancelled; return []; });
        }
    }

    static string Ids(IEnumerable<EmergencyChange> changes) => string.Join(",", changes.Select(c => c.Id));
    static string Times(IEnumerable<ChangeTimes> times) => string.Join(",", times.Select(t => $"{t.Id}:{t.Status}:{t.DeclaredAt.UtcTicks}:{t.DueAt.UtcTicks}:{t.ReviewedAt?.UtcTicks}"));

    /// <summary>Every query's answer over the seeded set; orderings the store does not promise are compared as sets.</summary>
    static List<string> Answers(ChangeStore s)
    {
        string Set(IEnumerable<EmergencyChange> changes) => string.Join(",", changes.Select(c => c.Id).Order());
        var answers = new List<string> { "count " + s.Count(), "many " + Ids(s.GetMany([5, 3, 999, 5, 1])) };
        foreach (var ts in Enumerable.Range(0, 60).Select(i => "1700000000." + i))
            foreach (var channel in new[] { "C0", "C1" })
                answers.Add($"announcement {ts} {channel} {s.ByAnnouncement(channel, ts)?.Id}");
        answers.Add("open " + Set(s.OpenChanges()));
        answers.Add("open limited " + s.OpenChanges(5).Count);
        foreach (var user in new[] { "U1", "U2", "U3", "U9" })
        {
            answers.Add($"open of {user} " + Set(s.OpenChangesOf(user)));
            answers.Add($"of {user} " + Ids(s.ChangesOf(user)));
            answers.Add($"of {user} limited " + Ids(s.ChangesOf(user, 3)));
        }
        for (var day = 0; day <= 24; day += 3)
        {
            var now = T0.AddDays(day);
            answers.Add($"due steps {day} " + Set(s.WithDueSteps(now, 1000)));
            answers.Add($"untracked {day} " + Set(s.UntrackedOpenChanges(now)));
            answers.Add($"count overdue {day} " + s.CountOverdue(now));
            answers.Add($"overdue {day} " + Ids(s.Overdue(now)));
            answers.Add($"overdue first {day} " + Ids(s.Overdue(now, 4)));
            answers.Add($"count due {day} " + s.CountOpenDue(now, now.AddDays(3)));
            answers.Add($"first due {day} " + Ids(s.FirstOpenDue(now, now.AddDays(3), 3)));
            answers.Add($"due times {day} " + Times(s.OpenDueTimes(now, now.AddDays(3)).OrderBy(t => t.Id)));
            answers.Add($"declared or reviewed times {day} " + Times(s.DeclaredOrReviewedTimesSince(now).OrderBy(t => t.Id)));
            answers.Add($"reviewed since {day} " + Set(s.ReviewedSince(now)));
            answers.Add($"declared or reviewed {day} " + Set(s.DeclaredOrReviewedSince(now)));
            answers.Add($"declared between {day} " + Ids(s.DeclaredBetween(now, now.AddDays(4))));
            answers.Add($"repositories {day} " + string.Join(",", s.LinkedRepositoriesDeclaredBetween(now, now.AddDays(4)).Order(StringComparer.Ordinal)));
            foreach (var mode in new[] { "Team", "MergeByBot" })
                foreach (var except in new[] { 0, 1, 7 })
                {
                    answers.Add($"open bypass {day} {mode} {except} {s.LatestOpenBypass(mode, "ACME/OPS", "DEV", now, except)?.Id}");
                    answers.Add($"unrevoked bypass {mode} {except} {s.LatestUnrevokedBypass(mode, "acme/ops", "dev", except)?.Id}");
                }
        }
        foreach (var (owner, repo) in new[] { ("acme", "api"), ("Acme", "WEB"), ("other", "api"), ("none", "x") })
            for (var n = 1; n <= 5; n++) answers.Add($"linking {owner}/{repo}#{n} " + Ids(s.ChangesLinking(owner, repo, n)));
        return answers;
    }

    [Fact]
    public async Task EveryQueryAnswersAsTheEmbeddedStoreDoes()
    {
        await Seed(First);
        var directory = Path.Combine(Path.GetTempPath(), "bgb-reference-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var reference = new ChangeStore(Path.Combine(directory, "breakglass.db"));
            await Seed(reference);
            var expected = Answers(reference);
            var actual = Answers(Second);
            Assert.Equal(expected.Count, actual.Count);
            for (var i = 0; i < expected.Count; i++) Assert.Equal(expected[i], actual[i]);
            // The seed reaches every kind of answer, or the comparison proves little.
            Assert.Contains(expected, a => a.StartsWith("open bypass", StringComparison.Ordinal) && !a.EndsWith(' '));
            Assert.Contains(expected, a => a.StartsWith("unrevoked bypass", StringComparison.Ordinal) && !a.EndsWith(' '));
            Assert.Contains(expected, a => a.StartsWith("overdue first", StringComparison.Ordinal) && a.Count(c => c == ',') == 3);
            Assert.Contains(expected, a => a.StartsWith("linking acme/api", StringComparison.Ordinal) && a.Contains(','));
        }
        finally { Directory.Delete(directory, true); }
    }

    static EmergencyChange WithStep(string summary)
    {
        var draft = Draft(summary);
        draft.Steps.Add(new PendingStep { Kind = "announce", NextAttemptAt = T0 });
        return draft;
    }

    [Fact]
    public async Task AChangesStepsAreClaimedByOneReplicaAtATime()
    {
        for (var i = 0; i < 3; i++) await First.DeclareAsync(WithStep("s" + i), Declared);
        var lease = TimeSpan.FromMinutes(5);
        Assert.Equal([1, 2, 3], First.ClaimDueSteps(T0, "A", lease).Select(c => c.Id));
        Assert.Empty(Second.ClaimDueSteps(T0, "B", lease));
        Assert.Equal([1, 2, 3], First.ClaimDueSteps(T0, "A", lease).Select(c => c.Id)); // its own claims again
        Second.ReleaseStepClaim(1, "B"); // not B's to release
        Assert.Empty(Second.ClaimDueSteps(T0, "B", lease));
        First.ReleaseStepClaim(1, "A");
        Assert.Equal([1], Second.ClaimDueSteps(T0, "B", lease).Select(c => c.Id));
        Assert.False(First.RenewStepClaim(1, "A", lease));
        Assert.True(Second.RenewStepClaim(1, "B", lease));
        Assert.True(First.RenewStepClaim(2, "A", lease));
    }

    [Fact]
    public async Task AnEndedLeaseIsTakenOverAndTheOldOwnerLearnsIt()
    {
        await First.DeclareAsync(WithStep("s"), Declared);
        Assert.Single(First.ClaimDueSteps(T0, "A", TimeSpan.FromMilliseconds(1)));
        await Task.Delay(50);
        Assert.Single(Second.ClaimDueSteps(T0, "B", TimeSpan.FromMinutes(5)));
        Assert.False(First.RenewStepClaim(1, "A", TimeSpan.FromMinutes(5)));
        Assert.Empty(First.ClaimDueSteps(T0, "A", TimeSpan.FromMinutes(5)));
    }

    [Fact]
    public async Task ConcurrentClaimsNeverGiveOneChangeToTwoOwners()
    {
        for (var i = 0; i < 40; i++) await First.DeclareAsync(WithStep("s" + i), Declared);
        var claimed = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(() =>
            Replica(i).ClaimDueSteps(T0, "owner" + i, TimeSpan.FromMinutes(5), 10).Select(c => c.Id).ToList())));
        var all = claimed.SelectMany(c => c).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());
        Assert.Equal(40, all.Count);
    }

    [Fact]
    public void InboundEventsAreClaimedOnceAndCarryTheirStoredAttempts()
    {
        foreach (var id in new[] { "E1", "E2", "E3" }) Assert.True(First.AcceptInbound(id, "{\"id\":\"" + id + "\"}", T0));
        var lease = TimeSpan.FromMinutes(5);
        var claimed = First.ClaimInbound(T0, "A", lease);
        Assert.Equal(["E1", "E2", "E3"], claimed.Select(e => e.EventId).Order());
        Assert.All(claimed, e => Assert.Equal((0, 0), (e.Failures, e.Waits)));
        Assert.Empty(Second.ClaimInbound(T0, "B", lease));
        First.RetryInbound("E1", 1, 2, T0.AddMinutes(-1));
        First.RetryInbound("E2", 3, 0, T0.AddHours(1));
        First.CompleteInbound("E3");
        var again = Assert.Single(Second.ClaimInbound(T0, "B", lease));
        Assert.Equal(new InboundEvent("E1", "{\"id\":\"E1\"}", 1, 2), again);
        Assert.Equal(new InboundEvent("E2", "{\"id\":\"E2\"}", 3, 0), Assert.Single(First.ClaimInbound(T0.AddHours(2), "A", lease)));
        Assert.Equal(["E1", "E2"], Second.PendingInbound().Select(p => p.EventId).Order());
    }

    [Fact]
    public async Task ANamedLockExcludesEveryReplica()
    {
        var inside = 0;
        var most = 0;
        await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(async () =>
        {
            await using (await Replica(i).LockAsync("team:acme/ops"))
            {
                var now = Interlocked.Increment(ref inside);
                InterlockedMax(ref most, now);
                await Task.Delay(5);
                Interlocked.Decrement(ref inside);
            }
        })));
        Assert.Equal(1, most);

        var held = await First.LockAsync("digest");
        await using ((await Second.LockAsync("other")).ConfigureAwait(false)) { } // another name is not held up
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Second.LockAsync("digest", cancel.Token));
        var waiting = Second.LockAsync("digest");
        await held.DisposeAsync();
        await (await waiting.WaitAsync(TimeSpan.FromSeconds(30))).DisposeAsync();
    }

    static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
    }

    public sealed class Tally
    {
        public int Count { get; set; }
        public long At { get; set; }
        public string? Note { get; set; }
    }

    [Fact]
    public async Task FeatureDocumentsAndLinkedAccountsAreSharedAndLoseNoUpdate()
    {
        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Task.Run(() =>
            Replica(i).SaveDocument<Tally>("tallies", "t", t => new Tally { Count = (t?.Count ?? 0) + 1, At = 5, Note = " n " }))));
        var tally = Second.Document<Tally>("tallies", "t")!;
        Assert.Equal((40, 5L, "n"), (tally.Count, tally.At, tally.Note));
        First.SaveDocuments("tallies", [("a", new Tally { At = 1 }), ("b", new Tally { At = 10 }), ("c", new Tally { At = 3 })]);
        Assert.Equal(4, Second.Documents<Tally>("tallies").Count);
        Assert.Equal(2, Second.DeleteDocumentsBelow<Tally>("tallies", nameof(Tally.At), 4));
        Assert.Equal([5L, 10L], First.Documents<Tally>("tallies").Select(t => t.At).Order());
        Assert.True(First.DeleteDocument<Tally>("tallies", "b"));
        Assert.False(Second.DeleteDocument<Tally>("tallies", "b"));
        Assert.Null(Second.Document<Tally>("tallies", "b"));

        First.LinkAccount("U1", "github", "dev1");
        Second.LinkAccount("U2", "github", "dev2");
        First.LinkAccount("U1", "github", "dev1b");
        First.LinkAccount("U1", "jira", "j1");
        Assert.Equal("dev1b", Second.LinkedAccount("U1", "github"));
        Assert.Equal([("U1", "dev1b"), ("U2", "dev2")], First.LinkedAccounts("github").OrderBy(a => a.SlackUser));
        Assert.True(Second.UnlinkAccount("U1", "github"));
        Assert.Null(First.LinkedAccount("U1", "github"));
        Assert.Equal("j1", First.LinkedAccount("U1", "jira"));
    }

    [Fact]
    public void PingAnswersOnAWorkingStore()
    {
        First.Ping();
        Second.Ping();
    }

    [Fact]
    public async Task AWriteRefusedAmongConcurrentOnesFailsAloneAndTheOthersStand()
    {
        var id = (await First.DeclareAsync(Draft("before"), Declared)).Change.Id;
        // Arriving together, these share a group commit where the engine has one: the refused one must not take the others down.
        var writes = Enumerable.Range(0, 30).Select(i => Replica(i).UpdateAsync(id, c =>
        {
            if (i == 7) throw new InvalidOperationException("refused");
            c.Reminders.Add(new Reminder { User = "U" + i, Kind = "reminder", At = T0 });
            return [];
        })).ToList();
        var declared = Enumerable.Range(0, 10).Select(i => Replica(i).DeclareAsync(Draft($"more {i}"), Declared)).ToList();
        await Assert.ThrowsAsync<InvalidOperationException>(() => writes[7]);
        await Task.WhenAll(writes.Where((_, i) => i != 7).Concat<Task>(declared));
        Assert.Equal(29, First.Get(id)!.Reminders.Count);
        Assert.Equal(Enumerable.Range(id + 1, 10), (await Task.WhenAll(declared)).Select(d => d.Change.Id).Order());
        Assert.True(Second.VerifyAuditChain().Trustworthy, Second.VerifyAuditChain().Describe());
    }

    [Fact]
    public async Task TheOutboxSummaryCountsPendingFailingAndParkedSteps()
    {
        PendingStep Step(string kind, string? error = null, string? parked = null, int attempts = 0, StepState state = StepState.Pending) =>
            new() { Kind = kind, LastError = error, ParkedOn = parked, Attempts = attempts, State = state, NextAttemptAt = T0 };
        var a = Draft("a");
        a.Steps.AddRange([Step("announce", "http_503", attempts: 3), Step("thread-note", "channel_not_found", "channel_not_found", 2), Step("track")]);
        var b = Draft("b");
        b.Steps.AddRange([Step("announce", "http_503", attempts: 5), Step("jira-link", state: StepState.Done)]);
        var c = Draft("c");
        c.Steps.Add(Step("announce", state: StepState.Done));
        foreach (var d in new[] { a, b, c }) await First.DeclareAsync(d, Declared);

        var summary = Second.SummarizeOutbox();
        Assert.Equal((2, 3, 5, 1), (summary.ChangesWithPendingSteps, summary.FailingSteps, summary.MostAttempts, summary.ParkedSteps));
        Assert.Equal(new Dictionary<string, int> { ["announce"] = 2, ["thread-note"] = 1 }, summary.FailingKinds);
        Assert.Equal(new Dictionary<string, int> { ["channel_not_found"] = 1 }, summary.ParkedErrors);
    }
}

public sealed class LiteDbStoreContractTests : StoreContract
{
    readonly string directory = Path.Combine(Path.GetTempPath(), "bgb-contract-" + Guid.NewGuid().ToString("N"));

    LiteDbEngine Engine => (LiteDbEngine)First.Engine;

    public override Task InitializeAsync()
    {
        First = Second = new ChangeStore(Path.Combine(directory, "breakglass.db"));
        return Task.CompletedTask;
    }

    public override Task DisposeAsync()
    {
        First.Dispose();
        Directory.Delete(directory, true);
        return Task.CompletedTask;
    }

    protected override void EditAuditComment(long sequence, string comment)
    {
        var e = Engine.File.Audit.FindById(sequence);
        e.Data["comment"] = comment;
        Engine.File.Audit.Update(e);
    }

    protected override void DeleteAuditEvent(long sequence) => Engine.File.Audit.Delete(sequence);

    protected override void EditChangeSummary(int id, string summary)
    {
        var c = Engine.File.Changes.FindById(id);
        c.Summary = summary;
        Engine.File.Changes.Update(c);
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresStoreContractTests(PostgresServer postgres) : StoreContract
{
    string connectionString = "";

    public override async Task InitializeAsync()
    {
        connectionString = await postgres.NewDatabaseAsync();
        // Two replicas starting together: the schema is created once, under its lock.
        var engines = await Task.WhenAll(Task.Run(() => new PostgresEngine(connectionString, TimeProvider.System)), Task.Run(() => new PostgresEngine(connectionString, TimeProvider.System)));
        (First, Second) = (new ChangeStore(engines[0]), new ChangeStore(engines[1]));
    }

    public override Task DisposeAsync()
    {
        First.Dispose();
        Second.Dispose();
        return Task.CompletedTask;
    }

    void Sql(string sql, params object[] args)
    {
        using var conn = new NpgsqlConnection(connectionString);
        conn.Open();
        using var cmd = new NpgsqlCommand(sql, conn);
        for (var i = 0; i < args.Length; i++) cmd.Parameters.AddWithValue("p" + i, args[i]);
        cmd.ExecuteNonQuery();
    }

    protected override void EditAuditComment(long sequence, string comment) =>
        Sql("UPDATE audit SET doc = jsonb_set(doc, '{Data,comment}', to_jsonb(@p1::text)) WHERE sequence = @p0", sequence, comment);

    protected override void DeleteAuditEvent(long sequence) => Sql("DELETE FROM audit WHERE sequence = @p0", sequence);

    protected override void EditChangeSummary(int id, string summary) =>
        Sql("UPDATE changes SET doc = jsonb_set(doc, '{Summary}', to_jsonb(@p1::text)) WHERE id = @p0", id, summary);

    /// <summary>Other replicas write too, so a write seals the record as it read it, never as this replica last wrote it: an edit stays on the record.</summary>
    [Fact]
    public async Task AWriteAfterAnEditLeavesTheEditOnTheRecord()
    {
        var id = (await First.DeclareAsync(new EmergencyChange { Summary = "s", DeclaredBy = "U1", DeclaredAt = T0, DueAt = T0 }, _ => [])).Change.Id;
        await First.UpdateAsync(id, c => { c.Justification = "j"; return []; });
        EditChangeSummary(id, "nothing to see");
        await First.UpdateAsync(id, c => [new AuditEvent { ChangeNumber = id, At = T0, Actor = "U3", Type = AuditTypes.Approved }]);
        var report = Second.VerifyAuditChain();
        Assert.True(report.Intact);
        Assert.Contains(report.StateProblems, p => p.ChangeNumber == id);
    }

    [Fact]
    public void TheSchemaIsRecordedAndUpgradingAgainChangesNothing()
    {
        using var third = new PostgresEngine(connectionString, TimeProvider.System);
        using var conn = new NpgsqlConnection(connectionString);
        conn.Open();
        using var cmd = new NpgsqlCommand("SELECT count(*), max(version) FROM schema_version", conn);
        using var r = cmd.ExecuteReader();
        r.Read();
        Assert.Equal((1L, PostgresSchema.Latest), (r.GetInt64(0), r.GetInt32(1)));
    }

    [Fact]
    public void AnUnreachableDatabaseFailsWithStoreUnavailableInsteadOfHanging()
    {
        var port = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        port.Start();
        var closed = ((System.Net.IPEndPoint)port.LocalEndpoint).Port;
        port.Stop();
        var e = Assert.Throws<StoreUnavailableException>(() => new PostgresEngine($"Host=127.0.0.1;Port={closed};Username=postgres;Database=x", TimeProvider.System));
        Assert.IsAssignableFrom<NpgsqlException>(e.InnerException);
    }

    [Fact]
    public async Task AMultiHostConnectionStringFindsThePrimaryPastAHostThatIsDown()
    {
        var port = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        port.Start();
        var closed = ((System.Net.IPEndPoint)port.LocalEndpoint).Port;
        port.Stop();
        var real = new NpgsqlConnectionStringBuilder(connectionString);
        // The first host is down (a failed primary); the second is the live one, and only a primary is taken.
        var multi = new NpgsqlConnectionStringBuilder(connectionString) { Host = $"127.0.0.1:{closed},{real.Host}:{real.Port}", TargetSessionAttributes = "primary" };
        using var store = new ChangeStore(new PostgresEngine(multi.ConnectionString, TimeProvider.System));
        var (change, created) = await store.DeclareAsync(Draft("through the second host"), Declared);
        Assert.True(created);
        Assert.Equal("through the second host", First.Get(change.Id)!.Summary);
    }

    [Fact]
    public async Task ALockWhoseSessionEndedIsKnownToBeLostAndIsTakenByTheOther()
    {
        await using var held = await First.LockAsync("github-team-bypass:acme/ops:hubot");
        Assert.True(await held.StillHeldAsync());
        // A failover or an administrator ends the holder's session: PostgreSQL frees the lock, and the holder must learn it
        // before it records a decision the lock was meant to protect.
        Sql("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND pid <> pg_backend_pid()");
        await using var taken = await Second.LockAsync("github-team-bypass:acme/ops:hubot").WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(await taken.StillHeldAsync());
        Assert.False(await held.StillHeldAsync());
    }

    [Fact]
    public async Task AReplicaFrozenWhileHoldingTheHeadStallsTheOthersForSecondsNotForever()
    {
        await First.DeclareAsync(Draft("before"), Declared);
        // A replica paused mid-write (a VM freeze): its transaction holds the head row and does nothing more.
        await using var frozen = new NpgsqlConnection(connectionString);
        await frozen.OpenAsync();
        await using var tx = await frozen.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand("SELECT 1 FROM head WHERE id = 1 FOR UPDATE", frozen, tx)) await hold.ExecuteNonQueryAsync();

        // The other replica's write gives up (lock_timeout) instead of queueing behind it: the user is told to try again.
        var refused = await Assert.ThrowsAsync<StoreUnavailableException>(() => Second.DeclareAsync(Draft("during"), Declared));
        Assert.Contains("lock timeout", refused.Message, StringComparison.OrdinalIgnoreCase);
        await tx.RollbackAsync();
        Assert.Equal(2, (await Second.DeclareAsync(Draft("after"), Declared)).Change.Id);
        Assert.True(First.VerifyAuditChain().Trustworthy);
    }

    [Fact]
    public void TimeoutsAreSetOnlyWhenTheConnectionStringLeavesThemOut()
    {
        var defaults = PostgresEngine.WithDefaults("Host=a,b;Target Session Attributes=primary");
        Assert.Equal((2, 30), (defaults.Timeout, defaults.CommandTimeout)); // a declaration is refused within Slack's 3 s
        var given = PostgresEngine.WithDefaults("Host=a;Timeout=3;Command Timeout=7");
        Assert.Equal((3, 7), (given.Timeout, given.CommandTimeout));
    }

    [Fact]
    public void ChangesAreJsonbAnOperatorCanQuery()
    {
        First.Declare(new EmergencyChange { Summary = "s", DeclaredBy = "U1", DeclaredAt = T0, DueAt = T0 }, _ => []);
        using var conn = new NpgsqlConnection(connectionString);
        conn.Open();
        using var cmd = new NpgsqlCommand("SELECT doc ->> 'Summary' FROM changes WHERE id = 1", conn);
        Assert.Equal("s", cmd.ExecuteScalar());
    }
}
