using System.Text.Json.Nodes;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Hosting;
using BreakGlassBot.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>
/// The detection's GitHub calls (rule suites, commit pulls, the merged-PR search, branch commits, default branch): the real
/// gateway over Octokit's connection against the fake GitHub on loopback, every request checked against GitHub's description.
/// </summary>
public sealed class DetectionGatewayTests : IAsyncLifetime
{
    readonly FakeGitHub github = new();
    ServiceProvider? services;
    GitHubGateway gateway = null!;

    static readonly DateTimeOffset Now = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);
    const string MergeSha = "e5bd3914e2e596debea16f433f57875b5b90bcd6";
    const string PushSha = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c";

    public async Task InitializeAsync()
    {
        await github.StartAsync();
        github.Clock = () => Now;
        var collection = new ServiceCollection();
        collection.AddHttpClient(GitHubGateway.HttpClientName);
        services = collection.BuildServiceProvider();
        gateway = new GitHubGateway(services.GetRequiredService<IHttpMessageHandlerFactory>(), Options.Create(new GitHubOptions { ApiBaseUrl = github.ApiUrl }),
            new TokenCredentials(FakeGitHub.Token), TimeProvider.System);
    }

    public async Task DisposeAsync()
    {
        var violations = github.SchemaViolations.ToList();
        await github.DisposeAsync();
        if (services is not null) await services.DisposeAsync();
        Assert.Empty(violations); // every request the gateway sent is one GitHub's description allows
    }

    [Fact]
    public async Task RuleSuitesFromTheOfficialExampleAreReadAndOnlyBypassesAskedFor()
    {
        // The example's suites are from July 2023: GitHub's clock then, a week back covers both.
        github.Clock = () => new DateTimeOffset(2023, 7, 8, 0, 0, 0, TimeSpan.Zero);
        foreach (var suite in Fixtures.Json("github/rule_suites_list.json").AsArray()) github.AddRuleSuiteJson("octo-org", "octo-repo", suite!.DeepClone().AsObject());

        var all = await gateway.GetBypassRuleSuitesAsync("octo-org", "octo-repo", null, "week");

        var s = Assert.Single(all); // id 25 is a pass
        Assert.Equal(new RuleSuiteInfo(21, "octocat", 12, "893f768e172fb1bc9c5d6f3dd48557e45f14e01d", "dedd88641a362b6b4ea872da4847d6131a164d01",
            "refs/heads/i-see-everything", "octo-repo", new DateTimeOffset(2023, 7, 6, 8, 43, 3, TimeSpan.Zero), "bypass"), s);
        var query = Assert.Single(github.CallsTo("GET", "/repos/octo-org/octo-repo/rulesets/rule-suites")).Query;
        Assert.Contains("rule_suite_result=bypass", query);
        Assert.Contains("time_period=week", query);
        Assert.DoesNotContain("ref=", query);

        Assert.Single(await gateway.GetBypassRuleSuitesAsync("octo-org", "octo-repo", "i-see-everything", "week"));
        Assert.Empty(await gateway.GetBypassRuleSuitesAsync("octo-org", "octo-repo", "main", "week"));
        Assert.Contains(github.CallsTo("GET", "/repos/octo-org/octo-repo/rulesets/rule-suites"), c => c.Query.Contains("ref=refs%2Fheads%2Fmain"));
        // A day back from then is after both.
        Assert.Empty(await gateway.GetBypassRuleSuitesAsync("octo-org", "octo-repo", null, "day"));
    }

    [Fact]
    public async Task ARuleSuiteNamingItsActorUsernameAsOlderDocsShowIsRead()
    {
        github.AddRuleSuiteJson("acme", "api", new JsonObject
        {
            ["id"] = 7, ["actor_id"] = 2, ["username"] = "hubot", ["before_sha"] = "a", ["after_sha"] = MergeSha, ["ref"] = "refs/heads/main",
            ["repository_id"] = 1, ["repository_name"] = "api", ["pushed_at"] = "2026-11-30T11:00:00Z", ["result"] = "bypass",
        });
        var s = Assert.Single(await gateway.GetBypassRuleSuitesAsync("acme", "api", "main", "day"));
        Assert.Equal("hubot", s.ActorName);
        Assert.Equal(MergeSha, s.AfterSha);
    }

    [Fact]
    public async Task RuleSuitePagesAreFollowedButOnlyTenOfThem()
    {
        github.ListPageSize = 2;
        for (var i = 1; i <= 5; i++) github.AddRuleSuite("acme", "api", i, $"{i:x40}", "hubot", "refs/heads/main", "bypass", Now.AddMinutes(-i));
        github.AddRuleSuite("acme", "api", 99, $"{99:x40}", "hubot", "refs/heads/main", "pass", Now);

        var five = await gateway.GetBypassRuleSuitesAsync("acme", "api", "main", "day");
        Assert.Equal([1L, 2, 3, 4, 5], five.Select(s => s.Id).Order());
        Assert.Equal(3, github.CallsTo("GET", "/repos/acme/api/rulesets/rule-suites").Count);

        for (var i = 6; i <= 25; i++) github.AddRuleSuite("acme", "api", i, $"{i:x40}", "hubot", "refs/heads/main", "bypass", Now.AddMinutes(-i));
        var bounded = await gateway.GetBypassRuleSuitesAsync("acme", "api", "main", "day");
        Assert.Equal(GitHubGateway.RuleSuitePages * 2, bounded.Count);
        Assert.Equal(3 + GitHubGateway.RuleSuitePages, github.CallsTo("GET", "/repos/acme/api/rulesets/rule-suites").Count);
    }

    [Fact]
    public async Task RuleSuitesOfARepositoryGitHubDoesNotShowAreNotFound()
    {
        var e = await Assert.ThrowsAsync<GitHubException>(() => gateway.GetBypassRuleSuitesAsync("acme", "nowhere", "main", "day"));
        Assert.Equal(GitHubFailure.NotFound, e.Failure);
    }

    [Fact]
    public async Task AMergeCommitNamesItsPullRequestAndADirectPushNone()
    {
        github.AddPr("acme", "api", 7, p => p.AuthorLogin = "hubot");
        github.MergePullRequest("acme", "api", 7, "octocat", Now.AddHours(-1), MergeSha, "main");
        github.AddDirectPush("acme", "api", "main", PushSha, "octocat", Now.AddMinutes(-30));

        var pr = Assert.Single(await gateway.GetCommitPullRequestsAsync("acme", "api", MergeSha));
        Assert.Equal(new CommitPullRequestInfo(7, "closed", Now.AddHours(-1), MergeSha, "main"), pr);
        Assert.Empty(await gateway.GetCommitPullRequestsAsync("acme", "api", PushSha));
        // GET pull tells of the same merge.
        var pull = await gateway.GetPullRequestAsync(new PullRequestRef("github.com", "acme", "api", 7));
        Assert.Equal((true, MergeSha, "main", "octocat"), (pull.IsMerged, pull.MergeCommitSha, pull.BaseRef, pull.MergedByLogin));
    }

    [Fact]
    public async Task AnOutageOfCommitPullsIsUnavailable()
    {
        github.AddPr("acme", "api", 7);
        github.Fail("GET commit-pulls", FakeGitHub.Status(502, "Server Error"));
        var e = await Assert.ThrowsAsync<GitHubException>(() => gateway.GetCommitPullRequestsAsync("acme", "api", MergeSha));
        Assert.Equal(GitHubFailure.Unavailable, e.Failure);
    }

    void Merged(int number, DateTimeOffset at, string baseRef = "main", string repo = "api")
    {
        github.AddPr("acme", repo, number, p => { p.Title = $"Change {number}"; p.AuthorLogin = "hubot"; p.AuthorId = 2; });
        github.MergePullRequest("acme", repo, number, "octocat", at, $"{number:x40}", baseRef);
    }

    [Fact]
    public async Task TheSearchListsEveryPullRequestMergedIntoTheBranchInTheWindow()
    {
        var from = Now.AddDays(-7);
        for (var n = 1; n <= 3; n++) Merged(n, from.AddDays(n));
        Merged(10, from.AddDays(1), baseRef: "release");  // another branch
        Merged(11, from.AddSeconds(-1));                  // just before the window
        Merged(12, Now);                                  // at its end: [from, to) leaves it out
        Merged(13, from.AddDays(1), repo: "web");         // another repository
        github.AddPr("acme", "api", 14);                  // not merged

        var hits = await gateway.SearchMergedPullRequestsAsync("acme/api", "main", from, Now);

        Assert.Equal([1, 2, 3], hits.Select(h => h.Number));
        Assert.Equal(new MergedPullRequestHit("acme/api", 1, "Change 1", "hubot", 2, from.AddDays(1)), hits[0]);
        var q = Assert.Single(github.CallsTo("GET", "/search/issues")).Query;
        Assert.Contains("base:main", Uri.UnescapeDataString(q));
    }

    [Fact]
    public async Task ASearchGitHubWouldCutShortIsSplitUntilEveryMergeIsListed()
    {
        github.SearchResultCap = 3; // GitHub's 1,000, scaled down
        github.ListPageSize = 2;
        var from = Now.AddDays(-8);
        for (var n = 1; n <= 8; n++) Merged(n, from.AddDays(n - 0.5));

        var hits = await gateway.SearchMergedPullRequestsAsync("acme/api", "main", from, Now);

        Assert.Equal(Enumerable.Range(1, 8), hits.Select(h => h.Number));
        Assert.True(github.CallsTo("GET", "/search/issues").Count > 2, "the window was split");
    }

    [Fact]
    public async Task AThousandMergesInAWindowAreSearchedInHalves()
    {
        var from = Now.AddDays(-10);
        // Spread evenly over the ten days: 500 in each half.
        for (var n = 1; n <= 1000; n++) Merged(n, from.AddSeconds(n * 864 - 432));

        var hits = await gateway.SearchMergedPullRequestsAsync("acme/api", "main", from, Now);

        Assert.Equal(1000, hits.Select(h => h.Number).Distinct().Count());
        // The first search says 1,000 (all GitHub would serve): split at once, each half read in pages of 100.
        var calls = github.CallsTo("GET", "/search/issues");
        Assert.All(calls, c => Assert.Contains("per_page=100", c.Query));
        Assert.Equal(1 + 5 + 5, calls.Count);
    }

    [Fact]
    public async Task AnIncompleteSearchFailsInsteadOfPassingForTheWholeList()
    {
        Merged(1, Now.AddDays(-1));
        github.SearchIncomplete = true;
        var e = await Assert.ThrowsAsync<GitHubException>(() => gateway.SearchMergedPullRequestsAsync("acme/api", "main", Now.AddDays(-2), Now));
        Assert.Equal(GitHubFailure.Unavailable, e.Failure);
    }

    [Fact]
    public async Task TheCountOfMergesStillAnswersBesideTheList()
    {
        github.MergedPulls.Enqueue(("acme/api", Now.AddHours(-1)));
        Assert.Equal(1, await gateway.CountMergedPullRequestsAsync(["acme/api"], Now.AddDays(-1), Now));
    }

    [Fact]
    public async Task BranchCommitsAreThoseOnTheBranchBetweenSinceAndUntilOverEveryPage()
    {
        github.ListPageSize = 2;
        github.AddDirectPush("acme", "api", "main", PushSha, "octocat", Now.AddHours(-5), "Hotfix straight to main");
        for (var i = 1; i <= 3; i++) github.AddDirectPush("acme", "api", "main", $"{i:x40}", "hubot", Now.AddHours(-4 + i));
        github.AddDirectPush("acme", "api", "main", $"{9:x40}", "hubot", Now.AddDays(-3));        // before since
        github.AddDirectPush("acme", "api", "feature", $"{10:x40}", "hubot", Now.AddHours(-2));  // another branch
        github.AddPr("acme", "api", 7);
        github.MergePullRequest("acme", "api", 7, "octocat", Now.AddHours(-6), MergeSha, "main");

        var commits = await gateway.GetBranchCommitsAsync("acme", "api", "main", Now.AddDays(-1), Now);

        Assert.Equal([$"{3:x40}", $"{2:x40}", $"{1:x40}", PushSha, MergeSha], commits.Select(c => c.Sha));
        Assert.Equal(new CommitInfo(PushSha, "octocat", 1, "octocat", 1, Now.AddHours(-5), "Hotfix straight to main"), commits[3]);
        Assert.Equal((FakeGitHub.WebFlowLogin, "octocat"), (commits[4].CommitterLogin, commits[4].AuthorLogin));
        Assert.Equal(3, github.CallsTo("GET", "/repos/acme/api/commits").Count);
        Assert.All(github.CallsTo("GET", "/repos/acme/api/commits"), c => Assert.Contains("sha=main", c.Query));
    }

    [Fact]
    public async Task TheDefaultBranchIsReadFromTheRepositoryEachTimeItChanges()
    {
        github.SetDefaultBranch("acme", "api", "main");
        Assert.Equal("main", await gateway.GetDefaultBranchAsync("acme", "api"));
        github.SetDefaultBranch("acme", "api", "trunk");
        Assert.Equal("trunk", await gateway.GetDefaultBranchAsync("acme", "api"));

        github.AddPr("acme", "web", 1); // a repository the fake knows through its PR: the fixture's default branch
        Assert.Equal("master", await gateway.GetDefaultBranchAsync("acme", "web"));
        var e = await Assert.ThrowsAsync<GitHubException>(() => gateway.GetDefaultBranchAsync("acme", "nowhere"));
        Assert.Equal(GitHubFailure.NotFound, e.Failure);
    }
}
