namespace BreakGlassBot.Tests.Support;

/// <summary>Per test: a fresh fake Slack and a fresh bot on its own data directory.</summary>
public abstract class BotTest : IAsyncLifetime
{
    protected FakeSlack Slack { get; } = new();
    protected TestBot Bot { get; private set; } = null!;
    protected virtual IDictionary<string, string?> Settings => new Dictionary<string, string?>();

    public virtual async Task InitializeAsync()
    {
        await Slack.StartAsync();
        Bot = await TestBot.StartAsync(Slack, settings: Settings);
    }

    public virtual async Task DisposeAsync()
    {
        await Bot.DisposeAsync();
        await Slack.DisposeAsync();
    }
}

/// <summary>Load-heavy tests run on their own, after the parallel ones, so their timings are not the machine's.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    public const string Name = "serial";
}
