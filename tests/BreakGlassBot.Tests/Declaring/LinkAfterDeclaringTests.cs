using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Hosting;
using BreakGlassBot.Jira;
using BreakGlassBot.Outbox;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.GitHub;
using BreakGlassBot.Tests.Jira;
using BreakGlassBot.Tests.Reviewing;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Declaring;

/// <summary>Per test: fake Slack, GitHub (acme/pay#42, by octocat) and Jira (OPS-7), and the real bot pointed at all three.</summary>
public abstract class LinkBotTest() : BotTest(Fakes.GitHub | Fakes.Jira)
{
    protected const string PrUrl = "https://github.com/acme/pay/pull/42";
    protected const string Pr = "acme/pay#42";
    protected const string Other = "U0OTHER";

    protected override bool StartsBotFirst => false;

    protected override void SeedFakes()
    {
        GitHub.AddPr("acme", "pay", 42);
        Jira.Add("OPS-7");
    }

    protected async Task StartAsync(params (string Key, string Value)[] extra)
    {
        var settings = new Dictionary<string, string?>();
        foreach (var (k, v) in extra) settings[k] = v;
        Bot = await StartBotAsync(settings);
    }

    protected Task Settled(int id = 1) =>
        Bot.Until(() => Change(id).Announcement is not null && Change(id).NextStepAt is null, $"all steps of BG-{id} settled");

    protected async Task<string> CommandTextAsync(string text, string user = TestBot.Declarer) =>
        (await Bot.CommandJsonAsync(text, user))["text"]!.GetValue<string>();

    protected IReadOnlyList<AuditEvent> Audit(string type, int id = 1) => [.. Bot.Store.AuditTrail(id).Where(e => e.Type == type)];
}

/// <summary>/breakglass link BG-n &lt;PR URL...&gt; [JIRA-KEY...]: links added after declaring, over real HTTP.</summary>
[Trait("Category", "EndToEnd")]
public class LinkAfterDeclaringTests : LinkBotTest
{
    [Fact]
    public async Task LinkingAfterDeclaringLabelsAndCommentsBothRecordsThemAndUpdatesThreadAndAnnouncement()
    {
        await StartAsync();
        await Bot.CommandJsonAsync("Roll back payments deploy");
        await Settled();
        Assert.DoesNotContain(GitHub.Calls, c => c.Path.Contains("/pulls/") || c.Path.Contains("/issues/"));
        Assert.Empty(Jira.Calls);
        var updatesBefore = Slack.CallsTo("chat.update").Count;

        var reply = await CommandTextAsync($"link BG-1 {PrUrl} OPS-7");
        Assert.Equal(":link: Linked acme/pay#42 and OPS-7 to BG-1; the bot labels and comments on them now.", reply);
        await Bot.Until(() => Change().NextStepAt is null && Thread().Any(m => m.MetadataNote?.StartsWith("links-added:") == true)
            && Slack.CallsTo("chat.update").Count > updatesBefore, "link steps done, note posted, announcement updated");

        // GitHub: fetched, labelled, commented once, as on declaration.
        var pr = GitHub.PullRequest(Pr);
        Assert.Equal(["break-glass"], pr.Labels);
        var comment = Assert.Single(pr.Comments);
        Assert.Contains("<!-- breakglass:BG-1 -->", comment);
        Assert.Contains("Roll back payments deploy", comment);
        // Jira: labelled and commented once.
        Assert.Equal(["break-glass"], Jira["OPS-7"].Labels);
        Assert.Contains("Emergency change BG-1 declared", FakeJira.TextOf(Assert.Single(Jira["OPS-7"].Comments).Body));

        var change = Change();
        var linkedPr = Assert.Single(change.PullRequests);
        Assert.Equal((Pr, "octocat"), (linkedPr.Ref.ToString(), linkedPr.AuthorLogin));
        var linkedIssue = Assert.Single(change.JiraIssues);
        Assert.Equal(("OPS-7", "In Progress"), (linkedIssue.Key, linkedIssue.Status));
        Assert.Single(change.Steps, s => s.Kind == GitHubStepKinds.PullRequest && s.Target == Pr && s.State == StepState.Done);
        Assert.Single(change.Steps, s => s.Kind == JiraStepKinds.Link && s.Target == "OPS-7" && s.State == StepState.Done);
        Assert.Single(change.Steps, s => s.Kind == GitHubStepKinds.BypassGrant); // per change, not repeated per link

        var added = Assert.Single(Audit(LinkAuditTypes.LinksAdded));
        Assert.Equal(TestBot.Declarer, added.Actor);
        Assert.Equal((Pr, "OPS-7"), (added.Data["pull_requests"], added.Data["jira_issues"]));
        Assert.False(added.Data.ContainsKey("already_linked"));
        Assert.Single(Audit(GitHubAuditTypes.PullRequestLinked));
        Assert.Single(Audit(JiraAuditTypes.Linked));

        var note = Assert.Single(Thread(), m => m.MetadataNote?.StartsWith("links-added:") == true);
        Assert.Equal($":link: <@{TestBot.Declarer}> linked <{PrUrl}|{Pr}> and <{Jira.Url}/browse/OPS-7|OPS-7> to BG-1.", note.Text);
        var announcement = Slack.Announcements("BG-1").Single().AllText;
        Assert.Contains(PrUrl, announcement);
        Assert.Contains($"{Jira.Url}/browse/OPS-7", announcement);
    }

