using BreakGlassBot.Declaring;

namespace BreakGlassBot.Tests.Declaring;

/// <summary>One-line parsing: links come out, the summary is what was typed with only the links taken out.</summary>
public class DeclarationTextTests
{
    internal static readonly LinkHosts GitHubCom = LinkHosts.From("https://github.com", null);

    [Theory]
    [InlineData("Roll back payments, restart", "Roll back payments, restart")]
    [InlineData("Roll back payments, restart https://github.com/acme/pay/pull/42 OPS-7", "Roll back payments, restart")]
    [InlineData("Roll back https://github.com/acme/pay/pull/42, then restart", "Roll back, then restart")]
    [InlineData("OPS-7: roll back payments", "roll back payments")]
    [InlineData("Roll back payments for OPS-7.", "Roll back payments for.")]
    [InlineData("Fix it OPS-7, OPS-8 https://github.com/acme/pay/pull/1", "Fix it")]
    [InlineData("Fix   the\tcache  (again!)", "Fix the cache (again!)")]
    [InlineData("Hotfix <https://github.com/acme/pay/pull/42|#42> now", "Hotfix now")]
    [InlineData("Fix login https://acme.atlassian.net/browse/OPS-7 today", "Fix login today")]
    public void TheSummaryIsTheTextWithOnlyTheLinksRemoved(string text, string summary) =>
        Assert.Equal(summary, DeclarationText.Parse(text, GitHubCom).Summary);

    [Theory]
    [InlineData("https://acme.atlassian.net/browse/OPS-7")]
    [InlineData("https://jira.acme.example/jira/browse/OPS-7")]
    [InlineData("https://acme.atlassian.net/browse/OPS-7?focusedCommentId=10")]
    [InlineData("<https://acme.atlassian.net/browse/OPS-7|OPS-7>")]
    [InlineData("OPS-7")]
    public void JiraBrowseUrlsAndBareKeysAreJiraLinks(string link)
    {
        var parsed = DeclarationText.Parse($"Fix login {link}", GitHubCom);
        Assert.Equal("OPS-7", Assert.Single(parsed.JiraKeys).Value);
        Assert.Equal("Fix login", parsed.Summary);
        Assert.Empty(parsed.Problems);
    }

    [Fact]
    public void PullRequestUrlsAndBadLinksBehaveAsBefore()
    {
        var parsed = DeclarationText.Parse("Fix https://github.com/acme/pay/pull/42 https://github.com/acme/pay/pull/42 https://github.com/acme/pay/issues/3", GitHubCom);
        Assert.Equal("acme/pay#42", Assert.Single(parsed.PullRequests).ToString());
        Assert.Contains("not a pull request link", Assert.Single(parsed.Problems));
    }

    [Fact]
    public void TheModalsJiraFieldTakesBrowseUrlsToo()
    {
        var (keys, bad) = DeclarationText.ParseJiraKeys("OPS-7, https://acme.atlassian.net/browse/OPS-8", GitHubCom);
        Assert.Equal(["OPS-7", "OPS-8"], keys.Select(k => k.Value));
        Assert.Empty(bad);
    }
}
