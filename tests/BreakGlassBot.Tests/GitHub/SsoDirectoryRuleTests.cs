using BreakGlassBot.GitHub;
using BreakGlassBot.Hosting;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>The directory's matching rules and GraphQL address, without a bot.</summary>
public class SsoDirectoryRuleTests
{
    static DirectoryIdentity Identity(string login, long id, params string[] emails) => new("guid-" + login, login, id, emails);

    [Fact]
    public void AnEmailOfTwoAccountsMatchesNobody()
    {
        var (byEmail, ambiguous) = DirectoryMatching.ByEmail([
            Identity("twin-a", 11, "shared@example.com", "a@example.com"),
            Identity("twin-b", 12, "Shared@Example.com "),
            Identity("mona", 583231, "mona@example.com"),
        ]);
        Assert.Equal(["shared@example.com"], ambiguous);
        Assert.Equal(["a@example.com", "mona@example.com"], byEmail.Keys.Order());
        Assert.Equal(11, byEmail["a@example.com"].GitHubId);
    }

    [Fact]
    public void OneAccountListedTwiceWithOneEmailIsNotAmbiguous()
    {
        var (byEmail, ambiguous) = DirectoryMatching.ByEmail([Identity("mona", 583231, "mona@example.com"), Identity("mona", 583231, "MONA@example.com")]);
        Assert.Empty(ambiguous);
        Assert.Equal(583231, byEmail["mona@example.com"].GitHubId);
    }

    [Theory]
    [InlineData(false, false, true, true)]
    [InlineData(false, false, null, true)]
    [InlineData(false, false, false, false)]
    [InlineData(true, false, true, false)]
    [InlineData(false, true, true, false)]
    public void OnlyAnActivePersonWithAConfirmedOrUnstatedEmailIsMatched(bool deleted, bool bot, bool? confirmed, bool eligible) =>
        Assert.Equal(eligible, DirectoryMatching.Eligible(new SlackUserByEmail("U1", deleted, bot, confirmed)));

    [Theory]
    [InlineData("https://api.github.com/", "https://api.github.com/graphql")]
    [InlineData("https://api.github.com", "https://api.github.com/graphql")]
    [InlineData("https://ghe.example.com/api/v3/", "https://ghe.example.com/api/graphql")]
    [InlineData("https://ghe.example.com/api/v3", "https://ghe.example.com/api/graphql")]
    public void GraphqlIsBesideTheRestApi(string api, string graphql) =>
        Assert.Equal(graphql, SsoDirectoryClient.GraphqlUri(new GitHubOptions { ApiBaseUrl = api }).ToString());
}
