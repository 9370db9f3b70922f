using System.Net;
using BreakGlassBot.Deadlines;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Support;
using Hangfire;
using Hangfire.Storage;

namespace BreakGlassBot.Tests.Deadlines;

/// <summary>
/// The real Hangfire server on the SQLite store in the bot's data directory, the review window shrunk to
/// seconds, the fake Slack API on loopback.
/// </summary>
[Collection(SerialCollection.Name)] // real-time Hangfire scheduling: measured alone, not against the parallel tests
[Trait("Category", "EndToEnd")]
public class TrackingTests : IAsyncLifetime
{
    const string Reviewer1 = "U0REV1";
    const string Reviewer2 = "U0REV2";
    const string Manager = "U0MGR";
    readonly FakeSlack slack = new();
    readonly string data = TestBot.NewDataDirectory();

    static Dictionary<string, string?> Settings(string window = "00:00:20", string reminder = "00:00:02") => new()
    {
        ["Policy:ReviewWindow"] = window,
        ["Policy:ReminderInterval"] = reminder,
        ["Slack:Reviewers:0"] = Reviewer1,
        ["Slack:Reviewers:1"] = Reviewer2,
        ["Slack:Reviewers:2"] = TestBot.Declarer, // listed, but never asked to review their own change
        ["Slack:Managers:0"] = Manager,
    };

    public Task InitializeAsync() => slack.StartAsync();

    public async Task DisposeAsync()
    {
        await slack.DisposeAsync();
        try { Directory.Delete(data, true); } catch (IOException) { }
    }

    static void Approve(TestBot bot, int id, string reviewer)
    {
        bot.Store.Update(id, c => { c.Approvals.Add(new Approval { Reviewer = reviewer, At = DateTimeOffset.UtcNow, Source = "test" }); return []; });
        bot.Service<BreakGlassBot.Outbox.IReevaluation>().Reevaluate(id);
    }

    /// <summary>
    /// No check of the change is due, running or planned, and its outbox is idle: nothing can send it a message any more
    /// (reminders come only from its checks). What a test waits for before asserting that nothing more was sent.
    /// </summary>
    static bool NothingLeftToRun(TestBot bot, int id) => bot.Jobs<TrackChangeJob>(id) is { Due: 0, Later: 0 } && bot.Store.Get(id)!.NextStepAt is null;

    [Fact]
    public async Task ReviewersAreRemindedUntilTheEvidenceIsThereThenNothingMoreIsSent()
    {
        await using var bot = await TestBot.StartAsync(slack, data, Settings());
        await bot.CommandJsonAsync("Hotfix the login page");

        await Eventually.Until(() => slack.DirectMessages(Reviewer1).Count >= 1 && slack.DirectMessages(Reviewer2).Count >= 1, "both reviewers reminded", TimeSpan.FromSeconds(30));
        var reminder = slack.DirectMessages(Reviewer1)[0];
        Assert.Contains("BG-1", reminder.Text);
        Assert.Contains("Still missing: an approval from a reviewer in the Slack thread", reminder.Text);
        Assert.Contains("breakglass_approve", reminder.Blocks!.ToJsonString());
        Assert.Empty(slack.DirectMessages(TestBot.Declarer));
        Assert.Contains(bot.Store.AuditTrail(1), e => e.Type == AuditTypes.ReminderSent && e.Data["to"] == Reviewer1);

        Approve(bot, 1, Reviewer2);
        await Eventually.Until(() => bot.Store.Get(1)!.Status == ChangeStatus.Reviewed, "reviewed", TimeSpan.FromSeconds(30));
        await Eventually.Until(() => bot.Store.Get(1)!.NextStepAt is null, "reviewed note and announcement update sent");
        var sent = slack.Messages.Count(m => m.Channel.StartsWith('D'));
        await bot.Until(() => NothingLeftToRun(bot, 1), "every planned check of BG-1 ran, none is left and the outbox is idle", TimeSpan.FromSeconds(30));
        Assert.Equal(sent, slack.Messages.Count(m => m.Channel.StartsWith('D')));

        var change = bot.Store.Get(1)!;
        Assert.Contains("Reviewed", slack.Announcements("BG-1")[0].AllText);
        Assert.Single(slack.Thread(TestBot.Channel, change.Announcement!.Ts), m => m.Text.Contains("BG-1 is reviewed"));
        Assert.Single(bot.Store.AuditTrail(1), e => e.Type == AuditTypes.Reviewed && e.Data["on_time"] == "true");
    }

