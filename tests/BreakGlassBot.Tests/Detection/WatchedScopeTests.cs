using BreakGlassBot.Detection;
using BreakGlassBot.Hosting;
using BreakGlassBot.Tests.Support;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace BreakGlassBot.Tests.Detection;

public sealed class WatchedScopeTests
{
    sealed class Branches : GitHubGatewayStub
    {
        public string Current { get; set; } = "main";
        public int Asked { get; private set; }
        public override Task<string> GetDefaultBranchAsync(string owner, string repo, CancellationToken ct = default)
        {
            Asked++;
            return Task.FromResult(Current);
        }
    }

    [Fact]
    public async Task ADefaultBranchIsReadAgainOnceItMayHaveChanged()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-03T10:00:00Z"));
        var github = new Branches();
        var scope = new WatchedScope(Options.Create(new GitHubOptions { Repositories = ["acme/api"] }), Options.Create(new DetectionOptions { Enabled = true }),
            github, time);

        Assert.Equal(["main"], await scope.BranchesAsync("acme/api", default));
        github.Current = "trunk";
        time.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(["main"], await scope.BranchesAsync("acme/api", default));   // within the hour: kept
        time.Advance(WatchedScope.DefaultBranchTtl);
        Assert.Equal(["trunk"], await scope.BranchesAsync("acme/api", default));  // then read again
        Assert.Equal(2, github.Asked);
        // A webhook names the default branch as it is now: believed at once.
        Assert.True(scope.IsWatchedBranch("acme/api", "release", "release"));
        Assert.Equal(["release"], await scope.BranchesAsync("acme/api", default));
    }
}
