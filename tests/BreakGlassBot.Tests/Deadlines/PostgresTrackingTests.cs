using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Support;
using Hangfire;
using Microsoft.Extensions.DependencyInjection;

namespace BreakGlassBot.Tests.Deadlines;

/// <summary>The tracking end to end once more, with Hangfire on a real PostgreSQL (Storage:Hangfire = PostgreSql).</summary>
[Collection(PostgresCollection.Name)]
public class PostgresTrackingTests(PostgresServer postgres) : IAsyncLifetime
{
    readonly FakeSlack slack = new();

    public Task InitializeAsync() => slack.StartAsync();
    public async Task DisposeAsync() => await slack.DisposeAsync();

    [Fact]
    public async Task RemindersOverdueAndReviewWorkWithThePostgreSqlJobStore()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Hangfire"] = "PostgreSql",
            ["Storage:ConnectionString"] = await postgres.NewDatabaseAsync(),
            ["Policy:ReviewWindow"] = "00:00:04",
            ["Policy:ReminderInterval"] = "00:00:02",
            ["Slack:Reviewers:0"] = "U0REV1",
            ["Slack:Managers:0"] = "U0MGR",
        };
        await using var bot = await TestBot.StartAsync(slack, settings: settings);
        Assert.Contains("PostgreSql", bot.Service<JobStorage>().GetType().Name);

        await bot.CommandJsonAsync("Failover the primary");
        await Eventually.Until(() => slack.DirectMessages("U0REV1").Count >= 1, "reviewer reminded", TimeSpan.FromSeconds(30));
        await Eventually.Until(() => slack.DirectMessages("U0MGR").Count == 1, "manager told when overdue", TimeSpan.FromSeconds(30));

        bot.Store.Update(1, c => { c.Approvals.Add(new Approval { Reviewer = "U0REV1", At = DateTimeOffset.UtcNow, Source = "test" }); return []; });
        bot.Service<BreakGlassBot.Reviewing.IReevaluation>().Reevaluate(1);
        await Eventually.Until(() => bot.Store.Get(1)!.Status == ChangeStatus.Reviewed, "reviewed", TimeSpan.FromSeconds(30));
        Assert.Single(bot.Store.AuditTrail(1), e => e.Type == AuditTypes.Reviewed && e.Data["on_time"] == "false");
    }
}