    [Fact]
    public async Task NoOneGetsTwoRemindersInsideOneInterval()
    {
        await using var bot = await TestBot.StartAsync(slack, data, Settings(window: "00:00:30", reminder: "00:00:03"));
        await bot.CommandJsonAsync("Restart ingest");
        await Eventually.Until(() => slack.DirectMessages(Reviewer1).Count >= 1, "first reminder", TimeSpan.FromSeconds(30));
        // Extra, concurrent re-evaluations (a retried job, webhooks) must not add messages.
        var tracker = bot.Service<BreakGlassBot.Outbox.IReevaluation>();
        for (var i = 0; i < 5; i++) tracker.Reevaluate(1);
        await Eventually.Until(() => slack.DirectMessages(Reviewer1).Count >= 3, "three reminders", TimeSpan.FromSeconds(20));
        var times = bot.Store.Get(1)!.Reminders.Where(r => r.User == Reviewer1).Select(r => r.At).Order().ToList();
        for (var i = 1; i < times.Count; i++)
            Assert.True(times[i] - times[i - 1] >= TimeSpan.FromSeconds(2.9), $"reminders {times[i - 1]:O} and {times[i]:O} are inside one interval");
        Assert.Equal(times.Count, slack.DirectMessages(Reviewer1).Count(m => m.Text.Contains("Retrospective review needed")));
    }

    [Fact]
    public async Task AChangeThatGoesOverdueIsMarkedAndManagersAndTheDeclarerAreTold()
    {
        await using var bot = await TestBot.StartAsync(slack, data, Settings(window: "00:00:03", reminder: "00:00:10"));
        await bot.CommandJsonAsync("Emergency DNS change");
        await Eventually.Until(() => bot.Store.Get(1)!.OverdueAt is not null, "marked overdue", TimeSpan.FromSeconds(30));
        await Eventually.Until(() => slack.DirectMessages(Manager).Count == 1 && slack.DirectMessages(TestBot.Declarer).Count == 1, "escalated", TimeSpan.FromSeconds(30));
        Assert.Contains("Escalation", slack.DirectMessages(Manager)[0].Text);
        Assert.Contains("overdue by", slack.DirectMessages(Manager)[0].Text);
        await Eventually.Until(() => bot.Store.Get(1)!.NextStepAt is null, "thread note and announcement update");
        Assert.Single(slack.Thread(TestBot.Channel, bot.Store.Get(1)!.Announcement!.Ts), m => m.Text.Contains("BG-1 is overdue"));
        Assert.Contains("Overdue", slack.Announcements("BG-1")[0].AllText);
        var trail = bot.Store.AuditTrail(1).Select(e => e.Type).ToList();
        Assert.Single(trail, t => t == AuditTypes.Overdue);
        Assert.Single(trail, t => t == AuditTypes.Escalated);
        Assert.Contains("BG-1", (await bot.CommandJsonAsync("list overdue"))["text"]!.GetValue<string>());
    }

    [Fact]
    public async Task AReminderDueWhileTheBotWasStoppedIsDeliveredOnceAfterTheRestart()
    {
        DateTimeOffset firstCheck;
        await using (var bot = await TestBot.StartAsync(slack, data, Settings(window: "00:01:00", reminder: "00:00:04")))
        {
            await bot.CommandJsonAsync("Rotate certificates");
            await Eventually.Until(() => bot.Store.Get(1)!.Steps.All(s => s.State != StepState.Pending), "declared and handed to Hangfire");
            Assert.Empty(slack.DirectMessages(Reviewer1));
            firstCheck = bot.Store.Get(1)!.NextCheckAt!.Value;
        }
        await Eventually.Until(() => DateTimeOffset.UtcNow > firstCheck.AddMilliseconds(200), "the first reminder falls due while the bot is down");
        await using (var bot = await TestBot.StartAsync(slack, data, Settings(window: "00:01:00", reminder: "00:00:04")))
        {
            await Eventually.Until(() => slack.DirectMessages(Reviewer1).Count == 1, "the owed reminder", TimeSpan.FromSeconds(30));
            // Every check due after the restart (the owed one, any start-up re-check) has run and the outbox is idle: a second copy would be sent by now.
            await bot.Until(() => bot.Jobs<TrackChangeJob>(1) is { Due: 0, Succeeded: > 0 } && bot.Store.Get(1)!.NextStepAt is null, "the checks due after the restart ran");
            Assert.Single(slack.DirectMessages(Reviewer1));
            Assert.Single(slack.DirectMessages(Reviewer2));
        }
    }