    [Fact]
    public async Task LinkingTheSameLinksAgainAddsNothingAndSaysSo()
    {
        await StartAsync();
        await Bot.CommandJsonAsync($"Roll back payments deploy {PrUrl}");
        await Settled();
        Assert.Contains("Linked OPS-7 to BG-1", await CommandTextAsync($"link BG-1 OPS-7 {PrUrl}"));
        await Settled();
        // The tracking look started by the link may still refresh the announcement; only link work counts here.
        int LinkSteps() => Change().Steps.Count(s => s.Kind != StepKinds.RefreshAnnouncement);
        var stepsBefore = LinkSteps();

        var again = await CommandTextAsync($"link BG-1 <{PrUrl}> {Jira.Url}/browse/OPS-7");
        Assert.Equal(":information_source: acme/pay#42 and OPS-7 are already linked to BG-1; nothing was added.", again);
        Assert.Equal(stepsBefore, LinkSteps());
        Assert.Single(Audit(LinkAuditTypes.LinksAdded));
        Assert.Equal(("OPS-7", "acme/pay#42"), (Audit(LinkAuditTypes.LinksAdded)[0].Data["jira_issues"], Audit(LinkAuditTypes.LinksAdded)[0].Data["already_linked"]));
        Assert.False(Audit(LinkAuditTypes.LinksAdded)[0].Data.ContainsKey("pull_requests"));
        // A mix says which ones were new; a PR is the same whatever the case of its owner.
        Jira.Add("OPS-8");
        var mixed = await CommandTextAsync("link BG-1 OPS-8 https://github.com/ACME/Pay/pull/42");
        Assert.Contains("Linked OPS-8 to BG-1", mixed);
        Assert.EndsWith("Already linked, so left as they were: ACME/Pay#42.", mixed);
        await Settled();
        Assert.Single(GitHub.PullRequest(Pr).Comments);
        Assert.Single(Jira["OPS-7"].Comments);
        Assert.Single(Jira["OPS-8"].Comments);
        Assert.Single(Change().PullRequests);
    }

    [Theory]
    [InlineData("link BG-1 see the fix", "There is no pull request link or Jira key to link to BG-1 in that. Type `/breakglass link BG-42 ")]
    [InlineData("link BG-1", "There is no pull request link or Jira key to link to BG-1 in that. Type `/breakglass link BG-42 ")]
    [InlineData("link BG-1 https://github.com/acme/pay/pulls OPS-7", "is not a pull request link (expected https://github.com/&lt;owner&gt;/&lt;repo&gt;/pull/&lt;number&gt;)\nNothing was linked. Type `/breakglass link BG-42 ")]
    [InlineData("link BG-99 OPS-7", "There is no BG-99. `/breakglass list mine` shows your changes.")]
    [InlineData("link BG-x OPS-7", "'BG-x' is not a change id. Type `/breakglass link BG-42 ")]
    public async Task ALinkCommandWithoutUsableLinksOrChangeSaysWhatToTypeAndChangesNothing(string text, string expected)
    {
        await StartAsync();
        await Bot.CommandJsonAsync("Roll back payments deploy");
        await Settled();
        var reply = await CommandTextAsync(text);
        Assert.Contains(expected, reply);
        Assert.Empty(Change().PullRequests);
        Assert.Empty(Change().JiraIssues);
        Assert.Empty(Audit(LinkAuditTypes.LinksAdded));
    }

