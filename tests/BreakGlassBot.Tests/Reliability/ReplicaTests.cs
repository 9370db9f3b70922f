using System.Net;
using System.Text.Json.Nodes;
using BreakGlassBot.Digest;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.Reviewing;
using BreakGlassBot.Tests.Support;
using Hangfire;
using Hangfire.Storage;

namespace BreakGlassBot.Tests.Reliability;

/// <summary>
/// Two replicas on one PostgreSQL database behind one Slack app (one fake Slack): whichever replica a request reaches,
/// the cluster behaves as one bot — one numbering, one announcement per change, one approval per click, one reminder per
/// person per interval, one digest per manager.
/// </summary>
[Collection(PostgresCollection.Name)]
[Trait("Category", "EndToEnd")]
public class ReplicaTests(PostgresServer postgres) : IAsyncLifetime
{
    const string Manager = "U0MGR";
    readonly FakeSlack slack = new();
    readonly List<TestBot> bots = [];

    public Task InitializeAsync() => slack.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var bot in bots) await bot.DisposeAsync();
        await slack.DisposeAsync();
    }

    async Task<(TestBot A, TestBot B)> StartReplicasAsync(IDictionary<string, string?>? extra = null)
    {
        var db = await postgres.NewDatabaseAsync();
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Store"] = "PostgreSql",
            ["Storage:ConnectionString"] = db,
            ["Storage:ClaimLease"] = "00:00:02",
            ["Slack:Reviewers:0"] = ApprovalTests.Reviewer1,
            ["Slack:Reviewers:1"] = ApprovalTests.Reviewer2,
            ["Slack:Managers:0"] = Manager,
            ["Policy:DigestSendInterval"] = "00:00:00.100",
        };
        foreach (var (k, v) in extra ?? new Dictionary<string, string?>()) settings[k] = v;
        // Started together: both create or find the schema under the migration lock.
        var started = await Task.WhenAll(Task.Run(() => TestBot.StartAsync(slack, settings: settings)), Task.Run(() => TestBot.StartAsync(slack, settings: settings)));
        bots.AddRange(started);
        // Hangfire's schema too is installed once, not raced (it raced before its install took an advisory lock).
        Assert.DoesNotContain(started.SelectMany(b => b.Logs), l => l.Contains("install/upgrade", StringComparison.Ordinal));
        return (started[0], started[1]);
    }

    static string ChangeIdIn(JsonObject reply) =>
        System.Text.RegularExpressions.Regex.Match(reply.ToJsonString(), @"BG-\d+").Value;

    [Fact]
    public async Task DeclarationsOnBothReplicasGetContiguousNumbersAndOneAnnouncementEach()
    {
        var (a, b) = await StartReplicasAsync();
        const int n = 20;
        // Sent together, alternately to each replica: both write at once.
        var replies = await Task.WhenAll(Enumerable.Range(1, n).Select(i => (i % 2 == 0 ? a : b).CommandJsonAsync($"Fix number {i}")));
        var ids = replies.Select(ChangeIdIn).ToList();
        Assert.Equal(Enumerable.Range(1, n).Select(i => $"BG-{i}").Order(), ids.Order());

        await Eventually.Until(() => Enumerable.Range(1, n).All(i => slack.Announcements($"BG-{i}").Count >= 1) && a.Store.WithDueSteps(DateTimeOffset.MaxValue).Count == 0,
            "every change announced and its steps done", TimeSpan.FromSeconds(30));
        await Eventually.Stays(() => Enumerable.Range(1, n).All(i => slack.Announcements($"BG-{i}").Count == 1), "one announcement each", TimeSpan.FromSeconds(2));
        Assert.Equal(n, a.Store.Count());
        Assert.Equal(n, b.Store.Count());
        Assert.True(a.Store.VerifyAuditChain().Trustworthy, a.Store.VerifyAuditChain().Describe());
    }

    [Fact]
    public async Task StatusOnEitherReplicaFindsAChangeDeclaredOnTheOther()
    {
        var (a, b) = await StartReplicasAsync();
        Assert.Contains("BG-1", (await a.CommandJsonAsync("Restart the payments pods")).ToJsonString());
        var status = (await b.CommandJsonAsync("status BG-1")).ToJsonString();
        Assert.Contains("Restart the payments pods", status);
        Assert.DoesNotContain("not found", status, StringComparison.OrdinalIgnoreCase);

        // Each replica says which store it runs on, and is ready once the schema and Hangfire's tables answer.
        foreach (var bot in new[] { a, b })
        {
            var health = JsonNode.Parse(await bot.Http.GetStringAsync("/healthz"))!;
            Assert.Equal(("ok", "PostgreSql"), (health["status"]!.GetValue<string>(), health["store"]!.GetValue<string>()));
            Assert.NotNull(health["outbox"]!["changes_with_pending_steps"]);
            var ready = JsonNode.Parse(await bot.Http.GetStringAsync("/readyz"))!;
            Assert.Equal(("ready", "ok", "ok"), (ready["status"]!.GetValue<string>(), ready["storage"]!.GetValue<string>(), ready["hangfire"]!.GetValue<string>()));
        }
    }

    [Fact]
    public async Task AnApprovalClickAndAThreadLgtmHandledByEitherReplicaAreRecordedOnce()
    {
        var (a, b) = await StartReplicasAsync(new Dictionary<string, string?> { ["Policy:RequiredApprovals"] = "2" });
        await a.CommandJsonAsync("Scale the database");
        await Eventually.Until(() => a.Store.Get(1)?.Announcement is not null, "announced");
        var ts = a.Store.Get(1)!.Announcement!.Ts;

        // The same click reaching both replicas (a load balancer retry): one approval.
        var click = ApprovalTests.Click(ApprovalTests.Reviewer1, ReviewActions.Approve, "BG-1");
        var answers = await Task.WhenAll(a.InteractionAsync(click), b.InteractionAsync(click));
        Assert.All(answers, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        // The same thread reply delivered to both (Slack retrying after a slow ack): one approval.
        var reply = ThreadReplyTests.Reply("EvReplica01", ApprovalTests.Reviewer2, "lgtm", ts);
        await Task.WhenAll(a.EventAsync(reply), b.EventAsync(reply));

        await Eventually.Until(() => a.Store.Get(1)!.Status == ChangeStatus.Reviewed, "reviewed by two approvals", TimeSpan.FromSeconds(20));
        await Eventually.Until(() => a.Store.WithDueSteps(DateTimeOffset.MaxValue).Count == 0, "notes sent", TimeSpan.FromSeconds(20));
        var change = b.Store.Get(1)!;
        Assert.Equal([ApprovalTests.Reviewer1, ApprovalTests.Reviewer2], change.Approvals.Select(x => x.Reviewer).Order());
        Assert.Single(b.Store.AuditTrail(1), e => e.Type == AuditTypes.Approved && e.Actor == ApprovalTests.Reviewer1);
        Assert.Single(b.Store.AuditTrail(1), e => e.Type == AuditTypes.Approved && e.Actor == ApprovalTests.Reviewer2);
        Assert.Single(slack.Thread(TestBot.Channel, ts), m => m.Text.Contains($"approved retrospectively by <@{ApprovalTests.Reviewer1}>"));
        Assert.Empty(a.Store.PendingInbound());
    }

    [Fact]
    public async Task RemindersGoOncePerPersonPerIntervalAndTheDigestOncePerManager()
    {
        var (a, b) = await StartReplicasAsync(new Dictionary<string, string?> { ["Policy:ReviewWindow"] = "00:01:00", ["Policy:ReminderInterval"] = "00:00:01" });
        await b.CommandJsonAsync("Rotate the leaked key");
        await Eventually.Until(() => Reminders(ApprovalTests.Reviewer1).Count >= 4, "four reminder rounds", TimeSpan.FromSeconds(30));
        foreach (var reviewer in new[] { ApprovalTests.Reviewer1, ApprovalTests.Reviewer2 })
        {
            var notes = Reminders(reviewer);
            Assert.Equal(notes.Distinct().Count(), notes.Count); // each round's reminder once, though both replicas run Hangfire servers
        }

        // Each replica's Hangfire sees one digest job for the cluster; fired from both at once, the manager still gets one digest.
        var now = DateTimeOffset.UtcNow;
        a.Store.Declare(new EmergencyChange { DeclaredBy = TestBot.Declarer, Summary = "Overdue", DeclaredAt = now - TimeSpan.FromDays(3), DueAt = now - TimeSpan.FromDays(1) }, _ => []);
        List<string> digestJobs;
        using (var connection = a.Service<JobStorage>().GetConnection())
            digestJobs = [.. connection.GetRecurringJobs().Where(j => j.Job?.Type == typeof(WeeklyDigestJob)).Select(j => j.Id)];
        Assert.Single(digestJobs);
        a.Service<IRecurringJobManagerV2>().TriggerJob(digestJobs[0]);
        b.Service<IRecurringJobManagerV2>().TriggerJob(digestJobs[0]);
        await Eventually.Until(() => Digests().Count >= 1, "the manager got the digest", TimeSpan.FromSeconds(20));
        await Eventually.Stays(() => Digests().Count == 1, "and only once", TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task TeamBypassGrantsAndRevocationsInterleavedAcrossReplicasLeaveNobodyInTheTeam()
    {
        await using var github = new BreakGlassBot.Tests.GitHub.FakeGitHub();
        await github.StartAsync();
        github.AddPr("acme", "api", 1347);
        var (a, b) = await StartReplicasAsync(new Dictionary<string, string?>
        {
            ["GitHub:Token"] = BreakGlassBot.Tests.GitHub.FakeGitHub.Token,
            ["GitHub:ApiBaseUrl"] = github.ApiUrl,
            ["GitHub:BypassMode"] = "Team",
            ["GitHub:BypassTeam"] = "acme/breakglass",
            ["Slack:Declarers:0"] = TestBot.Declarer,
            [$"People:{TestBot.Declarer}:GitHub"] = "hubot",
            ["Policy:BypassDuration"] = "00:00:01.500",
        });
        // Six emergencies by one person, declared on both replicas at once: their windows overlap, so grants, hand-overs and
        // revocations of one membership run on both replicas side by side.
        await Task.WhenAll(Enumerable.Range(1, 6).Select(i => (i % 2 == 0 ? a : b).CommandJsonAsync($"Fix {i} https://github.com/acme/api/pull/1347")));
        await Eventually.Until(() => Enumerable.Range(1, 6).All(i => a.Store.Get(i)?.Bypass?.RevokedAt is not null), "every window ended and was revoked",
            TimeSpan.FromSeconds(40));
        await Eventually.Stays(() => !github.IsMember("acme/breakglass", "hubot"), "hubot is out of the team", TimeSpan.FromSeconds(2));
        Assert.All(Enumerable.Range(1, 6), i => Assert.Single(a.Store.AuditTrail(i), e => e.Type == BreakGlassBot.GitHub.GitHubAuditTypes.BypassRevoked));
        Assert.True(a.Store.VerifyAuditChain().Trustworthy);
    }

    List<string> Reminders(string user) =>
        [.. slack.DirectMessages(user).Where(m => m.MetadataChangeId == "BG-1" && m.MetadataNote?.StartsWith("reminder:") == true).Select(m => m.MetadataNote!)];

    IReadOnlyList<PostedSlackMessage> Digests() =>
        [.. slack.DirectMessages(Manager).Where(m => m.Metadata?["event_type"]?.GetValue<string>() == DigestBuilder.EventType)];
}
