using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>GitHub down, slow, refusing or rate limiting: the declaration stands, the step is retried and reported, and ends with one label and one comment.</summary>
[Trait("Category", "EndToEnd")]
public class RecoveryTests : GitHubBotTest
{
    protected override void Configure(WebApplicationBuilder builder) =>
        builder.Services.AddSingleton(new GitHubHttpSettings { AttemptTimeout = TimeSpan.FromMilliseconds(500) });

    IReadOnlyList<PostedSlackMessage> Notes(string prefix) => [.. Thread().Where(m => m.MetadataNote?.StartsWith(prefix) == true)];

    async Task AssertLinkedExactlyOnceAsync()
    {
        await WaitUntil(() => StepsSettled() && Change().PullRequests[0].FetchedAt is not null, "PR linked");
        Assert.Single(GitHub.PullRequest(Pr).Comments);
        Assert.Equal(["break-glass"], GitHub.PullRequest(Pr).Labels);
        Assert.Equal(StepState.Done, Change().Steps.Single(s => s.Kind == GitHubStepKinds.PullRequest).State);
    }

    [Fact]
    public async Task ServerErrorsAreRetriedReportedOnceAndTheRecoveryAnnounced()
    {
        GitHub.Fail("POST labels", FakeGitHub.Status(502, "Server Error"), times: 2);
        GitHub.Fail("POST comments", FakeGitHub.Status(500, "Server Error"), times: 1);
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await AssertLinkedExactlyOnceAsync();
        await WaitUntil(() => Notes("step-recovered").Count == 1, "recovery announced");
        var failed = Assert.Single(Notes("step-failed"));
        Assert.Contains("Could not link acme/api#1347 on GitHub", failed.Text);
        Assert.Contains("GitHub answered HTTP 502", failed.Text);
        // Two 502s, one success, and once more on the attempt after the comment failed: adding a label is idempotent.
        Assert.Equal(4, GitHub.CallsTo("POST", "/repos/acme/api/issues/1347/labels").Count);
        Assert.Equal(2, GitHub.CallsTo("POST", "/repos/acme/api/issues/1347/comments").Count);
    }

    [Fact]
    public async Task AnOutageDoesNotBlockTheDeclarationAndIsMadeUpForAfterwards()
    {
        GitHub.Down = true;
        var reply = await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        Assert.Contains("BG-1", reply["text"]!.GetValue<string>());
        await WaitUntil(() => Notes("step-failed").Count == 1 && GitHub.Calls.Count >= 6, "outage reported and retried");
        Assert.Empty(GitHub.PullRequest(Pr).Comments);
        GitHub.Down = false;
        await AssertLinkedExactlyOnceAsync();
        await WaitUntil(() => Notes("step-recovered").Count == 1, "recovery announced");
    }

    [Fact]
    public async Task A429WithRetryAfterIsWaitedForNotHammered()
    {
        GitHub.Fail("POST comments", FakeGitHub.TooManyRequests(retryAfterSeconds: 2));
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await AssertLinkedExactlyOnceAsync();
        var limited = GitHub.Calls.First(c => c.Key == "POST comments");
        var next = GitHub.Calls.SkipWhile(c => c != limited).Skip(1).First();
        // The outbox rescheduled after GitHub's Retry-After (2 s; at most ~0.4 s is the bot's own back-off).
        Assert.True(next.At - limited.At >= TimeSpan.FromSeconds(1.5), $"next GitHub call {(next.At - limited.At).TotalSeconds:F2}s after the 429");
        Assert.Contains("rate limit", Change().Steps.Single(s => s.Kind == GitHubStepKinds.PullRequest).LastError);
    }

    [Fact]
    public async Task ARateLimit403WaitsForTheResetTime()
    {
        var reset = DateTimeOffset.UtcNow.AddSeconds(3);
        GitHub.Fail("GET pull", FakeGitHub.RateLimited403(reset));
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await AssertLinkedExactlyOnceAsync();
        var limited = GitHub.Calls.First(c => c.Key == "GET pull");
        var next = GitHub.Calls.SkipWhile(c => c != limited).Skip(1).First();
        Assert.True(next.At >= DateTimeOffset.FromUnixTimeSeconds(reset.ToUnixTimeSeconds()).UtcDateTime.AddMilliseconds(-300),
            $"retried at {next.At:HH:mm:ss.fff}, reset at {reset:HH:mm:ss}");
        Assert.Single(Notes("step-failed"), m => m.Text.Contains("GitHub rate limit (HTTP 403)"));
    }

    [Fact]
    public async Task ASlowReadTimesOutAndIsRetriedInPlace()
    {
        GitHub.Fail("GET pull", new Fault.Delay(TimeSpan.FromSeconds(5)));
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await AssertLinkedExactlyOnceAsync();
        Assert.Equal(2, GitHub.CallsTo("GET", "/repos/acme/api/pulls/1347").Count);
        Assert.Empty(Notes("step-failed")); // recovered within the attempt: nothing to report
    }

    [Fact]
    public async Task A401IsRetriedAndTheThreadSaysWhichSettingToCheck()
    {
        GitHub.ExpectedAuthorization = "token rotated";
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => Notes("step-failed").Count == 1, "401 reported");
        Assert.Contains("GitHub answered 401 (Bad credentials): check GitHub:Token", Notes("step-failed")[0].Text);
        GitHub.ExpectedAuthorization = "token " + FakeGitHub.Token;
        await AssertLinkedExactlyOnceAsync();
    }

    [Fact]
    public async Task A422GivesUpAndSaysWhatToDo()
    {
        GitHub.Fail("POST labels", new Fault.Status(422, Fixtures.Text("github/error_422_validation_recorded.json")));
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => Notes("step-gaveup").Count == 1, "422 reported");
        var note = Notes("step-gaveup")[0].Text;
        Assert.Contains("GitHub answered 422 (Validation Failed)", note);
        Assert.Contains("by hand", note);
        Assert.Equal(StepState.Abandoned, Change().Steps.Single(s => s.Kind == GitHubStepKinds.PullRequest).State);
        Assert.Single(GitHub.CallsTo("POST", "/repos/acme/api/issues/1347/labels"));
        Assert.Equal(ChangeStatus.Open, Change().Status);
    }
}
