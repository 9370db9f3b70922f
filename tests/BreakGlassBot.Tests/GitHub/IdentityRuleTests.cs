using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Tests.Support;
using Microsoft.Extensions.Configuration;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>GitHub's device-flow polling rules, without a server.</summary>
public class DeviceFlowRuleTests
{
    [Fact]
    public void SlowDownUsesTheIntervalGitHubNamesElseAddsFiveSeconds()
    {
        Assert.Equal(10, DeviceFlowRules.NextInterval(5, new TokenAnswer.SlowDown(10)));
        Assert.Equal(10, DeviceFlowRules.NextInterval(5, new TokenAnswer.SlowDown(null)));
        Assert.Equal(5, DeviceFlowRules.NextInterval(5, new TokenAnswer.Pending()));
    }

    [Fact]
    public void ExpiredDeniedAndRefusedEndTheLinkPendingAndSlowDownDoNot()
    {
        Assert.Contains("expired", DeviceFlowRules.Failure(new TokenAnswer.Expired()));
        Assert.Contains("cancelled", DeviceFlowRules.Failure(new TokenAnswer.Denied()));
        Assert.Contains("`device_flow_disabled`", DeviceFlowRules.Failure(new TokenAnswer.Refused("device_flow_disabled")));
        Assert.Null(DeviceFlowRules.Failure(new TokenAnswer.Pending()));
        Assert.Null(DeviceFlowRules.Failure(new TokenAnswer.SlowDown(null)));
        Assert.Null(DeviceFlowRules.Failure(new TokenAnswer.Token("gho_x")));
    }
}

/// <summary>Who is whom on GitHub: only configured or verified accounts are trusted, and accounts match by numeric id.</summary>
public sealed class PeopleIdentityTests : IDisposable
{
    const string User = "U0MONA";
    readonly string directory = TestBot.NewDataDirectory();
    readonly ChangeStore store;

    public PeopleIdentityTests()
    {
        Directory.CreateDirectory(directory);
        store = new ChangeStore(Path.Combine(directory, "people.db"));
    }

    public void Dispose()
    {
        store.Dispose();
        try { Directory.Delete(directory, true); } catch (IOException) { }
    }

    People With(Dictionary<string, string?>? config = null) => new(new ConfigurationBuilder().AddInMemoryCollection(config ?? []).Build(), store);

    void Verified(string login, long id) => store.SaveDocument<GitHubIdentity>(People.IdentityCollection, User,
        _ => new GitHubIdentity { Id = User, Login = login, GitHubId = id, Source = IdentitySources.DeviceFlow });

    [Fact]
    public void ATypedLoginIsNeitherTrustedNorActedFor()
    {
        store.LinkAccount(User, People.GitHub, "mona");
        var people = With();
        Assert.Null(people.TrustedGitHub(User));
        Assert.Null(people.GitHubLogin(User));
        Assert.Equal(new GitHubAccount("mona", null, IdentitySources.Unverified), people.AnyGitHub(User));
        Assert.True(people.IsAuthor(User, "Mona", 99)); // a PR under the hint is still theirs: the safe side
    }

    [Fact]
    public void AVerifiedAccountMatchesByIdNotByName()
    {
        Verified("mona", 583231);
        var people = With();
        Assert.True(people.IsAuthor(User, "mona-renamed", 583231));
        Assert.False(people.IsAuthor(User, "mona", 7)); // the freed name, taken by someone else
        Assert.Equal("mona", people.GitHubLogin(User));
    }

    [Fact]
    public void TheAdminEntryWinsAndItsResolvedIdMatchesARename()
    {
        Verified("mona", 583231);
        var people = With(new() { [$"People:{User}:GitHub"] = "hubot" });
        Assert.Equal(new GitHubAccount("hubot", null, IdentitySources.Admin), people.TrustedGitHub(User));
        Assert.True(people.IsAuthor(User, "hubot", 2)); // not resolved yet: by name
        store.SaveDocument<ResolvedLogin>(People.ResolvedCollection, "hubot", _ => new ResolvedLogin { Id = "hubot", GitHubId = 2 });
        Assert.True(people.IsAuthor(User, "hubot-renamed", 2));
        Assert.Equal(2, people.TrustedGitHub(User)!.Id);
    }
}
