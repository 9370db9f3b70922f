using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Slack;

/// <summary>
/// Every way a socket ends: the bot is connected again within a bounded time, and no envelope sent after a hello is lost
/// or handled twice.
/// </summary>
[Trait("Category", "EndToEnd")]
public class SocketModeReconnectTests : SocketModeBotTest
{
    static readonly TimeSpan Bounded = TimeSpan.FromSeconds(10);

    /// <summary>Declares over whichever socket is live and checks the change exists exactly once.</summary>
    async Task DeclaresOnceAsync(int id, FakeSocket? on = null)
    {
        var ack = await Socket.DeliverAsync(FakeSocketMode.SlashCommand($"Change number {id}"), on);
        Assert.Contains($"BG-{id}", ack["payload"]!["text"]!.GetValue<string>());
        Assert.Equal(id, Bot.Store.Count());
    }

    [Theory]
    [InlineData("warning")]
    [InlineData("refresh_requested")]
    public async Task OnADisconnectTheReplacementSaysHelloBeforeTheOldSocketIsClosed(string reason)
    {
        var sockets = await Socket.LiveAsync(2);
        var old = sockets[0];
        var before = Socket.Sockets.Count;
        await old.DisconnectAsync(reason);
        // Slack keeps using the old socket until it goes: what arrives there meanwhile is handled.
        await DeclaresOnceAsync(1, old);

        Assert.Equal("close frame", await old.Closed.WaitAsync(Bounded));
        var replacement = Assert.Single(Socket.Sockets.Skip(before));
        Assert.True(replacement.OpenedAt <= old.ClosedAt, $"replacement opened {replacement.OpenedAt:O}, old closed {old.ClosedAt:O}");
        await Socket.LiveAsync(2, Bounded);
        // The other socket stayed up throughout: never a moment without one.
        Assert.True(sockets[1].IsOpen);
        await DeclaresOnceAsync(2, replacement);
        Assert.Equal(0, Socket.ReusedTickets);
    }

    [Fact]
    public async Task TooManyWebsocketsClosesTheSocketWithoutOpeningAnotherFirstThenComesBack()
    {
        var sockets = await Socket.LiveAsync(2);
        var before = Socket.Sockets.Count;
        await sockets[0].DisconnectAsync("too_many_websockets");
        await sockets[0].Closed.WaitAsync(Bounded);
        // No socket was added while Slack said there were too many.
        Assert.DoesNotContain(Socket.Sockets.Skip(before), s => s.OpenedAt < sockets[0].ClosedAt);
        await Socket.LiveAsync(2, Bounded);
        Assert.Contains(Bot.Logs, l => l.StartsWith("Warning") && l.Contains("too_many_websockets"));
        await DeclaresOnceAsync(1);
    }

