using BreakGlassBot.Deadlines;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Support;
using Hangfire;
using Hangfire.Storage;

namespace BreakGlassBot.Tests.Deadlines;

/// <summary>The periodic safety net: a recurring sweep finds open changes whose planned check was lost and checks them.</summary>
[Collection(SerialCollection.Name)] // real-time Hangfire scheduling
[Trait("Category", "EndToEnd")]
public class TrackingSweepTests
{
    [Fact]
    public async Task TheRecurringSweepReTracksAnOpenChangeWhoseTrackingJobWasDeleted()
    {
        await using var slack = new FakeSlack();
        await slack.StartAsync();
        await using var bot = await TestBot.StartAsync(slack, settings: new Dictionary<string, string?>
        {
            ["Policy:ReviewWindow"] = "01:00:00", ["Policy:ReminderInterval"] = "00:30:00", ["Slack:Reviewers:0"] = "U0REV1",
        });
        var storage = bot.Service<JobStorage>();
        using (var connection = storage.GetConnection())
        {
            var sweep = Assert.Single(connection.GetRecurringJobs(), j => j.Id == TrackingSweepJob.RecurringId);
            Assert.Equal(Cron.Minutely(), sweep.Cron);
            Assert.Equal(typeof(TrackingSweepJob), sweep.Job.Type);
        }

        await bot.CommandJsonAsync("Purge CDN cache");
        await bot.Until(() => bot.Store.Get(1)!.Steps.All(s => s.State != StepState.Pending), "handed to Hangfire");
        var api = storage.GetMonitoringApi();
        bool Tracked() => api.ScheduledJobs(0, 100).Any(j => j.Value.Job?.Type == typeof(TrackChangeJob) && Equals(j.Value.Job.Args[0], 1));
        var planned = Assert.Single(api.ScheduledJobs(0, 100), j => j.Value.Job?.Type == typeof(TrackChangeJob));

        // The job is lost (deleted from Hangfire) and its time passes: nothing would ever look at the change again.
        bot.Service<IBackgroundJobClient>().Delete(planned.Key);
        bot.Store.Update(1, c => { c.NextCheckAt = DateTimeOffset.UtcNow - TimeSpan.FromMinutes(1); return []; });
        Assert.False(Tracked());

        // The sweep's next occurrence (brought forward here; Cron.Minutely in production).
        ((IRecurringJobManagerV2)bot.Service<IRecurringJobManager>()).TriggerJob(TrackingSweepJob.RecurringId);

        await bot.Until(() => bot.Store.Get(1)!.NextCheckAt > DateTimeOffset.UtcNow && Tracked(), "checked and planned again");
        Assert.Equal(ChangeStatus.Open, bot.Store.Get(1)!.Status);
    }
}
