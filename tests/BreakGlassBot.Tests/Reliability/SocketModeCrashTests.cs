using System.Text.Json.Nodes;
using BreakGlassBot.Tests.Slack;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Reliability;

/// <summary>
/// The bot process in Socket Mode killed (SIGKILL) in the middle of a burst of events: an event acknowledged over the socket
/// is handled after the restart (saved before acknowledged); one not acknowledged is delivered again by Slack and handled once.
/// </summary>
[Collection(SerialCollection.Name)]
[Trait("Category", "EndToEnd")]
public class SocketModeCrashTests : IAsyncLifetime
{
    const int Burst = 16;
    readonly FakeSlack slack = new();
    readonly FakeSocketMode socket = new();
    readonly string data = TestBot.NewDataDirectory();
    readonly List<BotProcess> processes = [];

    public async Task InitializeAsync()
    {
        await slack.StartAsync();
        await socket.StartAsync();
        socket.Attach(slack);
    }

    public async Task DisposeAsync()
    {
        foreach (var p in processes) await p.DisposeAsync();
        await socket.DisposeAsync();
        await slack.DisposeAsync();
        try { Directory.Delete(data, true); } catch (IOException) { }
    }

    async Task<BotProcess> StartAsync()
    {
        var bot = await BotProcess.StartAsync(slack, data, SocketModeBotTest.SocketSettings());
        processes.Add(bot);
        return bot;
    }

    static string User(int i) => $"U0HOME{i:D2}";

    /// <summary>Slack's app_home_opened event for user <paramref name="i"/>: handling it publishes that user's Home tab once.</summary>
    static JsonObject HomeOpened(int i)
    {
        var e = Fixtures.Object("slack/event_app_home_opened.json");
        e["event_id"] = $"EvHome{i:D2}";
        e["event"]!["user"] = User(i);
        // From the workspace and app the fake Slack's auth.test and bots.info name: the bot process checks where events come from.
        (e["team_id"], e["api_app_id"]) = ("T0001", "A0APP");
        return e;
    }

    IReadOnlyList<string> PublishedSince(DateTime since) =>
        [.. slack.CallsTo("views.publish").Where(c => c.At >= since).Select(c => JsonNode.Parse(c.Body)!["user_id"]!.GetValue<string>())];

    FakeSocket Live(int i)
    {
        var live = socket.Live;
        return live[i % live.Count];
    }

    [Fact]
    public async Task AckedEventsAreHandledAfterAKillAndUnackedOnesOnceWhenDeliveredAgain()
    {
        // Slack holds every views.publish: nothing is handled before the kill, so everything after it is the restart's work.
        var hold = slack.Hold("views.publish");
        var first = await StartAsync();
        await socket.LiveAsync(2, TimeSpan.FromSeconds(20));
        var envelopes = Enumerable.Range(1, Burst).Select(i => FakeSocketMode.Event(HomeOpened(i))).ToList();
        // Over whichever sockets are live at the time: under load the bot may replace one (a missed keepalive) at any moment.
        for (var i = 0; i < Burst / 2; i++) await socket.SendAsync(envelopes[i], Live(i));
        await Eventually.Until(() => socket.Acks.Count == Burst / 2, "the first half of the burst acknowledged");
        // The rest arrives at a process that will never read it: frozen (SIGSTOP), then killed.
        using (var stop = System.Diagnostics.Process.Start("kill", $"-STOP {first.Id}")) await stop.WaitForExitAsync();
        for (var i = Burst / 2; i < Burst; i++) await socket.SendAsync(envelopes[i], Live(i));
        first.Kill();

        var acked = socket.Acks.Select(a => a.EnvelopeId).ToHashSet();
        var unacked = Enumerable.Range(1, Burst).Where(i => !acked.Contains(envelopes[i - 1]["envelope_id"]!.GetValue<string>())).ToList();
        Assert.Equal(Burst / 2, unacked.Count);
        hold.TrySetResult();
        var restartAt = DateTime.UtcNow;
        var second = await StartAsync();
        await Eventually.Until(() => socket.Live.Count == 2, "the restarted bot connected", TimeSpan.FromSeconds(20));

        // Slack delivers again what it saw no ack for; and, as after a lost ack, two events that were acknowledged.
        foreach (var i in unacked.Concat([1, 2]).Distinct())
            await socket.DeliverAsync(FakeSocketMode.Event(HomeOpened(i), retryAttempt: 1), socket.Live[i % socket.Live.Count]);

        await Eventually.Until(() => PublishedSince(restartAt).Distinct().Count() == Burst, $"every user's Home tab published after the restart ({unacked.Count} redelivered)",
            TimeSpan.FromSeconds(30));
        await second.TerminateAsync(TimeSpan.FromSeconds(20));

        // Each event handled exactly once, nothing left waiting, and the socket's credentials never in the output.
        Assert.Equal(Enumerable.Range(1, Burst).Select(User).Order(), PublishedSince(restartAt).Order());
        Assert.Equal(0, BotProcess.ReadStore(data, s => s.PendingInbound().Count));
        Assert.DoesNotContain(first.Output.Concat(second.Output), l => l.Contains(FakeSocketMode.AppToken, StringComparison.Ordinal) || l.Contains("ticket-", StringComparison.Ordinal));
    }
}
