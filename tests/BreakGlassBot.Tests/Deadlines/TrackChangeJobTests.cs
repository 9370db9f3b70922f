using BreakGlassBot.Deadlines;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.GitHub;
using BreakGlassBot.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace BreakGlassBot.Tests.Deadlines;

/// <summary>
/// The tracking job called directly with a fake clock (set far in the future, so Hangfire's own real-time
/// scheduling never runs the planned checks during the test).
/// </summary>
[Trait("Category", "EndToEnd")]
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

/// <summary>
/// Policy:RequiredEvidence set explicitly: a required source that has nothing to check, or whose integration is not
/// configured, is missing evidence in words, never a silent pass.
/// </summary>
[Trait("Category", "EndToEnd")]
public class RequiredEvidenceTests : IAsyncLifetime
{
    readonly FakeSlack slack = new();
    readonly FakeTimeProvider clock = new(new DateTimeOffset(2031, 1, 3, 8, 0, 0, TimeSpan.Zero));
    TestBot bot = null!;

    public async Task InitializeAsync() => await slack.StartAsync();

    public async Task DisposeAsync()
    {
        if (bot is not null) await bot.DisposeAsync();
        await slack.DisposeAsync();
    }

    async Task StartAsync(params (string Key, string Value)[] extra)
    {
        var settings = new Dictionary<string, string?> { ["Policy:ReviewWindow"] = "1.00:00:00" };
        foreach (var (k, v) in extra) settings[k] = v;
        bot = await TestBot.StartAsync(slack, settings: settings, configure: b => b.Services.AddSingleton<TimeProvider>(clock));
    }

    EmergencyChange Declare(params string[] jiraKeys) =>
        bot.Service<BreakGlassBot.Declaring.Declarations>().Declare(new("U0DECL", null, "Weekend fix", null, null, null, [], [.. jiraKeys.Select(k => JiraIssueKey.TryParse(k, out var key) ? key : throw new ArgumentException(k))], null, null)).Change;

    async Task<EmergencyChange> CheckAsync(EmergencyChange change)
    {
        await bot.Service<IServiceProvider>().GetRequiredService<TrackChangeJob>().RunAsync(change.Id, null, CancellationToken.None);
        return bot.Store.Get(change.Id)!;
    }

    [Fact]
    public async Task ARequiredPullRequestReviewWithGitHubNotConfiguredIsMissingNotPassedAndWarnedAtStartUp()
    {
        await StartAsync(("Policy:RequiredEvidence:0", "PullRequestApproved"));
        Assert.Single(bot.Logs, l => l.Contains("Policy:RequiredEvidence requires PullRequestApproved, but that integration is not configured"));

        var after = await CheckAsync(Declare());
        Assert.Equal(ChangeStatus.Open, after.Status);
        Assert.Null(after.ReviewedAt);
        var check = Assert.Single(after.Evidence);
        Assert.Equal(("PullRequestApproved", false), (check.Kind, check.Satisfied));
        Assert.Equal($"GitHub is not configured, so the PR review that the policy requires for BG-{after.Id} cannot be checked", check.Missing);
    }

    [Fact]
    public async Task ARequiredPullRequestReviewWithNoPullRequestLinkedIsMissing()
    {
        // Configured (a token), but nothing to ask GitHub about: no call is made, and nothing is passed either.
        await StartAsync(("Policy:RequiredEvidence:0", "PullRequestApproved"), ("Policy:RequiredEvidence:1", "SlackApproval"),
            ("GitHub:Token", "ghp-not-used"), ("GitHub:ApiBaseUrl", "http://127.0.0.1:9/"));
        Assert.DoesNotContain(bot.Logs, l => l.Contains("Policy:RequiredEvidence requires"));
        var change = Declare();
        bot.Store.Update(change.Id, c => { c.Approvals.Add(new Approval { Reviewer = "U0REV", At = clock.GetUtcNow(), Source = "button" }); return []; });

        var after = await CheckAsync(change);
        Assert.Equal(ChangeStatus.Open, after.Status);
        Assert.Contains(after.Evidence, e => e.Kind == "SlackApproval" && e.Satisfied);
        var pr = Assert.Single(after.Evidence, e => e.Kind == "PullRequestApproved");
        Assert.False(pr.Satisfied);
        Assert.Equal($"policy requires an approved PR review, but no pull request is linked to BG-{after.Id} (link one: /breakglass link BG-{after.Id} <PR URL>)", pr.Missing);
    }

    [Fact]
    public async Task ARequiredJiraReviewWithJiraNotConfiguredIsMissing()
    {
        await StartAsync(("Policy:RequiredEvidence:0", "JiraReviewed"));
        Assert.Single(bot.Logs, l => l.Contains("Policy:RequiredEvidence requires JiraReviewed"));
        var after = await CheckAsync(Declare("OPS-7"));
        Assert.Equal(ChangeStatus.Open, after.Status);
        Assert.Equal($"Jira is not configured, so the Jira review that the policy requires for BG-{after.Id} cannot be checked", Assert.Single(after.Evidence).Missing);
    }

