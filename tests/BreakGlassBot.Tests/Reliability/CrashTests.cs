using System.Net;
using BreakGlassBot.Digest;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Tests.GitHub;
using BreakGlassBot.Tests.Support;
using Hangfire;
using Hangfire.Storage.SQLite;

namespace BreakGlassBot.Tests.Reliability;

/// <summary>
/// The real bot process killed with SIGKILL (or stopped with SIGTERM) at chosen points, then started again on the same
/// data directory: every acknowledged change exists, is announced once, keeps its deadline, and the audit chain is intact.
/// </summary>
[Collection(SerialCollection.Name)]
[Trait("Category", "EndToEnd")]
public class CrashTests : IAsyncLifetime
{
    const string Reviewer = "U0REV1";
    readonly FakeSlack slack = new();
    readonly string data = TestBot.NewDataDirectory();
    readonly List<BotProcess> processes = [];

    public Task InitializeAsync() => slack.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var p in processes) await p.DisposeAsync();
        await slack.DisposeAsync();
        try { Directory.Delete(data, true); } catch (IOException) { }
    }

    async Task<BotProcess> StartAsync(IDictionary<string, string?>? settings = null)
    {
        var bot = await BotProcess.StartAsync(slack, data, settings);
        processes.Add(bot);
        return bot;
    }

    /// <summary>Top-level posts in the change channel about the change (reminders are direct messages with the same metadata).</summary>
    IReadOnlyList<PostedSlackMessage> Announcements(string changeId) => [.. slack.TopLevel(TestBot.Channel).Where(m => m.MetadataChangeId == changeId)];

    static void AssertAuditChainIntact(ChangeStore store)
    {
        var report = store.VerifyAuditChain();
        Assert.True(report.Intact, report.Describe());
    }

    [Fact]
    public async Task EveryDeclarationAcknowledgedBeforeAKillSurvivesKeepsItsDeadlineIsAnnouncedOnceAndStillGetsReminders()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Policy:ReviewWindow"] = "00:01:00",
            ["Policy:ReminderInterval"] = "00:00:03",
            ["Slack:Reviewers:0"] = Reviewer,
        };
        // Slack holds every announcement's answer back: the kill lands after the acks, before any announcement is recorded.
        slack.Fail("chat.postMessage", new Fault.Delay(TimeSpan.FromSeconds(30)), times: 100);
        var first = await StartAsync(settings);
        var acks = await Task.WhenAll(Enumerable.Range(1, 5).Select(i => first.CommandAsync($"Crash {i}")));
        Assert.All(acks, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        first.Kill();

        var dueBefore = BotProcess.ReadStore(data, s =>
        {
            AssertAuditChainIntact(s);
            return Enumerable.Range(1, 5).ToDictionary(i => i, i => s.Get(i)!.DueAt);
        });
        Assert.Equal(5, dueBefore.Count);
        slack.ClearFaults();

        var second = await StartAsync(settings);
        await Eventually.Until(() => Enumerable.Range(1, 5).All(i => Announcements($"BG-{i}").Count == 1), "all five announced after the restart");
        await Eventually.Until(() => slack.DirectMessages(Reviewer).Count >= 1, "the reviewer still reminded after the restart");
        second.Kill();

        BotProcess.ReadStore(data, s =>
        {
            Assert.Equal(5, s.Count());
            foreach (var (id, due) in dueBefore)
            {
                var c = s.Get(id)!;
                Assert.Equal(due, c.DueAt);
                Assert.Single(s.AuditTrail(id), e => e.Type == AuditTypes.Declared);
            }
            AssertAuditChainIntact(s);
            return 0;
        });
        for (var i = 1; i <= 5; i++) Assert.Single(Announcements($"BG-{i}"));
    }

    [Fact]
    public async Task AKillWhileSlackHoldsBackTheAnswerToAnAnnouncementLeavesExactlyOneAnnouncement()
    {
        // Slack posts the message, then holds its answer: the bot is killed not knowing the post landed.
        slack.Fail("chat.postMessage", new Fault.WorkThenHang(TimeSpan.FromSeconds(30)));
        var first = await StartAsync();
        Assert.Equal(HttpStatusCode.OK, (await first.CommandAsync("Killed mid-post")).StatusCode);
        await Eventually.Until(() => Announcements("BG-1").Count == 1, "posted at Slack");
        first.Kill();
        Assert.Null(BotProcess.ReadStore(data, s => s.Get(1)!.Announcement));

        var second = await StartAsync();
        // The thread details follow the announcement: once they are there the restarted bot has settled the announcement.
        await Eventually.Until(() => slack.Messages.Any(m => m.ThreadTs == Announcements("BG-1")[0].Ts), "thread details after the restart");
        second.Kill();

        Assert.Single(Announcements("BG-1"));
        BotProcess.ReadStore(data, s =>
        {
            Assert.Equal(Announcements("BG-1")[0].Ts, s.Get(1)!.Announcement!.Ts);
            Assert.Single(s.AuditTrail(1), e => e.Type == AuditTypes.Announced);
            AssertAuditChainIntact(s);
            return 0;
        });
    }

    [Fact]
    public async Task ABypassGrantedBeforeAKillIsRevokedAfterTheRestart()
    {
        const string team = "acme/breakglass";
        const string membership = "/orgs/acme/teams/breakglass/memberships/hubot";
        await using var github = new FakeGitHub();
        await github.StartAsync();
        github.AddPr("acme", "api", 1347);
        var settings = new Dictionary<string, string?>
        {
            ["GitHub:Token"] = FakeGitHub.Token,
            ["GitHub:ApiBaseUrl"] = github.ApiUrl,
            ["GitHub:BypassMode"] = "Team",
            ["GitHub:BypassTeam"] = team,
            ["Policy:BypassDuration"] = "00:00:04",
            [$"People:{TestBot.Declarer}:GitHub"] = "hubot",
        };
        var first = await StartAsync(settings);
        await first.CommandAsync($"Fix it {GitHubBotTest.PrUrl}");
        await Eventually.Until(() => github.IsMember(team, "hubot"), "added to the bypass team");
        first.Kill();
        var expires = BotProcess.ReadStore(data, s => s.Get(1)!.Bypass!.ExpiresAt);
        Assert.True(github.IsMember(team, "hubot"));
        Assert.Empty(github.CallsTo("DELETE", membership));

        var second = await StartAsync(settings);
        await Eventually.Until(() => !github.IsMember(team, "hubot"), "removed from the team after the restart");
        await Eventually.Until(() => slack.Messages.Any(m => m.MetadataNote == GitHubNotes.BypassEnded), "bypass-ended note");
        second.Kill();

        Assert.Single(github.CallsTo("DELETE", membership));
        Assert.True(DateTimeOffset.UtcNow >= expires);
        BotProcess.ReadStore(data, s =>
        {
            var bypass = s.Get(1)!.Bypass!;
            Assert.NotNull(bypass.RevokedAt);
            Assert.True(bypass.RevokedAt >= bypass.ExpiresAt);
            Assert.Single(s.AuditTrail(1), e => e.Type == GitHubAuditTypes.BypassGranted);
            Assert.Single(s.AuditTrail(1), e => e.Type == GitHubAuditTypes.BypassRevoked);
            AssertAuditChainIntact(s);
            return 0;
        });
    }

    [Fact]
    public async Task ADigestRunKilledAfterTheFirstManagerIsFinishedAfterTheRestartAndNobodyGetsItTwice()
    {
        const string manager1 = "U0MGR1", manager2 = "U0MGR2";
        var settings = new Dictionary<string, string?>
        {
            ["Slack:Managers:0"] = manager1,
            ["Slack:Managers:1"] = manager2,
            // Long enough between two posts for the kill to land after the first.
            ["Policy:DigestSendInterval"] = "00:00:05",
        };
        BotProcess.ReadStore(data, s =>
        {
            var now = DateTimeOffset.UtcNow;
            return s.Declare(new EmergencyChange { DeclaredBy = TestBot.Declarer, Summary = "Overdue", DeclaredAt = now - TimeSpan.FromDays(3), DueAt = now - TimeSpan.FromDays(1) }, _ => []);
        });
        IReadOnlyList<PostedSlackMessage> Digests(string user) =>
            [.. slack.DirectMessages(user).Where(m => m.Metadata?["event_type"]?.GetValue<string>() == DigestBuilder.EventType)];

        var first = await StartAsync(settings);
        TriggerDigest();
        await Eventually.Until(() => Digests(manager1).Count + Digests(manager2).Count == 1, "the first manager's digest");
        first.Kill();
        Assert.Equal(1, Digests(manager1).Count + Digests(manager2).Count);

        var second = await StartAsync(settings);
        TriggerDigest();
        await Eventually.Until(() => Digests(manager1).Count == 1 && Digests(manager2).Count == 1, "both managers have the digest");
        // A further trigger in the same week (a replayed occurrence) sends nothing.
        TriggerDigest();
        await Eventually.Stays(() => Digests(manager1).Count == 1 && Digests(manager2).Count == 1, "nobody gets it twice", TimeSpan.FromSeconds(3));
        second.Kill();
        BotProcess.ReadStore(data, s => { AssertAuditChainIntact(s); return 0; });
    }

    /// <summary>Triggers the weekly digest through the bot's own Hangfire SQLite store, as the dashboard's "Trigger now" does.</summary>
    void TriggerDigest()
    {
        var storage = new SQLiteStorage(Path.Combine(data, "hangfire.db"), new SQLiteStorageOptions());
        try { new RecurringJobManager(storage).Trigger(WeeklyDigestJob.RecurringId); }
        finally { storage.Dispose(); }
    }

    [Fact]
    public async Task ASigtermWhileAnAnnouncementIsInFlightStopsTheBotAndTheRestartCompletesItExactlyOnce()
    {
        slack.Fail("chat.postMessage", new Fault.WorkThenHang(TimeSpan.FromSeconds(30)));
        var first = await StartAsync();
        Assert.Equal(HttpStatusCode.OK, (await first.CommandAsync("Stopped mid-post")).StatusCode);
        await Eventually.Until(() => Announcements("BG-1").Count == 1, "posted at Slack, answer held back");
        await first.TerminateAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(0, first.ExitCode);

        var second = await StartAsync();
        await Eventually.Until(() => slack.Messages.Any(m => m.ThreadTs == Announcements("BG-1")[0].Ts), "thread details after the restart");
        await second.TerminateAsync(TimeSpan.FromSeconds(15));

        Assert.Single(Announcements("BG-1"));
        BotProcess.ReadStore(data, s =>
        {
            Assert.Equal(Announcements("BG-1")[0].Ts, s.Get(1)!.Announcement!.Ts);
            Assert.Single(s.AuditTrail(1), e => e.Type == AuditTypes.Announced);
            AssertAuditChainIntact(s);
            return 0;
        });
    }
}
