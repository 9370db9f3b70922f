using BreakGlassBot.Declaring;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Declaring;

/// <summary>Only links to the configured GitHub and Jira hosts are taken: a look-alike host would be shown as the real PR.</summary>
public class LinkHostRuleTests
{
    static readonly LinkHosts Hosts = LinkHosts.From("https://github.com", "https://acme.atlassian.net");

    [Theory]
    [InlineData("https://github.com.evil.example/acme/payments/pull/42")]
    [InlineData("https://evil.example/acme/payments/pull/42")]
    [InlineData("https://github.com:8443/acme/payments/pull/42")]
    public void APullRequestLinkOnAnotherHostIsAProblemNotALink(string link)
    {
        var parsed = DeclarationText.Parse($"Fix payments {link}", Hosts);
        Assert.Empty(parsed.PullRequests);
        Assert.Contains(parsed.Problems, p => p.Contains("is not a pull request on github.com"));
        Assert.Equal(["x"], DeclarationText.ParsePullRequests(link, Hosts).Bad.Select(_ => "x"));
    }

    [Fact]
    public void AJiraAddressOnAnotherHostIsAProblemButAKeyIsFine()
    {
        var parsed = DeclarationText.Parse("Fix https://acme.atlassian.net.evil.example/browse/OPS-8 OPS-7", Hosts);
        Assert.Equal(["OPS-7"], parsed.JiraKeys.Select(k => k.Value));
        Assert.Contains(parsed.Problems, p => p.Contains("is not an issue on acme.atlassian.net"));
        Assert.Equal(["OPS-9"], DeclarationText.ParseJiraKeys("https://acme.atlassian.net/browse/OPS-9 https://evil.example/browse/OPS-10", Hosts).Keys.Select(k => k.Value));
    }

    [Fact]
    public void GitHubEnterpriseLinksAreTakenWhenItIsTheConfiguredHost()
    {
        var ghes = LinkHosts.From("https://ghe.example.com", null);
        Assert.Single(DeclarationText.Parse("Fix https://ghe.example.com/acme/payments/pull/42", ghes).PullRequests);
        Assert.NotEmpty(DeclarationText.Parse("Fix https://github.com/acme/payments/pull/42", ghes).Problems);
    }
}

/// <summary>Over the real endpoint: a look-alike PR link is refused with what to type, and nothing is stored.</summary>
[Trait("Category", "EndToEnd")]
public class LinkHostTests : BotTest
{
    [Fact]
    public async Task ADeclarationWithALookAlikePullRequestLinkIsRefusedAndStoresNothing()
    {
        var reply = await Bot.CommandJsonAsync("Roll back https://github.com.evil.example/acme/payments/pull/42");
        Assert.Contains("is not a pull request on github.com", reply["text"]!.GetValue<string>());
        Assert.Equal(0, Bot.Store.Count());

        await Bot.CommandJsonAsync("Roll back https://github.com/acme/payments/pull/42");
        Assert.Equal("https://github.com/acme/payments/pull/42", Assert.Single(Bot.Store.Get(1)!.PullRequests).Ref.Url);
    }
}