    [Fact]
    public async Task WithTheDefaultPolicyASourceWithNothingLinkedIsNotRequired()
    {
        await StartAsync();
        Assert.DoesNotContain(bot.Logs, l => l.Contains("Policy:RequiredEvidence requires"));
        var change = Declare();
        bot.Store.Update(change.Id, c => { c.Approvals.Add(new Approval { Reviewer = "U0REV", At = clock.GetUtcNow(), Source = "button" }); return []; });
        var after = await CheckAsync(change);
        Assert.Equal(ChangeStatus.Reviewed, after.Status);
        Assert.Equal(["SlackApproval"], after.Evidence.Select(e => e.Kind));
    }
}

/// <summary>
/// A PR linked (/breakglass link) while the tracking job is asking GitHub about the PRs it read at the start: what was checked
/// does not complete the change; the new PR must be reviewed too.
/// </summary>
[Trait("Category", "EndToEnd")]
public class TrackChangeJobLinkDuringCheckTests : IAsyncLifetime
{
    const string FirstPr = "https://github.com/acme/api/pull/1";
    const string SecondPr = "https://github.com/acme/api/pull/2";
    readonly FakeSlack slack = new();
    readonly FakeGitHub github = new();
    readonly FakeTimeProvider clock = new(new DateTimeOffset(2031, 1, 3, 8, 0, 0, TimeSpan.Zero)); // Hangfire's planned checks never come due
    TestBot bot = null!;

    public async Task InitializeAsync()
    {
        await slack.StartAsync();
        await github.StartAsync();
        github.AddPr("acme", "api", 1); // authored by octocat (id 1)
        github.AddPr("acme", "api", 2);
        bot = await TestBot.StartAsync(slack, settings: new Dictionary<string, string?>
        {
            ["Policy:ReviewWindow"] = "1.00:00:00",
            ["Policy:RequiredEvidence:0"] = "SlackApproval",
            ["Policy:RequiredEvidence:1"] = "PullRequestApproved",
            ["GitHub:Token"] = FakeGitHub.Token,
            ["GitHub:ApiBaseUrl"] = github.ApiUrl,
            ["People:U0REV:GitHub"] = "hubot", // the Slack approver is known on GitHub, so their approval counts once the authors are read
        }, configure: b => b.Services.AddSingleton<TimeProvider>(clock));
    }

    public async Task DisposeAsync()
    {
        await bot.DisposeAsync();
        await github.DisposeAsync();
        await slack.DisposeAsync();
    }

    Task Run(int id) => bot.Service<IServiceProvider>().GetRequiredService<TrackChangeJob>().RunAsync(id, null, CancellationToken.None);

    /// <summary>/breakglass link, signed at the bot's (fake) time: the request is within Slack's five minutes.</summary>
    async Task<string> LinkAsync(string text)
    {
        var request = SlackSigner.Request(bot.Url + "/slack/commands", TestBot.SigningSecret, TestBot.CommandForm(text), timestamp: clock.GetUtcNow().ToUnixTimeSeconds());
        using var response = await bot.Http.SendAsync(request);
        return $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
    }

    void Approve(string pr, long reviewId)
    {
        var p = github.PullRequest(pr);
        lock (p.Reviews) p.Reviews.Add(FakeGitHub.Review(reviewId, "hubot", 2, "APPROVED", clock.GetUtcNow()));
    }

    [Fact]
    public async Task APullRequestLinkedDuringTheEvidenceCheckKeepsTheChangeOpenUntilItIsReviewed()
    {
        Assert.True(PullRequestRef.TryParse(FirstPr, out var first));
        var change = bot.Service<BreakGlassBot.Declaring.Declarations>().Declare(
            new(TestBot.Declarer, null, "Hotfix", null, null, null, [first], [], null, null)).Change;
        bot.Store.Update(change.Id, c => { c.Approvals.Add(new Approval { Reviewer = "U0REV", At = clock.GetUtcNow(), Source = "button" }); return []; });
        Approve("acme/api#1", 80);

        // While GitHub answers for the first PR's reviews, the declarer links a second PR with the real command.
        string? reply = null;
        github.Fail("GET reviews", new Fault.Delay(TimeSpan.Zero), when: call =>
        {
            if (reply is not null || !call.Path.Contains("/pulls/1/", StringComparison.Ordinal)) return false;
            reply = LinkAsync($"link BG-{change.Id} {SecondPr}").GetAwaiter().GetResult();
            return true;
        });
        await Run(change.Id);
        Assert.Contains($"Linked acme/api#2 to BG-{change.Id}", reply);

        var after = bot.Store.Get(change.Id)!;
        Assert.Equal(2, after.PullRequests.Count);
        Assert.Equal(ChangeStatus.Open, after.Status);
        Assert.DoesNotContain(bot.Store.AuditTrail(change.Id), e => e.Type == AuditTypes.Reviewed);

        await Run(change.Id); // a look with both PRs: the second is not approved yet
        after = bot.Store.Get(change.Id)!;
        Assert.Equal(ChangeStatus.Open, after.Status);
        Assert.Contains(after.Evidence, e => e.Target == "acme/api#2" && !e.Satisfied);

        Approve("acme/api#2", 81);
        // The Slack approval counts once GitHub has named both PRs' authors (the approver could have written the new one).
        await Eventually.Until(() => bot.Store.Get(change.Id)!.PullRequests.All(p => p.AuthorLogin is not null), "both PRs read");
        await Run(change.Id);
        Assert.Equal(ChangeStatus.Reviewed, bot.Store.Get(change.Id)!.Status);
    }
}
