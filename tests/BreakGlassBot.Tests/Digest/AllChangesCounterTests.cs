using System.Collections.Concurrent;
using BreakGlassBot.Digest;
using BreakGlassBot.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Digest;

/// <summary>The counter on its own, with a GitHub that answers searches as told and a fake clock: what it reads and what it leaves running.</summary>
public class AllChangesCounterTests
{
    static readonly DateTimeOffset Now = new(2026, 3, 16, 9, 0, 0, TimeSpan.Zero);
    static readonly IReadOnlyList<(DateTimeOffset From, DateTimeOffset To)> Windows = DigestBuilder.RateWindows(Now);
    readonly FakeTimeProvider time = new(Now);

    /// <summary>Answers each search with <see cref="Answer"/>; records the repositories and token of every search.</summary>
    sealed class SearchOnlyGitHub : GitHubGatewayStub
    {
        public Func<CancellationToken, Task<int>> Answer { get; set; } = _ => Task.FromResult(1);
        public ConcurrentQueue<(IReadOnlyList<string> Repositories, CancellationToken Token)> Searches { get; } = new();

        public override Task<int> CountMergedPullRequestsAsync(IReadOnlyList<string> repositories, DateTimeOffset from, DateTimeOffset to, CancellationToken ct = default)
        {
            Searches.Enqueue((repositories, ct));
            return Answer(ct);
        }

    }

    readonly SearchOnlyGitHub github = new();

    AllChangesCounter Counter(GitHubOptions options, TimeSpan? timeout = null) => new(github, Options.Create(options),
        new AllChangesSettings { Timeout = timeout ?? TimeSpan.FromSeconds(5) }, time, NullLogger<AllChangesCounter>.Instance);

    static GitHubOptions Configured(params string[] repositories) => new() { Token = "ghp_test", Repositories = [.. repositories] };

    static IEnumerable<string> NotToBeRead() => throw new InvalidOperationException("the linked repositories were read");

    [Fact]
    public async Task ACountThatTimesOutCancelsTheSearchesItLeaves()
    {
        // Answers only when cancelled: a search that would otherwise run on after the digest has gone without it (the fake clock
        // ends the count's timeout; the infinite Task.Delay is the hanging search, not a wait).
        github.Answer = ct => Task.Delay(Timeout.InfiniteTimeSpan, ct).ContinueWith(_ => 0, TaskScheduler.Default);
        var counting = Counter(Configured("acme/api"), TimeSpan.FromSeconds(1)).CountAsync(Windows, NotToBeRead, CancellationToken.None);
        Assert.False(counting.IsCompleted);

        time.Advance(TimeSpan.FromSeconds(1));
        var counts = await counting;

        Assert.Equal("GitHub's search did not answer in time", counts.Unknown);
        var (_, token) = Assert.Single(github.Searches);
        Assert.True(token.IsCancellationRequested, "the search in flight was left running");
    }

    [Fact]
    public async Task ConfiguredRepositoriesAreCountedWithoutReadingTheLinkedOnes()
    {
        var counts = await Counter(Configured("acme/api")).CountAsync(Windows, NotToBeRead, CancellationToken.None);
        Assert.Equal([1, 1, 1, 1], counts.PerWeek);
        Assert.All(github.Searches, s => Assert.Equal(["acme/api"], s.Repositories));
    }

    [Fact]
    public async Task WithoutGitHubNothingIsReadOrSearched()
    {
        var counts = await Counter(new GitHubOptions()).CountAsync(Windows, NotToBeRead, CancellationToken.None);
        Assert.Equal("GitHub is not configured", counts.Unknown);
        Assert.Empty(github.Searches);
    }

    [Fact]
    public async Task WithoutConfiguredRepositoriesTheLinkedOnesAreReadOnceAndDeduplicated()
    {
        var reads = 0;
        var counts = await Counter(Configured()).CountAsync(Windows, () => { reads++; return ["acme/web", "acme/api", "ACME/api"]; }, CancellationToken.None);
        Assert.Equal(1, reads);
        Assert.Equal("2 repositories", counts.Scope);
        Assert.All(github.Searches, s => Assert.Equal(["acme/api", "acme/web"], s.Repositories));
    }
}