    [Fact]
    public async Task ALostJobStoreDoesNotMakeTheBotForgetAChange()
    {
        DateTimeOffset firstCheck;
        await using (var bot = await TestBot.StartAsync(slack, data, Settings(window: "00:01:00", reminder: "00:00:03")))
        {
            await bot.CommandJsonAsync("Purge CDN cache");
            await Eventually.Until(() => bot.Store.Get(1)!.Steps.All(s => s.State != StepState.Pending), "handed to Hangfire");
            firstCheck = bot.Store.Get(1)!.NextCheckAt!.Value;
        }
        foreach (var f in Directory.GetFiles(data, "hangfire.db*")) File.Delete(f);
        await Eventually.Until(() => DateTimeOffset.UtcNow > firstCheck.AddMilliseconds(200), "the first check falls due while the job store is lost");
        await using (var bot = await TestBot.StartAsync(slack, data, Settings(window: "00:01:00", reminder: "00:00:03")))
        {
            await Eventually.Until(() => slack.DirectMessages(Reviewer1).Count >= 1, "reminded although the job store was lost", TimeSpan.FromSeconds(30));
        }
    }

    [Fact]
    public async Task AReplacedJobStoreThatHoldsSomeoneElsesJobsStillGetsEveryOpenChangesCheck()
    {
        await using (var bot = await TestBot.StartAsync(slack, data, Settings(window: "01:00:00", reminder: "00:30:00")))
        {
            await bot.CommandJsonAsync("Purge CDN cache");
            await Eventually.Until(() => bot.Store.Get(1)!.Steps.All(s => s.State != StepState.Pending), "handed to Hangfire");
        }
        foreach (var f in Directory.GetFiles(data, "hangfire.db*")) File.Delete(f);
        // A fresh job store that is not empty: a count of scheduled jobs would call it intact.
        using (var other = new EmbeddedJobStorage(Path.Combine(data, "hangfire.db"), new Hangfire.Storage.SQLite.SQLiteStorageOptions()))
            new Hangfire.BackgroundJobClient(other).Schedule(() => Console.WriteLine("someone else's job"), TimeSpan.FromHours(1));
        await using (var bot = await TestBot.StartAsync(slack, data, Settings(window: "01:00:00", reminder: "00:30:00")))
        {
            var scheduled = bot.Service<Hangfire.JobStorage>().GetMonitoringApi().ScheduledJobs(0, 100);
            var planned = bot.Store.Get(1)!.NextCheckAt;
            Assert.Contains(scheduled, j => j.Value.Job?.Type == typeof(TrackChangeJob) && Equals(j.Value.Job.Args[0], 1)
                && j.Value.EnqueueAt is { } at && Math.Abs((at - planned!.Value.UtcDateTime).TotalSeconds) < 1);
        }
        // Restarted on the job store it now marked: nothing is planned twice.
        await using (var bot = await TestBot.StartAsync(slack, data, Settings(window: "01:00:00", reminder: "00:30:00")))
            Assert.Single(bot.Service<Hangfire.JobStorage>().GetMonitoringApi().ScheduledJobs(0, 100), j => j.Value.Job?.Type == typeof(TrackChangeJob));
    }

    [Fact]
    public async Task ACancelledChangeIsNoLongerTracked()
    {
        await using var bot = await TestBot.StartAsync(slack, data, Settings(window: "00:00:04", reminder: "00:00:02"));
        await bot.CommandJsonAsync("Wrong one");
        await bot.CommandJsonAsync("cancel BG-1 mistake");
        await bot.Until(() => bot.Jobs<TrackChangeJob>(1).Succeeded > 0 && NothingLeftToRun(bot, 1), "BG-1's planned check ran and none is left", TimeSpan.FromSeconds(30));
        Assert.Empty(slack.DirectMessages(Reviewer1));
        Assert.Empty(slack.DirectMessages(Manager));
        Assert.Null(bot.Store.Get(1)!.OverdueAt);
    }
}