    [Fact]
    public async Task OnlyTheDeclarerOrAnAdminMayLinkAndOnlyToAnOpenChange()
    {
        await StartAsync();
        await Bot.CommandJsonAsync("Roll back payments deploy");
        await Bot.CommandJsonAsync("Restart the wrong cluster");
        await Settled();
        await Settled(2);

        var refused = await CommandTextAsync($"link BG-1 {PrUrl}", Other);
        Assert.Equal($":no_entry: Only <@{TestBot.Declarer}> (who declared it) or an admin may link things to BG-1. Ask them, or mention the link in the change's thread.", refused);
        Assert.Empty(Change().PullRequests);

        Assert.Contains("cancelled", await CommandTextAsync("cancel BG-2 declared by mistake"));
        var cancelled = await CommandTextAsync($"link BG-2 {PrUrl} OPS-7");
        Assert.StartsWith($":no_entry_sign: BG-2 was cancelled by <@{TestBot.Declarer}>: declared by mistake. Nothing can be linked to it", cancelled);
        Assert.Empty(Change(2).PullRequests);
        Assert.Empty(Change(2).JiraIssues);
        Assert.Empty(Audit(LinkAuditTypes.LinksAdded, 1));
        Assert.Empty(Audit(LinkAuditTypes.LinksAdded, 2));

        // An admin may link to someone else's change.
        Assert.Contains("Linked OPS-7 to BG-1", await CommandTextAsync("link BG-1 OPS-7", TestBot.Admin));
        Assert.Equal(TestBot.Admin, Assert.Single(Audit(LinkAuditTypes.LinksAdded)).Actor);
        await Settled();
        Assert.Empty(GitHub.PullRequest(Pr).Comments);
        Assert.Single(Jira["OPS-7"].Comments);
    }

    [Fact]
    public async Task LinkGithubStillSetsTheLoginAndHelpListsBothForms()
    {
        await StartAsync();
        Assert.StartsWith(":link: Your GitHub login is now `hubot` (unverified)", await CommandTextAsync("link github hubot"));
        Assert.Contains("Type `/breakglass link github", await CommandTextAsync("link jira 5b10a2844c20165700ede21g"));
        var help = await CommandTextAsync("help");
        Assert.Contains("`/breakglass link BG-n <PR URL...> [JIRA-KEY...]`", help);
        Assert.Contains("`/breakglass link github` prove your GitHub account with GitHub", help);
    }

    [Fact]
    public async Task AnIssueLinkedBeforeThePlannedJiraCreateRanIsUsedInsteadOfCreatingOne()
    {
        await StartAsync(("Jira:ProjectKey", "OPS"));
        Slack.Down = true; // no announcement yet, so the create step (it links the thread) waits
        await Bot.CommandJsonAsync("Roll back payments deploy");
        Assert.Contains("Linked OPS-7 to BG-1", await CommandTextAsync("link BG-1 OPS-7"));
        Slack.Down = false;
        await Settled();

        Assert.Empty(Jira.CallsTo(FakeJira.CreateIssue));
        Assert.Empty(Jira.CallsTo(FakeJira.Search));
        Assert.Equal("OPS-7", Assert.Single(Change().JiraIssues).Key);
        Assert.Single(Jira["OPS-7"].Comments);
        Assert.Equal(StepState.Done, Change().Steps.Single(s => s.Kind == JiraStepKinds.Create).State);
    }

    [Fact]
    public async Task WithAnApprovedPullRequestLinkingItCompletesTheReviewAtOnce()
    {
        // Long windows: the tracker's own next check is half an hour away, so only the re-evaluation on linking can complete it.
        await StartAsync(("Policy:RequiredEvidence:0", "PullRequestApproved"), ("Policy:ReviewWindow", "01:00:00"), ("Policy:ReminderInterval", "00:30:00"));
        await Bot.CommandJsonAsync("Roll back payments deploy");
        await Settled();
        var pr = GitHub.PullRequest(Pr);
        lock (pr.Reviews) pr.Reviews.Add(FakeGitHub.Review(80, "hubot", 2, "APPROVED", DateTimeOffset.UtcNow));

        await Bot.CommandJsonAsync($"link BG-1 {PrUrl}");
        await Bot.Until(() => Change().Status == ChangeStatus.Reviewed, "reviewed once the approved PR is linked");
        Assert.Equal("hubot", Change().PullRequests.Single().ApprovedBy);
    }

