using BreakGlassBot.Digest;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.GitHub;
using BreakGlassBot.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace BreakGlassBot.Tests.Digest;

/// <summary>
/// The digest's break-glass rate with all changes counted at the fake GitHub's search API, its fallbacks, and the
/// reviewers it names: the real bot, real HTTP.
/// </summary>
[Trait("Category", "EndToEnd")]
public class DigestRateTests : IAsyncLifetime
{
    readonly FakeSlack slack = new();
    readonly FakeGitHub github = new();

    public async Task InitializeAsync()
    {
        await slack.StartAsync();
        await github.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await github.DisposeAsync();
        await slack.DisposeAsync();
    }

    Dictionary<string, string?> GitHubSettings(params string[] repositories)
    {
        var settings = new Dictionary<string, string?> { ["GitHub:Token"] = FakeGitHub.Token, ["GitHub:ApiBaseUrl"] = github.ApiUrl };
        for (var i = 0; i < repositories.Length; i++) settings[$"GitHub:Repositories:{i}"] = repositories[i];
        return settings;
    }

    /// <summary>A change stored directly (no announcement, tracking planned a day ahead), declared <paramref name="ago"/>.</summary>
    static EmergencyChange Seed(TestBot bot, TimeSpan ago, TimeSpan window, Action<EmergencyChange>? configure = null)
    {
        var now = DateTimeOffset.UtcNow;
        var draft = new EmergencyChange
        {
            DeclaredBy = TestBot.Declarer, Summary = "Hotfix", DeclaredAt = now - ago, DueAt = now - ago + window, NextCheckAt = now + TimeSpan.FromDays(1),
        };
        configure?.Invoke(draft);
        return bot.Store.Declare(draft, _ => []).Change;
    }

    static Task<string> DigestTextAsync(TestBot bot) =>
        bot.Service<DigestContent>().BuildAsync(DateTimeOffset.UtcNow, null, CancellationToken.None).ContinueWith(t => t.Result.Blocks!.ToJsonString(
            new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));

    [Fact]
    public async Task AllChangesAreCountedInTheConfiguredRepositoriesForTheRate()
    {
        await using var bot = await TestBot.StartAsync(slack, settings: GitHubSettings("acme/api", "acme/web"));
        Seed(bot, TimeSpan.FromHours(1), TimeSpan.FromDays(2));
        var now = DateTimeOffset.UtcNow;
        for (var i = 0; i < 6; i++) github.MergedPulls.Enqueue(("acme/api", now - TimeSpan.FromHours(2 + i)));
        for (var i = 0; i < 4; i++) github.MergedPulls.Enqueue(("acme/web", now - TimeSpan.FromDays(1)));
        github.MergedPulls.Enqueue(("acme/api", now - TimeSpan.FromDays(9)));  // a week earlier
        github.MergedPulls.Enqueue(("other/repo", now - TimeSpan.FromHours(3))); // not counted

        var text = await DigestTextAsync(bot);

        Assert.Contains("merged pull requests in 2 repositories", text);
        Assert.Contains("0 emergency of 1 changes = 0%", text);
        Assert.Contains("*1 emergency of 10 changes = 10%*", text);
        var searches = github.CallsTo("GET /search/issues");
        Assert.Equal(4, searches.Count); // one query per week, both repositories in it
        var q = Uri.UnescapeDataString(searches[0].Query);
        Assert.Contains("repo:acme/api repo:acme/web is:pr is:merged merged:", q);
    }

    [Fact]
    public async Task WithoutConfiguredRepositoriesTheLinkedPullRequestsRepositoriesAreCounted()
    {
        await using var bot = await TestBot.StartAsync(slack, settings: GitHubSettings());
        Seed(bot, TimeSpan.FromHours(1), TimeSpan.FromDays(2), c => c.PullRequests.Add(new LinkedPullRequest { Owner = "acme", Repo = "pay", Number = 7 }));
        github.MergedPulls.Enqueue(("acme/pay", DateTimeOffset.UtcNow - TimeSpan.FromHours(5)));
        github.MergedPulls.Enqueue(("acme/pay", DateTimeOffset.UtcNow - TimeSpan.FromHours(6)));

        var text = await DigestTextAsync(bot);

        Assert.Contains("merged pull requests in acme/pay", text);
        Assert.Contains("*1 emergency of 2 changes = 50%*", text);
        Assert.All(github.CallsTo("GET /search/issues"), c => Assert.Contains("repo:acme/pay ", Uri.UnescapeDataString(c.Query)));
    }

