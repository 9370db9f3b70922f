using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Jira;
using BreakGlassBot.Outbox;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Declaring;

/// <summary>/breakglass link BG-n &lt;PR URL...&gt; [JIRA-KEY...] and link github &lt;login&gt;, decided in process.</summary>
public class LinkDecisionTests
{
    const string PrUrl = "https://github.com/acme/pay/pull/42";
    const string Pr = "acme/pay#42";
    const string Declarer = InProcessBot.Declarer;

    /// <summary>GitHub and Jira configured (pointed at a closed loopback port: the outbox never runs here anyway).</summary>
    static readonly Dictionary<string, string?> Connected = new()
    {
        ["GitHub:Token"] = "ghp_in_process",
        ["GitHub:ApiBaseUrl"] = "http://127.0.0.1:9/",
        ["Jira:BaseUrl"] = "http://127.0.0.1:9/jira",
        ["Jira:Email"] = "bot@example.com",
        ["Jira:ApiToken"] = "jira-in-process",
    };

    static async Task<InProcessBot> WithChangeAsync(IDictionary<string, string?>? settings = null, string text = "Roll back payments deploy")
    {
        var bot = InProcessBot.Create(settings);
        await bot.ReplyAsync(text);
        return bot;
    }

    [Fact]
    public async Task TheDeclarerLinksAPullRequestAndAJiraIssueAndTheTrackerLooksAgain()
    {
        await using var bot = await WithChangeAsync();
        Assert.Equal(":link: Linked acme/pay#42 and OPS-7 to BG-1. (The bot is not connected to GitHub or Jira here, so it only records them.)",
            await bot.ReplyAsync($"link BG-1 {PrUrl} OPS-7"));

        var change = bot.Change();
        Assert.Equal(Pr, Assert.Single(change.PullRequests).Ref.ToString());
        Assert.Equal("OPS-7", Assert.Single(change.JiraIssues).Key);
        var added = Assert.Single(bot.Audit(LinkAuditTypes.LinksAdded));
        Assert.Equal(Declarer, added.Actor);
        Assert.Equal(new Dictionary<string, string> { ["pull_requests"] = Pr, ["jira_issues"] = "OPS-7" }, added.Data);
        Assert.Contains($"{StepKinds.ThreadNote}:links-added:{Declarer}:{Pr} OPS-7", bot.PendingSteps());
        Assert.Contains(StepKinds.RefreshAnnouncement, bot.PendingSteps());
        Assert.Equal([1], bot.Jobs.Reevaluated);
    }

    [Fact]
    public async Task WithGitHubAndJiraConnectedTheLinksGetTheStepsADeclarationWithThemWouldHave()
    {
        await using var bot = await WithChangeAsync(Connected);
        Assert.Equal(":link: Linked acme/pay#42 and OPS-7 to BG-1; the bot labels and comments on them now.", await bot.ReplyAsync($"link BG-1 {PrUrl} OPS-7"));
        Assert.Contains($"{GitHubStepKinds.PullRequest}:{Pr}", bot.PendingSteps());
        Assert.Contains($"{JiraStepKinds.Link}:OPS-7", bot.PendingSteps());
    }

    [Fact]
    public async Task LinksAddedAfterAnApprovalVoidItAndAreNeverToldItApprovedThem()
    {
        await using var bot = await WithChangeAsync(Connected);
        await bot.Service<BreakGlassBot.Reviewing.Approvals>().ApproveAsync(new ChangeId(1), InProcessBot.Reviewer, null, "button", "1.1", null, CancellationToken.None);
        Assert.Equal(["BG-1"], bot.Change().Approvals[0].Covered);
        await bot.ReplyAsync($"link BG-1 {PrUrl} OPS-7");
        // The approver saw neither: no "approved by" comment on the PR, no transition of the issue, and it no longer counts.
        Assert.DoesNotContain(bot.PendingSteps(), s => s.StartsWith(GitHubStepKinds.ApprovalComment, StringComparison.Ordinal) || s.StartsWith(JiraStepKinds.Approval, StringComparison.Ordinal));
        var approval = Assert.Single(bot.Change().Approvals);
        Assert.False(approval.Stands);
        Assert.Equal($"it did not cover {Pr}, OPS-7", approval.VoidedBecause);
        var voided = Assert.Single(bot.Audit(AuditTypes.ApprovalVoided));
        Assert.Equal((InProcessBot.Reviewer, "0", Declarer), (voided.Data["reviewer"], voided.Data["index"], voided.Actor));
        Assert.Contains($"{StepKinds.ThreadNote}:{ApprovalCoverage.VoidedNotePrefix}0", bot.PendingSteps());
    }

