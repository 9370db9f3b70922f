using BreakGlassBot.Digest;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>
/// GitHub limits the search API (30 a minute) apart from the core API: the break-glass rate's searches using theirs up
/// must not hold back the bypass, labels and merges. And a count given up on stops searching.
/// </summary>
[Trait("Category", "EndToEnd")]
public class RateLimitResourceTests : GitHubBotTest
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["GitHub:Repositories:0"] = "acme/api" };

    protected override void Configure(WebApplicationBuilder builder) =>
        builder.Services.AddSingleton(new GitHubHttpSettings { AttemptTimeout = TimeSpan.FromSeconds(2) });

    static readonly PullRequestRef Ref = new("github.com", "acme", "api", 1347);

    public static TheoryData<string> SearchLimits => ["403", "429"];

    static Fault SearchLimit(string kind) => kind == "403"
        ? FakeGitHub.SearchRateLimited403(DateTimeOffset.UtcNow.AddSeconds(60))
        // A secondary limit names no resource: a search call spends the search limit all the same.
        : FakeGitHub.TooManyRequests(retryAfterSeconds: 60);

    async Task<string> DigestJsonAsync() => (await Bot.Service<DigestContent>().BuildAsync(DateTimeOffset.UtcNow, null, CancellationToken.None)).Blocks!
        .ToJsonString(new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    [Theory]
    [MemberData(nameof(SearchLimits))]
    public async Task ASearchRateLimitDoesNotHoldBackTheDeclarationsGitHubCalls(string limit)
    {
        // A change declared last week (stored directly, no GitHub step), so the digest shows the rate.
        var earlier = DateTimeOffset.UtcNow - TimeSpan.FromDays(2);
        Bot.Store.Declare(new EmergencyChange
        {
            DeclaredBy = TestBot.Declarer, Summary = "Earlier hotfix", DeclaredAt = earlier, DueAt = earlier + TimeSpan.FromDays(5), NextCheckAt = earlier + TimeSpan.FromDays(5),
        }, _ => []);
        GitHub.Fail("GET /search/issues", SearchLimit(limit));
        Assert.Contains("GitHub's search is rate-limited just now", await DigestJsonAsync());
        // The second digest waits as GitHub asked: one search only.
        Assert.Contains("GitHub's search is rate-limited just now", await DigestJsonAsync());
        Assert.Single(GitHub.CallsTo("GET", "/search/issues"));

        Assert.Equal(FakeGitHub.DefaultHead, (await Bot.Service<IGitHubGateway>().GetPullRequestAsync(Ref)).HeadSha);
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        // Linked at once, not rescheduled a minute later behind the search limit.
        await WaitUntil(() => StepsSettled(2) && GitHub.PullRequest(Pr).Labels.Contains("break-glass") && !GitHub.PullRequest(Pr).Comments.IsEmpty, "PR linked");
        Assert.DoesNotContain(Thread(2), m => m.MetadataNote?.StartsWith("step-failed") == true);
    }

    [Fact]
    public async Task ACoreRateLimitStillHoldsBackCoreCallsButNotTheSearch()
    {
        GitHub.Fail("GET pull", FakeGitHub.RateLimited403(DateTimeOffset.UtcNow.AddSeconds(60)));
        var gateway = Bot.Service<IGitHubGateway>();

        var first = await Assert.ThrowsAsync<GitHubException>(() => gateway.GetPullRequestAsync(Ref));
        Assert.Equal(GitHubFailure.RateLimited, first.Failure);
        var held = await Assert.ThrowsAsync<GitHubException>(() => gateway.AddLabelAsync(Ref, "break-glass"));
        Assert.Equal(GitHubFailure.RateLimited, held.Failure);
        Assert.Empty(GitHub.CallsTo("POST", "/repos/acme/api/issues/1347/labels")); // failed fast, the limit not spent

        GitHub.MergedPulls.Enqueue(("acme/api", DateTimeOffset.UtcNow - TimeSpan.FromHours(1)));
        Assert.Equal(1, await gateway.CountMergedPullRequestsAsync(["acme/api"], DateTimeOffset.UtcNow - TimeSpan.FromDays(1), DateTimeOffset.UtcNow));
    }

    [Fact]
    public async Task ASearchGivenUpOnIsCancelledNotLeftRunning()
    {
        GitHub.Fail("GET /search/issues", new Fault.Delay(TimeSpan.FromSeconds(30)));
        var gateway = Bot.Service<IGitHubGateway>();
        using var cts = new CancellationTokenSource();
        var counting = gateway.CountMergedPullRequestsAsync(["acme/api"], DateTimeOffset.UtcNow - TimeSpan.FromDays(1), DateTimeOffset.UtcNow, cts.Token);
        await WaitUntil(() => GitHub.CallsTo("GET", "/search/issues").Count == 1, "search sent");
        cts.Cancel();
        // Without the token on the request it would run into the attempt timeout and come back as "GitHub timed out".
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => counting);
        Assert.Single(GitHub.CallsTo("GET", "/search/issues"));
    }
}