    [Fact]
    public async Task WithoutGitHubTheDigestShowsTheCountTrendAndSaysWhy()
    {
        await using var bot = await TestBot.StartAsync(slack);
        Seed(bot, TimeSpan.FromHours(1), TimeSpan.FromDays(2));
        var text = await DigestTextAsync(bot);
        Assert.Contains("As a share of all changes: unknown (GitHub is not configured)", text);
        Assert.Empty(github.Calls);
    }

    [Fact]
    public async Task AFailingSearchFallsBackToTheCountTrend()
    {
        await using var bot = await TestBot.StartAsync(slack, settings: GitHubSettings("acme/api"));
        Seed(bot, TimeSpan.FromHours(1), TimeSpan.FromDays(2));
        github.Fail("GET /search/issues", FakeGitHub.Status(422, "Validation Failed"));
        var text = await DigestTextAsync(bot);
        Assert.Contains("As a share of all changes: unknown (GitHub's search failed)", text);
        Assert.Contains("*1*", text);
    }

    [Fact]
    public async Task ASlowSearchDoesNotHoldTheDigestBackBeyondItsTimeout()
    {
        await using var bot = await TestBot.StartAsync(slack, settings: GitHubSettings("acme/api"),
            configure: b => b.Services.AddSingleton(new AllChangesSettings { Timeout = TimeSpan.FromSeconds(1) }));
        Seed(bot, TimeSpan.FromHours(1), TimeSpan.FromDays(2));
        github.MergedPulls.Enqueue(("acme/api", DateTimeOffset.UtcNow - TimeSpan.FromHours(5)));
        // Answers correctly, but only after 30 s: without the timeout the digest would show the rate.
        github.Fail("GET /search/issues", new Fault.Delay(TimeSpan.FromSeconds(30)));
        var text = await DigestTextAsync(bot);
        Assert.Contains("As a share of all changes: unknown (GitHub's search did not answer in time)", text);
    }

    [Fact]
    public async Task TheDigestNamesTheEligibleReviewersWhoHaveNotActed()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Slack:Reviewers:0"] = "U0REV1", ["Slack:Reviewers:1"] = "U0REV2", ["Slack:Reviewers:2"] = "U0REV3", ["Slack:Reviewers:3"] = TestBot.Declarer,
        };
        await using var bot = await TestBot.StartAsync(slack, settings: settings);
        Seed(bot, TimeSpan.FromDays(3), TimeSpan.FromDays(1), c =>
            c.Approvals.Add(new Approval { Reviewer = "U0REV2", At = DateTimeOffset.UtcNow - TimeSpan.FromDays(2), Source = "test" }));
        Seed(bot, TimeSpan.FromDays(3), TimeSpan.FromDays(1), c =>
            c.Approvals.Add(new Approval { Reviewer = "U0REV3", At = DateTimeOffset.UtcNow - TimeSpan.FromDays(2), Source = "test" }));

        var text = await DigestTextAsync(bot);

        // BG-1: U0REV2 approved; BG-2: U0REV3 approved. The declarer is never named.
        Assert.Contains("_Next:_ <@U0REV1>, <@U0REV3> (eligible, not yet acted) to review it", text);
        Assert.Contains("_Next:_ <@U0REV1>, <@U0REV2> (eligible, not yet acted) to review it", text);
        Assert.DoesNotContain($"<@{TestBot.Declarer}> (eligible", text);
        Assert.DoesNotContain($", <@{TestBot.Declarer}>", text);
    }
}