    [Fact]
    public async Task SomeoneElseCannotLinkToTheChange()
    {
        await using var bot = await WithChangeAsync();
        var steps = bot.PendingSteps();
        Assert.Equal($":no_entry: Only <@{Declarer}> (who declared it) or an admin may link things to BG-1. Ask them, or mention the link in the change's thread.",
            await bot.ReplyAsync($"link BG-1 {PrUrl}", "U0OTHER"));
        Assert.Empty(bot.Change().PullRequests);
        Assert.Empty(bot.Audit(LinkAuditTypes.LinksAdded));
        Assert.Equal(steps, bot.PendingSteps());
        Assert.Empty(bot.Jobs.Reevaluated);
    }

    [Fact]
    public async Task AnAdminMayLinkToSomeoneElsesChange()
    {
        await using var bot = await WithChangeAsync();
        Assert.StartsWith(":link: Linked OPS-7 to BG-1", await bot.ReplyAsync("link BG-1 OPS-7", InProcessBot.Admin));
        Assert.Equal(InProcessBot.Admin, Assert.Single(bot.Audit(LinkAuditTypes.LinksAdded)).Actor);
    }

    [Fact]
    public async Task NothingCanBeLinkedToACancelledChange()
    {
        await using var bot = await WithChangeAsync();
        await bot.ReplyAsync("cancel BG-1 declared by mistake");
        Assert.Equal($":no_entry_sign: BG-1 was cancelled by <@{Declarer}>: declared by mistake. Nothing can be linked to it; if the change did happen, declare it again with the links.",
            await bot.ReplyAsync($"link BG-1 {PrUrl} OPS-7"));
        Assert.Empty(bot.Change().PullRequests);
        Assert.Empty(bot.Change().JiraIssues);
        Assert.Empty(bot.Audit(LinkAuditTypes.LinksAdded));
    }

    [Fact]
    public async Task NothingCanBeLinkedToAReviewedChange()
    {
        await using var bot = await WithChangeAsync();
        bot.Store.Update(1, c => { c.Status = ChangeStatus.Reviewed; return []; });
        Assert.Equal("BG-1 is already reviewed: its review is complete and its record is closed to new links.", await bot.ReplyAsync("link BG-1 OPS-7"));
        Assert.Empty(bot.Change().JiraIssues);
        Assert.Empty(bot.Audit(LinkAuditTypes.LinksAdded));
    }

    [Fact]
    public async Task ALinkWithoutUsableLinksOrChangeSaysWhatToTypeAndChangesNothing()
    {
        await using var bot = await WithChangeAsync();
        const string example = "Type `/breakglass link BG-42 https://github.com/acme/pay/pull/42 OPS-7` (PR URLs, Jira keys or Jira issue URLs).";
        Assert.Equal(":warning: There is no pull request link or Jira key to link to BG-1 in that. " + example, await bot.ReplyAsync("link BG-1 see the fix"));
        Assert.Equal(":warning: There is no pull request link or Jira key to link to BG-1 in that. " + example, await bot.ReplyAsync("link BG-1"));
        Assert.Equal(":warning: 'https://github.com/acme/pay/pulls' is not a pull request link (expected https://github.com/&lt;owner&gt;/&lt;repo&gt;/pull/&lt;number&gt;)"
            + "\nNothing was linked. " + example, await bot.ReplyAsync("link BG-1 https://github.com/acme/pay/pulls OPS-7"));
        Assert.Equal(":warning: There is no BG-99. `/breakglass list mine` shows your changes.", await bot.ReplyAsync("link BG-99 OPS-7"));
        Assert.Equal(":warning: 'BG-x' is not a change id. " + example, await bot.ReplyAsync("link BG-x OPS-7"));
        Assert.Empty(bot.Change().PullRequests);
        Assert.Empty(bot.Change().JiraIssues);
        Assert.Empty(bot.Audit(LinkAuditTypes.LinksAdded));
        Assert.Empty(bot.Jobs.Reevaluated);
    }

