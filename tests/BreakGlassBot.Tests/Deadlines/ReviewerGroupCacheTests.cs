using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace BreakGlassBot.Tests.Deadlines;

/// <summary>Slack:ReviewerUserGroup is resolved with usergroups.users.list and cached for a short time (5 minutes), then asked again.</summary>
[Trait("Category", "EndToEnd")]
public class ReviewerGroupCacheTests
{
    [Fact]
    public async Task TheUserGroupIsAskedAgainOnlyOnceTheCacheHasExpired()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2031, 1, 3, 8, 0, 0, TimeSpan.Zero));
        await using var slack = new FakeSlack();
        await slack.StartAsync();
        await using var bot = await TestBot.StartAsync(slack, settings: new Dictionary<string, string?> { ["Slack:ReviewerUserGroup"] = "S0REVIEWERS" },
            configure: b => b.Services.AddSingleton<TimeProvider>(clock));
        var reviewers = bot.Service<Reviewers>();
        var atStart = slack.CallsTo("usergroups.users.list").Count; // the bot's start-up check of the group, which does not fill the cache
        int Lookups() => slack.CallsTo("usergroups.users.list").Count - atStart;

        Assert.Equal(["U060R4BJ4", "W123A4BC5"], await reviewers.ConfiguredAsync(CancellationToken.None));
        Assert.Equal(1, Lookups());
        clock.Advance(TimeSpan.FromMinutes(4) + TimeSpan.FromSeconds(59));
        await reviewers.ConfiguredAsync(CancellationToken.None);
        Assert.Equal(1, Lookups()); // still cached

        clock.Advance(TimeSpan.FromSeconds(1));
        await reviewers.ConfiguredAsync(CancellationToken.None);
        Assert.Equal(2, Lookups()); // expired: asked again
        await reviewers.ConfiguredAsync(CancellationToken.None);
        Assert.Equal(2, Lookups());
    }
}
