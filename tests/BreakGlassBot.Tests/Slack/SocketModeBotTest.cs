using System.Text.Json.Nodes;
using BreakGlassBot.Tests.Reviewing;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Slack;

/// <summary>
/// The real bot in Socket Mode (no signing secret) against a <see cref="FakeSocketMode"/> reached through the fake Slack's
/// apps.connections.open, with intervals shrunk so reconnects and ping timeouts happen in well under a second.
/// </summary>
public abstract class SocketModeBotTest : BotTest
{
    protected FakeSocketMode Socket { get; } = new();

    /// <summary>The Socket Mode settings every bot of these tests starts with.</summary>
    public static Dictionary<string, string?> SocketSettings() => new()
    {
        ["Slack:SocketMode"] = "true",
        ["Slack:AppToken"] = FakeSocketMode.AppToken,
        ["Slack:SigningSecret"] = null,
        ["Slack:SocketStagger"] = "00:00:00.200",
        ["Slack:SocketKeepAliveInterval"] = "00:00:00.200",
        ["Slack:SocketKeepAliveTimeout"] = "00:00:00.600",
        ["Slack:SocketHelloTimeout"] = "00:00:02",
        ["Slack:SocketCloseTimeout"] = "00:00:00.500",
        ["Slack:SocketReconnectDelay"] = "00:00:00.050",
        ["Slack:SocketMaxReconnectDelay"] = "00:00:00.500",
        ["Slack:Reviewers:0"] = ApprovalTests.Reviewer1,
        ["Slack:Reviewers:1"] = ApprovalTests.Reviewer2,
    };

    protected override IDictionary<string, string?> Settings => SocketSettings();

    public override async Task InitializeAsync()
    {
        await Socket.StartAsync();
        Socket.Attach(Slack);
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        var logs = Bot?.Logs.ToList() ?? [];
        await base.DisposeAsync();
        await Socket.DisposeAsync();
        // The app token and the single-use wss URL (its ticket) are credentials: never in the log, whatever happened.
        Assert.DoesNotContain(logs, l => l.Contains(FakeSocketMode.AppToken, StringComparison.Ordinal) || l.Contains("ticket-", StringComparison.Ordinal));
    }

    protected async Task<JsonObject> HealthAsync() => JsonNode.Parse(await Bot.Http.GetStringAsync("/healthz"))!.AsObject();

    /// <summary>Declares over the socket and waits until the announcement and its details are posted; returns the announcement ts.</summary>
    protected async Task<string> DeclareAsync(string text = "Scale the database", int id = 1)
    {
        await Socket.DeliverAsync(FakeSocketMode.SlashCommand(text));
        await Bot.Until(() => Bot.Store.Get(id)?.Announcement is not null && Bot.Store.Get(id)!.NextStepAt is null, "announced");
        return Bot.Store.Get(id)!.Announcement!.Ts;
    }
}
