using System.Diagnostics;
using System.Text.Json.Nodes;
using BreakGlassBot.Digest;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Jira;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Slack;
using BreakGlassBot.Tests.GitHub;
using BreakGlassBot.Tests.Jira;
using BreakGlassBot.Tests.Reviewing;
using BreakGlassBot.Tests.Support;
using Hangfire;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.Tests.Reliability;

/// <summary>
/// Every outgoing step of every flow, with a fault injected on exactly its endpoint, in one bot configuration (fake Slack,
/// GitHub in Team bypass mode, Jira Cloud with a project for created issues and a review transition). Each row shows the
/// step is delayed while the fault holds, reported (a thread note for GitHub and Jira, the outbox's warning for Slack),
/// done exactly once after recovery, and the recovery reported where a failure was.
/// </summary>
[Collection(SerialCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class FaultMatrixTests : IAsyncLifetime
{
    const string PrUrl = "https://github.com/acme/api/pull/1347";
    const string Pr = "acme/api#1347";
    const string Team = "acme/breakglass";
    const string Login = "hubot";
    const string MembershipPath = "/orgs/acme/teams/breakglass/memberships/hubot";
    const string Issue = "OPS-7";
    const string Manager = "U0MGR1";
    const string DigestChannel = "C0DIGEST";
    const string Reviewer1 = ApprovalTests.Reviewer1;
    const string Reviewer2 = ApprovalTests.Reviewer2;
    // The clients give up after this; a Fault.Delay of SlowAnswer outlasts it.
    static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(2);
    static readonly TimeSpan SlowAnswer = TimeSpan.FromSeconds(5);

    readonly FakeSlack slack = new();
    readonly FakeGitHub github = new();
    readonly FakeJira jira = new();
    FakeJira.Issue issue = null!;
    TestBot bot = null!;

    public enum Step
    {
        Announce, ThreadDetails, RefreshAnnouncement, ReminderDm, EscalationDm, Digest,
        GitHubLabel, GitHubComment, BypassGrant, BypassRevoke, GitHubApprovalComment,
        JiraLinkComment, JiraCreate, JiraApprovalComment, JiraApprovalTransition,
    }

    public enum Kind { Status500, Status503, RateLimited, Timeout, Malformed, Abort, LostAnswer }

    /// <summary>The one configuration of every row.</summary>
    Dictionary<string, string?> Settings() => new()
    {
        ["Slack:Reviewers:0"] = Reviewer1,
        ["Slack:Reviewers:1"] = Reviewer2,
        ["Slack:Managers:0"] = Manager,
        ["Slack:DigestChannel"] = DigestChannel,
        ["Policy:ReviewWindow"] = "00:00:20",
        ["Policy:ReminderInterval"] = "00:00:03",
        ["Policy:BypassDuration"] = "00:00:02",
        ["Policy:RequiredEvidence:0"] = "SlackApproval",
        ["Policy:DigestSendInterval"] = "00:00:00.100",
        ["GitHub:Token"] = FakeGitHub.Token,
        ["GitHub:ApiBaseUrl"] = github.ApiUrl,
        ["GitHub:BypassMode"] = "Team",
        ["GitHub:BypassTeam"] = Team,
        [$"People:{TestBot.Declarer}:GitHub"] = Login,
        // The reviewers are known on GitHub (and wrote no linked PR), so their Slack approvals count.
        [$"People:{Reviewer1}:GitHub"] = "rev1-gh",
        [$"People:{Reviewer2}:GitHub"] = "rev2-gh",
        ["Jira:BaseUrl"] = jira.Url,
        ["Jira:Email"] = FakeJira.Email,
        ["Jira:ApiToken"] = FakeJira.ApiToken,
        ["Jira:ProjectKey"] = "OPS",
        ["Jira:ReviewTransition"] = "Mark reviewed",
    };

    static void Configure(WebApplicationBuilder builder)
    {
        // Shorter client timeouts than production's 10 s, so a timeout row takes seconds.
        builder.Services.AddSingleton(new GitHubHttpSettings { AttemptTimeout = ClientTimeout });
        foreach (var client in new[] { nameof(ISlackApi), nameof(IJiraApi) })
            builder.Services.PostConfigure<HttpClientFactoryOptions>(client, o => o.HttpClientActions.Add(http => http.Timeout = ClientTimeout));
    }

    public async Task InitializeAsync()
    {
        await slack.StartAsync();
        await github.StartAsync();
        await jira.StartAsync();
        github.AddPr("acme", "api", 1347);
        issue = jira.Add(Issue);
        issue.Transitions.Add(new FakeJira.Transition("31", "Mark reviewed", "Reviewed", "done", "Done"));
        bot = await TestBot.StartAsync(slack, settings: Settings(), configure: Configure);
    }

    public async Task DisposeAsync()
    {
        await bot.DisposeAsync();
        await jira.DisposeAsync();
        await github.DisposeAsync();
        await slack.DisposeAsync();
    }

    /// <summary>Every step once, each fault kind at least twice, and a second kind where a step could go wrong another way (a lost answer where it creates something).</summary>
    [Theory]
    [InlineData(Step.Announce, Kind.LostAnswer)]
    [InlineData(Step.Announce, Kind.Timeout)]
    [InlineData(Step.ThreadDetails, Kind.Timeout)]
    [InlineData(Step.RefreshAnnouncement, Kind.Malformed)]
    [InlineData(Step.RefreshAnnouncement, Kind.RateLimited)]
    [InlineData(Step.ReminderDm, Kind.Status503)]
    [InlineData(Step.ReminderDm, Kind.LostAnswer)]
    [InlineData(Step.EscalationDm, Kind.Abort)]
    [InlineData(Step.Digest, Kind.Status500)]
    [InlineData(Step.Digest, Kind.LostAnswer)]
    [InlineData(Step.GitHubLabel, Kind.Status500)]
    [InlineData(Step.GitHubLabel, Kind.Malformed)]
    [InlineData(Step.GitHubComment, Kind.LostAnswer)]
    [InlineData(Step.BypassGrant, Kind.Timeout)]
    [InlineData(Step.BypassGrant, Kind.LostAnswer)]
    [InlineData(Step.BypassRevoke, Kind.Status503)]
    [InlineData(Step.BypassRevoke, Kind.LostAnswer)]
    [InlineData(Step.GitHubApprovalComment, Kind.RateLimited)]
    [InlineData(Step.GitHubApprovalComment, Kind.Abort)]
    [InlineData(Step.JiraLinkComment, Kind.Abort)]
    [InlineData(Step.JiraLinkComment, Kind.LostAnswer)]
    [InlineData(Step.JiraCreate, Kind.LostAnswer)]
    [InlineData(Step.JiraCreate, Kind.Timeout)]
    [InlineData(Step.JiraApprovalComment, Kind.RateLimited)]
    [InlineData(Step.JiraApprovalTransition, Kind.Malformed)]
    [InlineData(Step.JiraApprovalTransition, Kind.LostAnswer)]
    public async Task AFaultOnOneStepDelaysItIsReportedAndAfterRecoveryTheStepHappensExactlyOnce(Step step, Kind kind)
    {
        switch (step)
        {
            case Step.Announce: await AnnounceAsync(kind); break;
            case Step.ThreadDetails: await ThreadDetailsAsync(kind); break;
            case Step.RefreshAnnouncement: await RefreshAnnouncementAsync(kind); break;
            case Step.ReminderDm: await ReminderAsync(kind); break;
            case Step.EscalationDm: await EscalationAsync(kind); break;
            case Step.Digest: await DigestAsync(kind); break;
            case Step.GitHubLabel: await GitHubLabelAsync(kind); break;
            case Step.GitHubComment: await GitHubCommentAsync(kind); break;
            case Step.BypassGrant: await BypassGrantAsync(kind); break;
            case Step.BypassRevoke: await BypassRevokeAsync(kind); break;
            case Step.GitHubApprovalComment: await GitHubApprovalCommentAsync(kind); break;
            case Step.JiraLinkComment: await JiraLinkCommentAsync(kind); break;
            case Step.JiraCreate: await JiraCreateAsync(kind); break;
            case Step.JiraApprovalComment: await JiraApprovalCommentAsync(kind); break;
            case Step.JiraApprovalTransition: await JiraApprovalTransitionAsync(kind); break;
        }
        AssertNothingPostedTwice();
        // Every fault was understood as a failure of that service, not as a crash of the step.
        Assert.DoesNotContain(bot.Logs, l => l.StartsWith("Error") && l.Contains(" threw"));
    }

    // ---- Slack steps: reported in the log (a note about Slack failing could not be posted either) ----

    async Task AnnounceAsync(Kind kind)
    {
        slack.Fail("chat.postMessage", SlackFault(kind), when: c => Arg(c, "channel") == TestBot.Channel && Arg(c, "thread_ts") is null);
        await DeclareAsync();
        await bot.Until(() => Change().Announcement is not null && Settled(StepKinds.Announce), "announced");
        AssertDelayed(StepKinds.Announce);
        AssertSlackStepWarned(StepKinds.Announce);
        Assert.Single(Announcements());
        Assert.Equal(Announcements()[0].Ts, Change().Announcement!.Ts);
        Assert.Single(bot.Store.AuditTrail(1), e => e.Type == AuditTypes.Announced);
    }

    async Task ThreadDetailsAsync(Kind kind)
    {
        slack.Fail("chat.postMessage", SlackFault(kind), when: c => Note(c) == "details");
        await DeclareAsync();
        await bot.Until(() => Settled(StepKinds.ThreadDetails), "details posted");
        AssertDelayed(StepKinds.ThreadDetails);
        AssertSlackStepWarned(StepKinds.ThreadDetails);
        Assert.Single(Thread(), m => m.MetadataNote == "details");
    }

    async Task RefreshAnnouncementAsync(Kind kind)
    {
        await DeclareAndSettleAsync();
        slack.Fail("chat.update", SlackFault(kind), times: 2);
        await ApproveAsync();
        await bot.Until(() => Change().Status == ChangeStatus.Reviewed && Settled(StepKinds.RefreshAnnouncement)
            && Announcements()[0].AllText.Contains(":white_check_mark: Reviewed"), "the announcement shows the review");
        Assert.Contains(Change().Steps, s => s.Kind == StepKinds.RefreshAnnouncement && s.Attempts > 1);
        AssertSlackStepWarned(StepKinds.RefreshAnnouncement);
        Assert.Single(Announcements()); // updated in place, never posted again
        Assert.Equal(2, slack.Faulted.Count(c => c.Key == "chat.update"));
    }

    async Task ReminderAsync(Kind kind)
    {
        slack.Fail("chat.postMessage", SlackFault(kind), times: 2, when: c => Arg(c, "channel") == "D" + Reviewer1);
        await DeclareAsync();
        // The first reminder is due 3 s after the declaration; let a second interval pass too.
        await bot.Until(() => DmSteps(Reviewer1, "reminder").Count(s => s.State == StepState.Done) >= 2, "two reminders to reviewer 1 delivered");
        Assert.True(DmSteps(Reviewer1, "reminder")[0].Attempts >= 2, "the first reminder was retried");
        AssertSlackStepWarned(StepKinds.DirectMessage, $"{Reviewer1}|reminder:");
        AssertDmsOncePerStep(Reviewer1, "reminder");
        AssertDmsOncePerStep(Reviewer2, "reminder");
        // One reminder per person per interval, however long the delivery took.
        var sent = Change().Reminders.Where(r => r.User == Reviewer1 && r.Kind == "reminder").Select(r => r.At).Order().ToList();
        for (var i = 1; i < sent.Count; i++)
            Assert.True(sent[i] - sent[i - 1] >= TimeSpan.FromSeconds(2.9), $"reminders {i - 1} and {i} {(sent[i] - sent[i - 1]).TotalSeconds:F1}s apart");
    }

    async Task EscalationAsync(Kind kind)
    {
        slack.Fail("chat.postMessage", SlackFault(kind), times: 2, when: c => Arg(c, "channel") == "D" + Manager);
        await DeclareAsync();
        // Escalation is due with the deadline (20 s after the declaration, Policy:EscalateAfter 0).
        await bot.Until(() => DmSteps(Manager, "escalation").Any(s => s.State == StepState.Done)
            && DmSteps(TestBot.Declarer, "escalation").Any(s => s.State == StepState.Done), "escalation delivered", TimeSpan.FromSeconds(45));
        Assert.True(DmSteps(Manager, "escalation")[0].Attempts >= 3, "the escalation was retried until the fault passed");
        AssertSlackStepWarned(StepKinds.DirectMessage, $"{Manager}|escalation:");
        Assert.Single(slack.DirectMessages(Manager), m => m.MetadataNote?.StartsWith("escalation:") == true);
        Assert.Single(slack.DirectMessages(TestBot.Declarer), m => m.MetadataNote?.StartsWith("escalation:") == true);
        Assert.Single(bot.Store.AuditTrail(1), e => e.Type == AuditTypes.EscalationSent && e.Data["to"] == Manager);
    }

    async Task DigestAsync(Kind kind)
    {
        slack.Fail("chat.postMessage", SlackFault(kind), when: c => Arg(c, "channel") == "D" + Manager && EventType(c) == DigestBuilder.EventType);
        var jobs = bot.Service<IBackgroundJobClient>();
        var job = ((IRecurringJobManagerV2)bot.Service<IRecurringJobManager>()).TriggerJob(WeeklyDigestJob.RecurringId);
        var week = bot.Service<DigestSender>().WeekOf(DateTimeOffset.UtcNow);
        // The run fails for the manager (the channel still gets its copy) and Hangfire schedules a retry.
        await bot.Until(() => JobState(job) == "Scheduled", "the run failed and a retry is scheduled", TimeSpan.FromSeconds(30));
        Assert.Equal(kind == Kind.LostAnswer ? 1 : 0, Digests("D" + Manager).Count);
        Assert.Single(Digests(DigestChannel));
        Assert.Contains(bot.Logs, l => l.StartsWith("Warning") && l.Contains($"Digest {week} to {Manager} failed"));
        // Hangfire's retry, brought forward from its 15-45 s back-off.
        Assert.True(jobs.Requeue(job));
        await bot.Until(() => JobState(job) == "Succeeded", "the retried run succeeded", TimeSpan.FromSeconds(30));
        Assert.Single(Digests("D" + Manager));
        Assert.Single(Digests(DigestChannel));
        var run = bot.Store.Document<DigestRun>(DigestRun.Collection, week)!;
        Assert.Equal(2, run.Deliveries.Single(d => d.Recipient == Manager).Attempts);
        Assert.Equal(1, run.Deliveries.Single(d => d.Recipient == DigestChannel).Attempts);
        Assert.Contains(bot.Logs, l => l.Contains($"Digest {week} sent to 1 recipient(s)"));
        // The failed post may have reached Slack: the retry looked in the manager's DM before posting.
        Assert.Contains(slack.CallsTo("conversations.history"), c => c.Body.Contains("D" + Manager));
    }

    // ---- GitHub steps: reported in the thread once, and so is the recovery ----

    async Task GitHubLabelAsync(Kind kind)
    {
        github.Fail("POST labels", GitHubFault(kind), times: 2);
        await DeclareAsync();
        var step = await SettledStepAsync(GitHubStepKinds.PullRequest);
        AssertDelayed(GitHubStepKinds.PullRequest);
        AssertReportedAndRecovered(step, "Could not link acme/api#1347 on GitHub");
        Assert.Equal(["break-glass"], github.PullRequest(Pr).Labels);
        Assert.Single(github.PullRequest(Pr).Comments);
        Assert.Equal(2, github.Faulted.Count);
        if (kind == Kind.Malformed) Assert.Contains("not JSON", Thread().Single(m => m.MetadataNote == StepNotes.Failed(step)).Text);
    }

    async Task GitHubCommentAsync(Kind kind)
    {
        github.Fail("POST comments", GitHubFault(kind));
        await DeclareAsync();
        var step = await SettledStepAsync(GitHubStepKinds.PullRequest);
        AssertDelayed(GitHubStepKinds.PullRequest);
        AssertReportedAndRecovered(step, "Could not link acme/api#1347 on GitHub");
        // The lost answer's comment is found by its marker, not posted again.
        Assert.Single(github.PullRequest(Pr).Comments);
        Assert.Single(github.CallsTo("POST", "/repos/acme/api/issues/1347/comments"));
    }

    async Task BypassGrantAsync(Kind kind)
    {
        github.Fail("PUT membership", GitHubFault(kind));
        await DeclareAsync();
        var step = await SettledStepAsync(GitHubStepKinds.BypassGrant);
        AssertDelayed(GitHubStepKinds.BypassGrant);
        AssertReportedAndRecovered(step, "Could not grant the bypass: add the declarer's GitHub account to `acme/breakglass`");
        Assert.Equal(2, github.CallsTo("PUT", MembershipPath).Count); // the one that timed out, and the one that worked
        Assert.Single(github.CallsTo("GET", MembershipPath));        // membership checked once, before the first attempt
        Assert.Single(bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.BypassGranted);
        await bot.Until(() => Change().Bypass?.RevokedAt is not null, "bypass ended");
        Assert.False(github.IsMember(Team, Login));
    }

    async Task BypassRevokeAsync(Kind kind)
    {
        github.Fail("DELETE membership", GitHubFault(kind), times: 2);
        await DeclareAsync();
        await bot.Until(() => github.IsMember(Team, Login), "bypass granted");
        var step = await SettledStepAsync(GitHubStepKinds.BypassRevoke, TimeSpan.FromSeconds(20));
        AssertDelayed(GitHubStepKinds.BypassRevoke);
        AssertReportedAndRecovered(step, "Could not end the bypass: remove GitHub user `hubot` from `acme/breakglass`");
        Assert.False(github.IsMember(Team, Login));
        Assert.Equal(3, github.CallsTo("DELETE", MembershipPath).Count);
        // After a lost answer the retry meets 404 (already removed): the record says so, and that it was most likely the bot's own removal.
        var revoked = Assert.Single(bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.BypassRevoked);
        Assert.Equal(kind == Kind.LostAnswer ? "false" : "true", revoked.Data["removed"]);
        if (kind == Kind.LostAnswer) Assert.Contains("most likely by its own earlier attempt, whose answer was lost", revoked.Data["revoked"]);
        Assert.Single(Thread(), m => m.MetadataNote == GitHubNotes.BypassEnded);
    }

    async Task GitHubApprovalCommentAsync(Kind kind)
    {
        await DeclareAndSettleAsync();
        github.Fail("POST comments", GitHubFault(kind));
        await ApproveAsync();
        var step = await SettledStepAsync(GitHubStepKinds.ApprovalComment);
        AssertDelayed(GitHubStepKinds.ApprovalComment);
        AssertReportedAndRecovered(step, "Could not note the Slack approval on acme/api#1347");
        Assert.Single(github.PullRequest(Pr).Comments, c => c.Contains("Approved retrospectively by"));
        Assert.Single(bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.ApprovalMirrored);
        if (kind != Kind.RateLimited) return;
        // Retried after GitHub's Retry-After (2 s), not hammered.
        var posts = github.CallsTo("POST", "/repos/acme/api/issues/1347/comments").OrderBy(c => c.At).TakeLast(2).ToList();
        Assert.True(posts[1].At - posts[0].At >= TimeSpan.FromSeconds(1.5), $"retried {(posts[1].At - posts[0].At).TotalSeconds:F2}s after the 429");
    }

    // ---- Jira steps: reported in the thread once, and so is the recovery ----

    async Task JiraLinkCommentAsync(Kind kind)
    {
        jira.Fail(FakeJira.AddComment, JiraFault(kind));
        await DeclareAsync();
        var step = await SettledStepAsync(JiraStepKinds.Link);
        AssertDelayed(JiraStepKinds.Link);
        AssertReportedAndRecovered(step, "Could not record BG-1 on Jira issue OPS-7");
        Assert.Single(issue.Comments);
        Assert.Equal(["break-glass"], issue.Labels);
        Assert.Single(bot.Store.AuditTrail(1), e => e.Type == JiraAuditTypes.Linked);
    }

    async Task JiraCreateAsync(Kind kind)
    {
        jira.Fail(FakeJira.CreateIssue, JiraFault(kind));
        await DeclareAsync(linkJira: false);
        var step = await SettledStepAsync(JiraStepKinds.Create);
        AssertDelayed(JiraStepKinds.Create);
        AssertReportedAndRecovered(step, "Could not create a Jira issue in OPS for BG-1");
        // A lost answer's issue is found by its summary, not created again; a create that timed out did nothing.
        var created = Assert.Single(jira.Issues, i => i.Summary.StartsWith("[BG-1] "));
        Assert.Equal(kind == Kind.LostAnswer ? 1 : 2, jira.CallsTo(FakeJira.CreateIssue).Count);
        Assert.Equal(created.Key, Assert.Single(Change().JiraIssues).Key);
        await bot.Until(() => Thread().Count(m => m.MetadataNote == JiraNotes.Created(created.Key)) == 1, "the thread is told about the issue");
    }

    async Task JiraApprovalCommentAsync(Kind kind)
    {
        await DeclareAndSettleAsync();
        var before = issue.Comments.Count;
        jira.Fail(FakeJira.AddComment, JiraFault(kind));
        await ApproveAsync();
        var step = await SettledStepAsync(JiraStepKinds.Approval);
        AssertDelayed(JiraStepKinds.Approval);
        AssertReportedAndRecovered(step, "Could not mirror the approval of BG-1 to Jira issue OPS-7");
        Assert.Single(issue.Comments.Skip(before), c => FakeJira.TextOf(c.Body).Contains("approved retrospectively by"));
        Assert.Equal(before + 1, issue.Comments.Count);
        Assert.Equal("Reviewed", issue.StatusName);
        Assert.Single(jira.CallsTo(FakeJira.DoTransition));
        // Jira's Retry-After (4 s) is longer than the client waits in place: the outbox waited it out.
        var posts = jira.CallsTo(FakeJira.AddComment).OrderBy(c => c.At).TakeLast(2).ToList();
        Assert.True(posts[1].At - posts[0].At >= TimeSpan.FromSeconds(3.5), $"retried {(posts[1].At - posts[0].At).TotalSeconds:F2}s after the 429");
    }

    async Task JiraApprovalTransitionAsync(Kind kind)
    {
        await DeclareAndSettleAsync();
        var before = issue.Comments.Count;
        jira.Fail(FakeJira.DoTransition, JiraFault(kind));
        await ApproveAsync();
        var step = await SettledStepAsync(JiraStepKinds.Approval);
        AssertDelayed(JiraStepKinds.Approval);
        AssertReportedAndRecovered(step, "Could not mirror the approval of BG-1 to Jira issue OPS-7");
        Assert.Equal("Reviewed", issue.StatusName);
        // A garbled answer did nothing, so the transition is made again; after a lost answer it is no longer offered (done).
        Assert.Equal(kind == Kind.LostAnswer ? 1 : 2, jira.CallsTo(FakeJira.DoTransition).Count);
        Assert.Equal(before + 1, issue.Comments.Count);             // the comment of the first attempt is found, not repeated
        // Even when the retry found the issue moved already (a lost answer), the trail records the transition, once.
        var transitioned = Assert.Single(bot.Store.AuditTrail(1), e => e.Type == JiraAuditTypes.Transitioned);
        Assert.Equal("Reviewed", transitioned.Data["to"]);
    }

    // ---- Merge by the bot: the one row that needs another bypass mode ----

    /// <summary>
    /// GitHub:BypassMode MergeByBot cannot share the matrix's Team configuration (one mode per bot), so this row restarts the
    /// bot with only the mode changed. The merge is pinned to a head SHA and not repeatable: a lost answer must not end as
    /// "GitHub will not merge" (405 on the second try) nor as a second merge.
    /// </summary>
    [Theory]
    [InlineData(Kind.LostAnswer)]
    [InlineData(Kind.Status503)]
    public async Task AFaultOnTheBotsMergeDelaysItIsReportedAndThePullRequestIsMergedOnce(Kind kind)
    {
        await bot.DisposeAsync();
        var settings = Settings();
        settings["GitHub:BypassMode"] = "MergeByBot";
        settings["GitHub:MergeRepositories:0"] = "acme/api";
        settings["GitHub:BypassTeam"] = null;
        settings["Policy:BypassDuration"] = "00:10:00";
        bot = await TestBot.StartAsync(slack, settings: settings, configure: Configure);

        github.Fail("PUT merge", GitHubFault(kind));
        await DeclareAsync();
        await bot.Until(() => Thread().Any(m => m.MetadataNote?.StartsWith("github-merge-button:") == true), "merge button in the thread");
        var click = new JsonObject
        {
            ["type"] = "block_actions",
            ["user"] = new JsonObject { ["id"] = TestBot.Declarer, ["username"] = "declarer" },
            ["api_app_id"] = "A0APP",
            ["response_url"] = slack.ResponseUrl("merge"),
            ["container"] = new JsonObject { ["type"] = "message", ["channel_id"] = TestBot.Channel, ["message_ts"] = Change().Announcement!.Ts },
            ["channel"] = new JsonObject { ["id"] = TestBot.Channel },
            ["actions"] = new JsonArray(new JsonObject
            {
                ["action_id"] = MergeButton.ActionId, ["block_id"] = "github_merge", ["type"] = "button",
                ["value"] = MergeButton.Value(Change().ChangeId, Pr, FakeGitHub.DefaultHead),
            }),
        };
        Assert.True((await bot.InteractionAsync(click)).IsSuccessStatusCode);

        var step = await SettledStepAsync(GitHubStepKinds.Merge);
        AssertDelayed(GitHubStepKinds.Merge);
        AssertReportedAndRecovered(step, "Could not merge acme/api#1347 at head `6dcb09b`");
        Assert.True(github.PullRequest(Pr).Merged);
        // After a lost answer the retry reads the PR, sees it merged, and does not merge again.
        Assert.Equal(kind == Kind.LostAnswer ? 1 : 2, github.CallsTo("PUT", "/repos/acme/api/pulls/1347/merge").Count);
        Assert.Single(bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.PullRequestMerged);
        await bot.Until(() => Thread().Count(m => m.MetadataNote == GitHubNotes.Merged(Pr)) == 1, "the thread is told about the merge");
        AssertNothingPostedTwice();
        Assert.DoesNotContain(bot.Logs, l => l.StartsWith("Error") && l.Contains(" threw"));
    }

    // ---- Everything down at once ----

    [Fact]
    public async Task DeclaringWhileSlackGitHubAndJiraAreAllDownAnswersInTimeAndEverythingHappensOnceAfterwards()
    {
        slack.Down = github.Down = jira.Down = true;
        var clock = Stopwatch.StartNew();
        var reply = await bot.CommandJsonAsync($"Payments are down {PrUrl} {Issue}");
        clock.Stop();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"answered in {clock.Elapsed.TotalSeconds:F2}s");
        Assert.Contains("BG-1", reply["text"]!.GetValue<string>());
        Assert.Equal("Payments are down", Change().Summary);

        // Retried while down, and nothing happened anywhere.
        await bot.Until(() => FirstStep(StepKinds.Announce).Attempts >= 2 && FirstStep(GitHubStepKinds.BypassGrant).Attempts >= 2, "retried during the outage");
        Assert.Empty(slack.Messages);
        Assert.False(github.IsMember(Team, Login));
        Assert.Empty(github.PullRequest(Pr).Comments);
        Assert.Empty(issue.Comments);

        // Slack comes back first: the steps that need the thread now meet GitHub and Jira still down.
        slack.Down = false;
        await bot.Until(() => Change().Announcement is not null && FirstStep(GitHubStepKinds.PullRequest).LastError is not null
            && FirstStep(JiraStepKinds.Link).LastError is not null, "announced; GitHub and Jira steps failing");
        Assert.Empty(github.PullRequest(Pr).Comments);
        Assert.Empty(issue.Comments);
        github.Down = jira.Down = false;
        await bot.Until(() => Settled(StepKinds.ThreadDetails) && Settled(GitHubStepKinds.PullRequest) && Settled(JiraStepKinds.Link)
            && Change().Bypass?.RevokedAt is not null && Settled(GitHubStepKinds.BypassRevoke) && Settled(StepKinds.ThreadNote), "everything done after the recovery");

        Assert.Single(Announcements());
        Assert.Single(Thread(), m => m.MetadataNote == "details");
        Assert.Equal(["break-glass"], github.PullRequest(Pr).Labels);
        Assert.Single(github.PullRequest(Pr).Comments);
        Assert.Single(github.CallsTo("PUT", MembershipPath), c => !github.Faulted.Contains(c));
        Assert.False(github.IsMember(Team, Login));
        Assert.Single(issue.Comments);
        Assert.Equal(["break-glass"], issue.Labels);
        Assert.Single(bot.Store.AuditTrail(1), e => e.Type == AuditTypes.Announced);
        Assert.Single(bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.BypassGranted);
        Assert.Single(bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.BypassRevoked);
        Assert.Single(bot.Store.AuditTrail(1), e => e.Type == JiraAuditTypes.Linked);
        // Each GitHub and Jira failure is reported once, and so is its recovery, once Slack is back.
        foreach (var kind in new[] { GitHubStepKinds.BypassGrant, GitHubStepKinds.PullRequest, JiraStepKinds.Link })
            AssertReportedAndRecovered(Change().Steps.FindIndex(s => s.Kind == kind), "Could not");
        AssertNothingPostedTwice();
    }

    // ---- Faults per service ----

    static Fault SlackFault(Kind kind) => kind switch
    {
        Kind.Status500 => new Fault.Status(500),
        Kind.Status503 => new Fault.Status(503),
        Kind.RateLimited => FakeSlack.RateLimited(4), // longer than the client waits in place (3 s)
        Kind.Timeout => new Fault.Delay(SlowAnswer),
        Kind.Malformed => new Fault.Malformed(),
        Kind.Abort => new Fault.Abort(),
        Kind.LostAnswer => new Fault.AfterWork(500),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    static Fault GitHubFault(Kind kind) => kind switch
    {
        Kind.Status500 => FakeGitHub.Status(500, "Server Error"),
        Kind.Status503 => FakeGitHub.Status(503, "Service Unavailable"),
        Kind.RateLimited => FakeGitHub.TooManyRequests(retryAfterSeconds: 2),
        Kind.Timeout => new Fault.Delay(SlowAnswer),
        Kind.Malformed => new Fault.Malformed(),
        Kind.Abort => new Fault.Abort(),
        Kind.LostAnswer => new Fault.AfterWork(502),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    static Fault JiraFault(Kind kind) => kind switch
    {
        Kind.Status500 => FakeJira.Status(500),
        Kind.Status503 => FakeJira.Status(503),
        Kind.RateLimited => FakeJira.Status(429, retryAfterSeconds: 4), // longer than the client waits in place (3 s)
        Kind.Timeout => new Fault.Delay(SlowAnswer),
        Kind.Malformed => new Fault.Malformed(),
        Kind.Abort => new Fault.Abort(),
        Kind.LostAnswer => new Fault.AfterWork(503),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    // ---- Entry points ----

    async Task DeclareAsync(bool linkJira = true)
    {
        var reply = await bot.CommandJsonAsync($"Payments are down {PrUrl}" + (linkJira ? $" {Issue}" : ""));
        Assert.Contains("BG-1", reply["text"]!.GetValue<string>());
    }

    async Task DeclareAndSettleAsync()
    {
        await DeclareAsync();
        await bot.Until(() => Change().Announcement is not null && Settled(GitHubStepKinds.PullRequest) && Settled(JiraStepKinds.Link)
            && Settled(StepKinds.ThreadDetails), "declaration steps done");
    }

    async Task ApproveAsync()
    {
        var response = await bot.InteractionAsync(ApprovalTests.Click(Reviewer1, ReviewActions.Approve, "BG-1"));
        Assert.True(response.IsSuccessStatusCode);
        await bot.Until(() => Change().Approvals.Count == 1, "approval recorded");
    }

    // ---- What the bot and the fakes say ----

    EmergencyChange Change() => bot.Store.Get(1)!;

    PendingStep FirstStep(string kind) => Change().Steps.First(s => s.Kind == kind);

    bool Settled(string kind) => Change().Steps.Any(s => s.Kind == kind) && Change().Steps.Where(s => s.Kind == kind).All(s => s.State != StepState.Pending);

    async Task<int> SettledStepAsync(string kind, TimeSpan? timeout = null)
    {
        await bot.Until(() => Settled(kind) && Settled(StepKinds.ThreadNote), $"{kind} done and its notes posted", timeout);
        var index = Change().Steps.FindIndex(s => s.Kind == kind);
        Assert.Equal(StepState.Done, Change().Steps[index].State);
        return index;
    }

    // FakeSlack.Announcements would count the change's DMs too: they carry its id and no thread.
    IReadOnlyList<PostedSlackMessage> Announcements() => [.. slack.TopLevel(TestBot.Channel).Where(m => m.MetadataChangeId == "BG-1")];

    IReadOnlyList<PostedSlackMessage> Thread() => Change().Announcement is { } a ? slack.Thread(a.Channel, a.Ts) : [];

    IReadOnlyList<PendingStep> DmSteps(string user, string key) =>
        [.. Change().Steps.Where(s => s.Kind == StepKinds.DirectMessage && s.Target?.StartsWith($"{user}|{key}:", StringComparison.Ordinal) == true)];

    IReadOnlyList<PostedSlackMessage> Digests(string channel) =>
        [.. slack.Messages.Where(m => m.Channel == channel && m.Metadata?["event_type"]?.GetValue<string>() == DigestBuilder.EventType)];

    string? JobState(string id)
    {
        using var connection = bot.Service<JobStorage>().GetConnection();
        return connection.GetStateData(id)?.Name;
    }

    /// <summary>(a) The step did not succeed at its first attempt: it was retried after the fault.</summary>
    void AssertDelayed(string kind)
    {
        var step = Change().Steps.First(s => s.Kind == kind);
        Assert.True(step.Attempts > 1, $"{kind} took {step.Attempts} attempt(s)");
        Assert.Equal(StepState.Done, step.State);
        Assert.Contains(bot.Store.AuditTrail(1), e => e.Type == AuditTypes.StepFailed && e.Data["step"] == kind);
    }

    /// <summary>(b) for Slack's own steps: the outbox's warning (the thread cannot carry a note about Slack failing).</summary>
    void AssertSlackStepWarned(string kind, string? target = null) =>
        Assert.Contains(bot.Logs, l => l.StartsWith("Warning") && l.Contains($"Step {kind} ({target}") && l.Contains("of BG-1 failed on attempt"));

    /// <summary>(b) and (d) for GitHub and Jira steps: one note saying what failed, one saying it worked after all.</summary>
    void AssertReportedAndRecovered(int index, string what)
    {
        var failed = Assert.Single(Thread(), m => m.MetadataNote == StepNotes.Failed(index));
        Assert.Contains(what, failed.Text);
        var recovered = Assert.Single(Thread(), m => m.MetadataNote == StepNotes.Recovered(index));
        Assert.Contains("Done after all", recovered.Text);
    }

    /// <summary>Every reminder (or escalation) that was sent reached the person exactly once.</summary>
    void AssertDmsOncePerStep(string user, string key)
    {
        var received = slack.DirectMessages(user).Where(m => m.MetadataNote?.StartsWith(key + ":") == true).ToList();
        Assert.All(received.GroupBy(m => m.MetadataNote), g => Assert.Single(g));
        // Reminders go on while this runs: a DM whose step is still being recorded is in flight, not extra.
        var steps = DmSteps(user, key);
        string NoteOf(PendingStep s) => $"{s.Target![(s.Target!.IndexOf('|') + 1)..]}:{user}"; // what DirectMessageStep tags the DM with
        Assert.All(steps.Where(s => s.State == StepState.Done), s => Assert.Single(received, m => m.MetadataNote == NoteOf(s)));
        Assert.All(received, m => Assert.Contains(steps, s => NoteOf(s) == m.MetadataNote));
    }

    /// <summary>(c) across the whole run: no message the bot tags (announcement, note, DM, digest) was posted twice.</summary>
    void AssertNothingPostedTwice()
    {
        var tagged = slack.Messages.Where(m => m.Metadata is not null).GroupBy(m => (m.Channel, m.ThreadTs, m.Metadata!.ToJsonString()));
        Assert.All(tagged, g => Assert.True(g.Count() == 1, $"posted {g.Count()} times: {g.Key}"));
    }

    static JsonObject? Body(RecordedCall call)
    {
        try { return JsonNode.Parse(call.Body) as JsonObject; }
        catch (System.Text.Json.JsonException) { return null; }
    }

    static string? Arg(RecordedCall call, string name) => Body(call)?[name] is JsonValue v ? v.ToString() : null;
    static string? Note(RecordedCall call) => Body(call)?["metadata"]?["event_payload"]?["note"]?.GetValue<string>();
    static string? EventType(RecordedCall call) => Body(call)?["metadata"]?["event_type"]?.GetValue<string>();
}
