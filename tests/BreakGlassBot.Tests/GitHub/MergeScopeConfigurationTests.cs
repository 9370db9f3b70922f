using BreakGlassBot.Hosting;
using Microsoft.Extensions.Configuration;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>MergeByBot's merge authority is decided, not defaulted: without a repository list the bot does not start.</summary>
public class MergeScopeConfigurationTests
{
    const string Missing = "GitHub:MergeRepositories (owner/repo list) must be set when GitHub:BypassMode is MergeByBot";

    static IReadOnlyList<string> Errors(params (string Key, string Value)[] values) => ConfigurationCheck.Validate(
        new ConfigurationBuilder().AddInMemoryCollection(
            values.Append(("GitHub:Token", "ghp_x")).Select(v => KeyValuePair.Create(v.Item1, (string?)v.Item2))).Build());

    [Fact]
    public void MergeByBotWithoutAnyRepositoryListDoesNotStartAndNamesTheKey() =>
        Assert.Contains(Errors(("GitHub:BypassMode", "MergeByBot")), e => e.StartsWith(Missing, StringComparison.Ordinal));

    [Theory]
    [InlineData("GitHub:MergeRepositories:0")]
    [InlineData("GitHub:Repositories:0")]
    public void EitherListDecidesTheScope(string key) =>
        Assert.DoesNotContain(Errors(("GitHub:BypassMode", "MergeByBot"), (key, "acme/api")), e => e.StartsWith(Missing, StringComparison.Ordinal));

    [Fact]
    public void OtherModesNeedNoList() =>
        Assert.DoesNotContain(Errors(("GitHub:BypassMode", "RecordOnly")), e => e.Contains("MergeRepositories", StringComparison.Ordinal));

    [Fact]
    public void MergeRepositoriesWinsOverRepositories()
    {
        var o = new GitHubOptions { Repositories = ["acme/api", "acme/web"], MergeRepositories = ["acme/api"] };
        Assert.Equal(["acme/api"], o.MergeScope);
        Assert.Equal(["acme/api", "acme/web"], new GitHubOptions { Repositories = ["acme/api", "acme/web"] }.MergeScope);
    }
}
