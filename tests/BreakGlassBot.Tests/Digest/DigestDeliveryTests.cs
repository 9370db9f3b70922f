using BreakGlassBot.Digest;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Support;
using Hangfire;
using Hangfire.Storage;

namespace BreakGlassBot.Tests.Digest;

/// <summary>
/// The real bot with its Hangfire server on the SQLite store and the fake Slack API on loopback: the weekly job
/// delivers to every manager and the digest channel, waits out rate limits, and never sends anyone a week's digest twice.
/// </summary>
[Trait("Category", "EndToEnd")]
public class DigestDeliveryTests : IAsyncLifetime
{
    const string Manager1 = "U0MGR1";
    const string Manager2 = "U0MGR2";
    const string Manager3 = "U0MGR3";
    const string DigestChannel = "C0DIGEST";
    static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(300);
    readonly FakeSlack slack = new();
    readonly string data = TestBot.NewDataDirectory();

    static Dictionary<string, string?> Settings(params string[] managers)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Slack:DigestChannel"] = DigestChannel,
            ["Policy:DigestSendInterval"] = Interval.ToString(),
        };
        for (var i = 0; i < managers.Length; i++) settings[$"Slack:Managers:{i}"] = managers[i];
        return settings;
    }

    public Task InitializeAsync() => slack.StartAsync();

    public async Task DisposeAsync()
    {
        await slack.DisposeAsync();
        try { Directory.Delete(data, true); } catch (IOException) { }
    }

    /// <summary>Digests only (a manager may also get escalations), in the order posted.</summary>
    IReadOnlyList<PostedSlackMessage> Digests(string channel) =>
        [.. slack.Messages.Where(m => m.Channel == channel && m.Metadata?["event_type"]?.GetValue<string>() == DigestBuilder.EventType)];

    /// <summary>
    /// An overdue change stored directly: no announcement or tracking steps, so only the digest talks to Slack. Its next
    /// check is planned a day ahead: otherwise the minutely tracking sweep would find it untracked and escalate it by DM,
    /// using up a fault a test meant for the digest.
    /// </summary>
    static EmergencyChange SeedOverdue(TestBot bot, string summary, TimeSpan overdueBy)
    {
        var now = DateTimeOffset.UtcNow;
        var (change, _) = bot.Store.Declare(new EmergencyChange
        {
            DeclaredBy = TestBot.Declarer, Summary = summary, DeclaredAt = now - overdueBy - TimeSpan.FromDays(2), DueAt = now - overdueBy,
            NextCheckAt = now + TimeSpan.FromDays(1),
        }, _ => []);
        return change;
    }

    static async Task WaitForSucceededAsync(TestBot bot, string jobId)
    {
        using var connection = bot.Service<JobStorage>().GetConnection();
        await Eventually.Until(() => connection.GetStateData(jobId)?.Name == "Succeeded", $"job {jobId} succeeded", TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task TheRecurringJobIsRegisteredUnderItsStableIdWithTheCronAndTimeZone()
    {
        var settings = Settings(Manager1);
        settings["Policy:DigestCron"] = "30 8 * * 2";
        settings["Policy:DigestTimeZone"] = "Europe/Berlin";
        await using var bot = await TestBot.StartAsync(slack, data, settings);
        using var connection = bot.Service<JobStorage>().GetConnection();
        var job = Assert.Single(connection.GetRecurringJobs(), j => j.Id == WeeklyDigestJob.RecurringId);
        Assert.Equal("30 8 * * 2", job.Cron);
        Assert.Equal("Europe/Berlin", job.TimeZoneId);
        var next = TimeZoneInfo.ConvertTime(new DateTimeOffset(DateTime.SpecifyKind(job.NextExecution!.Value, DateTimeKind.Utc)), TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin"));
        Assert.Equal((DayOfWeek.Tuesday, 8, 30), (next.DayOfWeek, next.Hour, next.Minute));
        Assert.Equal(typeof(WeeklyDigestJob), job.Job.Type);
    }

    [Fact]
    public async Task TheJobSendsEveryManagerADirectMessageAndTheChannelACopyOnceAWeek()
    {
        await using var bot = await TestBot.StartAsync(slack, data, Settings(Manager1, Manager2));
        SeedOverdue(bot, "Roll back payments", TimeSpan.FromHours(30));
        var recurring = (IRecurringJobManagerV2)bot.Service<IRecurringJobManager>();

        var first = recurring.TriggerJob(WeeklyDigestJob.RecurringId);
        await Eventually.Until(() => Digests("D" + Manager1).Count == 1 && Digests("D" + Manager2).Count == 1 && Digests(DigestChannel).Count == 1,
            "a digest for each manager and the channel", TimeSpan.FromSeconds(30));
        await WaitForSucceededAsync(bot, first);

        var dm = Digests("D" + Manager1)[0];
        Assert.Contains("1 emergency change is overdue", dm.Text);
        Assert.Contains("BG-1 Roll back payments (overdue by 1d 6h)", dm.Text);
        Assert.Contains("overdue by 1d 6h", dm.AllText);
        Assert.Equal(dm.Text, Digests(DigestChannel)[0].Text);
        var week = bot.Service<DigestSender>().WeekOf(DateTimeOffset.UtcNow);
        Assert.Equal(week, dm.Metadata!["event_payload"]!["week"]!.GetValue<string>());
        Assert.Equal(Manager1, dm.Metadata!["event_payload"]!["recipient"]!.GetValue<string>());

        // Posted one at a time, the configured interval apart.
        var posts = slack.CallsTo("chat.postMessage").OrderBy(c => c.At).ToList();
        Assert.Equal(3, posts.Count);
        for (var i = 1; i < posts.Count; i++)
            Assert.True(posts[i].At - posts[i - 1].At >= Interval - TimeSpan.FromMilliseconds(20), $"posts {i - 1} and {i} were {(posts[i].At - posts[i - 1].At).TotalMilliseconds} ms apart");

        // The record of the week: every delivery done, with the message it became.
        var run = bot.Store.Document<DigestRun>(DigestRun.Collection, week)!;
        Assert.Equal(3, run.Deliveries.Count);
        Assert.All(run.Deliveries, d => Assert.True(d.Done && d.Ts is not null && d.Attempts == 1));

        // Triggered again in the same week (a manual trigger, a replayed occurrence): nobody gets a second one.
        var second = recurring.TriggerJob(WeeklyDigestJob.RecurringId);
        await WaitForSucceededAsync(bot, second);
        Assert.Equal(3, slack.CallsTo("chat.postMessage").Count);
        Assert.Single(Digests("D" + Manager1));
    }

    [Fact]
    public async Task ARateLimitedPostWaitsForRetryAfterThenIsDeliveredOnce()
    {
        await using var bot = await TestBot.StartAsync(slack, data, Settings(Manager1));
        SeedOverdue(bot, "Hotfix login", TimeSpan.FromHours(2));
        // Longer than the Slack client's in-place retry (3 s): the digest sender has to wait it out itself.
        slack.Fail("chat.postMessage", FakeSlack.RateLimited(4), times: 1);

        await bot.Service<DigestSender>().SendAsync("2026-W12", CancellationToken.None);

        Assert.Single(Digests("D" + Manager1));
        Assert.Single(Digests(DigestChannel));
        var posts = slack.CallsTo("chat.postMessage").OrderBy(c => c.At).ToList();
        Assert.Equal(3, posts.Count); // the refused one, then one each
        Assert.True(posts[1].At - posts[0].At >= TimeSpan.FromSeconds(3.9), $"retried after {(posts[1].At - posts[0].At).TotalSeconds} s, before Retry-After");
        var manager = bot.Store.Document<DigestRun>(DigestRun.Collection, "2026-W12")!.Deliveries.Single(d => d.Recipient == Manager1);
        Assert.Equal(2, manager.Attempts);
        // A 429 is a clear "not posted": no history lookup was needed.
        Assert.Empty(slack.CallsTo("conversations.history"));
    }

    [Fact]
    public async Task ARetryAfterLongerThanARunWaitsEndsTheRunAndTheRestIsSentThenOnce()
    {
        await using var bot = await TestBot.StartAsync(slack, data, Settings(Manager1, Manager2));
        SeedOverdue(bot, "Hotfix login", TimeSpan.FromHours(2));
        slack.Fail("chat.postMessage", new Fault.Delay(TimeSpan.Zero), times: 1); // manager 1: delivered
        slack.Fail("chat.postMessage", FakeSlack.RateLimited(180), times: 1);     // manager 2: three minutes, past what a run waits
        var before = DateTimeOffset.UtcNow;

        // Not a failure for Hangfire to retry on its own back-off (which may come sooner than Slack allows).
        var run = await bot.Service<DigestSender>().SendAsync("2026-W12", CancellationToken.None);

        Assert.Single(Digests("D" + Manager1));
        Assert.Empty(Digests("D" + Manager2));
        Assert.Empty(Digests(DigestChannel)); // the rest waits too: the limit is the app's
        Assert.Equal(2, slack.CallsTo("chat.postMessage").Count);
        Assert.InRange(run.ResumeAt!.Value, before + TimeSpan.FromSeconds(179), DateTimeOffset.UtcNow + TimeSpan.FromSeconds(181));
        var scheduled = bot.Service<JobStorage>().GetMonitoringApi().ScheduledJobs(0, 100)
            .Where(j => j.Value.Job?.Type == typeof(WeeklyDigestJob) && j.Value.Job.Method.Name == nameof(WeeklyDigestJob.ResumeAsync)).ToList();
        var resume = Assert.Single(scheduled);
        Assert.Equal("2026-W12", resume.Value.Job.Args[0]);
        Assert.InRange(new DateTimeOffset(DateTime.SpecifyKind(resume.Value.EnqueueAt, DateTimeKind.Utc)), run.ResumeAt.Value - TimeSpan.FromSeconds(1), run.ResumeAt.Value + TimeSpan.FromSeconds(1));

        // The scheduled time comes (brought forward here): only what was not delivered is sent.
        bot.Service<IBackgroundJobClient>().Requeue(resume.Key);
        await WaitForSucceededAsync(bot, resume.Key);
        Assert.Single(Digests("D" + Manager1));
        Assert.Single(Digests("D" + Manager2));
        Assert.Single(Digests(DigestChannel));
        Assert.Equal(4, slack.CallsTo("chat.postMessage").Count);
        Assert.All(bot.Store.Document<DigestRun>(DigestRun.Collection, "2026-W12")!.Deliveries, d => Assert.True(d.Done));
    }

    [Fact]
    public async Task ARunThatFailsHalfwayIsRerunWithoutSendingAnyoneTheSameWeekTwice()
    {
        await using var bot = await TestBot.StartAsync(slack, data, Settings(Manager1, Manager2, Manager3));
        SeedOverdue(bot, "Emergency DNS change", TimeSpan.FromHours(5));
        var sender = bot.Service<DigestSender>();
        slack.Fail("chat.postMessage", new Fault.Delay(TimeSpan.Zero), times: 1); // manager 1: delivered
        slack.Fail("chat.postMessage", new Fault.AfterWork(500), times: 1);      // manager 2: posted, but Slack answers 500
        slack.Fail("chat.postMessage", new Fault.Status(503), times: 1);         // manager 3: not posted
                                                                                 // the channel: delivered
        var failure = await Assert.ThrowsAsync<DigestIncompleteException>(() => sender.SendAsync("2026-W12", CancellationToken.None));
        Assert.Contains("2 of 4", failure.Message);
        Assert.Single(Digests("D" + Manager1));
        Assert.Single(Digests("D" + Manager2));
        Assert.Empty(Digests("D" + Manager3));
        Assert.Single(Digests(DigestChannel));

        // Hangfire retries the job: the same week again.
        var postsBefore = slack.CallsTo("chat.postMessage").Count;
        var run = await sender.SendAsync("2026-W12", CancellationToken.None);

        Assert.Single(Digests("D" + Manager1));
        Assert.Single(Digests("D" + Manager2)); // found in the DM by its metadata, not posted again
        Assert.Single(Digests("D" + Manager3));
        Assert.Single(Digests(DigestChannel));
        Assert.Equal(postsBefore + 1, slack.CallsTo("chat.postMessage").Count);
        Assert.Contains(slack.CallsTo("conversations.history"), c => c.Body.Contains("D" + Manager2));
        Assert.All(run.Deliveries, d => Assert.True(d.Done));
        Assert.Equal(Digests("D" + Manager2)[0].Ts, run.Deliveries.Single(d => d.Recipient == Manager2).Ts);

        // Another week is another digest.
        await sender.SendAsync("2026-W13", CancellationToken.None);
        Assert.Equal(2, Digests("D" + Manager1).Count);
    }

    [Fact]
    public async Task AnUnconfirmedPostIsLookedForInSlackEvenAfterTheLookupItselfFailed()
    {
        await using var bot = await TestBot.StartAsync(slack, data, Settings(Manager1));
        SeedOverdue(bot, "Patch the gateway", TimeSpan.FromHours(1));
        var sender = bot.Service<DigestSender>();
        slack.Fail("chat.postMessage", new Fault.AfterWork(502), times: 1); // posted; the answer is lost
        await Assert.ThrowsAsync<DigestIncompleteException>(() => sender.SendAsync("2026-W12", CancellationToken.None));
        Assert.Single(Digests("D" + Manager1));

        // The retry cannot read the DM (e.g. a missing scope): a clear error, but it says nothing about the post.
        slack.Fail("conversations.history", new Fault.Status(200, """{"ok":false,"error":"missing_scope"}"""), times: 1);
        await Assert.ThrowsAsync<DigestIncompleteException>(() => sender.SendAsync("2026-W12", CancellationToken.None));
        Assert.Single(Digests("D" + Manager1));
        Assert.True(bot.Store.Document<DigestRun>(DigestRun.Collection, "2026-W12")!.Deliveries.Single(d => d.Recipient == Manager1).Unconfirmed);

        // So the next retry looks again, finds it, and posts nothing.
        var posts = slack.CallsTo("chat.postMessage").Count;
        await sender.SendAsync("2026-W12", CancellationToken.None);
        Assert.Single(Digests("D" + Manager1));
        Assert.Equal(posts, slack.CallsTo("chat.postMessage").Count);
    }

    [Fact]
    public async Task APostThatNeverReachedSlackIsPostedOnRetry()
    {
        await using var bot = await TestBot.StartAsync(slack, data, Settings(Manager1));
        SeedOverdue(bot, "Restart ingest", TimeSpan.FromHours(1));
        var sender = bot.Service<DigestSender>();
        slack.Fail("chat.postMessage", new Fault.Abort(), times: 1); // connection dropped: unknown to the bot
        await Assert.ThrowsAsync<DigestIncompleteException>(() => sender.SendAsync("2026-W12", CancellationToken.None));
        Assert.Empty(Digests("D" + Manager1));

        await sender.SendAsync("2026-W12", CancellationToken.None);
        Assert.Single(Digests("D" + Manager1));
        Assert.Contains(slack.CallsTo("conversations.history"), c => c.Body.Contains("D" + Manager1)); // looked first
    }

    [Fact]
    public async Task OverdueShowsTheSameDigestOnDemandOnlyToTheCaller()
    {
        await using var bot = await TestBot.StartAsync(slack, data, Settings(Manager1));
        await bot.CommandJsonAsync("Hotfix payments &lt;!channel&gt; https://github.com/acme/pay/pull/7"); // as Slack sends a typed "<!channel>"
        await Eventually.Until(() => bot.Store.Get(1)!.Announcement?.Permalink is not null, "announced");
        var now = DateTimeOffset.UtcNow;
        bot.Store.Update(1, c => { c.DueAt = now - TimeSpan.FromHours(3); return []; });

        var reply = await bot.CommandJsonAsync("overdue", user: Manager1);
        Assert.Equal("ephemeral", reply["response_type"]!.GetValue<string>());
        Assert.Contains("1 emergency change is overdue", reply["text"]!.GetValue<string>());
        var blocks = reply["blocks"]!.ToJsonString(new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        Assert.Contains("overdue by 3h", blocks);
        Assert.Contains("https://github.com/acme/pay/pull/7", blocks);
        Assert.Contains(bot.Store.Get(1)!.Announcement!.Permalink!, blocks);
        Assert.Contains("&lt;!channel&gt;", blocks);
        Assert.Empty(Digests("D" + Manager1)); // on demand is a reply, not a delivery
        Assert.Null(bot.Store.Document<DigestRun>(DigestRun.Collection, bot.Service<DigestSender>().WeekOf(now)));
    }
}