    [Fact]
    public async Task LinkingWhatIsAlreadyLinkedAddsNothingAndSaysSo()
    {
        await using var bot = await WithChangeAsync(text: $"Roll back payments deploy {PrUrl} OPS-7");
        var steps = bot.Change().Steps.Count;
        Assert.Equal(":information_source: ACME/Pay#42 and OPS-7 are already linked to BG-1; nothing was added.",
            await bot.ReplyAsync("link BG-1 <https://github.com/ACME/Pay/pull/42> https://jira.example.com/browse/OPS-7"));
        Assert.Equal(steps, bot.Change().Steps.Count);
        Assert.Single(bot.Change().PullRequests);
        Assert.Empty(bot.Audit(LinkAuditTypes.LinksAdded));
        Assert.Empty(bot.Jobs.Reevaluated);
    }

    [Fact]
    public async Task AMixOfNewAndAlreadyLinkedSaysWhichWereNew()
    {
        await using var bot = await WithChangeAsync(text: $"Roll back payments deploy {PrUrl}");
        var reply = await bot.ReplyAsync($"link BG-1 OPS-8 {PrUrl}");
        Assert.StartsWith(":link: Linked OPS-8 to BG-1", reply);
        Assert.EndsWith(" Already linked, so left as they were: acme/pay#42.", reply);
        var added = Assert.Single(bot.Audit(LinkAuditTypes.LinksAdded));
        Assert.Equal(new Dictionary<string, string> { ["jira_issues"] = "OPS-8", ["already_linked"] = Pr }, added.Data);
        Assert.Single(bot.Change().PullRequests);
    }

    [Fact]
    public async Task LinkGithubWithATypedLoginKeepsAnUnverifiedHintInRecordOnly()
    {
        await using var bot = InProcessBot.Create();
        var reply = await bot.ReplyAsync("link github @hubot");
        Assert.StartsWith(":link: Your GitHub login is now `hubot` (unverified): it is shown as unverified, grants nothing", reply);
        Assert.Contains("ask an admin to set your login as People:", reply); // no GitHub:ClientId here, so no device flow
        Assert.Equal("hubot", bot.Store.LinkedAccount(Declarer, "github"));
    }

    [Theory]
    [InlineData("Team")]
    [InlineData("MergeByBot")]
    public async Task LinkGithubWithATypedLoginIsRefusedWhereTheBotActsOnGitHub(string mode)
    {
        await using var bot = InProcessBot.Create(new Dictionary<string, string?> { ["GitHub:BypassMode"] = mode, ["GitHub:BypassTeam"] = "acme/bg" });
        var reply = await bot.ReplyAsync("link github hubot");
        Assert.StartsWith($":no_entry: The bot cannot check a login typed into Slack, and in {mode} mode it acts on GitHub", reply);
        Assert.Null(bot.Store.LinkedAccount(Declarer, "github"));
    }

    [Fact]
    public async Task LinkGithubWithoutAClientIdSaysHowAnAdminSetsItUp()
    {
        await using var bot = InProcessBot.Create();
        Assert.StartsWith(":warning: Linking a GitHub account is not set up here: an admin must set GitHub:ClientId", await bot.ReplyAsync("link github"));
    }

    [Fact]
    public async Task LinkGithubRefusesWhatIsNotALogin()
    {
        await using var bot = InProcessBot.Create();
        Assert.StartsWith(":warning: '-not-a-login-' is not a GitHub login", await bot.ReplyAsync("link github -not-a-login-"));
        Assert.StartsWith(":warning: Type `/breakglass link github`", await bot.ReplyAsync("link jira 5b10a2844c20165700ede21g"));
        Assert.StartsWith(":warning: Type `/breakglass link github`", await bot.ReplyAsync("link github two words"));
        Assert.Null(bot.Store.LinkedAccount(Declarer, "github"));
    }

    [Fact]
    public async Task ALoginSetByAnAdminCannotBeChangedByLinking()
    {
        await using var bot = InProcessBot.Create(new Dictionary<string, string?> { [$"People:{Declarer}:GitHub"] = "octocat" });
        Assert.StartsWith($":no_entry: An admin set your GitHub login to `octocat` (People:{Declarer}:GitHub)", await bot.ReplyAsync("link github not-octocat"));
        Assert.Equal(":information_source: Your GitHub login is already `octocat`, set by an admin; nothing to change.", await bot.ReplyAsync("link github OctoCat"));
        Assert.Null(bot.Store.LinkedAccount(Declarer, "github"));
    }
}