    [Fact]
    public async Task APrLinkedAfterAnApprovalVoidsItAndANewApprovalCountsAsSoonAsGitHubNamesThePrsAuthor()
    {
        // The tracker's own next check is half an hour away: only a re-check once the author is known completes the change in time.
        await StartAsync(("Policy:RequiredEvidence:0", "SlackApproval"), ("Policy:RequiredEvidence:1", "PullRequestApproved"),
            ("Policy:ReviewWindow", "01:00:00"), ("Policy:ReminderInterval", "00:30:00"),
            ("Slack:Reviewers:0", ApprovalTests.Reviewer1), ($"People:{ApprovalTests.Reviewer1}:GitHub", "hubot"));
        await Bot.CommandJsonAsync("Roll back payments deploy");
        await Settled();
        await Bot.InteractionAsync(ApprovalTests.Click(ApprovalTests.Reviewer1, ReviewActions.Approve, "BG-1"));
        await Bot.Until(() => Change().Evidence.Any(e => e.Kind == nameof(EvidenceKind.SlackApproval) && e.Satisfied), "the Slack approval counts");
        var pr = GitHub.PullRequest(Pr);
        lock (pr.Reviews) pr.Reviews.Add(FakeGitHub.Review(80, "monalisa", 2, "APPROVED", DateTimeOffset.UtcNow));

        // Linked while GitHub is down: the approver never saw the PR, so their approval stops counting and the thread asks again.
        GitHub.Down = true;
        Assert.Contains("Linked acme/pay#42 to BG-1", await CommandTextAsync($"link BG-1 {PrUrl}"));
        Assert.False(Change().Approvals.Single().Stands);
        Assert.Equal($"it did not cover {Pr}", Change().Approvals.Single().VoidedBecause);
        await Bot.Until(() => Thread().Any(m => m.Text.Contains($"<@{ApprovalTests.Reviewer1}>'s approval of BG-1 no longer counts")), "the thread asks for a new approval");

        await Bot.InteractionAsync(ApprovalTests.Click(ApprovalTests.Reviewer1, ReviewActions.Approve, "BG-1", actionTs: "1548426418.000001"));
        await Bot.Until(() => Change().Evidence.Any(e => e.Kind == nameof(EvidenceKind.SlackApproval) && e.Missing?.Contains($"counts once GitHub has said who wrote {Pr}") == true),
            "checked after approving again, with the PR's author unknown");
        var nextCheck = Change().NextCheckAt;
        Assert.Equal(["BG-1", $"{Pr}@?"], Change().Approvals[1].Covered);

        GitHub.Down = false;
        await Bot.Until(() => Change().Status == ChangeStatus.Reviewed, "reviewed once GitHub names the PR's author");
        Assert.Equal("octocat", Change().PullRequests.Single().AuthorLogin);
        Assert.True(Change().ReviewedAt < nextCheck, $"reviewed at {Change().ReviewedAt:O}, before the planned check at {nextCheck:O}");
    }