[Trait("Category", "EndToEnd")]
public class DashboardTests
{
    [Fact]
    public async Task OutsideDevelopmentTheDashboardIsOffWithoutKeysAndNeedsAKeyWithThem()
    {
        await using var slack = new FakeSlack();
        await slack.StartAsync();
        await using (var off = await TestBot.StartAsync(slack))
            Assert.Equal(HttpStatusCode.NotFound, (await off.Http.GetAsync("/hangfire")).StatusCode);

        await using var on = await TestBot.StartAsync(slack, settings: new Dictionary<string, string?> { ["Evidence:ApiKeys:0"] = "dash-key-123" });
        var anonymous = await on.Http.GetAsync("/hangfire");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Contains("Basic", anonymous.Headers.WwwAuthenticate.ToString());
        var wrong = new HttpRequestMessage(HttpMethod.Get, "/hangfire");
        wrong.Headers.Authorization = new("Bearer", "nope");
        Assert.Equal(HttpStatusCode.Unauthorized, (await on.Http.SendAsync(wrong)).StatusCode);
        var right = new HttpRequestMessage(HttpMethod.Get, "/hangfire");
        right.Headers.Authorization = new("Basic", Convert.ToBase64String("admin:dash-key-123"u8.ToArray()));
        Assert.Equal(HttpStatusCode.OK, (await on.Http.SendAsync(right)).StatusCode);
    }

    [Fact]
    public async Task ABrowsersBasicLoginCannotBeUsedByAnotherSiteToTriggerJobs()
    {
        await using var slack = new FakeSlack();
        await slack.StartAsync();
        await using var bot = await TestBot.StartAsync(slack, settings: new Dictionary<string, string?> { ["Admin:ApiKeys:0"] = "dash-key-123" });
        HttpRequestMessage Trigger(string scheme, string credentials, params (string Name, string Value)[] headers)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/hangfire/recurring/trigger")
            {
                Content = new FormUrlEncodedContent([new("jobs[]", TrackingSweepJob.RecurringId)]),
            };
            request.Headers.Authorization = new(scheme, credentials);
            foreach (var (name, value) in headers) request.Headers.TryAddWithoutValidation(name, value);
            return request;
        }
        var basic = Convert.ToBase64String("admin:dash-key-123"u8.ToArray());

