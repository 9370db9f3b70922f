using BreakGlassBot.GitHub;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>
/// MergeByBot's authority has a scope (issue 18, item 3): which repositories, whose pull requests, one PR per merge, the base and
/// head re-read before merging, and the requester's own permission on the repository.
/// </summary>
[Trait("Category", "EndToEnd")]
public class MergeScopeTests : GitHubBotTest
{
    const string AdminLogin = "octoadmin";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["GitHub:BypassMode"] = "MergeByBot",
        ["GitHub:MergeRepositories:0"] = "acme/api",
        [$"People:{TestBot.Declarer}:GitHub"] = "hubot",
        [$"People:{TestBot.Admin}:GitHub"] = AdminLogin,
        ["Policy:BypassDuration"] = "01:00:00",
    };

    async Task<string> Say(string text, string user = TestBot.Declarer) => (await Bot.CommandJsonAsync(text, user))["text"]!.GetValue<string>();

    static string MergePath(int number) => $"/repos/acme/api/pulls/{number}/merge";

    IEnumerable<string> Refused(string reason) =>
        Bot.Store.AuditTrail(1).Where(e => e.Type == GitHubAuditTypes.MergeRefused && e.Data["reason"] == reason).Select(e => e.Actor);

    async Task DeclaredAsync(string text = $"Fix it {PrUrl}", int buttons = 1)
    {
        await Bot.CommandJsonAsync(text);
        await WaitUntil(() => MergeButtons().Count == buttons, "merge buttons in the thread");
    }

    [Fact]
    public async Task AColleaguesPullRequestLinkedLaterIsMergedOnlyWhenAnAdminPressesMerge()
    {
        GitHub.AddPr("acme", "api", 1400, p => { p.AuthorLogin = "octocat"; p.AuthorId = 1; });
        await DeclaredAsync();
        Assert.StartsWith(":link:", await Say("link BG-1 https://github.com/acme/api/pull/1400"));
        await WaitUntil(() => Change().PullRequests.Count == 2 && Change().PullRequests[1].HeadSha is not null, "the later PR read");

        var refused = await Say("merge BG-1 acme/api#1400");
        Assert.Contains("was linked after BG-1 was declared and is not by your verified GitHub account", refused);
        Assert.Contains("an admin (Slack:Admins) other than you", refused);
        Assert.Equal([TestBot.Declarer], Refused("linked later, not authored by the declarer"));
        Assert.Empty(GitHub.CallsTo("PUT", MergePath(1400)));

        Assert.Contains("Merging acme/api#1400", await Say("merge BG-1 acme/api#1400", TestBot.Admin));
        await WaitUntil(() => Change().PullRequests[1].Merged, "merged for the admin");
        Assert.Single(GitHub.CallsTo("PUT", MergePath(1400)));
        Assert.Empty(GitHub.CallsTo("PUT", MergePath(1347)));
        var requested = Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.MergeRequested);
        Assert.Equal((TestBot.Admin, "admin", AdminLogin), (requested.Actor, requested.Data["as"], requested.Data["github_login"]));
        // The admin's own permission was asked, not the declarer's.
        Assert.NotEmpty(GitHub.CallsTo("GET", $"/repos/acme/api/collaborators/{AdminLogin}/permission"));
    }

    [Fact]
    public async Task TheDeclarersOwnPullRequestLinkedLaterIsMergedForThem()
    {
        // hubot is id 2 in the fake; the configured login's id is read at start-up and compared, not the login.
        GitHub.AddPr("acme", "api", 1402, p => { p.AuthorLogin = "hubot"; p.AuthorId = 2; });
        await DeclaredAsync();
        await WaitUntil(() => Bot.Service<BreakGlassBot.EmergencyChanges.People>().ResolvedId("hubot") == 2, "the configured login's id read");
        Assert.StartsWith(":link:", await Say("link BG-1 https://github.com/acme/api/pull/1402"));
        await WaitUntil(() => Change().PullRequests.Count == 2 && Change().PullRequests[1].HeadSha is not null, "the later PR read");

        Assert.Contains("Merging acme/api#1402", await Say("merge BG-1 acme/api#1402"));
        await WaitUntil(() => Change().PullRequests[1].Merged, "merged for the declarer");
        Assert.Single(GitHub.CallsTo("PUT", MergePath(1402)));
    }

    [Fact]
    public async Task APullRequestInARepositoryOutsideMergeRepositoriesIsRefusedAtLink()
    {
        GitHub.AddPr("acme", "web", 7);
        await DeclaredAsync();
        var reply = await Say("link BG-1 https://github.com/acme/web/pull/7");
        Assert.Contains("GitHub:MergeRepositories", reply);
        Assert.Contains("acme/web is not one of them, so nothing was linked to BG-1", reply);
        Assert.Single(Change().PullRequests);
        var refused = Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.LinkRefused);
        Assert.Equal((TestBot.Declarer, "acme/web#7"), (refused.Actor, refused.Data["pull_requests"]));
        Assert.Empty(GitHub.CallsTo("GET", "/repos/acme/web/pulls/7"));
    }

    [Fact]
    public async Task APullRequestDeclaredInARepositoryOutsideTheListIsLinkedButNeverMergedByTheBot()
    {
        // The declaration never blocks: the PR is linked and tracked for review, but gets no Merge now button and no merge.
        GitHub.AddPr("acme", "web", 7);
        await Bot.CommandJsonAsync("Fix it https://github.com/acme/web/pull/7");
        await WaitUntil(() => Change().PullRequests[0].HeadSha is not null && Change().Bypass is { Granted: true }, "read and granted");
        Assert.Empty(MergeButtons());
        var reply = await Say("merge BG-1");
        Assert.Contains("GitHub:MergeRepositories, and acme/web is not one of them; nothing was merged", reply);
        Assert.Equal([TestBot.Declarer], Refused("repository not in GitHub:MergeRepositories"));
        Assert.Empty(GitHub.CallsTo("PUT", "/repos/acme/web/pulls/7/merge"));
    }

    [Fact]
    public async Task ARetargetedBaseIsRefusedJustBeforeTheMergeOnTheReReadPullRequest()
    {
        await DeclaredAsync();
        Assert.Equal("master", Change().PullRequests[0].BaseRef);
        GitHub.PullRequest(Pr).BaseRef = "release";
        // The reply's quick look gets no answer in time, so the merge step's own read just before merging decides.
        GitHub.Fail("GET pull", new Fault.Delay(TimeSpan.FromSeconds(3)));
        Assert.Contains("Merging acme/api#1347", await Say("merge BG-1"));

        await WaitUntil(() => Thread().Any(m => m.MetadataNote?.StartsWith("step-gaveup") == true), "refusal in the thread");
        Assert.Contains("now targets `release`, not `master` as when it was linked", Thread().Single(m => m.MetadataNote?.StartsWith("step-gaveup") == true).Text);
        Assert.Empty(GitHub.CallsTo("PUT", MergePath(1347)));
        Assert.False(GitHub.PullRequest(Pr).Merged);
        var refused = Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.MergeRefused);
        Assert.Equal(("base changed", "release", "master"), (refused.Data["reason"], refused.Data["base"], refused.Data["linked_base"]));
    }

    [Fact]
    public async Task ARetargetedBaseSeenWhenAskedIsRefusedAtOnce()
    {
        await DeclaredAsync();
        GitHub.PullRequest(Pr).BaseRef = "release";
        var reply = await Say("merge BG-1");
        Assert.Contains("now targets `release`, not `master`", reply);
        Assert.Contains("Nothing was merged", reply);
        Assert.Equal([TestBot.Declarer], Refused("base changed"));
        Assert.Empty(GitHub.CallsTo("PUT", MergePath(1347)));
    }

    [Fact]
    public async Task AHeadFromAForkIsRefused()
    {
        await DeclaredAsync();
        GitHub.PullRequest(Pr).HeadRepository = "mallory/api";
        var reply = await Say("merge BG-1");
        Assert.Contains("The head of acme/api#1347 is in another repository (mallory/api)", reply);
        Assert.Contains("GitHub:AllowForkMerges", reply);
        Assert.Equal([TestBot.Declarer], Refused("head from a fork"));
        Assert.Empty(GitHub.CallsTo("PUT", MergePath(1347)));
    }

    [Fact]
    public async Task MergeNamingOnePullRequestMergesOnlyThatOne()
    {
        GitHub.AddPr("acme", "api", 1401);
        await DeclaredAsync($"Fix it {PrUrl} https://github.com/acme/api/pull/1401", buttons: 2);

        var asked = await Say("merge BG-1");
        Assert.Contains("BG-1 links several pull requests not merged yet: `acme/api#1347`, `acme/api#1401`", asked);
        Assert.DoesNotContain(GitHub.Calls, c => c.Method == "PUT" && c.Path.EndsWith("/merge"));

        Assert.Contains("Merging acme/api#1401", await Say("merge BG-1 acme/api#1401"));
        await WaitUntil(() => Change().PullRequests[1].Merged, "the named PR merged");
        Assert.Single(GitHub.CallsTo("PUT", MergePath(1401)));
        Assert.Empty(GitHub.CallsTo("PUT", MergePath(1347)));
        Assert.False(Change().PullRequests[0].Merged);
    }

    [Fact]
    public async Task ADeclarerWithoutWritePermissionIsRefused()
    {
        GitHub.Permissions["acme/api:hubot"] = "read";
        await DeclaredAsync();
        var reply = await Say("merge BG-1");
        Assert.Contains("Your GitHub account `hubot` may not write to acme/api (GitHub says read)", reply);
        Assert.Equal([TestBot.Declarer], Refused("no write permission"));
        Assert.Empty(GitHub.CallsTo("PUT", MergePath(1347)));
        Assert.NotEmpty(GitHub.CallsTo("GET", "/repos/acme/api/collaborators/hubot/permission"));
    }

    [Theory]
    [InlineData("none", false)]
    [InlineData("read", true)]
    public async Task APrivateRepositorysTitleIsShownOnlyToADeclarerWhoMayReadIt(string permission, bool shown)
    {
        const string Secret = "Rotate the payroll signing key";
        GitHub.PullRequest(Pr).Private = true;
        GitHub.PullRequest(Pr).Title = Secret;
        GitHub.Permissions["acme/api:hubot"] = permission;
        await DeclaredAsync();

        Assert.Equal(shown, Slack.Messages.Any(m => m.AllText.Contains(Secret)));
        Assert.Equal(shown ? Secret : null, Change().PullRequests[0].Title);
        Assert.Contains("acme/api#1347", MergeButtons()[0].Text);
        var linked = Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.PullRequestLinked);
        Assert.Equal(shown, linked.Data["title"] == Secret);
    }
}
