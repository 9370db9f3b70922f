using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Tests.Support;
using Microsoft.AspNetCore.Builder;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>Per test: fake Slack, fake GitHub (with acme/api#1347 open) and the real bot pointed at both.</summary>
public abstract class GitHubBotTest : IAsyncLifetime
{
    public const string PrUrl = "https://github.com/acme/api/pull/1347";
    public const string Pr = "acme/api#1347";

    protected FakeSlack Slack { get; } = new();
    protected FakeGitHub GitHub { get; }
    protected TestBot Bot { get; set; } = null!;
    protected string DataDirectory { get; } = TestBot.NewDataDirectory();

    protected GitHubBotTest(string pathPrefix = "") => GitHub = new FakeGitHub(pathPrefix);

    protected virtual IDictionary<string, string?> Settings => new Dictionary<string, string?>();
    protected virtual void Configure(WebApplicationBuilder builder) { }

    protected IDictionary<string, string?> AllSettings()
    {
        var all = new Dictionary<string, string?>
        {
            ["GitHub:Token"] = FakeGitHub.Token,
            ["GitHub:ApiBaseUrl"] = GitHub.ApiUrl,
        };
        foreach (var (k, v) in Settings) all[k] = v;
        return all;
    }

    public virtual async Task InitializeAsync()
    {
        await Slack.StartAsync();
        await GitHub.StartAsync();
        GitHub.AddPr("acme", "api", 1347);
        Bot = await StartBotAsync();
    }

    protected Task<TestBot> StartBotAsync() => TestBot.StartAsync(Slack, DataDirectory, AllSettings(), Configure);

    public virtual async Task DisposeAsync()
    {
        await Bot.DisposeAsync();
        await GitHub.DisposeAsync();
        await Slack.DisposeAsync();
        try { Directory.Delete(DataDirectory, true); } catch (IOException) { }
    }

    protected EmergencyChange Change(int id = 1) => Bot.Store.Get(id)!;

    protected IReadOnlyList<PostedSlackMessage> Thread(int id = 1) =>
        Change(id).Announcement is { } a ? Slack.Thread(a.Channel, a.Ts) : [];

    protected bool StepsSettled(int id = 1) =>
        Change(id).Steps.Where(s => s.Kind != GitHubStepKinds.BypassRevoke).All(s => s.State != StepState.Pending);

    /// <summary>Eventually.Until, failing with what the steps and the fake GitHub saw, so a timeout explains itself.</summary>
    protected async Task WaitUntil(Func<bool> condition, string what, double seconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"Timed out waiting for: {what}\n{Diagnostics()}");
            await Task.Delay(20);
        }
    }

    protected string Diagnostics()
    {
        var steps = Bot.Store.Get(1)?.Steps.Select(s => $"  {s.Kind} {s.Target} {s.State} attempts={s.Attempts} error={s.LastError}") ?? [];
        var calls = GitHub.Calls.Select(c => $"  {c.Method} {c.Path}{c.Query} [{c.Key}]");
        var logs = Bot.Logs.Where(l => l.StartsWith("Warning") || l.StartsWith("Error")).TakeLast(10);
        return "steps:\n" + string.Join('\n', steps) + "\ngithub calls:\n" + string.Join('\n', calls) + "\nlogs:\n" + string.Join('\n', logs);
    }
}