    [Fact]
    public async Task LinksAddedAfterAnApprovalGetNoApprovalUntilTheReviewerApprovesThemToo()
    {
        Jira["OPS-7"].Transitions.Add(new FakeJira.Transition("31", "Review", "Reviewed", "done", "Done"));
        await StartAsync(("Policy:RequiredEvidence:0", "JiraReviewed"), ("Policy:ReviewWindow", "01:00:00"), ("Policy:ReminderInterval", "00:30:00"),
            ("Jira:ReviewTransition", "Review"), ("Slack:Reviewers:0", ApprovalTests.Reviewer1),
            ($"People:{ApprovalTests.Reviewer1}:GitHub", "hubot")); // known on GitHub, so not a possible author of the PR linked later
        await Bot.CommandJsonAsync("Roll back payments deploy");
        await Settled();
        await Bot.InteractionAsync(ApprovalTests.Click(ApprovalTests.Reviewer1, ReviewActions.Approve, "BG-1"));
        await Bot.Until(() => Change().Approvals.Count == 1 && Change().Evidence.Any(e => e.Kind == nameof(EvidenceKind.JiraReviewed) && !e.Satisfied),
            "approved; Jira evidence missing");

        await CommandTextAsync($"link BG-1 {PrUrl} OPS-7");
        await Settled();
        // Nothing says the approver looked at these: no "approved" comment, no transition, and the change stays open.
        Assert.Equal($"it did not cover {Pr}, OPS-7", Change().Approvals.Single().VoidedBecause);
        Assert.Single(Jira["OPS-7"].Comments);
        Assert.Contains("Emergency change BG-1 declared", FakeJira.TextOf(Jira["OPS-7"].Comments.Single().Body));
        Assert.Empty(Jira.CallsTo(FakeJira.DoTransition));
        Assert.DoesNotContain(GitHub.PullRequest(Pr).Comments, c => c.Contains("<!-- breakglass:BG-1:approval:"));
        Assert.Equal(ChangeStatus.Open, Change().Status);

        // Approved again, now covering both: mirrored, the issue moved, reviewed.
        await Bot.InteractionAsync(ApprovalTests.Click(ApprovalTests.Reviewer1, ReviewActions.Approve, "BG-1", actionTs: "1548426418.000001"));
        await Bot.Until(() => Change().Status == ChangeStatus.Reviewed, "reviewed: the new approval moved the issue");
        await Settled();
        var jiraTexts = Jira["OPS-7"].Comments.Select(c => FakeJira.TextOf(c.Body)).ToList();
        Assert.Equal(2, jiraTexts.Count);
        Assert.Contains("BG-1 approved retrospectively by", jiraTexts[1]);
        Assert.Single(Jira.CallsTo(FakeJira.DoTransition));
        Assert.Equal("Reviewed", Jira["OPS-7"].StatusName);
        Assert.Contains(GitHub.PullRequest(Pr).Comments, c => c.Contains("<!-- breakglass:BG-1:approval:1 -->"));
        Assert.Single(Audit(GitHubAuditTypes.ApprovalMirrored));
    }
}

/// <summary>
/// Policy:RequiredEvidence = [PullRequestApproved] and a change declared without a PR: stuck until a PR is linked, then
/// Reviewed once a non-author approves it on GitHub. Real Hangfire, windows shrunk to seconds.
/// </summary>
[Collection(SerialCollection.Name)]
[Trait("Category", "EndToEnd")]
public class LinkCompletesReviewEndToEndTests : LinkBotTest
{
    [Fact]
    public async Task AChangeDeclaredWithoutAPullRequestIsReviewedOnceOneIsLinkedAndApprovedByANonAuthor()
    {
        await StartAsync(("Policy:RequiredEvidence:0", "PullRequestApproved"), ("Policy:ReviewWindow", "00:01:00"),
            ("Policy:ReminderInterval", "00:00:02"), ("Slack:Reviewers:0", "U0REV1"));
        await Bot.CommandJsonAsync("Roll back payments deploy");
        await Bot.Until(() => Change().Evidence.Any(e => e.Missing?.Contains("no pull request is linked to BG-1 (link one: /breakglass link BG-1 <PR URL>)") == true),
            "the tracker says no PR is linked", TimeSpan.FromSeconds(30));

        await Bot.CommandJsonAsync($"link BG-1 {PrUrl}");
        await Bot.Until(() => Change().Evidence.Any(e => e.Target == Pr && !e.Satisfied), "the tracker checks the linked PR", TimeSpan.FromSeconds(30));
        Assert.Equal(ChangeStatus.Open, Change().Status);

        // The author's own approval does not count; a non-author's does.
        var pr = GitHub.PullRequest(Pr);
        lock (pr.Reviews) pr.Reviews.Add(FakeGitHub.Review(81, "octocat", 1, "APPROVED", DateTimeOffset.UtcNow));
        var selfApproved = DateTimeOffset.UtcNow; // a check that started later read the reviews with the self-approval in them
        await Bot.Until(() => Change().Evidence.Any(e => e.Target == Pr && e.CheckedAt > selfApproved), "checked again after the self-approval", TimeSpan.FromSeconds(30));
        Assert.Equal(ChangeStatus.Open, Change().Status);
        lock (pr.Reviews) pr.Reviews.Add(FakeGitHub.Review(82, "hubot", 2, "APPROVED", DateTimeOffset.UtcNow));

        await Bot.Until(() => Change().Status == ChangeStatus.Reviewed, "reviewed once a non-author approved the linked PR", TimeSpan.FromSeconds(30));
        Assert.Equal("hubot", Change().PullRequests.Single().ApprovedBy);
        Assert.Single(Audit(AuditTypes.Reviewed));
    }
}
