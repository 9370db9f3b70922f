using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Hosting;
using BreakGlassBot.Tests.GitHub;
using BreakGlassBot.Tests.Support;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace BreakGlassBot.Tests.Reliability;

/// <summary>
/// Failover on PostgreSQL with real bot processes: a replica SIGKILLed in the middle of its work leaves that work to the
/// other once its claims' lease ends (done exactly once, the audit chain intact), and a database killed and restarted
/// under a burst of declarations loses nothing it acknowledged and tells the rest plainly that nothing was recorded.
/// </summary>
[Collection(PostgresCollection.Name)]
[Trait("Category", "EndToEnd")]
public partial class FailoverTests(PostgresServer postgres, ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>Storage:ClaimLease: how long a dead replica's claims keep the work from the other.</summary>
    static readonly TimeSpan Lease = TimeSpan.FromSeconds(2);
    readonly FakeSlack slack = new();
    readonly List<BotProcess> processes = [];
    readonly List<string> directories = [];

    public Task InitializeAsync() => slack.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var p in processes) await p.DisposeAsync();
        await slack.DisposeAsync();
        foreach (var d in directories) try { Directory.Delete(d, true); } catch (IOException) { }
    }

    static Dictionary<string, string?> OnPostgres(string connectionString, IDictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Store"] = "PostgreSql",
            ["Storage:ConnectionString"] = connectionString,
            ["Storage:ClaimLease"] = Lease.ToString("c"),
            ["Storage:PollingInterval"] = "00:00:00.200",
        };
        foreach (var (k, v) in more ?? new Dictionary<string, string?>()) settings[k] = v;
        return settings;
    }

    /// <summary>
    /// Two replicas on one database, started together (the schema is created once, under the bot's own lock), both ready. B
    /// reaches the fakes as "localhost" (A as 127.0.0.1, the same socket): a call's Host header tells which replica made it.
    /// </summary>
    async Task<(BotProcess A, BotProcess B)> StartReplicasAsync(IDictionary<string, string?> settings)
    {
        var forB = new Dictionary<string, string?>(settings) { ["Slack:ApiBaseUrl"] = slack.ApiUrl };
        foreach (var key in new[] { "Slack:ApiBaseUrl", "GitHub:ApiBaseUrl" })
            if (forB.GetValueOrDefault(key) is { } url) forB[key] = url.Replace("//127.0.0.1:", "//localhost:", StringComparison.Ordinal);
        var started = await Task.WhenAll(StartAsync(settings), StartAsync(forB));
        return (started[0], started[1]);
    }

    static bool FromB(RecordedCall call) => call.Headers.GetValueOrDefault("Host")?.StartsWith("localhost:", StringComparison.Ordinal) == true;

    async Task<BotProcess> StartAsync(IDictionary<string, string?> settings)
    {
        var directory = TestBot.NewDataDirectory();
        lock (directories) directories.Add(directory);
        var bot = await BotProcess.StartAsync(slack, directory, settings);
        lock (processes) processes.Add(bot);
        await bot.WaitReadyAsync();
        return bot;
    }

    static ChangeStore OpenStore(string connectionString) =>
        new(Options.Create(new StorageOptions { Store = StoreKind.PostgreSql, ConnectionString = connectionString }), TimeProvider.System);

    static void AssertTrustworthy(ChangeStore store)
    {
        var report = store.VerifyAuditChain();
        Assert.True(report.Trustworthy, report.Describe());
    }

    /// <summary>What a replica printed, for a failure message: the warnings and errors, last ones first to matter.</summary>
    static string Logs(params BotProcess[] bots) => string.Join("\n", bots.Select((b, i) =>
        $"--- replica {(char)('A' + i)} (pid {b.Id}{(b.HasExited ? $", exited {b.ExitCode}" : "")}):\n"
        + string.Join("\n", b.Output.Where(l => l.Contains("warn", StringComparison.OrdinalIgnoreCase) || l.Contains("fail", StringComparison.OrdinalIgnoreCase)
            || l.Contains("crit", StringComparison.OrdinalIgnoreCase) || l.Contains("Exception", StringComparison.Ordinal)).TakeLast(40))));

    static async Task Until(Func<bool> condition, string what, Func<string> diagnostics, double seconds = 30)
    {
        try { await Eventually.Until(condition, what, TimeSpan.FromSeconds(seconds)); }
        catch (Xunit.Sdk.FailException e) { Assert.Fail(e.Message + "\n" + diagnostics()); }
    }

    /// <summary>A chat.postMessage that is a top-level post in the change channel: an announcement (its change id, if it says).</summary>
    static bool IsAnnouncementPost(RecordedCall call, out string? changeId)
    {
        changeId = null;
        if (call.Key != "chat.postMessage") return false;
        JsonObject? args;
        try { args = JsonNode.Parse(call.Body) as JsonObject; }
        catch (System.Text.Json.JsonException) { return false; }
        if (args is null || args["channel"]?.ToString() != TestBot.Channel || args["thread_ts"] is not null) return false;
        changeId = args["metadata"]?["event_payload"]?["change_id"]?.ToString();
        return true;
    }

    static bool IsAnnouncementPost(RecordedCall call) => IsAnnouncementPost(call, out _);

    [GeneratedRegex(@"\*BG-(\d+)\* declared")]
    private static partial Regex Acknowledged();

    static int? AcknowledgedId(string text) => Acknowledged().Match(text) is { Success: true } m ? int.Parse(m.Groups[1].Value) : null;

    [Fact]
    public async Task AReplicaKilledWhilePostingAnnouncementsLeavesThemToTheOtherAfterTheLeaseAndEachIsPostedOnce()
    {
        const int declarations = 9;
        var db = await postgres.NewDatabaseAsync();
        var (a, b) = await StartReplicasAsync(OnPostgres(db));
        string Diagnostics() => string.Join("\n", slack.Calls.Where(c => c.Key == "chat.postMessage")
            .Select(c => $"  {c.At:HH:mm:ss.fff} {(FromB(c) ? "B" : "A")} post {(IsAnnouncementPost(c, out var id) ? "announcement " + id : "other")}"))
            + "\n" + Logs(a, b);
        static string? ChangeOf(RecordedCall c) => IsAnnouncementPost(c, out var id) ? id : null;

        // B frozen while A takes the work: every announcement is then A's to claim, and A's alone.
        await b.PauseAsync();
        // A's outbox busy with a first change while the others are declared: its next sweep claims them all at once.
        var firstPost = slack.Hold("chat.postMessage");
        await Declare(a, "Failover announcement 1");
        await Until(() => slack.Calls.Any(IsAnnouncementPost), "A posting the first announcement", Diagnostics);
        for (var i = 2; i <= declarations; i++) await Declare(a, $"Failover announcement {i}");
        // Of the others, two are posted at Slack with the answer held back (A dies not knowing they landed: B must find them,
        // not post them again); every later one hangs unanswered and is not posted.
        slack.Fail("chat.postMessage", new Fault.WorkThenHang(TimeSpan.FromMinutes(2)), times: 2, when: IsAnnouncementPost);
        slack.Fail("chat.postMessage", new Fault.Delay(TimeSpan.FromMinutes(2)), times: 1000, when: IsAnnouncementPost);
        firstPost.SetResult();

        // A is mid-work: the first announcement done, the two posted-but-unanswered ones and at least one more in flight.
        await Until(() => slack.TopLevel(TestBot.Channel).Count >= 3 && slack.Faulted.Count(IsAnnouncementPost) >= 3,
            "A posting announcements, several in flight", Diagnostics);

        // B wakes while A is alive and renewing its claims: for longer than a lease it posts nothing (A holds every change left).
        await b.ResumeAsync();
        await Eventually.Stays(() => !slack.Calls.Any(c => FromB(c) && c.Key == "chat.postMessage"), "B leaves the changes A holds alone while A lives",
            Lease + TimeSpan.FromSeconds(1));

        a.Kill();
        var killedAt = DateTime.UtcNow;
        slack.ClearFaults();
        var inFlight = slack.Faulted.Select(ChangeOf).OfType<string>().ToHashSet();
        var postedUnanswered = slack.Faulted.Select(ChangeOf).OfType<string>().Take(2).ToList();
        foreach (var id in postedUnanswered) Assert.Single(slack.Announcements(id));

        using var store = OpenStore(db);
        await Until(() => Enumerable.Range(1, declarations).All(i => slack.Announcements($"BG-{i}").Count >= 1
                && store.Get(i)?.Announcement?.Ts == slack.Announcements($"BG-{i}")[0].Ts
                && slack.Messages.Any(m => m.ThreadTs == slack.Announcements($"BG-{i}")[0].Ts)),
            "B announced every change, recorded it and posted its thread details", Diagnostics);
        var tookOver = DateTime.UtcNow - killedAt;
        // Nothing further comes: each change has exactly one announcement.
        await Eventually.Stays(() => Enumerable.Range(1, declarations).All(i => slack.Announcements($"BG-{i}").Count == 1), "one announcement each",
            TimeSpan.FromSeconds(1));
        Assert.False(b.HasExited, Logs(a, b));

        // Every announcement A had not landed was posted by B after the kill, once; the ones A was posting were cut off with it.
        // B found the two that had landed unanswered, and did not post them again.
        var first = ChangeOf(slack.Calls.First(IsAnnouncementPost))!;
        var byB = slack.Calls.Where(c => FromB(c) && IsAnnouncementPost(c)).ToList();
        Assert.All(byB, c => Assert.True(c.At > killedAt));
        Assert.Equal(Enumerable.Range(1, declarations).Select(i => $"BG-{i}").Except(postedUnanswered).Except([first]).Order(),
            byB.Select(ChangeOf).OfType<string>().Order());
        Assert.DoesNotContain(slack.Calls, c => !FromB(c) && IsAnnouncementPost(c) && !slack.Faulted.Contains(c) && ChangeOf(c) != first);
        Assert.Equal(declarations, store.Count());
        for (var i = 1; i <= declarations; i++)
        {
            var trail = store.AuditTrail(i);
            Assert.Single(trail, e => e.Type == AuditTypes.Declared);
            Assert.Single(trail, e => e.Type == AuditTypes.Announced);
            Assert.Equal($"Failover announcement {i}", store.Get(i)!.Summary);
        }
        AssertTrustworthy(store);
        output.WriteLine($"A killed holding {declarations - 1} changes, {inFlight.Count} of them mid-post ({string.Join(", ", inFlight.Order())}; posted but "
            + $"unanswered: {string.Join(", ", postedUnanswered)}); B finished them all {tookOver.TotalSeconds:0.0} s after the kill (lease {Lease.TotalSeconds} s).");
    }

    static async Task Declare(BotProcess bot, string summary)
    {
        using var response = await bot.CommandAsync(summary);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(AcknowledgedId(text) is not null, "not acknowledged: " + text);
    }

    [Fact]
    public async Task AReplicaKilledWhileItHoldsABypassRevocationLeavesItToTheOtherWhichRemovesThePersonOnce()
    {
        const string team = "acme/breakglass", membership = "/orgs/acme/teams/breakglass/memberships/hubot";
        await using var github = new FakeGitHub();
        await github.StartAsync();
        github.AddPr("acme", "api", 1347);
        var db = await postgres.NewDatabaseAsync();
        var (a, b) = await StartReplicasAsync(OnPostgres(db, new Dictionary<string, string?>
        {
            ["GitHub:Token"] = FakeGitHub.Token,
            ["GitHub:ApiBaseUrl"] = github.ApiUrl,
            ["GitHub:BypassMode"] = "Team",
            ["GitHub:BypassTeam"] = team,
            ["Policy:BypassDuration"] = "00:00:03",
            [$"People:{TestBot.Declarer}:GitHub"] = "hubot",
        }));
        string Diagnostics() => "github calls:\n" + string.Join("\n", github.Calls.Select(c => $"  {c.At:HH:mm:ss.fff} {(FromB(c) ? "B" : "A")} {c.Method} {c.Path} [{c.Key}]"))
            + "\n" + Logs(a, b);

        // B frozen while A grants and then starts the revocation: A holds the team lock and the step's claim when it dies.
        await b.PauseAsync();
        // A's removal reaches GitHub and hangs there (GitHub has not removed anyone): A is killed waiting for the answer.
        github.Fail("DELETE membership", new Fault.Delay(TimeSpan.FromMinutes(2)));
        using (var ack = await a.CommandAsync($"Fix it {GitHubBotTest.PrUrl}"))
        {
            Assert.Equal(HttpStatusCode.OK, ack.StatusCode);
            Assert.Equal(1, AcknowledgedId(await ack.Content.ReadAsStringAsync()));
        }
        await Until(() => github.IsMember(team, "hubot"), "A added hubot to the bypass team", Diagnostics);
        await Until(() => github.CallsTo("DELETE", membership).Count == 1, "A's removal at GitHub, hanging", Diagnostics);

        // B wakes while A is alive: for longer than a lease it neither takes A's claim nor gets past the team lock.
        await b.ResumeAsync();
        await Eventually.Stays(() => !github.Calls.Any(c => FromB(c) && c.Method == "DELETE") && github.IsMember(team, "hubot"),
            "B leaves the revocation A holds alone while A lives", Lease + TimeSpan.FromSeconds(1));

        a.Kill();
        var killedAt = DateTime.UtcNow;
        using var store = OpenStore(db);
        await Until(() => !github.IsMember(team, "hubot") && store.Get(1)?.Bypass?.RevokedAt is not null
                && slack.Messages.Any(m => m.MetadataNote == GitHubNotes.BypassEnded),
            "B removed hubot from the team, recorded it and said so in the thread", Diagnostics);
        var tookOver = DateTime.UtcNow - killedAt;
        await Eventually.Stays(() => !github.IsMember(team, "hubot") && github.CallsTo("DELETE", membership).Count == 2, "removed once by B, nothing more",
            TimeSpan.FromSeconds(1));
        Assert.False(b.HasExited, Logs(a, b));

        var removals = github.CallsTo("DELETE", membership);
        Assert.Equal([false, true], removals.Select(FromB));
        Assert.True(removals[1].At > killedAt, "B's removal came after A was killed");
        Assert.Single(github.CallsTo("PUT", membership));
        var trail = store.AuditTrail(1);
        Assert.Single(trail, e => e.Type == GitHubAuditTypes.BypassGranted);
        var revoked = Assert.Single(trail, e => e.Type == GitHubAuditTypes.BypassRevoked);
        Assert.Equal("true", revoked.Data["removed"]);
        Assert.Single(slack.Messages, m => m.MetadataNote == GitHubNotes.BypassEnded);
        AssertTrustworthy(store);
        output.WriteLine($"B removed hubot {tookOver.TotalSeconds:0.0} s after A was killed holding the revocation (lease {Lease.TotalSeconds} s).");
    }

    /// <summary>One answer to a declaration sent during the database restart.</summary>
    sealed record Answer(int Index, char Replica, string Phase, HttpStatusCode? Status, string Body, TimeSpan Took)
    {
        public int? ChangeId => Status == HttpStatusCode.OK ? AcknowledgedId(Text) : null;
        public bool Refused => Status == HttpStatusCode.OK && Text.Contains("could not record", StringComparison.Ordinal);
        public string Text => Body.StartsWith('{') ? JsonNode.Parse(Body)?["text"]?.ToString() ?? "" : Body;
        public string Brief => $"#{Index} to {Replica} ({Phase}): {(int?)Status} in {Took.TotalMilliseconds:0} ms: "
            + (ChangeId is { } id ? $"BG-{id}" : Refused ? "could not record" : Body[..Math.Min(Body.Length, 300)]);
        public override string ToString() => $"#{Index} to {Replica} ({Phase}): {(int?)Status} in {Took.TotalMilliseconds:0} ms: {Body[..Math.Min(Body.Length, 300)]}";
    }

    [Fact]
    public async Task PostgreSqlKilledAndRestartedUnderABurstLosesNoAcknowledgedDeclarationAndTellsTheRefusedSo()
    {
        // A server of its own: the shared one stays up for the other tests.
        var server = new PostgresServer { UseExternal = false };
        await server.InitializeAsync();
        try { await RestartUnderBurstAsync(server); }
        finally { await server.DisposeAsync(); }
    }

    async Task RestartUnderBurstAsync(PostgresServer server)
    {
        var db = await server.NewDatabaseAsync();
        var (a, b) = await StartReplicasAsync(OnPostgres(db));
        var answers = new ConcurrentQueue<Answer>();
        var phase = "before";
        var index = 0;

        async Task SendAsync(BotProcess bot, char replica)
        {
            var i = Interlocked.Increment(ref index);
            var sentIn = Volatile.Read(ref phase);
            var clock = Stopwatch.StartNew();
            try
            {
                using var response = await bot.CommandAsync($"Burst {i}");
                answers.Enqueue(new Answer(i, replica, sentIn, response.StatusCode, await response.Content.ReadAsStringAsync(), clock.Elapsed));
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                answers.Enqueue(new Answer(i, replica, sentIn, null, e.GetType().Name + ": " + e.Message, clock.Elapsed));
            }
        }

        // Declarations keep arriving, alternately at both replicas, a new one every 100 ms without waiting for the last, while
        // the database is killed, stays down three seconds, and comes back (with crash recovery). Twenty more at once as the
        // server dies (some are mid-transaction then) and twenty as it comes back (some meet its recovery).
        Task Wave() => Task.WhenAll(Enumerable.Range(0, 20).Select(n => n % 2 == 0 ? SendAsync(a, 'A') : SendAsync(b, 'B')));
        using var stopSending = new CancellationTokenSource();
        var stream = Task.Run(async () =>
        {
            var sent = new List<Task>();
            for (var n = 0; !stopSending.IsCancellationRequested; n++)
            {
                sent.Add(n % 2 == 0 ? SendAsync(a, 'A') : SendAsync(b, 'B'));
                await Task.Delay(TimeSpan.FromMilliseconds(100)); // the stream's pace: one declaration per 100 ms
            }
            await Task.WhenAll(sent);
        });
        await Task.Delay(TimeSpan.FromMilliseconds(700)); // some declarations land before the kill
        Volatile.Write(ref phase, "killed");
        var downAt = Stopwatch.StartNew();
        var killWave = Wave();
        await server.StopAsync();
        Volatile.Write(ref phase, "down");
        await Task.Delay(TimeSpan.FromSeconds(3)); // the outage: the database is gone for three seconds
        Volatile.Write(ref phase, "starting");
        var startWave = Task.Run(async () =>
        {
            await Task.Delay(TimeSpan.FromMilliseconds(150)); // into the server's start-up and crash recovery
            await Wave();
        });
        await server.StartAsync();
        var downFor = downAt.Elapsed;
        Volatile.Write(ref phase, "after");
        await Task.Delay(TimeSpan.FromSeconds(1.5)); // the stream goes on a moment after the database is back
        await stopSending.CancelAsync();
        await Task.WhenAll(stream, killWave, startWave);

        var all = answers.OrderBy(x => x.Index).ToList();
        foreach (var x in all) output.WriteLine(x.Brief);
        var slowest = all.MaxBy(x => x.Took)!;
        output.WriteLine($"{all.Count} declarations; database down {downFor.TotalSeconds:0.0} s; slowest answer {slowest.Took.TotalMilliseconds:0} ms (#{slowest.Index}, {slowest.Phase}); "
            + string.Join(", ", all.GroupBy(x => x.Phase).Select(g => $"{g.Key}: {g.Count(x => x.ChangeId is not null)} acknowledged, {g.Count(x => x.Refused)} refused, slowest {g.Max(x => x.Took).TotalMilliseconds:0} ms")));

        Assert.False(a.HasExited || b.HasExited, "a replica died with the database:\n" + Logs(a, b));
        Assert.All(all, x => Assert.True(x.Status == HttpStatusCode.OK, "no answer or not a 200: " + x));
        Assert.All(all, x => Assert.True(x.ChangeId is not null ^ x.Refused, "neither acknowledged nor told it was not recorded: " + x));
        Assert.Contains(all, x => x.Refused);
        Assert.Contains(all, x => x.ChangeId is not null && x.Phase == "after");

        // Once the database is back, both replicas take declarations again, without a restart.
        var after = new List<Answer>();
        foreach (var (bot, name) in new[] { (a, 'A'), (b, 'B'), (a, 'A'), (b, 'B'), (a, 'A'), (b, 'B') })
        {
            var i = Interlocked.Increment(ref index);
            var clock = Stopwatch.StartNew();
            using var response = await bot.CommandAsync($"Burst {i}");
            after.Add(new Answer(i, name, "settled", response.StatusCode, await response.Content.ReadAsStringAsync(), clock.Elapsed));
        }
        foreach (var x in after) output.WriteLine(x.Brief);
        Assert.All(after, x => Assert.True(x.ChangeId is not null, "not acknowledged after the database came back: " + x + "\n" + Logs(a, b)));

        using var store = OpenStore(db);
        var acknowledged = all.Concat(after).Where(x => x.ChangeId is not null).ToList();
        foreach (var x in acknowledged)
        {
            var change = store.Get(x.ChangeId!.Value);
            Assert.True(change is not null, $"acknowledged but not in the store: {x}");
            Assert.Equal($"Burst {x.Index}", change.Summary);
        }
        Assert.Equal(acknowledged.Count, acknowledged.Select(x => x.ChangeId).Distinct().Count());
        // Numbers stay gap-free through the outage: a declaration the database never committed took no number.
        var count = store.Count();
        var stored = Enumerable.Range(1, count).Select(store.Get).ToList();
        Assert.All(stored, c => Assert.NotNull(c));
        var refusedButStored = all.Where(x => x.Refused && stored.Any(c => c!.Summary == $"Burst {x.Index}")).ToList();
        output.WriteLine($"{count} changes stored, {acknowledged.Count} acknowledged; refused but stored all the same (the commit's answer lost with the server): "
            + (refusedButStored.Count == 0 ? "none" : string.Join("; ", refusedButStored)));

        // The outbox came back too: every stored change is announced, once.
        await Until(() => Enumerable.Range(1, count).All(i => store.Get(i)?.Announcement is not null),
            "every stored change announced after the restart", () => Logs(a, b));
        for (var i = 1; i <= count; i++) Assert.Single(slack.Announcements($"BG-{i}"));
        AssertTrustworthy(store);
    }
}