    [Fact]
    public async Task LinkDisabledStopsConnectingAndSaysSoInTheLogAndHealth()
    {
        var sockets = await Socket.LiveAsync(2);
        var opens = Socket.Opens.Count;
        await sockets[0].DisconnectAsync("link_disabled");
        await Task.WhenAll(sockets.Select(s => s.Closed)).WaitAsync(Bounded);

        var health = await HealthAsync();
        Assert.Equal("disabled", health["socket_mode"]!["state"]!.GetValue<string>());
        Assert.Equal(0, health["socket_mode"]!["live_connections"]!.GetValue<int>());
        Assert.Contains("switched off", health["socket_mode"]!["action"]!.GetValue<string>());
        Assert.Contains(Bot.Logs, l => l.StartsWith("Error") && l.Contains("link_disabled") && l.Contains("switched off"));
        // Several reconnect back-offs long (at most 0.5 s each here): nothing was opened again.
        await Eventually.Stays(() => Socket.Opens.Count == opens && Socket.Live.Count == 0, "no new socket after link_disabled", TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task ASocketDroppedWithoutACloseFrameIsReplaced()
    {
        var sockets = await Socket.LiveAsync(2);
        var before = Socket.Sockets.Count;
        sockets[0].Drop();
        await Eventually.Until(() => Socket.Sockets.Count > before && Socket.Live.Count == 2, "a replacement for the dropped socket", Bounded);
        Assert.DoesNotContain(sockets[0], Socket.Live);
        await DeclaresOnceAsync(1);
        await DeclaresOnceAsync(2, Socket.Live[^1]);
    }

    [Fact]
    public async Task ASocketThatStopsAnsweringPingsIsReplaced()
    {
        var sockets = await Socket.LiveAsync(2);
        var before = Socket.Sockets.Count;
        sockets[0].Blackhole();
        // Nothing closed it from Slack's side: only the bot's missing pongs (timeout 0.6 s here) can notice.
        await Eventually.Until(() => Socket.Sockets.Count > before && Socket.Live.Count == 2, "a replacement for the silent socket", Bounded);
        Assert.Contains(Bot.Logs, l => l.Contains("dropped; reconnecting"));
        await DeclaresOnceAsync(1, Socket.Live[^1]);
    }

    [Fact]
    public async Task AnEnvelopeWhoseAckWasLostIsHandledOnceWhenRedeliveredAfterAReconnect()
    {
        var sockets = await Socket.LiveAsync(2);
        // Handling app_home_opened publishes the person's Home tab: a second handling would publish it twice.
        var opened = Fixtures.Object("slack/event_app_home_opened.json");
        await Socket.DeliverAsync(FakeSocketMode.Event(opened), sockets[0]);
        var before = Socket.Sockets.Count;
        sockets[0].Drop();
        await Eventually.Until(() => Socket.Sockets.Count > before && Socket.Live.Count == 2, "a replacement for the dropped socket", Bounded);
        // Slack did not see that ack before the drop: it delivers the event again (new envelope, same event_id), on a new socket.
        await Socket.DeliverAsync(FakeSocketMode.Event(opened, retryAttempt: 1), Socket.Live[^1]);
        await Bot.Until(() => Bot.Store.PendingInbound().Count == 0 && Slack.CallsTo("views.publish").Count >= 1, "handled");
        Assert.Single(Slack.CallsTo("views.publish"));
        Assert.True(Bot.Store.WasSeen("event:" + opened["event_id"]!.GetValue<string>()), "the event id is remembered");
    }
}

/// <summary>apps.connections.open failing at start: the bot keeps trying, paced, and connects once Slack lets it.</summary>
[Trait("Category", "EndToEnd")]
public class SocketModeOpenFailureTests : SocketModeBotTest
{
    protected override bool StartsBotFirst => false;

    [Fact]
    public async Task A429IsWaitedOutForItsRetryAfterThenTheBotConnects()
    {
        Slack.Fail("apps.connections.open", FakeSlack.RateLimited(retryAfterSeconds: 1));
        Bot = await StartBotAsync();
        await Socket.LiveAsync(2, TimeSpan.FromSeconds(10));
        var calls = Slack.CallsTo("apps.connections.open");
        // Retry-After (1 s) is longer than the bot's own back-off here (at most 0.5 s): the next call waited for it.
        Assert.True(calls[1].At - calls[0].At >= TimeSpan.FromSeconds(0.95), $"second call {(calls[1].At - calls[0].At).TotalMilliseconds} ms after the 429");
        Assert.Contains(Bot.Logs, l => l.StartsWith("Warning") && l.Contains("ratelimited"));
        await Socket.DeliverAsync(FakeSocketMode.SlashCommand("Restart workers"));
        Assert.Equal(1, Bot.Store.Count());
    }

    [Fact]
    public async Task InvalidAuthIsReportedAndRetriedWithBackOffUntilItPasses()
    {
        Slack.Fail("apps.connections.open", FakeSlack.Error("slack/error_invalid_auth.json"), times: 3);
        // Both slots start at once, so only the shared pacing keeps their calls apart.
        Bot = await StartBotAsync(new Dictionary<string, string?> { ["Slack:SocketStagger"] = "00:00:00", ["Slack:SocketReconnectDelay"] = "00:00:00.300" });
        await Eventually.Until(() => Bot.Logs.Any(l => l.Contains("invalid_auth")), "invalid_auth in the log");
        await Socket.LiveAsync(2, TimeSpan.FromSeconds(10));
        var calls = Slack.CallsTo("apps.connections.open");
        Assert.Equal(3, Slack.Faulted.Count(c => c.Key == "apps.connections.open"));
        // Paced: never two calls closer than Slack:SocketReconnectDelay (300 ms here; the margin is for loopback latency).
        Assert.All(calls.Zip(calls.Skip(1)), p => Assert.True(p.Second.At - p.First.At >= TimeSpan.FromMilliseconds(200), $"{(p.Second.At - p.First.At).TotalMilliseconds} ms apart; all: {string.Join(", ", calls.Select(c => c.At.ToString("ss.fff")))}"));
        var health = await HealthAsync();
        Assert.Equal("connected", health["socket_mode"]!["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task AWrongAppTokenIsNamedInHealthAndNeverLogged()
    {
        Bot = await StartBotAsync(new Dictionary<string, string?> { ["Slack:AppToken"] = "xapp-1-wrong-token-value" });
        await Eventually.Until(() => Bot.Logs.Any(l => l.Contains("invalid_auth")), "invalid_auth in the log");
        var health = await HealthAsync();
        Assert.Equal("connecting", health["socket_mode"]!["state"]!.GetValue<string>());
        Assert.Equal("invalid_auth", health["socket_mode"]!["last_error"]!.GetValue<string>());
        Assert.DoesNotContain(Bot.Logs, l => l.Contains("xapp-1-wrong-token-value"));
    }
}
