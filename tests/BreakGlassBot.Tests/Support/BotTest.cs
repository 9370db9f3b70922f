using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.GitHub;
using BreakGlassBot.Tests.Jira;
using Microsoft.AspNetCore.Builder;

namespace BreakGlassBot.Tests.Support;

/// <summary>
/// Per test: a fresh fake Slack (and a fake GitHub and/or Jira when the class asks for them) and the real bot on its own data
/// directory, pointed at them. The bot starts with the class's <see cref="Settings"/> and <see cref="Configure"/> before the
/// test, unless the class starts it itself (<see cref="StartsBotFirst"/> false) with settings of the test's own.
/// </summary>
public abstract class BotTest : IAsyncLifetime
{
    /// <summary>The fake servers a test class starts besides Slack; the bot is pointed at each of them.</summary>
    [Flags]
    protected enum Fakes { None = 0, GitHub = 1, Jira = 2 }

    readonly FakeGitHub? github;
    readonly FakeJira? jira;

    protected BotTest() : this(Fakes.None) { }

    /// <param name="fakes">The fake servers to start besides Slack.</param>
    /// <param name="gitHubPathPrefix">Where the fake GitHub serves its API ("/api/v3" as GitHub Enterprise Server does).</param>
    protected BotTest(Fakes fakes, string gitHubPathPrefix = "")
    {
        if (fakes.HasFlag(Fakes.GitHub)) github = new FakeGitHub(gitHubPathPrefix);
        if (fakes.HasFlag(Fakes.Jira)) jira = new FakeJira();
    }

    protected FakeSlack Slack { get; } = new();
    protected FakeGitHub GitHub => github ?? throw new InvalidOperationException("This test class starts no fake GitHub: pass Fakes.GitHub to the BotTest constructor.");
    protected FakeJira Jira => jira ?? throw new InvalidOperationException("This test class starts no fake Jira: pass Fakes.Jira to the BotTest constructor.");
    /// <summary>The bot the test talks to; a restart test replaces it (<c>Bot = await StartBotAsync()</c>).</summary>
    protected TestBot Bot { get; set; } = null!;
    /// <summary>The data directory every bot of this test starts on (a restart finds what the first bot stored).</summary>
    protected string DataDirectory { get; } = TestBot.NewDataDirectory();

    /// <summary>Settings on top of the ones pointing the bot at the fakes; a null value removes a setting.</summary>
    protected virtual IDictionary<string, string?> Settings => new Dictionary<string, string?>();
    protected virtual void Configure(WebApplicationBuilder builder) { }
    /// <summary>False: the test starts the bot itself (<see cref="StartBotAsync"/>), with settings of its own.</summary>
    protected virtual bool StartsBotFirst => true;
    /// <summary>What the fakes hold before the bot starts (a pull request, a Jira issue).</summary>
    protected virtual void SeedFakes() { }

    public virtual async Task InitializeAsync()
    {
        await Slack.StartAsync();
        if (github is not null) await github.StartAsync();
        if (jira is not null) await jira.StartAsync();
        SeedFakes();
        if (StartsBotFirst) Bot = await StartBotAsync();
    }

    /// <summary>A bot on <see cref="DataDirectory"/> with the fakes' settings, <see cref="Settings"/>, then <paramref name="extra"/>; the caller keeps it.</summary>
    protected Task<TestBot> StartBotAsync(IDictionary<string, string?>? extra = null) => TestBot.StartAsync(Slack, DataDirectory, AllSettings(extra), Configure);

    /// <summary>The settings a bot of this test starts with: the fakes' ones, <see cref="Settings"/>, then <paramref name="extra"/>.</summary>
    protected IDictionary<string, string?> AllSettings(IDictionary<string, string?>? extra = null)
    {
        var all = new Dictionary<string, string?>();
        if (github is not null)
        {
            all["GitHub:Token"] = FakeGitHub.Token;
            all["GitHub:ApiBaseUrl"] = github.ApiUrl;
        }
        if (jira is not null)
        {
            all["Jira:BaseUrl"] = jira.Url;
            all["Jira:Email"] = FakeJira.Email;
            all["Jira:ApiToken"] = FakeJira.ApiToken;
        }
        foreach (var (k, v) in Settings) all[k] = v;
        foreach (var (k, v) in extra ?? new Dictionary<string, string?>()) all[k] = v;
        return all;
    }

    public virtual async Task DisposeAsync()
    {
        if (Bot is not null) await Bot.DisposeAsync();
        if (jira is not null) await jira.DisposeAsync();
        if (github is not null) await github.DisposeAsync();
        await Slack.DisposeAsync();
        try { Directory.Delete(DataDirectory, true); } catch (IOException) { }
        // Every request the bot made must fit the service's published description (Fixtures/openapi): a malformed one fails here.
        Assert.Empty(github?.SchemaViolations ?? []);
        Assert.Empty(jira?.SchemaViolations ?? []);
    }

    protected EmergencyChange Change(int id = 1) => Bot.Store.Get(id)!;

    /// <summary>The replies in the change's thread; empty until it is announced.</summary>
    protected IReadOnlyList<PostedSlackMessage> Thread(int id = 1) =>
        Change(id).Announcement is { } a ? Slack.Thread(a.Channel, a.Ts) : [];
}

/// <summary>Load-heavy tests run on their own, after the parallel ones, so their timings are not the machine's.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    public const string Name = "serial";
}
