using BreakGlassBot.Deadlines;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace BreakGlassBot.Tests.Deadlines;

/// <summary>
/// The tracking job called directly with a fake clock (set far in the future, so Hangfire's own real-time
/// scheduling never runs the planned checks during the test).
/// </summary>
public class TrackChangeJobTests : IAsyncLifetime
{
    readonly FakeSlack slack = new();
    readonly FakeTimeProvider clock = new(new DateTimeOffset(2031, 1, 3, 8, 0, 0, TimeSpan.Zero)); // a Friday
    TestBot bot = null!;

    public async Task InitializeAsync()
    {
        await slack.StartAsync();
        bot = await TestBot.StartAsync(slack, settings: new Dictionary<string, string?>
        {
            ["Policy:BusinessHoursOnly"] = "true",
            ["Policy:BusinessHours"] = "Mon-Fri 09:00-17:00",
            ["Policy:TimeZone"] = "Europe/Berlin",
            ["Policy:ReviewWindow"] = "1.00:00:00",
            ["Policy:ReminderInterval"] = "02:00:00",
            ["Slack:ReviewerUserGroup"] = "S0REVIEWERS",
            ["Slack:Reviewers:0"] = "U0LISTED",
        }, configure: b => b.Services.AddSingleton<TimeProvider>(clock));
    }

    public async Task DisposeAsync()
    {
        await bot.DisposeAsync();
        await slack.DisposeAsync();
    }

    EmergencyChange Declare()
    {
        var (change, _) = bot.Service<BreakGlassBot.Declaring.Declarations>().Declare(new("U0DECL", null, "Weekend fix", null, null, null, [], [], null, null));
        return change;
    }

    Task Run(int id) => bot.Service<IServiceProvider>().GetRequiredService<TrackChangeJob>().RunAsync(id, null, CancellationToken.None);

    [Fact]
    public async Task InBusinessHoursModeRemindersWaitForTheWorkingDayAndGoToTheGroupAndTheList()
    {
        clock.SetUtcNow(new DateTimeOffset(2031, 1, 4, 2, 0, 0, TimeSpan.Zero)); // Saturday 03:00 in Berlin
        var change = Declare();
        // Due: Monday 09:00 + 8 working hours = Monday 17:00 Berlin = 16:00 UTC.
        Assert.Equal(new DateTimeOffset(2031, 1, 6, 16, 0, 0, TimeSpan.Zero), change.DueAt);
        // First check: the first reminder, Monday 09:00 Berlin (08:00 UTC), not the weekend.
        Assert.Equal(new DateTimeOffset(2031, 1, 6, 8, 0, 0, TimeSpan.Zero), change.NextCheckAt);

        clock.SetUtcNow(new DateTimeOffset(2031, 1, 4, 12, 0, 0, TimeSpan.Zero)); // Saturday noon: an extra look sends nothing
        await Run(change.Id);
        Assert.Empty(bot.Store.Get(change.Id)!.Reminders);

        clock.SetUtcNow(new DateTimeOffset(2031, 1, 6, 8, 0, 1, TimeSpan.Zero)); // Monday 09:00:01 Berlin
        await Run(change.Id);
        var reminded = bot.Store.Get(change.Id)!.Reminders.Select(r => r.User).Order().ToList();
        // usergroups.users.list fixture members + the listed reviewer; never the declarer
        Assert.Equal(["U060R4BJ4", "U0LISTED", "W123A4BC5"], reminded);
        Assert.Equal(new DateTimeOffset(2031, 1, 6, 10, 0, 1, TimeSpan.Zero), bot.Store.Get(change.Id)!.NextCheckAt);

        var groupCalls = slack.CallsTo("usergroups.users.list").Count;
        await Run(change.Id); // the same check again (a Hangfire retry): nobody is reminded twice
        Assert.Equal(3, bot.Store.Get(change.Id)!.Reminders.Count);
        Assert.Equal(groupCalls, slack.CallsTo("usergroups.users.list").Count); // the group is cached for a short time

        clock.SetUtcNow(new DateTimeOffset(2031, 1, 6, 16, 30, 0, TimeSpan.Zero)); // Monday 17:30 Berlin: overdue, after hours
        await Run(change.Id);
        var after = bot.Store.Get(change.Id)!;
        Assert.NotNull(after.OverdueAt);
        Assert.Equal(3, after.Reminders.Count(r => r.Kind == "reminder")); // no reminders after hours
        Assert.Single(bot.Store.AuditTrail(change.Id), e => e.Type == AuditTypes.Overdue);
    }
}
