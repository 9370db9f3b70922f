using System.Text.RegularExpressions;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.GitHub;
using BreakGlassBot.Tests.Reviewing;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Deadlines;

/// <summary>
/// The deadline tracking end to end, with the review window shrunk to seconds: the real Hangfire server on the job
/// store a subclass chooses (SQLite, PostgreSQL), the fake Slack, GitHub and Jira servers, real HTTP everywhere.
/// Declare → reviewers reminded → evidence satisfied at the fakes → Reviewed, nothing more sent; a change goes overdue
/// and managers are told; a reminder that falls due while the bot is stopped is delivered once after the restart.
/// </summary>
public abstract class TrackingEndToEnd() : BotTest(Fakes.GitHub | Fakes.Jira)
{
    protected const string Reviewer1 = ApprovalTests.Reviewer1;
    protected const string Reviewer2 = "U0REV2";
    protected const string Manager = "U0MGR";
    const string PrUrl = "https://github.com/acme/api/pull/1347";

    IDictionary<string, string?> storage = null!;

    /// <summary>The Storage:* settings of the job store under test, the same for every start of one test.</summary>
    protected abstract Task<IDictionary<string, string?>> StorageSettingsAsync();

    protected override bool StartsBotFirst => false;

    protected override void SeedFakes()
    {
        GitHub.AddPr("acme", "api", 1347); // authored by octocat
        Jira.Add("OPS-7");
    }

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        storage = await StorageSettingsAsync();
    }

    /// <summary>Checks that the bot really runs on the job store under test.</summary>
    protected abstract void AssertJobStore(TestBot bot);

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Slack:Reviewers:0"] = Reviewer1,
        ["Slack:Reviewers:1"] = Reviewer2,
        ["Slack:Reviewers:2"] = TestBot.Declarer, // listed, but never asked to review their own change
        ["Slack:Managers:0"] = Manager,
        [$"People:{Reviewer1}:GitHub"] = "hubot", // known on GitHub and not the PR's author, so their Slack approval counts
    };

    /// <summary>A bot on this test's data directory (each test disposes its own bots).</summary>
    async Task<TestBot> StartAsync(string window, string reminder)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Policy:ReviewWindow"] = window,
            ["Policy:ReminderInterval"] = reminder,
        };
        foreach (var (k, v) in storage) settings[k] = v;
        var bot = await StartBotAsync(settings);
        AssertJobStore(bot);
        return bot;
    }

    IReadOnlyList<PostedSlackMessage> Reminders(string user) => [.. Slack.DirectMessages(user).Where(m => m.Text.Contains("Retrospective review needed"))];
    IReadOnlyList<PostedSlackMessage> Outstanding(string user) => [.. Slack.DirectMessages(user).Where(m => m.Text.Contains("Approved in Slack, but not yet reviewed"))];
    int DirectMessageCount => Slack.Messages.Count(m => m.Channel.StartsWith('D'));

    [Fact]
    public async Task RemindedUntilSlackGitHubAndJiraAreSatisfiedThenReviewedAndSilent()
    {
        await using var bot = await StartAsync(window: "00:01:00", reminder: "00:00:02");
        await bot.CommandJsonAsync($"Hotfix payments {PrUrl} OPS-7");

        await bot.Until(() => Reminders(Reviewer1).Count >= 1 && Reminders(Reviewer2).Count >= 1, "both reviewers reminded", TimeSpan.FromSeconds(30));
        var reminder = Reminders(Reviewer1)[0].Text;
        Assert.Contains("BG-1", reminder);
        Assert.Matches(new Regex(@"Review due .+ \(in \d+s\)"), reminder); // how long is left
        Assert.Contains("OPS-7", reminder);
        Assert.Empty(Reminders(TestBot.Declarer));

        // The Slack approval alone is not the review: the declarer (Jira status, PR review) and the approver (PR review)
        // keep being reminded of what is missing, at the reminder cadence.
        await bot.InteractionAsync(ApprovalTests.Click(Reviewer1, ReviewActions.Approve, "BG-1"));
        await bot.Until(() => Outstanding(TestBot.Declarer).Count >= 2 && Outstanding(Reviewer1).Count >= 1, "declarer and approver reminded of what is missing", TimeSpan.FromSeconds(30));
        Assert.Equal(ChangeStatus.Open, bot.Store.Get(1)!.Status);
        var toDeclarer = Outstanding(TestBot.Declarer)[0].Text;
        Assert.Contains("Get the pull request approved on GitHub", toDeclarer);
        Assert.Contains("Move the Jira issue to a reviewed status", toDeclarer);
        Assert.Contains("the pull request still needs an approving review", Outstanding(Reviewer1)[0].Text);
        var sent = bot.Store.Get(1)!.Reminders.Where(r => r.User == TestBot.Declarer && r.Kind == "outstanding").Select(r => r.At).Order().ToList();
        Assert.True(sent[1] - sent[0] >= TimeSpan.FromSeconds(1.9), $"outstanding reminders {sent[0]:O} and {sent[1]:O} are inside one interval");

        // The evidence arrives at the fakes only: a non-author approves the PR on GitHub, the Jira issue is done.
        var pr = GitHub.PullRequest("acme/api#1347");
        lock (pr.Reviews) pr.Reviews.Add(FakeGitHub.Review(80, "hubot", 2, "APPROVED", DateTimeOffset.UtcNow));
        var issue = Jira["OPS-7"];
        issue.StatusName = "Done";
        issue.CategoryKey = "done";
        issue.CategoryName = "Done";

        await bot.Until(() => bot.Store.Get(1)!.Status == ChangeStatus.Reviewed, "reviewed once GitHub and Jira say so", TimeSpan.FromSeconds(30));
        await bot.Until(() => bot.Store.Get(1)!.NextStepAt is null, "reviewed note and announcement update sent");
        var dms = DirectMessageCount;
        // No check of BG-1 is due, running or planned and the outbox is idle: nothing can message anyone about it any more.
        await bot.Until(() => bot.Jobs<BreakGlassBot.Deadlines.TrackChangeJob>(1) is { Due: 0, Later: 0 } && bot.Store.Get(1)!.NextStepAt is null,
            "every planned check of BG-1 ran and none is left", TimeSpan.FromSeconds(30));
        Assert.Equal(dms, DirectMessageCount);
        var note = Assert.Single(Slack.Thread(TestBot.Channel, bot.Store.Get(1)!.Announcement!.Ts), m => m.Text.Contains("BG-1 is reviewed"));
        Assert.Contains("acme/api#1347: approved on GitHub", note.Text);
        Assert.Contains("OPS-7: reviewed in Jira", note.Text);
    }

    [Fact]
    public async Task AChangeThatGoesOverdueIsEscalatedToManagersAndRemindersGoOnAtTheCadence()
    {
        await using var bot = await StartAsync(window: "00:00:03", reminder: "00:00:02");
        await bot.CommandJsonAsync("Emergency DNS change");

        await bot.Until(() => Slack.DirectMessages(Manager).Count == 1, "the manager told", TimeSpan.FromSeconds(30));
        Assert.Contains("Escalation", Slack.DirectMessages(Manager)[0].Text);
        Assert.Contains("overdue by", Slack.DirectMessages(Manager)[0].Text);
        var change = bot.Store.Get(1)!;
        Assert.NotNull(change.OverdueAt);

        // After the deadline reviewers are still reminded, one interval apart, and the reminders say how late it is.
        await bot.Until(() => bot.Store.Get(1)!.Reminders.Count(r => r.User == Reviewer1 && r.Kind == "reminder" && r.At > change.DueAt) >= 2,
            "two reminders after the deadline", TimeSpan.FromSeconds(30));
        var late = bot.Store.Get(1)!.Reminders.Where(r => r.User == Reviewer1 && r.Kind == "reminder" && r.At > change.DueAt).Select(r => r.At).Order().ToList();
        Assert.True(late[1] - late[0] >= TimeSpan.FromSeconds(1.9), $"reminders {late[0]:O} and {late[1]:O} are inside one interval");
        await bot.Until(() => Reminders(Reviewer1).Any(m => m.Text.Contains("overdue by")), "a reminder saying how late it is");
        Assert.Single(Slack.DirectMessages(Manager)); // escalated once
        Assert.Single(bot.Store.AuditTrail(1), e => e.Type == AuditTypes.Escalated);
        Assert.Single(bot.Store.AuditTrail(1), e => e.Type == AuditTypes.Overdue);
    }

    [Fact]
    public async Task AReminderDueWhileTheBotWasStoppedIsDeliveredOnceAfterTheRestart()
    {
        DateTimeOffset firstCheck;
        await using (var bot = await StartAsync(window: "00:01:00", reminder: "00:00:04"))
        {
            await bot.CommandJsonAsync("Rotate certificates");
            await bot.Until(() => bot.Store.Get(1)!.Steps.All(s => s.State != StepState.Pending), "declared and handed to Hangfire");
            Assert.Empty(Slack.DirectMessages(Reviewer1));
            firstCheck = bot.Store.Get(1)!.NextCheckAt!.Value;
        }
        await Eventually.Until(() => DateTimeOffset.UtcNow > firstCheck.AddMilliseconds(200), "the first reminder falls due while the bot is down");
        await using (var bot = await StartAsync(window: "00:01:00", reminder: "00:00:04"))
        {
            await bot.Until(() => Slack.DirectMessages(Reviewer1).Count == 1, "the owed reminder", TimeSpan.FromSeconds(30));
            // Every check due after the restart (the owed one, any start-up re-check) has run and the outbox is idle: a second copy would be sent by now.
            await bot.Until(() => bot.Jobs<BreakGlassBot.Deadlines.TrackChangeJob>(1) is { Due: 0, Succeeded: > 0 } && bot.Store.Get(1)!.NextStepAt is null,
                "the checks due after the restart ran");
            Assert.Single(Slack.DirectMessages(Reviewer1));
            Assert.Single(Slack.DirectMessages(Reviewer2));
        }
    }
}

/// <summary>The end-to-end tracking on the embedded job store (Hangfire's SQLite storage in the data directory).</summary>
[Collection(SerialCollection.Name)] // real-time Hangfire scheduling: measured alone, not against the parallel tests
[Trait("Category", "EndToEnd")]
public class EvidenceEndToEndTests : TrackingEndToEnd
{
    protected override Task<IDictionary<string, string?>> StorageSettingsAsync() =>
        Task.FromResult<IDictionary<string, string?>>(new Dictionary<string, string?>());

    protected override void AssertJobStore(TestBot bot) => Assert.IsType<BreakGlassBot.Deadlines.EmbeddedJobStorage>(bot.Service<Hangfire.JobStorage>());
}