        // A form on another site, posted by the browser with the remembered Basic credentials.
        Assert.Equal(HttpStatusCode.Unauthorized, (await bot.Http.SendAsync(Trigger("Basic", basic, ("Origin", "https://evil.example"), ("Sec-Fetch-Site", "cross-site")))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await bot.Http.SendAsync(Trigger("Basic", basic, ("Origin", "https://evil.example")))).StatusCode);
        // The dashboard's own page posting, and a script with the key as a bearer token: allowed.
        Assert.True((await bot.Http.SendAsync(Trigger("Basic", basic, ("Origin", bot.Url.TrimEnd('/')), ("Sec-Fetch-Site", "same-origin")))).IsSuccessStatusCode);
        Assert.True((await bot.Http.SendAsync(Trigger("Bearer", "dash-key-123", ("Origin", "https://evil.example")))).IsSuccessStatusCode);
        // Reading stays as it was.
        var get = new HttpRequestMessage(HttpMethod.Get, "/hangfire");
        get.Headers.Authorization = new("Basic", basic);
        get.Headers.TryAddWithoutValidation("Sec-Fetch-Site", "cross-site");
        Assert.Equal(HttpStatusCode.OK, (await bot.Http.SendAsync(get)).StatusCode);
    }

    static HttpRequestMessage Post(string path, string key, params string[] jobs)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new FormUrlEncodedContent(jobs.Select(j => KeyValuePair.Create("jobs[]", j))) };
        request.Headers.Authorization = new("Bearer", key);
        return request;
    }

    static bool SweepRegistered(TestBot bot)
    {
        using var connection = bot.Service<JobStorage>().GetConnection();
        return connection.GetRecurringJobs().Any(j => j.Id == TrackingSweepJob.RecurringId);
    }

    [Fact]
    public async Task TheAuditorsKeyReadsTheDashboardButCannotSwitchTheControlOff()
    {
        await using var slack = new FakeSlack();
        await slack.StartAsync();
        await using var bot = await TestBot.StartAsync(slack, settings: new Dictionary<string, string?>
        {
            ["Evidence:ApiKeys:0"] = "auditor-key-123", ["Admin:ApiKeys:0"] = "admin-key-456",
            ["Storage:RecurringCheckInterval"] = "00:00:00.300",
        });
        var read = new HttpRequestMessage(HttpMethod.Get, "/hangfire/recurring");
        read.Headers.Authorization = new("Bearer", "auditor-key-123");
        Assert.Equal(HttpStatusCode.OK, (await bot.Http.SendAsync(read)).StatusCode);

        var auditBefore = bot.Store.AuditCount();
        var refused = await bot.Http.SendAsync(Post("/hangfire/recurring/remove", "auditor-key-123", TrackingSweepJob.RecurringId));
        Assert.False(refused.IsSuccessStatusCode, $"the read key removed a job: {(int)refused.StatusCode}");
        Assert.True(SweepRegistered(bot));
        // The page refreshes its counters with POST /stats every few seconds: a read, for either key.
        foreach (var key in new[] { "auditor-key-123", "admin-key-456" })
        {
            var stats = new HttpRequestMessage(HttpMethod.Post, "/hangfire/stats") { Content = new FormUrlEncodedContent([new("metrics[]", "enqueued:count")]) };
            stats.Headers.Authorization = new("Bearer", key);
            Assert.Equal(HttpStatusCode.OK, (await bot.Http.SendAsync(stats)).StatusCode);
        }
        Assert.Equal(auditBefore, bot.Store.AuditCount());

        // The admin key may act; what it did is on the record, and the sweep comes back by itself.
        var removed = await bot.Http.SendAsync(Post("/hangfire/recurring/remove", "admin-key-456", TrackingSweepJob.RecurringId));
        Assert.True(removed.IsSuccessStatusCode, $"the admin key could not remove: {(int)removed.StatusCode}");
        var action = Assert.Single(bot.Store.AuditTrail(0), e => e.Type == AuditTypes.DashboardAction);
        Assert.Equal("/recurring/remove", action.Data["action"]);
        Assert.Equal(TrackingSweepJob.RecurringId, action.Data["jobs"]);
        Assert.StartsWith("sha256:", action.Data["key"]);
        Assert.DoesNotContain("admin-key-456", string.Join(" ", action.Data.Values) + action.Actor);
        // The guard registers the job, then records it: wait for both, not for the first to become visible.
        await bot.Until(() => SweepRegistered(bot) && bot.Store.AuditTrail(0).Any(e => e.Type == AuditTypes.RecurringJobRestored),
            "the tracking sweep registered again and recorded");
        Assert.Contains(bot.Store.AuditTrail(0), e => e.Type == AuditTypes.RecurringJobRestored && e.Data["job"] == TrackingSweepJob.RecurringId);
    }

    [Fact]
    public async Task InDevelopmentLoopbackIsTrustedOnlyWhileNoKeyIsSet()
    {
        await using var slack = new FakeSlack();
        await slack.StartAsync();
        await using var bot = await TestBot.StartAsync(slack, settings: new Dictionary<string, string?>
        {
            ["environment"] = "Development", ["Evidence:ApiKeys:0"] = "auditor-key-123",
        });
        Assert.Equal(HttpStatusCode.Unauthorized, (await bot.Http.GetAsync("/hangfire")).StatusCode);
    }

    [Fact]
    public async Task InDevelopmentTheDashboardIsOpenOnLoopbackOnly()
    {
        await using var slack = new FakeSlack();
        await slack.StartAsync();
        await using var bot = await TestBot.StartAsync(slack, settings: new Dictionary<string, string?> { ["environment"] = "Development" },
            configure: b => b.Services.AddSingleton<IStartupFilter, RemoteAddressForTests>());
        Assert.Equal("Development", bot.Service<IWebHostEnvironment>().EnvironmentName);

        Assert.Equal(HttpStatusCode.OK, (await bot.Http.GetAsync("/hangfire")).StatusCode); // from 127.0.0.1, no credentials
        var remote = new HttpRequestMessage(HttpMethod.Get, "/hangfire");
        remote.Headers.Add(RemoteAddressForTests.Header, "203.0.113.7");
        Assert.Equal(HttpStatusCode.Unauthorized, (await bot.Http.SendAsync(remote)).StatusCode);
    }

    /// <summary>Kestrel listens on loopback only in tests: this makes a request look as if it came from another address.</summary>
    sealed class RemoteAddressForTests : IStartupFilter
    {
        public const string Header = "X-Test-Remote-Address";

        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((http, nextMiddleware) =>
            {
                if (http.Request.Headers.TryGetValue(Header, out var address)) http.Connection.RemoteIpAddress = IPAddress.Parse(address.ToString());
                return nextMiddleware(http);
            });
            next(app);
        };
    }
}
