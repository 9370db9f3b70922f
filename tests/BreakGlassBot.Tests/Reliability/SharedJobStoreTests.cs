using BreakGlassBot.Digest;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Support;
using Hangfire;
using Hangfire.Storage;

namespace BreakGlassBot.Tests.Reliability;

/// <summary>
/// Two bot instances on one PostgreSQL job store. Each keeps its changes in its own LiteDB file (one process per file),
/// so the only thing they share is Hangfire: a job about an instance's changes must run on that instance, and each
/// instance's recurring jobs must run for its own data — never for the other's, never twice.
/// </summary>
[Collection(PostgresCollection.Name)]
[Trait("Category", "EndToEnd")]
public class SharedJobStoreTests(PostgresServer postgres) : IAsyncLifetime
{
    const string ManagerA = "U0MGRA", ManagerB = "U0MGRB", ReviewerA = "U0REVA", ReviewerB = "U0REVB";
    readonly FakeSlack slackA = new(), slackB = new();

    public async Task InitializeAsync()
    {
        await slackA.StartAsync();
        await slackB.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await slackA.DisposeAsync();
        await slackB.DisposeAsync();
    }

    static Dictionary<string, string?> Settings(string connectionString, string manager, string reviewer, string reminderInterval = "00:00:01") => new()
    {
        ["Storage:Hangfire"] = "PostgreSql",
        ["Storage:ConnectionString"] = connectionString,
        ["Slack:Managers:0"] = manager,
        ["Slack:Reviewers:0"] = reviewer,
        ["Policy:DigestSendInterval"] = "00:00:00.100",
        ["Policy:ReviewWindow"] = "00:01:00",
        ["Policy:ReminderInterval"] = reminderInterval,
    };

    static IReadOnlyList<PostedSlackMessage> Digests(FakeSlack slack, string user) =>
        [.. slack.DirectMessages(user).Where(m => m.Metadata?["event_type"]?.GetValue<string>() == DigestBuilder.EventType)];

    static IReadOnlyList<string> Reminders(FakeSlack slack, string user, string changeId) =>
        [.. slack.DirectMessages(user).Where(m => m.MetadataChangeId == changeId && m.MetadataNote?.StartsWith("reminder:") == true).Select(m => m.MetadataNote!).Distinct()];

    [Fact]
    public async Task EachInstancesWeeklyDigestRunsForItsOwnManagersExactlyOnce()
    {
        var db = await postgres.NewDatabaseAsync();
        await using var a = await TestBot.StartAsync(slackA, settings: Settings(db, ManagerA, ReviewerA));
        await using var b = await TestBot.StartAsync(slackB, settings: Settings(db, ManagerB, ReviewerB));
        foreach (var bot in new[] { a, b })
        {
            var now = DateTimeOffset.UtcNow;
            bot.Store.Declare(new EmergencyChange { DeclaredBy = TestBot.Declarer, Summary = "Overdue", DeclaredAt = now - TimeSpan.FromDays(3), DueAt = now - TimeSpan.FromDays(1) }, _ => []);
        }

        // What the cron does each week: every registered digest occurrence fires (once each, from either instance).
        using (var connection = a.Service<JobStorage>().GetConnection())
        {
            var digestJobs = connection.GetRecurringJobs().Where(j => j.Job?.Type == typeof(WeeklyDigestJob)).ToList();
            foreach (var job in digestJobs) a.Service<IRecurringJobManagerV2>().TriggerJob(job.Id);
        }

        await Eventually.Until(() => Digests(slackA, ManagerA).Count == 1 && Digests(slackB, ManagerB).Count == 1,
            "each instance's manager got its instance's digest", TimeSpan.FromSeconds(15));
        await Eventually.Stays(() => Digests(slackA, ManagerA).Count == 1 && Digests(slackB, ManagerB).Count == 1, "nobody twice", TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task RemindersAboutAChangeComeFromTheInstanceThatHoldsItAndKeepComing()
    {
        var db = await postgres.NewDatabaseAsync();
        await using var a = await TestBot.StartAsync(slackA, settings: Settings(db, ManagerA, ReviewerA, reminderInterval: "00:00:01"));
        await using var b = await TestBot.StartAsync(slackB, settings: Settings(db, ManagerB, ReviewerB, reminderInterval: "00:00:30"));
        // Both instances number their changes from 1: BG-1 on A and BG-1 on B are different changes, with different plans.
        await a.CommandJsonAsync("Change on A");
        await b.CommandJsonAsync("Change on B");

        // A reminds every second: its chain of checks must keep going, on A. B's first reminder is 30 s away.
        try { await Eventually.Until(() => Reminders(slackA, ReviewerA, "BG-1").Count >= 3, "three reminder rounds on A", TimeSpan.FromSeconds(20)); }
        catch (Xunit.Sdk.XunitException)
        {
            // Tell a stalled chain (a job ran on the other instance) from a slow machine.
            Assert.Fail($"A's reviewer got {Reminders(slackA, ReviewerA, "BG-1").Count} reminder round(s) in 20 s; A's next check is planned for " +
                $"{a.Store.Get(1)!.NextCheckAt:O} (now {DateTimeOffset.UtcNow:O}); B's reviewer got {Reminders(slackB, ReviewerB, "BG-1").Count}");
        }
        Assert.Empty(Reminders(slackB, ReviewerB, "BG-1"));
        Assert.Equal("Change on A", a.Store.Get(1)!.Summary);
        Assert.Equal("Change on B", b.Store.Get(1)!.Summary);
        Assert.Empty(slackA.DirectMessages(ReviewerB));
        Assert.Empty(slackB.DirectMessages(ReviewerA));
    }
}
